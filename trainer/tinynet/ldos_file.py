"""The LDOS model file (``"format": "tinynet-ldos"``): read, write, validate, evaluate.

One JSON document (docs/ldos.md) holding a per-element network that maps an
atom's descriptor features to its local density of states on a fixed energy
grid relative to the Fermi level.  The descriptor section is the same block
list as in a potential file, checked by the same block specs
(:mod:`tinynet.blocks`).

Per element, the network's last (linear) layer has one output per grid
point: LDOS(E_p), p = 0..n_points-1, E_p = energy_start + p * energy_step.
(That layer is a learned basis of the curves, of the rank of the last hidden
layer; docs/ldos.md says why this beats a fixed compact basis.)

Every error is a PotentialFileError "<file>: <field>: <what>".
"""

import json
import os

import numpy as np

from tinynet.blocks import check_descriptor, spec_of
from tinynet.json_file import _plain, read_json_file, write_json_file
from tinynet.network_file import check_layers, check_normalisation
from tinynet.validation import (PotentialFileError, _integer, _list, _number,
                                _object, _string, _type_name)

FORMAT_NAME = "tinynet-ldos"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
UNITS = "metal"
LDOS_UNITS = "states/eV/atom"
REFERENCE = "fermi_level"
MAX_POINTS = 100000

_TOP_REQUIRED = ("format", "version", "units", "elements", "descriptor", "ldos", "models")
_TOP_OPTIONAL = ("provenance",)
_LDOS_KEYS = ("energy_start", "energy_step", "n_points", "reference", "broadening", "units")
_MODEL_KEYS = ("feature_mean", "feature_std", "layers")


def _check_grid(src, ldos):
    _object(src, "ldos", ldos, _LDOS_KEYS)
    _number(src, "ldos.energy_start", ldos["energy_start"])
    _number(src, "ldos.energy_step", ldos["energy_step"], positive=True)
    n = _integer(src, "ldos.n_points", ldos["n_points"], minimum=2)
    if n > MAX_POINTS:
        raise PotentialFileError(src, "ldos.n_points", f"must be <= {MAX_POINTS}, got {n}")
    if _string(src, "ldos.reference", ldos["reference"]) != REFERENCE:
        raise PotentialFileError(src, "ldos.reference",
                                 f"expected {REFERENCE!r}, got {ldos['reference']!r}")
    _number(src, "ldos.broadening", ldos["broadening"], positive=True)
    if _string(src, "ldos.units", ldos["units"]) != LDOS_UNITS:
        raise PotentialFileError(src, "ldos.units",
                                 f"expected {LDOS_UNITS!r}, got {ldos['units']!r}")
    return n


def _check_model(src, field, model, n_feat, n_points):
    _object(src, field, model, _MODEL_KEYS)
    check_normalisation(src, field, model, n_feat)
    check_layers(src, f"{field}.layers", model["layers"], n_feat, n_points,
                 f"one output per grid point (ldos.n_points = {n_points})")


def validate_ldos_model(model, source="<memory>"):
    """Raise PotentialFileError naming `source` and the field unless `model`
    is a complete, consistent LDOS model.  Returns None."""
    src = source
    m = _plain(model, src=src)
    _object(src, "", m, _TOP_REQUIRED, _TOP_OPTIONAL)
    if m["format"] != FORMAT_NAME:
        raise PotentialFileError(src, "format", f"expected {FORMAT_NAME!r}, got {m['format']!r}")
    version = _integer(src, "version", m["version"])
    if version not in SUPPORTED_VERSIONS:
        raise PotentialFileError(src, "version", f"unsupported version {version} (supported: "
                                 f"{', '.join(map(str, SUPPORTED_VERSIONS))})")
    if _string(src, "units", m["units"]) != UNITS:
        raise PotentialFileError(src, "units", f"expected {UNITS!r}, got {m['units']!r}")
    elements = _list(src, "elements", m["elements"], nonempty=True)
    for e, el in enumerate(elements):
        if not _string(src, f"elements[{e}]", el):
            raise PotentialFileError(src, f"elements[{e}]", "empty string")
    if len(set(elements)) != len(elements):
        raise PotentialFileError(src, "elements", f"duplicate element in {elements}")
    check_descriptor(src, "descriptor", m["descriptor"], elements)
    n_feat = sum(spec_of(b).size(b, len(elements)) for b in m["descriptor"]["blocks"])
    n_points = _check_grid(src, m["ldos"])
    models = m["models"]
    if not isinstance(models, dict):
        raise PotentialFileError(src, "models", f"expected an object, got {_type_name(models)}")
    for el in models:
        if el not in elements:
            raise PotentialFileError(src, f"models.{el}", f"element {el!r} is not in elements")
    for el in elements:
        if el not in models:
            raise PotentialFileError(src, f"models.{el}", f"missing model for element {el!r}")
        _check_model(src, f"models.{el}", models[el], n_feat, n_points)
    if "provenance" in m and not isinstance(m["provenance"], dict):
        raise PotentialFileError(src, "provenance",
                                 f"expected an object, got {_type_name(m['provenance'])}")


def write_ldos_model(path, model):
    """Validate and write atomically (temporary file + os.replace)."""
    path = os.fspath(path)
    validate_ldos_model(model, source=path)
    write_json_file(path, model)


def read_ldos_model(path):
    """Read and validate an LDOS model file; returns the parsed dict.  Every
    problem is a PotentialFileError naming the file (the same strict JSON
    reading as potential files, tinynet.json_file)."""
    path = os.fspath(path)
    model = read_json_file(path)
    validate_ldos_model(model, source=path)
    return model


def is_ldos_file(path):
    """True if `path` is JSON whose "format" is tinynet-ldos (no validation)."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return json.load(handle).get("format") == FORMAT_NAME
    except (OSError, ValueError, AttributeError, RecursionError):
        return False


def energy_grid(ldos):
    """Energies (eV, relative to the Fermi level) of the grid in an "ldos" section."""
    return ldos["energy_start"] + ldos["energy_step"] * np.arange(ldos["n_points"])


def evaluate_ldos(element_model, G):
    """NumPy forward pass of one element's model: raw features (N, F) -> LDOS (N, n_points)."""
    x = (np.atleast_2d(np.asarray(G, dtype=float)) - np.asarray(element_model["feature_mean"])) \
        / np.asarray(element_model["feature_std"])
    for layer in element_model["layers"]:
        x = x @ np.asarray(layer["weights"], dtype=float) + np.asarray(layer["bias"], dtype=float)
        if layer["activation"] == "tanh":
            x = np.tanh(x)
    return x


def random_ldos_model(elements, descriptor, n_points=21, hidden=(16, 32), seed=0,
                      energy_start=-2.0, energy_step=0.2):
    """A valid LDOS model with reproducible random weights (for tests)."""
    rng = np.random.default_rng(seed)
    elements = [str(e) for e in elements]
    n_feat = sum(spec_of(b).size(b, len(elements)) for b in descriptor["blocks"])
    models = {}
    for el in elements:
        sizes = [n_feat, *hidden, n_points]
        layers = [{"weights": rng.normal(0, 1 / np.sqrt(a), (a, b)), "bias": rng.normal(0, 0.1, b),
                   "activation": "tanh" if l < len(sizes) - 2 else "linear"}
                  for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
        models[el] = {"feature_mean": rng.normal(0, 0.1, n_feat),
                      "feature_std": rng.uniform(0.5, 2.0, n_feat), "layers": layers}
    model = _plain({"format": FORMAT_NAME, "version": FORMAT_VERSION, "units": UNITS,
                    "elements": elements, "descriptor": descriptor,
                    "ldos": {"energy_start": energy_start, "energy_step": energy_step,
                             "n_points": n_points, "reference": REFERENCE, "broadening": 0.2,
                             "units": LDOS_UNITS},
                    "models": models, "provenance": {"generator": "random_ldos_model", "seed": seed}})
    validate_ldos_model(model)
    return model
