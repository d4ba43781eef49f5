"""The "bessel" block: orthonormal spherical-Bessel radial functions times real
spherical harmonics, species-pair power spectrum (C++ core vs NumPy reference,
and the physics the construction promises)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from numpy.polynomial import legendre

import numpy_reference
import reference_bessel
import test_descriptors as cells
from tinynet import _core, descriptors
from tinynet.blocks import check_block
from tinynet.validation import PotentialFileError

BLOCK = {"type": "bessel", "cutoff": 4.5, "n_max": 5, "l_max": 6}
# Highest orders allowed: pins every recurrence of the C++ core.
BLOCK_HIGH = {"type": "bessel", "cutoff": 3.6, "n_max": 24, "l_max": 12}


def features_of(atoms, block, elements):
    return descriptors.compute(atoms, {"blocks": [block]}, elements, jacobian=False)["features"]


# ---------------------------------------------------------------------------
# radial functions and harmonics (reference; the C++ is pinned to it below)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("cutoff", [2.5, 5.0, 7.3])
def test_radial_functions_are_orthonormal(cutoff):
    """int_0^rc g_n g_m r^2 dr = delta_nm for n, m = 0..24 (Gauss-Legendre,
    exact here to round-off: the integrands are smooth and band-limited)."""
    nodes, weights = legendre.leggauss(300)
    r = 0.5 * cutoff * (nodes + 1.0)
    w = 0.5 * cutoff * weights * r**2
    g = reference_bessel.radial_functions(r, cutoff, 24)
    gram = (g * w) @ g.T
    assert np.abs(gram - np.eye(25)).max() < 1e-8


@pytest.mark.parametrize("cutoff", [2.5, 5.0])
def test_radial_functions_vanish_with_two_derivatives_at_cutoff(cutoff):
    n_max = 24

    def d1(r):    # complex step: exact first derivative
        return reference_bessel.radial_functions(r + 1j * 1e-30, cutoff, n_max).imag / 1e-30

    inside = np.linspace(0.3, cutoff, 400)
    g_scale = np.abs(reference_bessel.radial_functions(inside, cutoff, n_max)).max(axis=1)
    d1_scale = np.abs(d1(inside)).max(axis=1)
    h = 1e-5
    d2 = (d1(cutoff + h) - d1(cutoff - h)) / (2 * h)
    d2_scale = np.abs(d1(inside + h) - d1(inside - h)).max(axis=1) / (2 * h)
    d3 = (d1(cutoff + h) - 2 * d1(cutoff) + d1(cutoff - h)) / h**2
    assert np.all(np.abs(reference_bessel.radial_functions(cutoff, cutoff, n_max)) < 1e-14 * g_scale)
    assert np.all(np.abs(d1(cutoff)) < 1e-12 * d1_scale)
    assert np.all(np.abs(d2) < 1e-7 * d2_scale)
    # ... but not a third time: the test above can see a nonzero derivative
    assert np.all(np.abs(d3) > 1e-3 * d2_scale / cutoff)


def test_harmonics_are_orthonormal_on_the_sphere():
    """Gauss-Legendre in z times an even grid in phi: exact for the products."""
    l_max = 12
    z, wz = legendre.leggauss(l_max + 2)
    phi = np.arange(2 * l_max + 2) * 2 * np.pi / (2 * l_max + 2)
    zz, pp = np.meshgrid(z, phi, indexing="ij")
    rho = np.sqrt(1 - zz**2)
    u = np.stack([rho * np.cos(pp), rho * np.sin(pp), zz], axis=-1).reshape(-1, 3)
    w = (wz[:, None] * np.full(len(phi), 2 * np.pi / len(phi))[None, :]).reshape(-1)
    Y = reference_bessel.real_harmonics(u, l_max).real
    assert np.abs((Y * w) @ Y.T - np.eye((l_max + 1) ** 2)).max() < 1e-12


def test_cpp_radial_functions_equal_the_reference():
    """A dimer: p_(n,0) of the centre is g_n(r)^2 / (4 pi), any r up to the cutoff
    (compared as |g_n|, to round-off of the functions' own scale: near the
    cutoff g_n is a small difference of O(1) terms)."""
    rc, n_max = 4.0, 24
    block = {"type": "bessel", "cutoff": rc, "n_max": n_max, "l_max": 0}
    g_scale = np.abs(reference_bessel.radial_functions(np.linspace(0.3, rc, 500), rc, n_max)).max(axis=1)
    for r in [0.7, 1.9, 2.35, 3.3, 3.9, 3.999]:
        atoms = Atoms("Si2", positions=[[0, 0, 0], [0.3 * r, -0.4 * r, np.sqrt(0.75) * r]])
        p = features_of(atoms, block, ["Si"])[0]
        g = reference_bessel.radial_functions(r, rc, n_max)
        assert np.all(np.abs(np.sqrt(4 * np.pi * p) - np.abs(g)) <= 1e-12 * g_scale)
    # a neighbour at or beyond the cutoff contributes nothing
    far = Atoms("Si2", positions=[[0, 0, 0], [0, 0, rc]])
    assert np.all(features_of(far, block, ["Si"]) == 0.0)


# ---------------------------------------------------------------------------
# C++ core against the reference (features, Jacobian, strain derivative)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("block", [BLOCK, BLOCK_HIGH], ids=["n5_l6", "n24_l12"])
@pytest.mark.parametrize(
    "make", [cells.sige_cell, cells.srtio3_cell, cells.two_atom_triclinic_cell, cells.cluster,
             cells.self_image_cell], ids=lambda f: f.__name__)
def test_core_matches_reference(make, block):
    atoms, elements, _ = make()
    desc = {"blocks": [block]}
    core = descriptors.compute(atoms, desc, elements)
    ref = numpy_reference.compute(atoms, desc, elements)
    assert np.abs(ref["features"]).max() > 1e-3    # the cell really has neighbours
    scale = np.maximum(np.abs(ref["features"]).max(axis=0), 1e-6 * np.abs(ref["features"]).max())
    assert np.all(np.abs(core["features"] - ref["features"]) <= 1e-10 * scale)

    n = len(atoms)
    jac_core, jac_ref = cells.dense_jacobian(core, n), cells.dense_jacobian(ref, n)
    # (the one-atom cell has dG_i/dr_i = 0 exactly, a sum of image terms that
    # cancel: compare there against the features' own scale per Angstrom)
    jac_scale = max(np.abs(jac_ref).max(), np.abs(ref["features"]).max())
    assert np.abs(jac_core - jac_ref).max() <= 1e-10 * jac_scale
    if all(atoms.pbc):
        strain_scale = np.abs(ref["dG_dstrain"]).max()
        assert np.abs(core["dG_dstrain"] - ref["dG_dstrain"]).max() <= 1e-10 * strain_scale


def test_feature_layout():
    """Index (n (l_max+1) + l) n_pairs + pair, pairs (Si,Si), (Si,Ge), (Ge,Ge):
    a Si centre with only Ge neighbours has p = 0 for every pair but (Ge,Ge)."""
    atoms = Atoms("SiGeGe", positions=[[0, 0, 0], [2.3, 0, 0], [0, 2.4, 0.3]])
    block = {"type": "bessel", "cutoff": 4.0, "n_max": 3, "l_max": 2}
    p = features_of(atoms, block, ["Si", "Ge"])[0].reshape(4, 3, 3)
    assert np.all(p[:, :, [0, 1]] == 0.0)
    assert np.all(p[:, 0, 2] > 0.0)


@pytest.mark.parametrize("make", [cells.sige_cell, cells.cluster], ids=lambda f: f.__name__)
def test_forces_and_stress_through_a_potential(make, tmp_path):
    """The backprop path with a full dE/dG (every pair live at once): energy,
    forces and stress of a random-weight potential equal the NumPy reference,
    and the forces equal central differences of the energy."""
    from conftest import write_random_potential
    from tinynet.calculator import TinyNetCalculator
    from tinynet.potential_file import read_potential

    atoms, elements, _ = make()
    path = write_random_potential(tmp_path / "b.tinynet", elements, {"blocks": [BLOCK]}, seed=4)
    energy, forces, stress = numpy_reference.energy_forces_stress(atoms, read_potential(path))
    calc = TinyNetCalculator(path)
    atoms.calc = calc
    assert atoms.get_potential_energy() == pytest.approx(energy, rel=1e-12)
    assert np.abs(atoms.get_forces() - forces).max() <= 1e-10 * np.abs(forces).max()
    if stress is not None:
        assert np.abs(atoms.get_stress(voigt=False) - stress).max() <= 1e-10 * np.abs(stress).max()
    h = 1e-5
    for i, a in [(0, 0), (3, 2), (5, 1)]:
        shifted = []
        for sign in (1, -1):
            moved = atoms.copy()
            moved.positions[i, a] += sign * h
            moved.calc = calc
            shifted.append(moved.get_potential_energy())
        assert forces[i, a] == pytest.approx(-(shifted[0] - shifted[1]) / (2 * h), abs=1e-6 * np.abs(forces).max())


# ---------------------------------------------------------------------------
# physics: angles, invariance
# ---------------------------------------------------------------------------

def three_atoms(symbols, angle_deg, r1=2.35, r2=2.5):
    t = np.radians(angle_deg)
    return Atoms(symbols, positions=[[0, 0, 0], [r1, 0, 0], [r2 * np.cos(t), r2 * np.sin(t), 0]])


def test_bond_angle_enters_l_geq_1_only():
    """Centre with two neighbours at fixed distances: by the addition theorem,
    p_(n,l) = (2l+1)/(4 pi) [g_n(r1)^2 + g_n(r2)^2 + 2 g_n(r1) g_n(r2) P_l(cos theta)];
    l = 0 does not see theta, every l >= 1 does."""
    block = {"type": "bessel", "cutoff": 4.5, "n_max": 4, "l_max": 6}
    L = block["l_max"]
    g1, g2 = (reference_bessel.radial_functions(r, 4.5, 4) for r in (2.35, 2.5))
    previous = None
    for angle in [95.0, 109.47, 125.0]:
        p = features_of(three_atoms("Si3", angle), block, ["Si"])[0].reshape(5, L + 1)
        for l in range(L + 1):
            P_l = legendre.legval(np.cos(np.radians(angle)), np.eye(l + 1)[l])
            expected = (2 * l + 1) / (4 * np.pi) * (g1**2 + g2**2 + 2 * g1 * g2 * P_l)
            assert np.allclose(p[:, l], expected, rtol=1e-12, atol=1e-14 * np.abs(expected).max())
        if previous is not None:
            change = np.abs(p - previous) / np.abs(previous).max(axis=0)
            assert np.all(change[:, 0] < 1e-13)
            assert np.all(change[:, 1:].max(axis=0) > 1e-2)
        previous = p


def test_unlike_pair_carries_the_angle():
    """Si centre, one Si and one Ge neighbour: (Si,Si) and (Ge,Ge) are two-body,
    (Si,Ge) = (2l+1)/(4 pi) g_n(r1) g_n(r2) P_l(cos theta)."""
    block = {"type": "bessel", "cutoff": 4.5, "n_max": 3, "l_max": 4}
    g1, g2 = (reference_bessel.radial_functions(r, 4.5, 3) for r in (2.35, 2.5))
    for angle in [100.0, 120.0]:
        p = features_of(three_atoms("SiSiGe", angle), block, ["Si", "Ge"])[0].reshape(4, 5, 3)
        for l in range(5):
            c = (2 * l + 1) / (4 * np.pi)
            P_l = legendre.legval(np.cos(np.radians(angle)), np.eye(l + 1)[l])
            assert np.allclose(p[:, l, 0], c * g1**2, rtol=1e-12)
            assert np.allclose(p[:, l, 2], c * g2**2, rtol=1e-12)
            assert np.allclose(p[:, l, 1], c * g1 * g2 * P_l, rtol=1e-11, atol=1e-14 * c * np.abs(g1 * g2).max())


def random_rotation(seed, proper=True):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if (np.linalg.det(q) > 0) != proper:
        q[:, 0] *= -1
    return q


@pytest.mark.parametrize("proper", [True, False], ids=["rotation", "reflection"])
@pytest.mark.parametrize("make", [cells.sige_cell, cells.cluster], ids=lambda f: f.__name__)
def test_rotation_invariance(make, proper):
    atoms, elements, _ = make()
    Q = random_rotation(7, proper)
    turned = atoms.copy()
    turned.set_cell(atoms.cell.array @ Q.T, scale_atoms=True)
    if not any(atoms.pbc):
        turned.positions = atoms.positions @ Q.T
    for block in (BLOCK, BLOCK_HIGH):
        a, b = features_of(atoms, block, elements), features_of(turned, block, elements)
        assert np.abs(a - b).max() <= 1e-12 * np.abs(a).max()


# ---------------------------------------------------------------------------
# malformed blocks: the C++ reader and the Python validator name the same field
# ---------------------------------------------------------------------------

BAD_BLOCKS = [
    ({"cutoff": 0.0}, "cutoff"),
    ({"cutoff": -1.0}, "cutoff"),
    ({"cutoff": 25.0}, "cutoff"),
    ({"cutoff": "4.5"}, "cutoff"),
    ({"n_max": 25}, "n_max"),
    ({"n_max": -1}, "n_max"),
    ({"n_max": 3.0}, "n_max"),
    ({"l_max": 13}, "l_max"),
    ({"l_max": -2}, "l_max"),
    ({"l_max": True}, "l_max"),
    ({"l_max": None}, "l_max"),
    ({"alpha": 1.0}, "alpha"),
]


@pytest.mark.parametrize("change, field", BAD_BLOCKS + [("drop", "l_max"), ("drop", "cutoff")],
                         ids=lambda x: str(x))
def test_malformed_block_is_named_by_both_readers(change, field):
    block = dict(BLOCK)
    if change == "drop":
        del block[field]
    else:
        block.update(change)
    pattern = rf"blocks\[0\]\.{field}\b"
    with pytest.raises(ValueError, match=pattern):
        _core.Descriptor(json.dumps({"blocks": [block]}), ["Si", "Ge"])
    with pytest.raises(PotentialFileError, match=pattern):
        check_block("<test>", "descriptor.blocks[0]", block)


def test_well_formed_block_is_accepted_by_both_readers():
    block = dict(BLOCK_HIGH)
    check_block("<test>", "descriptor.blocks[0]", block)
    desc = _core.Descriptor(json.dumps({"blocks": [block]}), ["Si", "Ge", "C"])
    assert desc.n_features == 25 * 13 * 6
    assert desc.cutoff == block["cutoff"]
