"""The battery every descriptor block type must pass (one entry per type in block_cases.py).

For each block, alone in a descriptor:
  * C++ core = NumPy reference (features, Jacobian, strain derivative) on the
    cell set of test_descriptors (multi-element, one atom bonded to its own
    images, triclinic, cluster, slab, three species);
  * rotation, translation and permutation invariance of every feature;
  * in LAMMPS with a random-weight potential: forces = -dE/dx by central
    differences, pressure = finite-strain derivative, 1 = 2 = 4 MPI ranks,
    NVE energy conservation;
  * a malformed block is refused by the C++ and the Python reader, both
    naming the same field (for per-element-pair parameters also a missing,
    duplicated or misspelt pair and a bad pair value).

Cases with per-element-pair bond_cutoff and r0 run every check too, with
the pairs of each cell's elements (block_cases.block_for).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk

import numpy_reference
import test_descriptors as cells
import test_lammps_plugin as lmp_tests
import test_mpi
from block_cases import BLOCK_CASES, block_for
from conftest import gentle_potential, write_random_potential
from tinynet import _core, descriptors
from tinynet.blocks import BLOCK_TYPES
from tinynet.lammps_support import lammps_potentials_dir, open_lammps
from tinynet.potential_file import PotentialFileError, random_potential, read_potential, write_potential

CASE_IDS = sorted(BLOCK_CASES)


SIGE = ["Si", "Ge"]


def descriptor_of(case, elements=SIGE):
    return {"blocks": [block_for(case, elements)]}


def test_every_block_type_is_in_the_battery():
    covered = {block["type"] for block in BLOCK_CASES.values()}
    assert covered == set(BLOCK_TYPES)


# ------------------------------------------------------------ C++ = reference


@pytest.mark.parametrize("make", cells.CASES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("case", CASE_IDS)
def test_core_matches_reference(case, make):
    atoms, elements, _ = make()
    descriptor = descriptor_of(case, elements)
    core = descriptors.compute(atoms, descriptor, elements)
    ref = numpy_reference.compute(atoms, descriptor, elements)
    # Features that vanish by symmetry (odd-l cross terms in a one-atom cell,
    # say) are sums of terms that cancel: compare them on 1e-3 of the block's
    # largest feature rather than on their own (round-off) size.
    scale = np.maximum(np.abs(ref["features"]).max(axis=0), 1e-3 * np.abs(ref["features"]).max()) + 1e-300
    assert np.all(np.abs(core["features"] - ref["features"]) <= 1e-10 * scale)
    n = len(atoms)
    jac_core, jac_ref = cells.dense_jacobian(core, n), cells.dense_jacobian(ref, n)
    # (a one-atom cell has dG_i/dr_i = 0 exactly: compare with the features per Angstrom)
    jac_scale = max(np.abs(jac_ref).max(), np.abs(ref["features"]).max())
    assert np.abs(jac_core - jac_ref).max() <= 1e-10 * jac_scale
    if all(atoms.pbc):
        strain_scale = max(np.abs(ref["dG_dstrain"]).max(), 1e-300)
        assert np.abs(core["dG_dstrain"] - ref["dG_dstrain"]).max() <= 1e-10 * strain_scale


# ------------------------------------------------------------ invariances


def random_rotation(seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


@pytest.mark.parametrize("case", CASE_IDS)
def test_invariance(case):
    atoms, elements, _ = cells.sige_cell()
    descriptor = descriptor_of(case, elements)
    reference = descriptors.compute(atoms, descriptor, elements, jacobian=False)["features"]
    scale = np.abs(reference).max(axis=0) + 1e-300
    assert np.abs(reference).max() > 0

    rotated = atoms.copy()
    rot = random_rotation(11)
    rotated.set_cell(atoms.cell.array @ rot.T, scale_atoms=False)
    rotated.positions = atoms.positions @ rot.T
    moved = atoms.copy()
    moved.positions += [0.37, -1.21, 2.9]
    order = np.random.default_rng(3).permutation(len(atoms))
    permuted = atoms[order]
    for other, expected in ((rotated, reference), (moved, reference), (permuted, reference[order])):
        got = descriptors.compute(other, descriptor, elements, jacobian=False)["features"]
        assert np.all(np.abs(got - expected) <= 1e-12 * scale)


WALKING_CASES = [case for case in CASE_IDS if "bond_cutoff" in BLOCK_CASES[case]]


@pytest.mark.parametrize("case", WALKING_CASES)
def test_bond_ring_size_changes_nothing(case):
    """The walks' bond rows live in a ring that drops old rows and grows when
    one centre's rows do not fit (hopping.h): with a ring of 8 slots, rows are
    dropped and computed again all the time and the ring grows during the
    first centres; with 100 slots it drops rows without growing; features
    and Jacobian stay bit-identical."""
    atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat(3)
    atoms.symbols[np.random.default_rng(0).choice(len(atoms), 60, replace=False)] = "Ge"
    atoms.rattle(0.1, seed=4)
    descriptor = descriptor_of(case)
    results = []
    default = _core.set_bond_ring_slots(8)
    try:
        for slots in (8, 100, default):
            _core.set_bond_ring_slots(slots)
            results.append(descriptors.compute(atoms, descriptor, SIGE, jacobian=True))
    finally:
        _core.set_bond_ring_slots(default)
    *small, default = results
    assert np.abs(default["features"]).max() > 0
    for result in small:
        for key, value in default.items():
            if isinstance(value, np.ndarray):
                assert np.array_equal(result[key], value), key


@pytest.mark.parametrize("n_max", [2, 3, 4])
@pytest.mark.parametrize("decay_lengths", [[1.0], [1.0, 2.0], [1.0, 2.0, 0.7], [1.0, 2.0, 0.7, 1.5]])
def test_moments_shallow_kernel_matches_general_walk(n_max, decay_lengths):
    """n_max <= 4 takes the core's shallow kernel (bonds i-j and j-k); the
    general walk must give the same features and Jacobian to round-off, for
    one to four channels (pair and quad lane groups) and two species whose
    Ge-Ge bonds reach the second shell (triangles for the odd moment)."""
    descriptor = {"blocks": [dict(block_for("moments_s4_pairs", SIGE), n_max=n_max, decay_lengths=decay_lengths)]}
    atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat(2)
    atoms.symbols[np.random.default_rng(3).choice(len(atoms), 30, replace=False)] = "Ge"
    atoms.rattle(0.1, seed=4)
    previous = _core.set_moments_shallow_kernel(True)
    try:
        shallow = descriptors.compute(atoms, descriptor, SIGE, jacobian=True)
        _core.set_moments_shallow_kernel(False)
        general = descriptors.compute(atoms, descriptor, SIGE, jacobian=True)
    finally:
        _core.set_moments_shallow_kernel(previous)
    for key, value in general.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert np.abs(value).max() > 0, key
            np.testing.assert_allclose(shallow[key], value, rtol=1e-12, atol=1e-12 * np.abs(value).max(), err_msg=key)
        elif isinstance(value, np.ndarray):
            assert np.array_equal(shallow[key], value), key


# ------------------------------------------------------------ LAMMPS physics


@pytest.fixture(scope="module")
def potentials(tmp_path_factory):
    """Per block: a Si/Ge random-weight potential, normalised on real environments."""
    folder = tmp_path_factory.mktemp("battery")
    frames = []
    for k in range(3):
        atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat(2)
        atoms.symbols[np.random.default_rng(k).choice(len(atoms), 24, replace=False)] = "Ge"
        atoms.rattle(0.1, seed=k)
        frames.append(atoms)
    paths = {}
    for case in CASE_IDS:
        path = folder / f"{case}.tinynet"
        write_potential(path, gentle_potential(["Si", "Ge"], descriptor_of(case), frames, seed=5))
        paths[case] = path
    return paths


@pytest.mark.parametrize("case", CASE_IDS)
def test_lammps_forces_are_minus_energy_gradient(case, potentials):
    lmp = lmp_tests.sige_cell(potentials[case])
    forces = lmp_tests.by_id(lmp, "f")
    ids = lmp.numpy.extract_atom("id")[: lmp.extract_global("nlocal")]
    h = 1e-5

    def central(local, d, step):
        lmp.numpy.extract_atom("x")[local, d] += step
        e_plus = lmp_tests.energy(lmp)
        lmp.numpy.extract_atom("x")[local, d] -= 2 * step
        e_minus = lmp_tests.energy(lmp)
        lmp.numpy.extract_atom("x")[local, d] += step
        return -(e_plus - e_minus) / (2 * step)

    fd, analytic = [], []
    for atom in np.random.default_rng(7).choice(len(forces), 4, replace=False):
        local = int(np.where(ids == atom + 1)[0][0])
        for d in range(3):
            # Richardson: the h^2 error of the central difference cancels (a
            # 0.7 A decay channel's curvature makes it 2e-5 relative at h alone)
            fd.append((4 * central(local, d, h) - central(local, d, 2 * h)) / 3)
            analytic.append(forces[atom, d])
    fd, analytic = np.array(fd), np.array(analytic)
    assert np.abs(analytic).max() > 0
    assert np.abs(fd - analytic).max() < 1e-6 * np.abs(analytic).max()


@pytest.mark.parametrize("component,command", [("pxx", "x scale {s}"), ("pxy", "xy delta {d}")])
@pytest.mark.parametrize("case", CASE_IDS)
def test_lammps_pressure_is_finite_strain_derivative(case, component, command, potentials):
    lmp = lmp_tests.sige_cell(potentials[case], tilt="0 0 0")
    volume, pressure, ly = (lmp.get_thermo(k) for k in ("vol", component, "ly"))
    eps = 1e-5
    energies = []
    for sign in (+1, -1):
        lmp.command("change_box all " + command.format(s=1 + sign * eps, d=sign * eps * ly) + " remap units box")
        energies.append(lmp_tests.energy(lmp))
        lmp.command("change_box all " + command.format(s=1 / (1 + sign * eps), d=-sign * eps * ly) + " remap units box")
    fd_pressure = -(energies[0] - energies[1]) / (2 * eps) / volume * lmp_tests.NKTV2P
    assert fd_pressure == pytest.approx(pressure, rel=1e-6, abs=1e-6 * abs(pressure) + 1e-3)


@pytest.mark.parametrize("case", CASE_IDS)
def test_ranks_agree(case, potentials, tmp_path):
    data = test_mpi.make_system(tmp_path, "default")
    reference, ref_dumps, _ = test_mpi.run_lammps(tmp_path, potentials[case], 1, "default", data)
    for ranks in (2, 4):
        values, dumps, _ = test_mpi.run_lammps(tmp_path, potentials[case], ranks, "default", data)
        assert values["STEP0"] == pytest.approx(reference["STEP0"], rel=1e-10)
        f_ref, f = ref_dumps[0][:, 1:4], dumps[0][:, 1:4]
        assert np.abs(f - f_ref).max() < 1e-10 * np.abs(f_ref).max()
        assert values["STEP20"] == pytest.approx(reference["STEP20"], rel=1e-10)


@pytest.mark.parametrize("case", CASE_IDS)
def test_nve_energy_conservation(case, potentials, tmp_path):
    """216 atoms, 1000 steps of 1 fs at 300 K: drift < 1e-5 eV/atom/ps.

    A random-weight network does not hold a crystal together by itself, so
    Stillinger-Weber (both types as Si) keeps the structure and tinynet is
    overlaid: the drift measures tinynet's forces against its energy."""
    sw = lammps_potentials_dir() / "Si.sw"
    lmp = open_lammps()
    lmp.commands_string(f"""
        units metal
        lattice diamond 5.43
        region box block 0 3 0 3 0 3
        create_box 2 box
        create_atoms 1 box
        set type 1 type/fraction 2 0.3 777
        mass 1 28.0855
        mass 2 72.63
        pair_style hybrid/overlay sw tinynet
        pair_coeff * * sw {sw} Si Si
        pair_coeff * * tinynet {potentials[case]} Si Ge
        velocity all create 300 4928 mom yes rot yes dist gaussian
        timestep 0.001
        fix integrate all nve
        variable etot equal etotal
        fix record all ave/time 10 1 10 v_etot file {tmp_path / "etotal.txt"} format " %.15g"
        run 1000
    """)
    natoms = lmp.get_natoms()
    lmp.close()
    record = np.loadtxt(tmp_path / "etotal.txt")
    e_per_atom = record[:, 1] / natoms
    drift = np.polyfit(record[:, 0] * 0.001, e_per_atom, 1)[0]
    assert abs(drift) < 1e-5, f"drift {drift:.3g} eV/atom/ps"
    assert np.ptp(e_per_atom) < 1e-3


# ------------------------------------------------------------ malformed blocks


def malformed_variants(block, elements=SIGE):
    """(description, bad block, field the error must name)."""
    spec = BLOCK_TYPES[block["type"]]
    for key in spec.required:
        bad = dict(block)
        del bad[key]
        yield f"missing {key}", bad, key
        bad = dict(block, **{key: "oops"})
        yield f"string {key}", bad, key
        if isinstance(block[key], dict):
            yield from malformed_pairs(block, key, elements)
    yield "unknown key", dict(block, colour="red"), "colour"


def malformed_pairs(block, key, elements):
    """Variants of a per-element-pair parameter `key` of a file with `elements`."""
    a, b = elements[0], elements[-1]
    given = next(name for name in block[key] if set(name.split("-")) == {a, b})
    reverse = "-".join(reversed(given.split("-")))

    def changed(edit):
        pairs = dict(block[key])
        edit(pairs)
        return dict(block, **{key: pairs})

    yield f"{key}: pair missing", changed(lambda p: p.pop(given)), f"{key}.{a}-{b}"
    # the second spelling in key order is the one refused
    yield f"{key}: pair twice", changed(lambda p: p.update({reverse: 3.0})), f"{key}.{max(given, reverse)}"
    yield f"{key}: unknown element", changed(lambda p: p.update({f"{a}-Xx": 3.0})), f"{key}.{a}-Xx"
    yield f"{key}: not a pair", changed(lambda p: p.update({a + b: 3.0})), f"{key}.{a + b}"
    yield f"{key}: not a number", changed(lambda p: p.update({given: "3.0"})), f"{key}.{given}"
    # out of bounds: bond_cutoff must be > 0, |r0| <= 20 A
    yield f"{key}: out of bounds", changed(lambda p: p.update({given: -25.0})), f"{key}.{given}"


@pytest.mark.parametrize("case", CASE_IDS)
def test_malformed_block_named_by_both_readers(case, tmp_path):
    good = random_potential(["Si", "Ge"], descriptor_of(case), seed=1)
    for what, bad_block, key in malformed_variants(block_for(case, SIGE)):
        pot = json.loads(json.dumps(good))
        pot["descriptor"]["blocks"][0] = bad_block
        path = tmp_path / "bad.tinynet"
        path.write_text(json.dumps(pot))
        field = f"descriptor.blocks[0].{key}"
        with pytest.raises(PotentialFileError) as py_err:
            read_potential(path)
        assert str(py_err.value).startswith(f"{path}: {field}"), (what, str(py_err.value))
        with pytest.raises(ValueError) as cpp_err:
            _core.Potential(str(path))
        assert str(cpp_err.value).startswith(f"{path}: {field}"), (what, str(cpp_err.value))


def test_battery_potential_files_round_trip(tmp_path):
    """Every battery block reads back in C++ with the feature count Python expects."""
    for case in CASE_IDS:
        path = write_random_potential(tmp_path / f"{case}.tinynet", SIGE, descriptor_of(case))
        from tinynet.potential_file import n_features

        assert _core.Potential(str(path)).n_features == n_features(descriptor_of(case), 2)
