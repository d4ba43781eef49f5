"""The "simple_cycles" descriptor block: C++ core against the brute-force NumPy
reference, cycles known by hand, diamond's ring statistics, finite differences,
malformed blocks, and the guard against an exploding search."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

import numpy_reference
from test_descriptors import dense_jacobian, sige_cell, srtio3_cell, two_atom_triclinic_cell
from tinynet import _core, descriptors
from tinynet.blocks import check_block
from tinynet.validation import PotentialFileError


def cycles_block(n_max=6, bond_cutoff=3.0, r0=2.35, decay_lengths=(0.8, 1.6)):
    return {"type": "simple_cycles", "n_max": n_max, "bond_cutoff": bond_cutoff, "r0": r0,
            "decay_lengths": list(decay_lengths)}


def features_by_length(atoms, block, elements):
    """Features as [atom, n - 3, channel, species]."""
    g = descriptors.compute(atoms, {"blocks": [block]}, elements, jacobian=False)["features"]
    return g.reshape(len(atoms), block["n_max"] - 2, len(block["decay_lengths"]), len(elements))


def hop(r, block, c):
    x = r / block["bond_cutoff"]
    fc = 1 - 10 * x**3 + 15 * x**4 - 6 * x**5 if x < 1 else 0.0
    return np.exp(-(r - block["r0"]) / block["decay_lengths"][c]) * fc


# --- the core against the reference --------------------------------------

@pytest.mark.parametrize("make, n_max", [(sige_cell, 6), (srtio3_cell, 6), (two_atom_triclinic_cell, 5)],
                         ids=["SiGe-6", "SrTiO3-6", "triclinic-5"])
def test_core_matches_reference(make, n_max):
    atoms, elements, _ = make()
    desc = {"blocks": [cycles_block(n_max=n_max)]}
    core = descriptors.compute(atoms, desc, elements)
    ref = numpy_reference.compute(atoms, desc, elements)
    assert np.abs(ref["features"]).max() > 1e-6    # the cell really has cycles
    scale = np.abs(ref["features"]).max(axis=0) + 1e-300
    assert np.all(np.abs(core["features"] - ref["features"]) <= 1e-10 * scale)
    jac_core, jac_ref = dense_jacobian(core, len(atoms)), dense_jacobian(ref, len(atoms))
    assert np.abs(jac_core - jac_ref).max() <= 1e-10 * np.abs(jac_ref).max()
    strain_scale = np.abs(ref["dG_dstrain"]).max()
    assert np.abs(core["dG_dstrain"] - ref["dG_dstrain"]).max() <= 1e-10 * strain_scale


def test_jacobian_matches_finite_differences():
    atoms, elements, _ = two_atom_triclinic_cell()
    desc = {"blocks": [cycles_block(n_max=5)]}
    jac = dense_jacobian(descriptors.compute(atoms, desc, elements), len(atoms))
    step = 1e-5
    for atom, axis in [(0, 0), (1, 2)]:
        g = []
        for sign in (1, -1):
            moved = atoms.copy()
            moved.positions[atom, axis] += sign * step
            g.append(descriptors.compute(moved, desc, elements, jacobian=False)["features"])
        fd = (g[0] - g[1]) / (2 * step)
        assert np.abs(fd - jac[:, :, atom, axis]).max() <= 1e-6 * np.abs(jac).max()


# --- cycles known by hand --------------------------------------------------

def test_triangle_has_two_directed_3_cycles_split_by_middle_species():
    r = 2.4
    atoms = Atoms("SiSiGe", positions=[[0, 0, 0], [r, 0, 0], [r / 2, r * np.sqrt(3) / 2, 0]])
    block = cycles_block(n_max=4)
    g = features_by_length(atoms, block, ["Si", "Ge"])
    for c in range(2):
        h3 = hop(r, block, c) ** 3
        assert np.allclose(g[:, 0, c].sum(axis=1), 2 * h3, rtol=1e-13, atol=0)
        # centre 0: 0->1->2 has middle Si, 0->2->1 has middle Ge
        assert np.allclose(g[0, 0, c], [h3, h3], rtol=1e-13, atol=0)
        # centre 2 (Ge): both middles are Si
        assert np.allclose(g[2, 0, c], [2 * h3, 0.0], rtol=1e-13, atol=0)
    assert np.all(g[:, 1] == 0.0)    # no simple 4-cycle among 3 atoms


def test_square_ring_has_two_directed_4_cycles():
    r = 2.4    # diagonal 3.39 A is beyond the bond cutoff
    atoms = Atoms("Si4", positions=[[0, 0, 0], [r, 0, 0], [r, r, 0], [0, r, 0]])
    block = cycles_block(n_max=5)
    g = features_by_length(atoms, block, ["Si"])
    for c in range(2):
        assert np.allclose(g[:, 1, c, 0], 2 * hop(r, block, c) ** 4, rtol=1e-13, atol=0)
    assert np.all(g[:, [0, 2]] == 0.0)    # no 3- or 5-cycles


def test_perfect_diamond_rings():
    """Bonds between the 1st (2.35 A) and 2nd (3.84 A) shell: the shortest
    rings are the chair hexagons, 12 through each atom (24 directed), and the
    bipartite lattice has no odd cycle at all."""
    atoms = bulk("Si", "diamond", 5.43, cubic=True)
    block = cycles_block(n_max=7, bond_cutoff=3.0)
    g = features_by_length(atoms, block, ["Si"])
    bond = 5.43 * np.sqrt(3) / 4
    assert np.all(g[:, [0, 1, 2, 4]] == 0.0)    # n = 3, 4, 5, 7
    for c in range(2):
        assert np.allclose(g[:, 3, c, 0], 24 * hop(bond, block, c) ** 6, rtol=1e-12, atol=0)


# --- malformed blocks --------------------------------------------------------

MALFORMED = [
    ("n_max", 9), ("n_max", 2), ("n_max", 4.5), ("bond_cutoff", 0.0), ("bond_cutoff", 25.0),
    ("r0", "2.35"), ("decay_lengths", []), ("decay_lengths[1]", -1.0), ("orbitals", "sp"), ("r0", None),
]


@pytest.mark.parametrize("key, value", MALFORMED, ids=[f"{k}={v!r}" for k, v in MALFORMED])
def test_malformed_block_rejected_by_both_readers(key, value):
    block = cycles_block()
    if key == "decay_lengths[1]":
        block["decay_lengths"] = [1.0, value]
    elif value is None:
        del block[key]
    else:
        block[key] = value
    field = f"blocks[0].{key}"
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        _core.Descriptor(json.dumps({"blocks": [block]}), ["Si"])
    with pytest.raises(PotentialFileError) as err:
        check_block("<test>", "blocks[0]", block)
    assert err.value.field == field


def test_feature_count_and_range_agree_with_python_spec():
    from tinynet.blocks import spec_of

    block = cycles_block(n_max=7, bond_cutoff=2.9)
    core = _core.Descriptor(json.dumps({"blocks": [block]}), ["Si", "Ge", "C"])
    assert core.n_features == spec_of(block).size(block, 3) == 5 * 2 * 3
    assert core.cutoff == spec_of(block).range(block) == 3 * 2.9
    assert core.bond_cutoff == 2.9


# --- the explosion guard ---------------------------------------------------

def test_exploding_search_is_refused_with_advice():
    """fcc with the second shell bonded (18 bonds per atom) and n_max 8:
    ~18 * 17^6 paths per centre, far beyond the 2,000,000 allowed."""
    atoms = bulk("Si", "fcc", 3.0)
    block = cycles_block(n_max=8, bond_cutoff=3.2, r0=2.1)
    with pytest.raises(RuntimeError, match=r"centre node 0 .*more than 2000000 paths.*smaller n_max or bond_cutoff"):
        descriptors.compute(atoms, {"blocks": [block]}, ["Si"], jacobian=False)


def test_exploding_search_stops_lammps_with_the_message(tmp_path):
    from conftest import write_random_potential
    from test_lammps_plugin import run_expecting_error

    block = cycles_block(n_max=8, bond_cutoff=3.2, r0=2.1)
    path = write_random_potential(tmp_path / "dense.tinynet", ["Si"], {"blocks": [block]})
    message = run_expecting_error(f"""
        units metal
        lattice fcc 3.0
        region box block 0 2 0 2 0 2
        create_box 1 box
        create_atoms 1 box
        mass * 28.0
        pair_style tinynet
        pair_coeff * * {path} Si
        run 0
    """)
    assert "more than 2000000 paths" in message and "smaller n_max or bond_cutoff" in message
