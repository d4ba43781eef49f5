"""The C++ descriptor core (through the Python binding) against the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

import numpy_reference
from conftest import DESCRIPTOR_SIGE
from tinynet import descriptors

SRTIO3_DESCRIPTOR = {
    "blocks": [
        {"type": "moments", "n_max": 4, "bond_cutoff": 3.0, "r0": 1.95, "decay_lengths": [0.5, 1.0]},
        {"type": "radial", "cutoff": 4.2, "centers": [1.8, 2.3, 2.8, 3.3, 3.8], "alpha": 1.5},
    ]
}


def strained(atoms, seed, rattle=0.1, strain=0.03):
    rng = np.random.default_rng(seed)
    atoms = atoms.copy()
    atoms.set_cell(atoms.cell @ (np.eye(3) + strain * rng.standard_normal((3, 3))), scale_atoms=True)
    atoms.rattle(rattle, seed=seed)
    return atoms


def sige_cell():
    atoms = bulk("Si", "diamond", 5.43, cubic=True)
    atoms.symbols[[1, 4, 6]] = "Ge"
    return strained(atoms, 1), ["Si", "Ge"], DESCRIPTOR_SIGE


def srtio3_cell():
    a = 3.905
    atoms = Atoms(
        "SrTiO3",
        scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
        cell=[a, a, a],
        pbc=True,
    )
    return strained(atoms, 2, rattle=0.08), ["Sr", "Ti", "O"], SRTIO3_DESCRIPTOR


def self_image_cell():
    """One atom in a 2.5 A cubic cell: every bond joins the atom to its own images."""
    atoms = Atoms("Si", cell=np.eye(3) * 2.5, pbc=True)
    return strained(atoms, 3, rattle=0.0, strain=0.02), ["Si", "Ge"], DESCRIPTOR_SIGE


def two_atom_triclinic_cell():
    atoms = Atoms("SiGe", positions=[[0, 0, 0], [1.3, 1.2, 1.1]], cell=[[2.7, 0, 0], [1.0, 2.6, 0], [0.6, 0.8, 2.8]], pbc=True)
    return strained(atoms, 4, rattle=0.05), ["Si", "Ge"], DESCRIPTOR_SIGE


def cluster():
    """Non-periodic: a rattled Si/Ge cluster in vacuum."""
    atoms = bulk("Si", "diamond", 5.43, cubic=True)
    atoms.symbols[[0, 3]] = "Ge"
    atoms.pbc = False
    atoms.rattle(0.1, seed=5)
    return atoms, ["Si", "Ge"], DESCRIPTOR_SIGE


def surface_slab():
    """Periodic in x and y only."""
    atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat((1, 1, 2))
    atoms.pbc = [True, True, False]
    atoms.rattle(0.05, seed=6)
    return atoms, ["Si"], DESCRIPTOR_SIGE


CASES = [sige_cell, srtio3_cell, self_image_cell, two_atom_triclinic_cell, cluster, surface_slab]


def dense_jacobian(result, n_atoms):
    n_features = result["features"].shape[1]
    jac = np.zeros((n_atoms, n_features, n_atoms, 3))
    for p, (i, j) in enumerate(zip(result["pair_center"], result["pair_atom"])):
        jac[i, :, j, :] += result["dG_dr"][p]
    return jac


@pytest.mark.parametrize("make", CASES, ids=lambda f: f.__name__)
def test_core_matches_reference(make):
    atoms, elements, descriptor = make()
    core = descriptors.compute(atoms, descriptor, elements)
    ref = numpy_reference.compute(atoms, descriptor, elements)
    scale = np.abs(ref["features"]).max(axis=0) + 1e-300
    assert np.all(np.abs(core["features"] - ref["features"]) <= 1e-10 * scale)
    assert np.array_equal(core["species"], ref["species"])

    n = len(atoms)
    jac_core, jac_ref = dense_jacobian(core, n), dense_jacobian(ref, n)
    # (a one-atom cell has dG_i/dr_i = 0 by translation invariance: compare
    # against the features' own scale per Angstrom there)
    jac_scale = max(np.abs(jac_ref).max(), 1e-6 * np.abs(ref["features"]).max())
    assert np.abs(jac_core - jac_ref).max() <= 1e-10 * jac_scale
    if all(atoms.pbc):
        strain_scale = np.abs(ref["dG_dstrain"]).max()
        assert np.abs(core["dG_dstrain"] - ref["dG_dstrain"]).max() <= 1e-10 * strain_scale


def test_self_image_cell_has_nonzero_cycles():
    """Sanity of the case above: the one-atom cell really has bonds (to its images)."""
    atoms, elements, descriptor = self_image_cell()
    mu2 = descriptors.compute(atoms, descriptor, elements, jacobian=False)["features"][0, 0]
    assert mu2 > 1e-5  # 6 h(2.5 A)^2; exactly 0 without bonds


def test_unknown_element_is_named():
    atoms = bulk("Cu", "fcc", 3.6)
    with pytest.raises(ValueError, match="Cu"):
        descriptors.compute(atoms, DESCRIPTOR_SIGE, ["Si", "Ge"])


def test_descriptor_spec_errors_name_the_field():
    bad = {"blocks": [{"type": "moments", "n_max": 1, "bond_cutoff": 3.0, "r0": 0.0, "decay_lengths": [1.0]}]}
    with pytest.raises(ValueError, match=r"blocks\[0\]\.n_max"):
        descriptors.compute(bulk("Si"), bad, ["Si"])


def test_uneven_radial_centres_use_the_direct_path():
    """The Gaussian recurrence is only taken for even spacing; both paths agree with the reference."""
    atoms, elements, _ = sige_cell()
    for centers in ([2.0, 2.5, 3.0, 3.5], [2.0, 2.2, 3.1, 3.5]):
        desc = {"blocks": [{"type": "radial", "cutoff": 4.5, "centers": centers, "alpha": 0.9}]}
        core = descriptors.compute(atoms, desc, elements, jacobian=False)["features"]
        ref = numpy_reference.compute(atoms, desc, elements, jacobian=False)["features"]
        assert np.allclose(core, ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize("make", [sige_cell, srtio3_cell, cluster], ids=lambda f: f.__name__)
def test_potential_file_python_to_cpp_round_trip(make, tmp_path):
    """Written by Python, read by C++: energy, forces and stress equal the
    NumPy reference (network in NumPy, descriptors dense) to round-off."""
    from conftest import write_random_potential
    from tinynet.calculator import TinyNetCalculator
    from tinynet.potential_file import read_potential

    atoms, elements, descriptor = make()
    path = write_random_potential(tmp_path / "p.tinynet", elements, descriptor, seed=3)
    energy, forces, stress = numpy_reference.energy_forces_stress(atoms, read_potential(path))
    atoms.calc = TinyNetCalculator(path)
    assert atoms.get_potential_energy() == pytest.approx(energy, rel=1e-12)
    assert np.abs(atoms.get_forces() - forces).max() <= 1e-10 * np.abs(forces).max()
    if stress is not None:
        assert np.abs(atoms.get_stress(voigt=False) - stress).max() <= 1e-10 * np.abs(stress).max()
