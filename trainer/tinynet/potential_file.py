"""Reading, writing and validating tinynet potential files.

A potential file is one JSON document (see docs/potential_file.md).  This
module only needs the Python standard library and NumPy, so that it can be
used by the trainer, by the tests and by small scripts alike.

Public functions
----------------
write_potential(path, potential)        validate, then write atomically
read_potential(path) -> dict            parse and validate
validate_potential(potential, source)   raise PotentialFileError if invalid
descriptor_cutoff(descriptor) -> float  overall interaction range
n_features(descriptor, n_elements)      length of one atom's feature vector
block_sizes(descriptor, n_elements)     length of each block's features
random_potential(elements, descriptor, ...)   reproducible random model
evaluate_network(model, G)              per-atom energies and dE/dG (NumPy)

Every error is a PotentialFileError whose message starts with
"<file>: <field>: ", e.g.
``potentials/Si.tinynet: models.Si.layers[1].weights: expected 16 rows, got 15``.
"""

import json
import math
import os
import re
import tempfile

import numpy as np

from tinynet.atomic import umask
from tinynet.blocks import MAX_CUTOFF, check_descriptor, spec_of
from tinynet.validation import (PotentialFileError, _bounded, _integer, _list,
                                _number, _number_list, _object, _string,
                                _type_name)

FORMAT_NAME = "tinynet-potential"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
UNITS = "metal"
ACTIVATIONS = ("tanh", "linear")
CUTOFF_TOLERANCE = 1e-12

_TOP_REQUIRED = ("format", "version", "units", "elements", "descriptor",
                 "cutoff", "models")
_TOP_OPTIONAL = ("core_repulsion", "provenance")

# Bounds that keep every accepted file finite (docs/potential_file.md,
# "Bounds"); the C++ reader (core/src/potential_file.cpp) has the same.
MAX_PARAMETER = 1e6          # |e0|, |weights|, |biases|
STD_RELATIVE_FLOOR = 1e-6    # feature_std >= floor * max(|feature_mean|, 1)
MAX_LAYERS = 16
MAX_DEPTH = 64               # nesting of JSON arrays and objects
MAX_ATOMIC_NUMBER = 118
MIN_SWITCH_WIDTH = 0.1       # outer - inner of the core repulsion (A)
_MODEL_KEYS = ("e0", "feature_mean", "feature_std", "feature_min",
               "feature_max", "layers")
_LAYER_KEYS = ("weights", "bias", "activation")


# --------------------------------------------------------------------------
# descriptor
# --------------------------------------------------------------------------

def _block_range(block):
    return spec_of(block).range(block)


def _block_size(block, n_elements):
    return spec_of(block).size(block, n_elements)


def descriptor_cutoff(descriptor):
    """Overall interaction range: max over blocks of the block range
    (see tinynet.blocks for each block type's range)."""
    descriptor = _plain(descriptor)
    check_descriptor("<memory>", "descriptor", descriptor)
    return max(_block_range(b) for b in descriptor["blocks"])


def block_sizes(descriptor, n_elements):
    """Number of features contributed by each block, in block order."""
    descriptor = _plain(descriptor)
    check_descriptor("<memory>", "descriptor", descriptor)
    n_elements = _integer("<memory>", "n_elements", n_elements, minimum=1)
    return [_block_size(b, n_elements) for b in descriptor["blocks"]]


def n_features(descriptor, n_elements):
    """Length F of one atom's feature vector."""
    return sum(block_sizes(descriptor, n_elements))


# --------------------------------------------------------------------------
# whole potential
# --------------------------------------------------------------------------

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


def _check_model(src, field, model, n_feat):
    _object(src, field, model, _MODEL_KEYS)
    _bounded(src, f"{field}.e0", model["e0"], MAX_PARAMETER)
    for key in ("feature_mean", "feature_min", "feature_max"):
        _number_list(src, f"{field}.{key}", model[key], length=n_feat)
    stds = _number_list(src, f"{field}.feature_std", model["feature_std"],
                        length=n_feat, positive=True)
    for f, (sd, mean) in enumerate(zip(stds, model["feature_mean"])):
        floor = STD_RELATIVE_FLOOR * max(abs(float(mean)), 1.0)
        if not sd >= floor:
            raise PotentialFileError(
                src, f"{field}.feature_std[{f}]",
                f"{sd!r} is below the floor of 1e-6 * max(|feature_mean|, 1) = "
                f"{floor!r} (a near-zero spread gives an unbounded gain)")
    for f, (lo, hi) in enumerate(zip(model["feature_min"],
                                     model["feature_max"])):
        if lo > hi:
            raise PotentialFileError(
                src, f"{field}.feature_min[{f}]",
                f"greater than feature_max[{f}] ({lo!r} > {hi!r})")

    layers = _list(src, f"{field}.layers", model["layers"], nonempty=True)
    if len(layers) > MAX_LAYERS:
        raise PotentialFileError(src, f"{field}.layers",
                                 f"more than {MAX_LAYERS} layers ({len(layers)})")
    n_in = n_feat
    for l, layer in enumerate(layers):
        lf = f"{field}.layers[{l}]"
        _object(src, lf, layer, _LAYER_KEYS)
        weights = _list(src, f"{lf}.weights", layer["weights"])
        if len(weights) != n_in:
            raise PotentialFileError(src, f"{lf}.weights",
                                     f"expected {n_in} rows, got {len(weights)}")
        bias = _list(src, f"{lf}.bias", layer["bias"], nonempty=True)
        n_out = len(bias)
        for r, row in enumerate(weights):
            _list(src, f"{lf}.weights[{r}]", row, length=n_out)
            for o, w in enumerate(row):
                _bounded(src, f"{lf}.weights[{r}][{o}]", w, MAX_PARAMETER)
        for o, b in enumerate(bias):
            _bounded(src, f"{lf}.bias[{o}]", b, MAX_PARAMETER)
        act = _string(src, f"{lf}.activation", layer["activation"])
        if act not in ACTIVATIONS:
            raise PotentialFileError(
                src, f"{lf}.activation",
                f"unknown activation {act!r} (known: {', '.join(ACTIVATIONS)})")
        n_in = n_out
    last = f"{field}.layers[{len(layers) - 1}]"
    if n_in != 1:
        raise PotentialFileError(src, f"{last}.bias",
                                 f"last layer must have 1 output, got {n_in}")
    if layers[-1]["activation"] != "linear":
        raise PotentialFileError(src, f"{last}.activation",
                                 "last layer must be 'linear'")


def repulsion_pair_names(elements):
    """Keys of core_repulsion.pairs: "A-B" per unordered pair, A not after B
    in `elements`."""
    return [f"{a}-{elements[t]}" for s, a in enumerate(elements)
            for t in range(s, len(elements))]


def _check_core_repulsion(src, section, elements, cutoff):
    field = "core_repulsion"
    _object(src, field, section, ("type", "atomic_numbers", "pairs"))
    kind = section["type"]
    if kind != "zbl":
        raise PotentialFileError(src, f"{field}.type", f"expected 'zbl', got {kind!r}")
    znum = section["atomic_numbers"]
    _object(src, f"{field}.atomic_numbers", znum, tuple(elements))
    for el in elements:
        z = _integer(src, f"{field}.atomic_numbers.{el}", znum[el], minimum=1)
        if z > MAX_ATOMIC_NUMBER:
            raise PotentialFileError(src, f"{field}.atomic_numbers.{el}",
                                     f"must be <= {MAX_ATOMIC_NUMBER}, got {z}")
    names = repulsion_pair_names(elements)
    if len(set(names)) != len(names):
        raise PotentialFileError(src, f"{field}.pairs",
                                 "pair names are ambiguous (element symbols containing '-')")
    _object(src, f"{field}.pairs", section["pairs"], tuple(names))
    for name in names:
        pf = f"{field}.pairs.{name}"
        pair = section["pairs"][name]
        _object(src, pf, pair, ("inner", "outer"))
        inner = _number(src, f"{pf}.inner", pair["inner"])
        outer = _number(src, f"{pf}.outer", pair["outer"])
        if not inner >= 0.0:
            raise PotentialFileError(src, f"{pf}.inner", f"must be >= 0, got {inner!r}")
        if not outer - inner >= MIN_SWITCH_WIDTH:
            raise PotentialFileError(
                src, f"{pf}.outer",
                f"must exceed inner by at least {MIN_SWITCH_WIDTH} A ({inner!r}, {outer!r})")
        if not outer <= cutoff:
            raise PotentialFileError(src, f"{pf}.outer",
                                     f"{outer!r} exceeds the potential's cutoff ({cutoff!r})")


def validate_potential(potential, source="<memory>"):
    """Raise PotentialFileError (naming `source` and the field) unless
    `potential` is a complete, consistent tinynet potential.  NumPy arrays
    and tuples are accepted in place of lists.  Returns None."""
    src = source
    pot = _plain(potential, src=src)
    _object(src, "", pot, _TOP_REQUIRED, _TOP_OPTIONAL)

    fmt = pot["format"]
    if fmt != FORMAT_NAME:
        raise PotentialFileError(src, "format",
                                 f"expected {FORMAT_NAME!r}, got {fmt!r}")
    version = _integer(src, "version", pot["version"])
    if version not in SUPPORTED_VERSIONS:
        raise PotentialFileError(
            src, "version",
            f"unsupported version {version} (supported: "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))})")
    units = _string(src, "units", pot["units"])
    if units != UNITS:
        raise PotentialFileError(src, "units",
                                 f"expected {UNITS!r}, got {units!r}")

    elements = _list(src, "elements", pot["elements"], nonempty=True)
    for e, el in enumerate(elements):
        _string(src, f"elements[{e}]", el)
        if not el:
            raise PotentialFileError(src, f"elements[{e}]", "empty string")
    if len(set(elements)) != len(elements):
        raise PotentialFileError(src, "elements",
                                 f"duplicate element in {elements}")

    check_descriptor(src, "descriptor", pot["descriptor"], elements)
    expected_cutoff = max(_block_range(b) for b in pot["descriptor"]["blocks"])
    cutoff = _number(src, "cutoff", pot["cutoff"], positive=True)
    if cutoff > MAX_CUTOFF:
        raise PotentialFileError(
            src, "cutoff",
            f"{cutoff!r} exceeds the maximum interaction range of {MAX_CUTOFF} A")
    if abs(cutoff - expected_cutoff) > CUTOFF_TOLERANCE * max(1.0, expected_cutoff):
        raise PotentialFileError(
            src, "cutoff",
            f"{cutoff!r} differs from the descriptor's range {expected_cutoff!r}")

    n_feat = sum(_block_size(b, len(elements))
                 for b in pot["descriptor"]["blocks"])
    models = pot["models"]
    if not isinstance(models, dict):
        raise PotentialFileError(src, "models",
                                 f"expected an object, got {_type_name(models)}")
    for el in elements:
        if el not in models:
            raise PotentialFileError(src, f"models.{el}",
                                     f"missing model for element {el!r}")
    for el in models:
        if el not in elements:
            raise PotentialFileError(src, f"models.{el}",
                                     f"element {el!r} is not in elements")
    for el in elements:
        _check_model(src, f"models.{el}", models[el], n_feat)

    if "core_repulsion" in pot:
        _check_core_repulsion(src, pot["core_repulsion"], elements, cutoff)

    if "provenance" in pot and not isinstance(pot["provenance"], dict):
        raise PotentialFileError(
            src, "provenance",
            f"expected an object, got {_type_name(pot['provenance'])}")


def write_potential(path, potential):
    """Validate `potential` and write it as indented JSON to `path`,
    atomically (temporary file in the same directory + os.replace)."""
    path = os.fspath(path)
    validate_potential(potential, source=path)
    text = json.dumps(_plain(potential), indent=1, allow_nan=False) + "\n"
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".tinynet",
                               dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; a potential is for the group to read too.
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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


def read_potential(path):
    """Read and validate a potential file; returns the parsed dict (plain
    lists and floats).  Every problem, including undecodable bytes and
    hostile nesting, is a PotentialFileError naming the file."""
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
        potential = _strict_json(text, path)
    except json.JSONDecodeError as exc:
        raise PotentialFileError(
            path, "",
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            + (" (file truncated?)" if exc.pos >= len(text.rstrip()) else "")
        ) from exc
    validate_potential(potential, source=path)
    return potential


# --------------------------------------------------------------------------
# random models and the NumPy network
# --------------------------------------------------------------------------

def _per_feature(value, n_feat, name):
    arr = np.broadcast_to(np.asarray(value, dtype=float), (n_feat,))
    if arr.shape != (n_feat,):
        raise ValueError(f"{name}: expected a scalar or {n_feat} values")
    return [float(x) for x in arr]


def random_potential(elements, descriptor, hidden=(16, 32), seed=0, e0=None,
                     feature_scale=None):
    """A valid potential with reproducible random weights.

    e0: None (all 0), a number (for every element) or {element: number}.
    feature_scale: None (mean 0, std 1, range +-1e300), or a dict with any of
        "feature_mean", "feature_std", "feature_min", "feature_max" (scalar
        or F values) used for every element, or {element: such a dict}.
    Weights are drawn N(0, 1/n_in), biases N(0, 0.1^2), per element in
    `elements` order from numpy.random.default_rng(seed).
    """
    elements = [str(e) for e in elements]
    descriptor = _plain(descriptor)
    n_feat = n_features(descriptor, len(elements))
    rng = np.random.default_rng(seed)
    models = {}
    for el in elements:
        if e0 is None:
            el_e0 = 0.0
        elif isinstance(e0, dict):
            el_e0 = float(e0[el])
        else:
            el_e0 = float(e0)
        scale = feature_scale or {}
        if el in scale:
            scale = scale[el]
        stats = {
            "feature_mean": _per_feature(scale.get("feature_mean", 0.0),
                                         n_feat, "feature_mean"),
            "feature_std": _per_feature(scale.get("feature_std", 1.0),
                                        n_feat, "feature_std"),
            "feature_min": _per_feature(scale.get("feature_min", -1e300),
                                        n_feat, "feature_min"),
            "feature_max": _per_feature(scale.get("feature_max", 1e300),
                                        n_feat, "feature_max"),
        }
        layers = []
        sizes = [n_feat] + [int(h) for h in hidden] + [1]
        for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            w = rng.normal(0.0, 1.0 / math.sqrt(n_in), size=(n_in, n_out))
            b = rng.normal(0.0, 0.1, size=n_out)
            last = l == len(sizes) - 2
            layers.append({"weights": w.tolist(), "bias": b.tolist(),
                           "activation": "linear" if last else "tanh"})
        models[el] = {"e0": el_e0, **stats, "layers": layers}
    potential = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "units": UNITS,
        "elements": elements,
        "descriptor": descriptor,
        "cutoff": descriptor_cutoff(descriptor),
        "models": models,
        "provenance": {"generator": "tinynet.potential_file.random_potential",
                       "seed": seed, "hidden": [int(h) for h in hidden]},
    }
    validate_potential(potential)
    return potential


def evaluate_network(model, G):
    """Per-atom energies of one element's model and their gradient.

    model: one entry of potential["models"] (e0, normalisation, layers).
    G: (N, F) RAW features.
    Returns (energies (N,), dE_dG (N, F)) with
        energies = MLP((G - mean) / std) + e0,
    and dE_dG the derivative with respect to the raw features.
    """
    G = np.atleast_2d(np.asarray(G, dtype=float))
    mean = np.asarray(model["feature_mean"], dtype=float)
    std = np.asarray(model["feature_std"], dtype=float)
    x = (G - mean) / std
    # forward pass, keeping each layer's output for backprop
    outputs = []
    for layer in model["layers"]:
        W = np.asarray(layer["weights"], dtype=float).reshape(x.shape[1], -1)
        b = np.asarray(layer["bias"], dtype=float)
        z = x @ W + b
        x = np.tanh(z) if layer["activation"] == "tanh" else z
        outputs.append(x)
    energies = x[:, 0] + float(model["e0"])
    # reverse pass
    grad = np.ones((G.shape[0], 1))
    for layer, y in zip(reversed(model["layers"]), reversed(outputs)):
        if layer["activation"] == "tanh":
            grad = grad * (1.0 - y * y)
        W = np.asarray(layer["weights"], dtype=float).reshape(-1, y.shape[1])
        grad = grad @ W.T
    return energies, grad / std
