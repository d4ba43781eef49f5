"""Round-trip and bad-input tests of tinynet.potential_file, and of the C++
reader (tinynet._core.Potential, the one LAMMPS uses) on the same files."""

import copy
import json
import os

import numpy as np
import pytest

from tinynet import _core
from tinynet.potential_file import (
    PotentialFileError, block_sizes, descriptor_cutoff, evaluate_network,
    n_features, random_potential, read_potential, validate_potential,
    write_potential)

DESCRIPTOR = {"blocks": [
    {"type": "moments", "n_max": 4, "bond_cutoff": 3.0, "r0": 0.0,
     "decay_lengths": [1.0, 2.0]},
    {"type": "radial", "cutoff": 5.0,
     "centers": [1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5], "alpha": 0.8},
]}
ELEMENTS = ["Sr", "Ti", "O"]
F = 3 * 2 * 3 + 7 * 3          # 39


@pytest.fixture
def pot():
    return random_potential(ELEMENTS, DESCRIPTOR, seed=1,
                            e0={"Sr": -1.5, "Ti": -2.25, "O": -4.3})


def write_raw(path, obj):
    """Write JSON without validation (allow_nan so NaN reaches the file)."""
    path.write_text(json.dumps(obj, indent=1, allow_nan=True))
    return path


# ---------------------------------------------------------------------------
# helpers and good files
# ---------------------------------------------------------------------------

def test_sizes_and_cutoff():
    assert block_sizes(DESCRIPTOR, 3) == [18, 21]
    assert n_features(DESCRIPTOR, 3) == F
    assert descriptor_cutoff(DESCRIPTOR) == 6.0          # floor(4/2) * 3.0
    odd = {"blocks": [dict(DESCRIPTOR["blocks"][0], n_max=5)]}
    assert descriptor_cutoff(odd) == 6.0                 # floor(5/2) * 3.0
    assert block_sizes(odd, 1) == [8]
    radial = {"blocks": [DESCRIPTOR["blocks"][1]]}
    assert descriptor_cutoff(radial) == 5.0


def test_round_trip_is_exact(tmp_path, pot):
    # awkward floats must survive bit for bit
    pot["models"]["O"]["e0"] = 0.1 + 0.2
    pot["models"]["O"]["feature_mean"][0] = 1e-310       # subnormal
    pot["models"]["O"]["feature_std"][0] = np.nextafter(1.0, 2.0)
    pot["provenance"] = {"dataset": "x.extxyz", "errors": {"E": 1.2e-3}}
    path = tmp_path / "SrTiO3.tinynet"
    write_potential(path, pot)
    back = read_potential(path)
    assert back == pot
    assert back["models"]["O"]["e0"] == 0.1 + 0.2
    assert back["models"]["O"]["feature_std"][0] == np.nextafter(1.0, 2.0)
    # written indented, and no temporary file left behind
    assert "\n" in path.read_text()
    assert os.listdir(tmp_path) == ["SrTiO3.tinynet"]
    # energies identical after the round trip
    G = np.random.default_rng(0).normal(size=(4, F))
    for el in ELEMENTS:
        e1, g1 = evaluate_network(pot["models"][el], G)
        e2, g2 = evaluate_network(back["models"][el], G)
        assert np.array_equal(e1, e2) and np.array_equal(g1, g2)


def test_numpy_arrays_accepted_on_write(tmp_path, pot):
    model = pot["models"]["Ti"]
    for layer in model["layers"]:
        layer["weights"] = np.array(layer["weights"])
        layer["bias"] = np.array(layer["bias"])
    model["feature_mean"] = np.array(model["feature_mean"])
    model["e0"] = np.float64(model["e0"])
    validate_potential(pot)
    write_potential(tmp_path / "p.tinynet", pot)
    back = read_potential(tmp_path / "p.tinynet")
    np.testing.assert_array_equal(back["models"]["Ti"]["layers"][0]["weights"],
                                  model["layers"][0]["weights"])


def test_random_potential_is_reproducible_and_valid():
    a = random_potential(["Si"], DESCRIPTOR, seed=4)
    b = random_potential(["Si"], DESCRIPTOR, seed=4)
    c = random_potential(["Si"], DESCRIPTOR, seed=5)
    assert a == b and a != c
    m = a["models"]["Si"]
    assert [len(l["bias"]) for l in m["layers"]] == [16, 32, 1]
    assert [l["activation"] for l in m["layers"]] == ["tanh", "tanh", "linear"]
    assert len(m["layers"][0]["weights"]) == n_features(DESCRIPTOR, 1)
    assert m["feature_min"][0] == -1e300 and m["feature_max"][0] == 1e300
    assert a["cutoff"] == 6.0
    s = random_potential(["Si"], DESCRIPTOR, hidden=(3,), e0=-4.3,
                         feature_scale={"feature_mean": 0.5,
                                        "feature_std": np.full(13, 2.0)})
    assert s["models"]["Si"]["e0"] == -4.3
    assert s["models"]["Si"]["feature_mean"] == [0.5] * 13
    assert s["models"]["Si"]["feature_std"] == [2.0] * 13


def test_evaluate_network_gradient(pot):
    model = pot["models"]["Sr"]
    rng = np.random.default_rng(2)
    G = rng.normal(size=(3, F))
    E, dE = evaluate_network(model, G)
    assert E.shape == (3,) and dE.shape == (3, F)
    # by hand for the first atom
    x = (G[0] - np.array(model["feature_mean"])) / np.array(model["feature_std"])
    for layer in model["layers"]:
        x = x @ np.array(layer["weights"]) + np.array(layer["bias"])
        if layer["activation"] == "tanh":
            x = np.tanh(x)
    assert E[0] == pytest.approx(x[0] + model["e0"], rel=1e-14)
    step = 1e-6
    for f in range(0, F, 7):
        Gp, Gm = G.copy(), G.copy()
        Gp[:, f] += step
        Gm[:, f] -= step
        fd = (evaluate_network(model, Gp)[0]
              - evaluate_network(model, Gm)[0]) / (2 * step)
        np.testing.assert_allclose(dE[:, f], fd, rtol=1e-6, atol=1e-10)


# ---------------------------------------------------------------------------
# bad input: each case -> PotentialFileError naming path and field
# ---------------------------------------------------------------------------

def _set(key_path, value):
    def mutate(p):
        obj = p
        for k in key_path[:-1]:
            obj = obj[k]
        obj[key_path[-1]] = value
    return mutate


def _delete(key_path):
    def mutate(p):
        obj = p
        for k in key_path[:-1]:
            obj = obj[k]
        del obj[key_path[-1]]
    return mutate


def _drop_weight_row(p):
    p["models"]["Ti"]["layers"][1]["weights"].pop()


def _short_row(p):
    p["models"]["Ti"]["layers"][0]["weights"][3].pop()


def _last_two_outputs(p):
    last = p["models"]["O"]["layers"][-1]
    last["weights"] = [row * 2 for row in last["weights"]]
    last["bias"] = last["bias"] * 2


def _extra_model(p):
    p["models"]["Cu"] = copy.deepcopy(p["models"]["O"])


BAD = [
    # (id, mutation, field expected in the message)
    ("format", _set(["format"], "tinynet"), "format"),
    ("version", _set(["version"], 2), "version"),
    ("version-type", _set(["version"], "1"), "version"),
    ("units", _set(["units"], "real"), "units"),
    ("missing-elements", _delete(["elements"]), "elements"),
    ("element-type", _set(["elements"], ["Sr", 22, "O"]), "elements[1]"),
    ("duplicate-element", _set(["elements"], ["Sr", "Sr", "O"]), "elements"),
    ("missing-model", _delete(["models", "Ti"]), "models.Ti"),
    ("extra-model", _extra_model, "models.Cu"),
    ("missing-descriptor", _delete(["descriptor"]), "descriptor"),
    ("no-blocks", _set(["descriptor", "blocks"], []), "descriptor.blocks"),
    ("unknown-block-type", _set(["descriptor", "blocks", 1, "type"], "soap"),
     "descriptor.blocks[1].type"),
    ("unknown-block-key", _set(["descriptor", "blocks", 0, "rb"], 3.0),
     "descriptor.blocks[0].rb"),
    ("missing-block-key", _delete(["descriptor", "blocks", 1, "alpha"]),
     "descriptor.blocks[1].alpha"),
    ("n_max<2", _set(["descriptor", "blocks", 0, "n_max"], 1),
     "descriptor.blocks[0].n_max"),
    ("n_max-float", _set(["descriptor", "blocks", 0, "n_max"], 4.0),
     "descriptor.blocks[0].n_max"),
    ("bond_cutoff<=0", _set(["descriptor", "blocks", 0, "bond_cutoff"], 0.0),
     "descriptor.blocks[0].bond_cutoff"),
    ("radial-cutoff<=0", _set(["descriptor", "blocks", 1, "cutoff"], -5.0),
     "descriptor.blocks[1].cutoff"),
    ("empty-decay", _set(["descriptor", "blocks", 0, "decay_lengths"], []),
     "descriptor.blocks[0].decay_lengths"),
    ("decay<=0", _set(["descriptor", "blocks", 0, "decay_lengths"], [1.0, 0.0]),
     "descriptor.blocks[0].decay_lengths[1]"),
    ("alpha<=0", _set(["descriptor", "blocks", 1, "alpha"], 0),
     "descriptor.blocks[1].alpha"),
    ("cutoff-mismatch", _set(["cutoff"], 5.0), "cutoff"),
    ("cutoff-string", _set(["cutoff"], "6.0"), "cutoff"),
    ("e0-missing", _delete(["models", "Sr", "e0"]), "models.Sr.e0"),
    ("e0-nan", _set(["models", "Sr", "e0"], float("nan")), "models.Sr.e0"),
    ("std<=0", _set(["models", "O", "feature_std", 5], 0.0),
     "models.O.feature_std[5]"),
    ("mean-length", _set(["models", "O", "feature_mean"], [0.0] * (F - 1)),
     "models.O.feature_mean"),
    ("max-inf", _set(["models", "O", "feature_max", 2], float("inf")),
     "models.O.feature_max[2]"),
    ("min>max", _set(["models", "O", "feature_min", 2], 2e300),
     "models.O.feature_min[2]"),
    ("weight-nan", _set(["models", "Ti", "layers", 1, "weights", 4, 7],
                        float("nan")), "models.Ti.layers[1].weights[4][7]"),
    ("weight-string", _set(["models", "Ti", "layers", 0, "weights", 0, 0], "1"),
     "models.Ti.layers[0].weights[0][0]"),
    ("bias-inf", _set(["models", "Ti", "layers", 2, "bias", 0], float("-inf")),
     "models.Ti.layers[2].bias[0]"),
    ("weights-rows", _drop_weight_row, "models.Ti.layers[1].weights"),
    ("weights-row-length", _short_row, "models.Ti.layers[0].weights[3]"),
    ("last-layer-outputs", _last_two_outputs, "models.O.layers[2]"),
    ("last-layer-tanh", _set(["models", "O", "layers", 2, "activation"], "tanh"),
     "models.O.layers[2].activation"),
    ("activation", _set(["models", "O", "layers", 0, "activation"], "relu"),
     "models.O.layers[0].activation"),
    ("no-layers", _set(["models", "O", "layers"], []), "models.O.layers"),
    ("layer-extra-key", _set(["models", "O", "layers", 0, "dropout"], 0.1),
     "models.O.layers[0].dropout"),
    ("model-extra-key", _set(["models", "O", "scale"], 1.0), "models.O.scale"),
    ("top-extra-key", _set(["comment"], "hi"), "comment"),
    ("provenance-type", _set(["provenance"], "me"), "provenance"),
    ("provenance-null", _set(["provenance"], None), "provenance"),
    # bounds that keep every accepted file finite (docs/potential_file.md, "Bounds")
    ("version-2^32+1", _set(["version"], 4294967297), "version"),
    ("version-2^64+1", _set(["version"], 2**64 + 1), "version"),
    ("e0-huge", _set(["models", "Sr", "e0"], 1e308), "models.Sr.e0"),
    ("weight-huge", _set(["models", "Ti", "layers", 2, "weights", 3, 0], -1.000001e6),
     "models.Ti.layers[2].weights[3][0]"),
    ("bias-huge", _set(["models", "Ti", "layers", 0, "bias", 1], 2e6), "models.Ti.layers[0].bias[1]"),
    ("std-denormal", _set(["models", "O", "feature_std", 4], 5e-324), "models.O.feature_std[4]"),
    ("std-relative-floor", lambda p: (p["models"]["O"]["feature_mean"].__setitem__(3, 1e4),
                                      p["models"]["O"]["feature_std"].__setitem__(3, 0.9e-2)),
     "models.O.feature_std[3]"),
    ("too-many-layers", lambda p: p["models"]["O"]["layers"].__setitem__(slice(1, 1), copy.deepcopy(
        [{"weights": np.eye(16).tolist(), "bias": [0.0] * 16, "activation": "linear"}] * 15)),
     "models.O.layers"),
    ("cutoff>20", lambda p: (p["descriptor"]["blocks"][0].update(n_max=16), p.update(cutoff=24.0)),
     "cutoff"),
    ("empty-element", lambda p: (p["elements"].__setitem__(0, ""), p["models"].__setitem__("", p["models"].pop("Sr"))),
     "elements[0]"),
]

REPULSION = {"type": "zbl", "atomic_numbers": {"Sr": 38, "Ti": 22, "O": 8},
             "pairs": {"Sr-Sr": {"inner": 2.0, "outer": 2.6}, "Sr-Ti": {"inner": 2.0, "outer": 2.6},
                       "Sr-O": {"inner": 1.5, "outer": 2.1}, "Ti-Ti": {"inner": 1.9, "outer": 2.5},
                       "Ti-O": {"inner": 1.2, "outer": 1.8}, "O-O": {"inner": 1.6, "outer": 2.2}}}


def _repulsion(mutate=None):
    def apply(p):
        p["core_repulsion"] = copy.deepcopy(REPULSION)
        if mutate:
            mutate(p["core_repulsion"])
    return apply


BAD += [
    ("rep-type", _repulsion(lambda r: r.update(type="lj")), "core_repulsion.type"),
    ("rep-missing-pair", _repulsion(lambda r: r["pairs"].pop("Ti-O")), "core_repulsion.pairs.Ti-O"),
    ("rep-reversed-pair", _repulsion(lambda r: r["pairs"].__setitem__("O-Ti", r["pairs"].pop("Ti-O"))),
     "core_repulsion.pairs."),
    ("rep-z-0", _repulsion(lambda r: r["atomic_numbers"].update(O=0)), "core_repulsion.atomic_numbers.O"),
    ("rep-z-119", _repulsion(lambda r: r["atomic_numbers"].update(O=119)), "core_repulsion.atomic_numbers.O"),
    ("rep-z-float", _repulsion(lambda r: r["atomic_numbers"].update(O=8.0)), "core_repulsion.atomic_numbers.O"),
    ("rep-missing-z", _repulsion(lambda r: r["atomic_numbers"].pop("Sr")), "core_repulsion.atomic_numbers.Sr"),
    ("rep-narrow-switch", _repulsion(lambda r: r["pairs"]["O-O"].update(outer=1.65)),
     "core_repulsion.pairs.O-O.outer"),
    ("rep-inner<0", _repulsion(lambda r: r["pairs"]["O-O"].update(inner=-0.1)), "core_repulsion.pairs.O-O.inner"),
    ("rep-outer>cutoff", _repulsion(lambda r: r["pairs"]["O-O"].update(outer=6.5)),
     "core_repulsion.pairs.O-O.outer"),
    ("rep-extra-key", _repulsion(lambda r: r["pairs"]["O-O"].update(width=0.5)), "core_repulsion.pairs.O-O.width"),
]


# bond_cutoff and r0 per element pair (block 0 walks the bond graph)
PAIR_VALUES = {"bond_cutoff": {"Sr-Sr": 3.0, "Sr-Ti": 3.0, "O-Sr": 3.0, "Ti-Ti": 3.0, "O-Ti": 2.5, "O-O": 3.0},
               "r0": {"Sr-Sr": 3.9, "Sr-Ti": 3.38, "O-Sr": 2.76, "Ti-Ti": 3.9, "O-Ti": 1.95, "O-O": 2.76}}


def _pairs(key="bond_cutoff", edit=None):
    def apply(p):
        block = p["descriptor"]["blocks"][0]
        block.update(copy.deepcopy(PAIR_VALUES))
        if edit:
            edit(block[key])
    return apply


PAIR_BAD = [
    # (id, mutation, field, detail: the same words from both readers)
    ("pair-missing", _pairs(edit=lambda d: d.pop("O-Ti")), "descriptor.blocks[0].bond_cutoff.Ti-O",
     "missing (every pair of elements needs a value)"),
    # "O-Ti" comes first in key order: the later spelling is the one refused
    ("pair-twice", _pairs(edit=lambda d: d.update({"Ti-O": 2.5})), "descriptor.blocks[0].bond_cutoff.Ti-O",
     "duplicate pair (the same as 'O-Ti')"),
    ("pair-unknown-element", _pairs("r0", lambda d: d.update({"O-Cu": 2.0})), "descriptor.blocks[0].r0.O-Cu",
     "unknown element 'Cu' (elements: Sr, Ti, O)"),
    ("pair-unknown-first-element", _pairs("r0", lambda d: d.update({"Ba-O": 2.0})), "descriptor.blocks[0].r0.Ba-O",
     "unknown element 'Ba' (elements: Sr, Ti, O)"),
    ("pair-no-dash", _pairs(edit=lambda d: d.update({"SrTi": 3.0})), "descriptor.blocks[0].bond_cutoff.SrTi",
     "expected an element pair 'A-B' (elements: Sr, Ti, O)"),
    ("pair-empty-object", _pairs(edit=lambda d: d.clear()), "descriptor.blocks[0].bond_cutoff.Sr-Sr",
     "missing (every pair of elements needs a value)"),
    ("pair-cutoff<0", _pairs(edit=lambda d: d.update({"O-O": -1e-300})), "descriptor.blocks[0].bond_cutoff.O-O",
     "must be > 0 (or 0: never bonded)"),
    ("pair-cutoff-all-0", _pairs(edit=lambda d: d.update(dict.fromkeys(d, 0.0))), "descriptor.blocks[0].bond_cutoff",
     "no pair is bonded (every value is 0)"),
    ("pair-cutoff>20", _pairs(edit=lambda d: d.update({"O-Sr": 20.5})), "descriptor.blocks[0].bond_cutoff.O-Sr", ""),
    ("pair-cutoff-string", _pairs(edit=lambda d: d.update({"Sr-Sr": "3"})),
     "descriptor.blocks[0].bond_cutoff.Sr-Sr", ""),
    ("pair-cutoff-nan", _pairs(edit=lambda d: d.update({"Sr-Sr": float("nan")})),
     "descriptor.blocks[0].bond_cutoff.Sr-Sr", ""),
    ("pair-r0>20", _pairs("r0", lambda d: d.update({"Ti-Ti": -20.5})), "descriptor.blocks[0].r0.Ti-Ti", ""),
    ("pair-list", lambda p: p["descriptor"]["blocks"][0].update(r0=[1.0]), "descriptor.blocks[0].r0", ""),
    # the overflow bound takes the largest r0: 4 * (19 - 0.1) / 0.2 > 300
    ("pair-largest-r0-decay", lambda p: (_pairs("r0", lambda d: d.update({"Sr-Sr": 19.0}))(p),
                                         p["descriptor"]["blocks"][0].update(decay_lengths=[1.0, 0.2])),
     "descriptor.blocks[0].decay_lengths[1]", ""),
]
BAD += [case[:3] for case in PAIR_BAD]


@pytest.mark.parametrize("mutate,field", [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_file_names_path_and_field(tmp_path, pot, mutate, field):
    mutate(pot)
    path = write_raw(tmp_path / "bad.tinynet", pot)
    with pytest.raises(PotentialFileError) as info:
        read_potential(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {field}"), message
    # the C++ reader rejects the file too, naming the same field
    with pytest.raises(PotentialFileError) as info:
        _core.Potential(str(path))
    assert str(info.value).startswith(f"{path}: {field}"), str(info.value)
    # the same check in memory, and write refuses without creating the file
    with pytest.raises(PotentialFileError, match="^<memory>: "):
        validate_potential(pot)
    target = tmp_path / "never.tinynet"
    with pytest.raises(PotentialFileError, match=str(target)):
        write_potential(target, pot)
    assert not target.exists()


@pytest.mark.parametrize("mutate,field,detail", [b[1:] for b in PAIR_BAD if b[3]],
                         ids=[b[0] for b in PAIR_BAD if b[3]])
def test_pair_name_errors_read_the_same_in_both_readers(tmp_path, pot, mutate, field, detail):
    mutate(pot)
    path = write_raw(tmp_path / "bad.tinynet", pot)
    expected = f"{path}: {field}: {detail}"
    with pytest.raises(PotentialFileError) as py_err:
        read_potential(path)
    with pytest.raises(PotentialFileError) as cpp_err:
        _core.Potential(str(path))
    assert str(py_err.value) == str(cpp_err.value) == expected


def test_bond_parameters_per_element_pair(tmp_path, pot):
    """Either spelling of a pair; 0 for a pair never bonded; the largest bond
    cutoff sets the range."""
    _pairs("r0")(pot)
    block = pot["descriptor"]["blocks"][0]
    block["bond_cutoff"] = {"Sr-Sr": 0.0, "Ti-Sr": 3.9, "Sr-O": 3.3, "Ti-Ti": -0.0, "Ti-O": 2.5, "O-O": 3.2}
    assert descriptor_cutoff(pot["descriptor"]) == 2 * 3.9
    pot["cutoff"] = 2 * 3.9
    path = tmp_path / "pairs.tinynet"
    write_potential(path, pot)
    assert read_potential(path)["descriptor"] == pot["descriptor"]
    core = _core.Potential(str(path))
    assert core.cutoff == 2 * 3.9 and core.bond_cutoff == 3.9 and core.n_features == F


def test_config_check_of_pairs_before_the_elements_are_known():
    """A training configuration names no elements: its pairs must still be
    well formed and complete for the elements they mention."""
    from tinynet.blocks import check_block

    block = dict(DESCRIPTOR["blocks"][0], bond_cutoff={"Si-Si": 2.9, "Ge-Si": 3.1, "Ge-Ge": 3.3})
    check_block("config", "descriptor.blocks[0]", block)
    for pairs, field, detail in [
            ({"Si-Si": 2.9, "Ge-Si": 3.1}, "bond_cutoff.Ge-Ge", "missing"),
            ({"Si-Si": 2.9, "Ge-Si": 3.1, "Si-Ge": 3.1, "Ge-Ge": 3.3}, "bond_cutoff.Si-Ge", "duplicate pair"),
            ({"Si": 2.9}, "bond_cutoff.Si", "expected an element pair 'A-B'"),
            ({"Si-Si": -1.0}, "bond_cutoff.Si-Si", "must be > 0"),
            ({"Si-Si": 0.0}, "bond_cutoff", "no pair is bonded")]:
        with pytest.raises(PotentialFileError) as err:
            check_block("config", "descriptor.blocks[0]", dict(block, bond_cutoff=pairs))
        assert err.value.field == f"descriptor.blocks[0].{field}" and err.value.detail.startswith(detail)


def test_weights_row_count_message(tmp_path, pot):
    _drop_weight_row(pot)
    path = write_raw(tmp_path / "Si.tinynet", pot)
    with pytest.raises(PotentialFileError,
                       match=r"models\.Ti\.layers\[1\]\.weights: "
                             r"expected 16 rows, got 15"):
        read_potential(path)


def test_truncated_file(tmp_path, pot):
    path = tmp_path / "cut.tinynet"
    write_potential(path, pot)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(PotentialFileError) as info:
        read_potential(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert "line" in message and "column" in message


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", "{'format': 1}",
                                  '{"format": "tinynet-potential",}'])
def test_not_a_potential(tmp_path, text):
    path = tmp_path / "junk.tinynet"
    path.write_text(text)
    with pytest.raises(PotentialFileError, match=f"^{path}: "):
        read_potential(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.tinynet"
    with pytest.raises(PotentialFileError, match=str(path)):
        read_potential(path)


def test_failed_write_keeps_old_file(tmp_path, pot):
    path = tmp_path / "p.tinynet"
    write_potential(path, pot)
    before = path.read_text()
    broken = copy.deepcopy(pot)
    broken["units"] = "si"
    with pytest.raises(PotentialFileError):
        write_potential(path, broken)
    assert path.read_text() == before


def test_repulsion_section_round_trip(tmp_path, pot):
    pot["core_repulsion"] = copy.deepcopy(REPULSION)
    path = tmp_path / "rep.tinynet"
    write_potential(path, pot)
    assert read_potential(path)["core_repulsion"] == REPULSION
    assert _core.Potential(str(path)).has_core_repulsion


def _valid_text(pot):
    return json.dumps(pot, indent=1)


# Files that are not strict JSON, or that no double can hold: (id, bytes
# from the valid text, words of the message).
RAW = [
    ("bom", lambda t: b"\xef\xbb\xbf" + t.encode(), "byte-order mark"),
    ("trailing-nul", lambda t: t.encode() + b"\0", "NUL byte"),
    ("trailing-garbage", lambda t: t.encode() + b"x", ""),
    ("duplicate-key", lambda t: t.replace('"cutoff":', '"cutoff": 99, "cutoff":', 1).encode(),
     "duplicate key 'cutoff'"),
    ("lone-surrogate", lambda t: t.replace('"generator": "', '"generator": "\\ud800', 1).encode(), "surrogate"),
    ("latin-1", lambda t: t.replace('"generator": "', '"generator": "\xe9', 1).encode("latin-1"), ""),
    ("deep-provenance", lambda t: t.replace('"seed": 1', '"seed": ' + "[" * 65 + "]" * 65, 1).encode(),
     "nested deeper than 64"),
    ("very-deep", lambda t: t.replace('"seed": 1', '"seed": ' + "[" * 100000 + "]" * 100000, 1).encode(),
     "nested deeper than 64"),
    ("400-digit-integer", lambda t: t.replace('"seed": 1', '"seed": ' + "9" * 400, 1).encode(), "overflow"),
    ("1e400", lambda t: t.replace('"seed": 1', '"seed": 1e400', 1).encode(), "overflow"),
]


@pytest.mark.parametrize("make,words", [r[1:] for r in RAW], ids=[r[0] for r in RAW])
def test_strict_json_both_readers(tmp_path, pot, make, words):
    path = tmp_path / "raw.tinynet"
    path.write_bytes(make(_valid_text(pot)))
    for read in (read_potential, lambda p: _core.Potential(str(p))):
        with pytest.raises(PotentialFileError) as info:
            read(path)
        assert str(info.value).startswith(f"{path}: ") and words in str(info.value), str(info.value)


@pytest.mark.parametrize("edit", [
    lambda t: t.replace('"generator": "', '"generator": "\\ud83d\\ude00', 1),    # a paired surrogate
    lambda t: t.replace('"seed": 1', '"seed": ' + "[" * 60 + "]" * 60, 1),       # deep, within the limit
    lambda t: t.replace('"cutoff"', '"\\u0063utoff"', 1),                          # an escaped key
    lambda t: t + "\n \t\r\n",                                                    # trailing whitespace
], ids=["paired-surrogate", "depth-60", "escaped-key", "trailing-space"])
def test_strict_but_valid_json_accepted_by_both(tmp_path, pot, edit):
    path = tmp_path / "ok.tinynet"
    path.write_text(edit(_valid_text(pot)), encoding="utf-8")
    read_potential(path)
    _core.Potential(str(path))


def test_deep_dict_in_memory_is_a_file_error(pot):
    deep = []
    for _ in range(5000):
        deep = [deep]
    pot["provenance"]["deep"] = deep
    with pytest.raises(PotentialFileError, match="nested deeper than 64"):
        validate_potential(pot)
