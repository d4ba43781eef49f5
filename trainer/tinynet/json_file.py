"""The JSON document of a tinynet file (potential or LDOS model): strict
reading and atomic writing, shared by both file kinds.

Reading follows the C++ reader (core/src/json_field.cpp): no byte-order
mark, no NUL, UTF-8 only, nesting at most MAX_DEPTH, no duplicate keys,
numbers as nlohmann::json reads them, no lone UTF-16 surrogates.  Every
problem is a PotentialFileError naming the file.
"""

import json
import math
import os
import re

import numpy as np

from tinynet.atomic import write_text
from tinynet.validation import PotentialFileError

MAX_DEPTH = 64               # nesting of JSON arrays and objects


def _plain(obj, depth=0, src="<memory>"):
    """Recursively turn tuples/NumPy arrays/NumPy scalars into plain JSON
    types (list, float, int), leaving everything else unchanged.  Nesting
    deeper than MAX_DEPTH is a PotentialFileError (not a RecursionError)."""
    if isinstance(obj, (dict, list, tuple, np.ndarray)) and depth >= MAX_DEPTH:
        raise PotentialFileError(src, "",
                                 f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(obj, dict):
        return {k: _plain(v, depth + 1, src) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, depth + 1, src) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist(), depth, src)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(r"[^\[\]{}]+")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _nesting_depth(text):
    """Deepest nesting of arrays/objects, counted outside strings (for valid
    JSON exactly what a parser sees), without recursing."""
    brackets = _BRACKETS.sub("", _JSON_STRING.sub("", text)).encode()
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def _strict_json(text, path):
    """json.loads with the C++ reader's rules: no duplicate keys, numbers as
    nlohmann::json reads them (integers beyond 64 bits become floats; a number
    that overflows a double is an error), no lone UTF-16 surrogates."""

    def number_error(token):
        shown = token if len(token) <= 40 else token[:37] + "..."
        return PotentialFileError(path, "", f"number overflow parsing {shown!r}")

    def parse_float(token):
        x = float(token)
        if math.isinf(x):
            raise number_error(token)
        return x

    def parse_int(token):
        if len(token) <= 21:    # longer ones cannot fit 64 bits
            value = int(token)
            if -2**63 <= value < 2**64:
                return value
        return parse_float(token)

    def unique_keys(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise PotentialFileError(path, "", f"duplicate key {key!r}")
            seen.add(key)
        return dict(pairs)

    doc = json.loads(text, object_pairs_hook=unique_keys,
                     parse_float=parse_float, parse_int=parse_int)
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise PotentialFileError(path, "", "a string holds a lone UTF-16 "
                                     "surrogate escape (not a character)") from exc
    return doc


def read_json_file(path):
    """The parsed document of the tinynet file at `path` (not yet validated)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise PotentialFileError(path, "", f"cannot read file: {exc}") from exc
    if raw.startswith(b"\xef\xbb\xbf"):
        raise PotentialFileError(path, "", "starts with a UTF-8 byte-order mark "
                                 "(not allowed in JSON text)")
    nul = raw.find(b"\0")
    if nul >= 0:
        raise PotentialFileError(path, "", f"contains a NUL byte at offset {nul}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PotentialFileError(path, "", f"not UTF-8 text: {exc}") from exc
    if _nesting_depth(text) > MAX_DEPTH:
        raise PotentialFileError(path, "", f"nested deeper than {MAX_DEPTH} levels")
    try:
        return _strict_json(text, path)
    except json.JSONDecodeError as exc:
        raise PotentialFileError(
            path, "",
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            + (" (file truncated?)" if exc.pos >= len(text.rstrip()) else "")
        ) from exc


def write_json_file(path, document):
    """Write `document` as indented JSON, atomically (tinynet.atomic)."""
    write_text(path, json.dumps(_plain(document), indent=1, allow_nan=False) + "\n")
