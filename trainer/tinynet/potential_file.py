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

import math
import os

import numpy as np

from tinynet.blocks import MAX_CUTOFF, check_descriptor, spec_of
from tinynet.json_file import _plain, read_json_file, write_json_file
from tinynet.network_file import (MAX_LAYERS, MAX_PARAMETER,  # noqa: F401 (re-exported)
                                  STD_RELATIVE_FLOOR, check_layers,
                                  check_normalisation)
from tinynet.validation import (PotentialFileError, _bounded, _integer, _list,
                                _number, _number_list, _object, _string,
                                _type_name)

FORMAT_NAME = "tinynet-potential"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
UNITS = "metal"
CUTOFF_TOLERANCE = 1e-12

_TOP_REQUIRED = ("format", "version", "units", "elements", "descriptor",
                 "cutoff", "models")
_TOP_OPTIONAL = ("core_repulsion", "provenance")

# Bounds that keep every accepted file finite (docs/potential_file.md,
# "Bounds"); the C++ reader (core/src/potential_file.cpp) has the same. The
# network's (MAX_PARAMETER, STD_RELATIVE_FLOOR, MAX_LAYERS) are in
# tinynet.network_file, shared with LDOS files.
MAX_ATOMIC_NUMBER = 118
MIN_SWITCH_WIDTH = 0.1       # outer - inner of the core repulsion (A)
_MODEL_KEYS = ("e0", "feature_mean", "feature_std", "feature_min",
               "feature_max", "layers")


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

def _check_model(src, field, model, n_feat):
    _object(src, field, model, _MODEL_KEYS)
    _bounded(src, f"{field}.e0", model["e0"], MAX_PARAMETER)
    check_normalisation(src, field, model, n_feat)
    for key in ("feature_min", "feature_max"):
        _number_list(src, f"{field}.{key}", model[key], length=n_feat)
    for f, (lo, hi) in enumerate(zip(model["feature_min"],
                                     model["feature_max"])):
        if lo > hi:
            raise PotentialFileError(
                src, f"{field}.feature_min[{f}]",
                f"greater than feature_max[{f}] ({lo!r} > {hi!r})")
    check_layers(src, f"{field}.layers", model["layers"], n_feat, 1, "1 output")


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
    write_json_file(path, potential)


def read_potential(path):
    """Read and validate a potential file; returns the parsed dict (plain
    lists and floats).  Every problem, including undecodable bytes and
    hostile nesting, is a PotentialFileError naming the file."""
    path = os.fspath(path)
    potential = read_json_file(path)
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
