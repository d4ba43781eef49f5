"""The network section shared by potential and LDOS files.

One element's model in either file holds a feature normalisation
(``feature_mean``, ``feature_std``) and a list of dense ``layers``; both
readers check them here, with the bounds that keep every accepted file
finite (docs/potential_file.md, "Bounds"; the C++ reader:
core/src/network_reader.cpp).  Every error is a PotentialFileError naming
the file and the field.
"""

from tinynet.validation import (PotentialFileError, _bounded, _list,
                                _number_list, _object, _string)

MAX_PARAMETER = 1e6          # |e0|, |weights|, |biases|
STD_RELATIVE_FLOOR = 1e-6    # feature_std >= floor * max(|feature_mean|, 1)
MAX_LAYERS = 16
ACTIVATIONS = ("tanh", "linear")
_LAYER_KEYS = ("weights", "bias", "activation")


def check_normalisation(src, field, model, n_feat):
    """``feature_mean`` and ``feature_std`` of the model at `field`: n_feat
    numbers each, every spread above the relative floor."""
    means = _number_list(src, f"{field}.feature_mean", model["feature_mean"], length=n_feat)
    stds = _number_list(src, f"{field}.feature_std", model["feature_std"],
                        length=n_feat, positive=True)
    for f, (sd, mean) in enumerate(zip(stds, means)):
        floor = STD_RELATIVE_FLOOR * max(abs(mean), 1.0)
        if not sd >= floor:
            raise PotentialFileError(
                src, f"{field}.feature_std[{f}]",
                f"{sd!r} is below the floor of 1e-6 * max(|feature_mean|, 1) = "
                f"{floor!r} (a near-zero spread gives an unbounded gain)")


def check_layers(src, field, layers, n_feat, n_outputs, outputs):
    """The dense layers at `field`: n_feat inputs, at most MAX_LAYERS layers,
    parameters bounded by MAX_PARAMETER, the last one linear with n_outputs
    outputs (`outputs` says what they are, for the message)."""
    layers = _list(src, field, layers, nonempty=True)
    if len(layers) > MAX_LAYERS:
        raise PotentialFileError(src, field, f"more than {MAX_LAYERS} layers ({len(layers)})")
    n_in = n_feat
    for l, layer in enumerate(layers):
        lf = f"{field}[{l}]"
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
    last = f"{field}[{len(layers) - 1}]"
    if n_in != n_outputs:
        raise PotentialFileError(src, f"{last}.bias", f"the last layer must have {outputs}, got {n_in}")
    if layers[-1]["activation"] != "linear":
        raise PotentialFileError(src, f"{last}.activation", "the last layer must be linear")
