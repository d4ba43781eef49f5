"""Checked access to parsed JSON values, shared by the potential-file reader
and the descriptor block specifications.  Every failure is a
PotentialFileError whose message starts with "<file>: <field>: "."""

import math
import numbers


class PotentialFileError(ValueError):
    """A potential (file or dict) is malformed.  The message names the
    source (file path or "<memory>") and the offending field."""

    def __init__(self, source, field, message):
        self.source = str(source)
        self.field = field
        self.detail = message
        if field:
            super().__init__(f"{self.source}: {field}: {message}")
        else:
            super().__init__(f"{self.source}: {message}")


# --------------------------------------------------------------------------
# small checking helpers; `src` is the file name, `field` the dotted path
# --------------------------------------------------------------------------

def _type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, numbers.Integral):
        return "integer"
    if isinstance(value, numbers.Real):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _number(src, field, value, positive=False):
    """A finite real number (integers accepted), returned as float."""
    if not _is_number(value):
        raise PotentialFileError(src, field,
                                 f"expected a number, got {_type_name(value)}")
    try:
        x = float(value)
    except OverflowError:  # a Python int beyond the double range
        x = math.inf
    if not math.isfinite(x):
        raise PotentialFileError(src, field, f"non-finite value {value!r}")
    if positive and not x > 0.0:
        raise PotentialFileError(src, field, f"must be > 0, got {value!r}")
    return x


def _bounded(src, field, value, limit):
    """A finite number with |value| <= limit (parameters whose use must not
    overflow)."""
    x = _number(src, field, value)
    if not abs(x) <= limit:
        raise PotentialFileError(src, field,
                                 f"magnitude exceeds the maximum of {limit!r}, got {value!r}")
    return x


def _integer(src, field, value, minimum=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise PotentialFileError(src, field,
                                 f"expected an integer, got {_type_name(value)}")
    if minimum is not None and value < minimum:
        raise PotentialFileError(src, field,
                                 f"must be >= {minimum}, got {value}")
    return int(value)


def _string(src, field, value):
    if not isinstance(value, str):
        raise PotentialFileError(src, field,
                                 f"expected a string, got {_type_name(value)}")
    return value


def _list(src, field, value, length=None, nonempty=False):
    if not isinstance(value, list):
        raise PotentialFileError(src, field,
                                 f"expected a list, got {_type_name(value)}")
    if length is not None and len(value) != length:
        raise PotentialFileError(src, field,
                                 f"expected {length} entries, got {len(value)}")
    if nonempty and not value:
        raise PotentialFileError(src, field, "must not be empty")
    return value


def _number_list(src, field, value, length=None, positive=False,
                 nonempty=False):
    _list(src, field, value, length=length, nonempty=nonempty)
    return [_number(src, f"{field}[{i}]", x, positive=positive)
            for i, x in enumerate(value)]


def _object(src, field, value, required, optional=()):
    """A dict with exactly the `required` keys plus any of `optional`."""
    if not isinstance(value, dict):
        raise PotentialFileError(src, field or "<top level>",
                                 f"expected an object, got {_type_name(value)}")
    prefix = f"{field}." if field else ""
    for key in required:
        if key not in value:
            raise PotentialFileError(src, prefix + key, "missing field")
    allowed = set(required) | set(optional)
    for key in value:
        if key not in allowed:
            raise PotentialFileError(
                src, prefix + str(key),
                f"unknown field (allowed: {', '.join(sorted(allowed))})")
    return value
