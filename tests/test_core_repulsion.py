"""The short-range ZBL repulsion ("core_repulsion"): its maths against an
independent NumPy formula, forces and stress as derivatives, LAMMPS equal to
the calculator, and the physics it exists for (a repulsive dimer, a
compressed crystal that pushes back, a hot NVT run that stays sane)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from conftest import DESCRIPTOR_SI_COMPACT, gentle_potential

from tinynet import _core, core_repulsion
from tinynet.calculator import TinyNetCalculator
from tinynet.lammps_support import open_lammps
from tinynet.potential_file import read_potential, write_potential

NKTV2P = 1.6021765e6  # eV/A^3 -> bar
EV_A3_TO_GPA = 160.21766


def zbl_reference(z1, z2, r, inner, outer):
    """ZBL (Ziegler, Biersack, Littmark 1985) times the C2 switch, written
    out independently of the core."""
    a = 0.8854 * 0.529177210903 / (z1**0.23 + z2**0.23)
    x = r / a
    phi = (0.18175 * np.exp(-3.1998 * x) + 0.50986 * np.exp(-0.94229 * x)
           + 0.28022 * np.exp(-0.4029 * x) + 0.02817 * np.exp(-0.20162 * x))
    t = np.clip((r - inner) / (outer - inner), 0.0, 1.0)
    switch = 1 - 10 * t**3 + 15 * t**4 - 6 * t**5
    return 14.399645 * z1 * z2 / r * phi * switch


def diamond_frames(rattle=0.05, n=2):
    frames = []
    for k in range(n):
        atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat(2)
        atoms.rattle(rattle, seed=k)
        frames.append(atoms)
    return frames


@pytest.fixture(scope="module")
def frames():
    return diamond_frames()


@pytest.fixture(scope="module")
def rep_potential(tmp_path_factory, frames):
    """The conftest's gentle random Si potential plus a repulsion whose radii
    come from the frames, as the trainer chooses them."""
    pot = gentle_potential(["Si"], DESCRIPTOR_SI_COMPACT, frames, seed=2)
    pot["core_repulsion"] = core_repulsion.choose_radii(frames, ["Si"], pot["cutoff"])
    path = tmp_path_factory.mktemp("rep") / "Si_rep.tinynet"
    write_potential(path, pot)
    return path


def radii(path):
    pair = read_potential(path)["core_repulsion"]["pairs"]["Si-Si"]
    return pair["inner"], pair["outer"]


def test_radii_follow_the_shortest_distance(frames):
    shortest = min(np.min(a.get_all_distances(mic=True) + 10 * np.eye(len(a))) for a in frames)
    section = core_repulsion.choose_radii(frames, ["Si"], 5.0)
    pair = section["pairs"]["Si-Si"]
    assert section["atomic_numbers"] == {"Si": 14}
    assert shortest - 1e-6 <= pair["outer"] <= shortest
    assert pair["inner"] == pytest.approx(pair["outer"] - 0.6, abs=2e-6)
    # an element pair the data never show gets a covalent-radius guess
    two = core_repulsion.choose_radii(frames, ["Si", "O"], 5.0)
    assert set(two["pairs"]) == {"Si-Si", "Si-O", "O-O"}
    assert 0.5 < two["pairs"]["Si-O"]["outer"] < 2.0


def test_pair_energy_equals_reference_formula():
    section = {"type": "zbl", "atomic_numbers": {"Si": 14, "O": 8},
               "pairs": {"Si-Si": {"inner": 1.3, "outer": 1.9}, "Si-O": {"inner": 0.9, "outer": 1.4},
                         "O-O": {"inner": 1.0, "outer": 1.5}}}
    for sym, (z1, z2, inner, outer) in {"Si2": (14, 14, 1.3, 1.9), "SiO": (14, 8, 0.9, 1.4),
                                        "O2": (8, 8, 1.0, 1.5)}.items():
        for r in (0.2, 0.7, 0.95, 1.2, 1.35, 1.6, 1.89, 2.5):
            dimer = Atoms(sym, positions=[[0, 0, 0], [r, 0, 0]])
            e, forces, stress = core_repulsion.baseline(dimer, section, ["Si", "O"], 5.0)
            assert e == pytest.approx(zbl_reference(z1, z2, r, inner, outer), rel=1e-12, abs=1e-14)
            assert stress is None
            h = 1e-6
            de_dr = (zbl_reference(z1, z2, r + h, inner, outer) - zbl_reference(z1, z2, r - h, inner, outer)) / (2 * h)
            assert forces[1, 0] == pytest.approx(-de_dr, rel=1e-6, abs=1e-8)
            assert forces[0, 0] == pytest.approx(-forces[1, 0], rel=1e-12)


def test_switch_is_c2_at_both_radii():
    inner, outer = 1.3, 1.9
    section = {"type": "zbl", "atomic_numbers": {"Si": 14}, "pairs": {"Si-Si": {"inner": inner, "outer": outer}}}

    def force(r):
        return core_repulsion.baseline(Atoms("Si2", positions=[[0, 0, 0], [r, 0, 0]]), section, ["Si"], 5.0)[1][1, 0]

    def slope_jump(r0, h):
        """Right minus left one-sided slope of F at r0: O(h) for a C2 energy,
        O(1) if the second derivative jumped."""
        left, mid, right = force(r0 - h), force(r0), force(r0 + h)
        return (right - mid) / h - (mid - left) / h, abs(right - left)

    for r0 in (inner, outer):
        jump, step = slope_jump(r0, 1e-4)
        small_jump, small_step = slope_jump(r0, 1e-5)
        assert abs(small_jump) < 0.2 * abs(jump) + 1e-6    # shrinks with h: no kink in F
        assert small_step < 0.2 * step + 1e-9                # no jump in F
    assert force(outer + 1e-9) == 0.0


def test_forces_and_stress_are_derivatives_with_repulsion(rep_potential):
    """Compressed and rattled so that many pairs sit inside the switch."""
    atoms = bulk("Si", "diamond", 4.6, cubic=True)
    atoms.rattle(0.08, seed=3)
    inner, outer = radii(rep_potential)
    d = atoms.get_all_distances(mic=True)[np.triu_indices(len(atoms), 1)]
    assert np.any((d > inner) & (d < outer))
    atoms.calc = TinyNetCalculator(rep_potential)
    forces = atoms.get_forces()
    stress = atoms.get_stress(voigt=False)
    h = 1e-5
    for i, a in ((0, 0), (3, 1), (5, 2)):
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[i, a] += h
        minus.positions[i, a] -= h
        for x in (plus, minus):
            x.calc = TinyNetCalculator(rep_potential)
        fd = -(plus.get_potential_energy() - minus.get_potential_energy()) / (2 * h)
        assert forces[i, a] == pytest.approx(fd, rel=1e-6, abs=1e-6)
    for a, b in ((0, 0), (1, 2)):
        eps = np.zeros((3, 3))
        eps[a, b] = eps[b, a] = h / 2 if a != b else h
        energies = []
        for sign in (1, -1):
            x = atoms.copy()
            x.set_cell(atoms.cell @ (np.eye(3) + sign * eps), scale_atoms=True)
            x.calc = TinyNetCalculator(rep_potential)
            energies.append(x.get_potential_energy())
        dE = (energies[0] - energies[1]) / (2 * h) / atoms.get_volume()
        assert stress[a, b] == pytest.approx(dE if a == b else dE, rel=1e-6, abs=1e-6)


def test_old_files_load_without_repulsion(si_potential, rep_potential):
    assert not _core.Potential(str(si_potential)).has_core_repulsion
    assert _core.Potential(str(rep_potential)).has_core_repulsion
    assert "core_repulsion" not in read_potential(si_potential)


def test_dimer_is_repulsive_below_inner(rep_potential):
    inner, _ = radii(rep_potential)
    calc = TinyNetCalculator(rep_potential)
    rs = np.linspace(0.15, inner, 60)
    energies, push = [], []
    for r in rs:
        dimer = Atoms("Si2", positions=[[0, 0, 0], [r, 0, 0]])
        dimer.calc = calc
        energies.append(dimer.get_potential_energy())
        push.append(dimer.get_forces()[1, 0])    # on the atom at +x
    energies = np.array(energies)
    assert np.all(np.diff(energies) < 0), "energy must rise as the atoms approach"
    assert np.all(np.array(push) > 0), "the force must push the atoms apart"
    separated = Atoms("Si2", positions=[[0, 0, 0], [8.0, 0, 0]])
    separated.calc = calc
    assert energies[-1] > separated.get_potential_energy() + 1.0


def lammps_diamond(potential, a, reps=2, extra=""):
    lmp = open_lammps()
    lmp.commands_string(f"""
        units metal
        atom_style atomic
        atom_modify map array
        lattice diamond {a}
        region box block 0 {reps} 0 {reps} 0 {reps}
        create_box 1 box
        create_atoms 1 box
        mass 1 28.0855
        {extra}
        pair_style tinynet extrapolation ignore
        pair_coeff * * {potential} Si
        thermo_style custom step pe press
        run 0
    """)
    return lmp


def test_lammps_equals_calculator_with_repulsion(rep_potential):
    lmp = lammps_diamond(rep_potential, 4.6, extra="displace_atoms all random 0.08 0.08 0.08 77")
    n = lmp.extract_global("nlocal")
    ids = lmp.numpy.extract_atom("id")[:n]
    order = np.argsort(ids)
    x = np.array(lmp.numpy.extract_atom("x")[:n])[order]
    f = np.array(lmp.numpy.extract_atom("f")[:n])[order]
    boxlo, boxhi = lmp.extract_box()[:2]
    atoms = Atoms(f"Si{n}", positions=x, cell=np.diag(np.subtract(boxhi, boxlo)), pbc=True)
    atoms.calc = TinyNetCalculator(rep_potential)
    e_rep, _, _ = core_repulsion.baseline(atoms, read_potential(rep_potential)["core_repulsion"], ["Si"], 5.0)
    assert e_rep > 1.0    # the repulsion is really in play
    assert atoms.get_potential_energy() == pytest.approx(lmp.get_thermo("pe"), rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), f, rtol=1e-10, atol=1e-10)
    pressure = -atoms.get_stress()[:3].mean() * NKTV2P
    # the thermo pressure adds the kinetic part, zero here (no velocities)
    assert lmp.get_thermo("press") == pytest.approx(pressure, rel=1e-10)
    lmp.close()


def test_half_volume_crystal_has_large_positive_pressure(rep_potential, si_potential):
    a_half = 5.43 * 0.5 ** (1 / 3)
    lmp = lammps_diamond(rep_potential, a_half)
    p_rep = lmp.get_thermo("press") / 1e4    # bar -> GPa
    lmp.close()
    lmp = lammps_diamond(si_potential, a_half)
    p_plain = lmp.get_thermo("press") / 1e4
    lmp.close()
    assert p_rep > 50.0, f"pressure at 50 % volume {p_rep:.1f} GPa"
    assert p_rep - p_plain > 50.0


def test_hot_nvt_keeps_atoms_apart(rep_potential):
    """512 atoms, NVT at 5000 K, 300 steps of 1 fs: no pair under 1.5 A, and
    the temperature stays within 20 % of the thermostat's."""
    lmp = open_lammps()
    lmp.commands_string(f"""
        units metal
        atom_style atomic
        atom_modify map array
        lattice diamond 5.43
        region box block 0 4 0 4 0 4
        create_box 1 box
        create_atoms 1 box
        mass 1 28.0855
        pair_style tinynet extrapolation ignore
        pair_coeff * * {rep_potential} Si
        velocity all create 5000 4928 mom yes rot yes dist gaussian
        timestep 0.001
        fix nvt all nvt temp 5000 5000 0.05
        thermo_style custom step temp pe
    """)
    n = lmp.extract_global("nlocal")
    assert n == 512
    boxlo, boxhi = lmp.extract_box()[:2]
    cell = np.diag(np.subtract(boxhi, boxlo))
    shortest, temps = [], []
    for chunk in range(15):
        lmp.command("run 20 post no")
        atoms = Atoms(f"Si{n}", positions=np.array(lmp.numpy.extract_atom("x")[:n]), cell=cell, pbc=True)
        from ase.neighborlist import neighbor_list

        shortest.append(neighbor_list("d", atoms, 2.0).min(initial=2.0))
        if chunk >= 5:
            temps.append(lmp.get_thermo("temp"))
    lmp.close()
    assert min(shortest) > 1.5, f"closest pair {min(shortest):.3f} A"
    assert np.mean(temps) == pytest.approx(5000, rel=0.2), temps
    assert max(temps) < 1.2 * 5000 * 1.25


def test_labels_minus_baseline(frames):
    """The trainer's step: untouched where the radii came from, the baseline
    subtracted from a frame with closer pairs."""
    from tinynet.data import Frame

    section = core_repulsion.choose_radii(frames, ["Si"], 5.0)
    squeezed = bulk("Si", "diamond", 4.3, cubic=True)
    labelled = []
    for atoms in frames + [squeezed]:
        labelled.append(Frame(atoms, 1.0, np.zeros((len(atoms), 3)), np.zeros((3, 3)), "mem", 0))
    touched = core_repulsion.subtract_baseline(labelled, section, ["Si"], 5.0)
    assert touched == 1
    assert all(f.energy == 1.0 and not f.forces.any() for f in labelled[:-1])
    e, forces, stress = core_repulsion.baseline(squeezed, section, ["Si"], 5.0)
    assert e > 0 and labelled[-1].energy == pytest.approx(1.0 - e)
    np.testing.assert_allclose(labelled[-1].stress, -stress)
    assert stress[0, 0] < 0    # ASE sign: compressive


def test_section_errors_name_the_field():
    bad = {"type": "zbl", "atomic_numbers": {"Si": 14}, "pairs": {"Si-Si": {"inner": 1.5, "outer": 1.55}}}
    with pytest.raises(ValueError, match=r"core_repulsion.pairs.Si-Si.outer: must exceed inner"):
        _core.CoreRepulsion(json.dumps(bad), ["Si"], 5.0)


def test_trained_potential_carries_the_repulsion(tmp_path):
    """A short real training run: the written file has the section, its radii
    are the training data's shortest distances, and a test file with a
    closer pair is scored against its labels (the full potential's error)."""
    pytest.importorskip("tensorflow")
    import ase.io
    from test_training import make_emt_frames, small_config

    from tinynet.evaluation import predict_one
    from tinynet.training import train

    frames = make_emt_frames(8, seed=5)
    train_file, test_file = tmp_path / "train.extxyz", tmp_path / "test.extxyz"
    ase.io.write(train_file, frames, format="extxyz")
    squeezed = make_emt_frames(1, seed=9)[0]
    squeezed.set_cell(squeezed.cell * 0.8, scale_atoms=True)
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    squeezed.calc = EMT()
    e, f, s = squeezed.get_potential_energy(), squeezed.get_forces(), squeezed.get_stress()
    squeezed.calc = SinglePointCalculator(squeezed, energy=e, forces=f, stress=s)
    ase.io.write(test_file, [squeezed], format="extxyz")

    out = tmp_path / "CuAl.tinynet"
    res = train([str(train_file)], str(out), test_paths=[str(test_file)],
                config=small_config(epochs=3, batch_size=4, test_fraction=0.0), progress=False,
                log=lambda *a: None, plots=False)
    pot = read_potential(out)
    section = pot["core_repulsion"]
    assert section["atomic_numbers"] == {"Al": 13, "Cu": 29}
    shortest = core_repulsion.shortest_distances(frames, pot["elements"])
    names = {(0, 0): "Al-Al", (0, 1): "Al-Cu", (1, 1): "Cu-Cu"}
    for key, d in shortest.items():
        assert d - 1e-6 <= section["pairs"][names[key]]["outer"] <= d
    # the test structure feels the repulsion; its reported error is that of
    # network + repulsion against the EMT labels
    e_rep, _, _ = core_repulsion.baseline(squeezed, section, pot["elements"], pot["cutoff"])
    assert e_rep > 0.1
    atoms = squeezed.copy()
    atoms.calc = TinyNetCalculator(out)
    full = atoms.get_potential_energy()
    network_only = predict_one({**pot, "core_repulsion": None}, squeezed)["energy"]
    assert full == pytest.approx(network_only + e_rep, rel=1e-9)
    # `tinynet test` (evaluation.predict_one on the file) reports the whole potential
    assert predict_one(pot, squeezed)["energy"] == pytest.approx(full, rel=1e-9)
    err = abs(full - e) / len(atoms) * 1000
    assert res.metrics["test"]["energy_rmse_meV_atom"] == pytest.approx(err, rel=1e-6)
