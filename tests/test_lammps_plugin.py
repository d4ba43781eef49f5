"""pair_style tinynet inside real LAMMPS: physics and bad input.

In-process LAMMPS (Python module) for single-rank physics; real `mpirun` for
the rank-count tests (see test_mpi.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms

from tinynet.calculator import TinyNetCalculator
from tinynet.lammps_support import open_lammps

NKTV2P = 1.6021765e6  # LAMMPS metal units: eV/A^3 -> bar (force->nktv2p)


def sige_cell(potential, reps=2, extra="", tilt="0.3 -0.2 0.1"):
    """A distorted triclinic, randomly displaced Si/Ge diamond cell, ready to run."""
    lmp = open_lammps()
    lmp.commands_string(f"""
        units metal
        atom_style atomic
        atom_modify map array sort 0 0.0
        lattice diamond 5.43
        region box prism 0 {reps} 0 {reps} 0 {reps} {tilt}
        create_box 2 box
        create_atoms 1 box
        set type 1 type/fraction 2 0.4 12345
        mass 1 28.0855
        mass 2 72.63
        displace_atoms all random 0.15 0.15 0.15 4321
        pair_style tinynet {extra}
        pair_coeff * * {potential} Si Ge
        thermo_style custom step pe press pxx pyy pzz pxy pxz pyz
        thermo_modify format float %.17g
        run 0
    """)
    return lmp


def by_id(lmp, name):
    """Per-atom property of the local atoms (one rank here), ordered by atom id."""
    nlocal = lmp.extract_global("nlocal")
    ids = lmp.numpy.extract_atom("id")[:nlocal]
    values = np.array(lmp.numpy.extract_atom(name)[:nlocal], dtype=float)
    return values[np.argsort(ids)]


def energy(lmp):
    lmp.command("run 0")
    return lmp.get_thermo("pe")


def to_ase(lmp):
    """The LAMMPS system as ASE Atoms (same cell, positions, elements)."""
    boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
    cell = np.array(
        [[boxhi[0] - boxlo[0], 0, 0], [xy, boxhi[1] - boxlo[1], 0], [xz, yz, boxhi[2] - boxlo[2]]]
    )
    types = by_id(lmp, "type").astype(int)
    return Atoms(
        symbols=["Si" if t == 1 else "Ge" for t in types],
        positions=by_id(lmp, "x"),
        cell=cell,
        pbc=True,
    )


def test_lammps_equals_python_core(sige_potential):
    """Python -> file -> C++ (LAMMPS) and the ASE calculator agree to round-off."""
    lmp = sige_cell(sige_potential)
    atoms = to_ase(lmp)
    atoms.calc = TinyNetCalculator(sige_potential)
    e_lmp = lmp.get_thermo("pe")
    assert atoms.get_potential_energy() == pytest.approx(e_lmp, rel=1e-12)
    f_lmp = by_id(lmp, "f")
    assert np.abs(atoms.get_forces() - f_lmp).max() < 1e-10 * np.abs(f_lmp).max()
    stress_bar = -atoms.get_stress(voigt=False) * NKTV2P
    p_lmp = np.array(
        [[lmp.get_thermo(f"p{a}{b}") if a <= b else lmp.get_thermo(f"p{b}{a}") for b in "xyz"] for a in "xyz"]
    )
    assert np.abs(stress_bar - p_lmp).max() < 1e-6 * np.abs(p_lmp).max()


def test_forces_are_minus_energy_gradient(sige_potential):
    """Central finite differences of the LAMMPS energy, on a distorted Si/Ge cell."""
    lmp = sige_cell(sige_potential)
    forces = by_id(lmp, "f")
    ids = lmp.numpy.extract_atom("id")[: lmp.extract_global("nlocal")]
    h = 1e-5
    rng = np.random.default_rng(7)
    fd, analytic = [], []
    for atom in rng.choice(len(forces), 5, replace=False):
        local = int(np.where(ids == atom + 1)[0][0])
        for d in range(3):
            x = lmp.numpy.extract_atom("x")
            x[local, d] += h
            e_plus = energy(lmp)
            x = lmp.numpy.extract_atom("x")
            x[local, d] -= 2 * h
            e_minus = energy(lmp)
            x = lmp.numpy.extract_atom("x")
            x[local, d] += h
            fd.append(-(e_plus - e_minus) / (2 * h))
            analytic.append(forces[atom, d])
    fd, analytic = np.array(fd), np.array(analytic)
    assert np.abs(fd - analytic).max() < 1e-6 * np.abs(analytic).max()


@pytest.mark.parametrize(
    "component,command",
    [("pxx", "x scale {s}"), ("pyy", "y scale {s}"), ("pzz", "z scale {s}"), ("pxy", "xy delta {d}")],
)
def test_pressure_is_finite_strain_derivative(sige_potential, component, command):
    """P_ab = -(1/V) dE/d(strain_ab), with strain applied to box and atoms.

    Zero tilts, so that scaling one box length is a pure strain component.
    """
    lmp = sige_cell(sige_potential, tilt="0 0 0")
    volume = lmp.get_thermo("vol")
    pressure = lmp.get_thermo(component)
    eps = 1e-5
    ly = lmp.get_thermo("ly")
    energies = []
    for sign in (+1, -1):
        lmp.command("change_box all " + command.format(s=1 + sign * eps, d=sign * eps * ly) + " remap units box")
        energies.append(energy(lmp))
        lmp.command("change_box all " + command.format(s=1 / (1 + sign * eps), d=-sign * eps * ly) + " remap units box")
    d_energy = (energies[0] - energies[1]) / (2 * eps)
    assert -d_energy / volume * NKTV2P == pytest.approx(pressure, rel=1e-6, abs=1e-6 * abs(pressure) + 1e-3)


def test_per_atom_energy_and_virial_sum_to_totals(sige_potential):
    lmp = sige_cell(sige_potential)
    lmp.commands_string("""
        compute pe all pe/atom
        compute st all stress/atom NULL
        compute sums all reduce sum c_pe c_st[1] c_st[2] c_st[3] c_st[4] c_st[5] c_st[6]
        thermo_style custom step pe press pxx pyy pzz pxy pxz pyz vol c_sums[*]
        run 0
    """)
    volume = lmp.get_thermo("vol")
    sums = np.array(lmp.numpy.extract_compute("sums", 0, 1))  # global vector
    assert sums[0] == pytest.approx(lmp.get_thermo("pe"), rel=1e-12)
    for k, name in enumerate(["pxx", "pyy", "pzz", "pxy", "pxz", "pyz"], start=1):
        # stress/atom holds -(per-atom virial) in pressure*volume units
        assert -sums[k] / volume == pytest.approx(
            lmp.get_thermo(name), rel=1e-9, abs=1e-9 * abs(lmp.get_thermo("press")) + 1e-9
        )


def test_nofdotr_gives_the_same_virial(sige_potential):
    lmp = sige_cell(sige_potential)
    fdotr = [lmp.get_thermo(n) for n in ["pxx", "pyy", "pzz", "pxy", "pxz", "pyz"]]
    lmp.command("pair_modify nofdotr")
    lmp.command("run 0")
    explicit = [lmp.get_thermo(n) for n in ["pxx", "pyy", "pzz", "pxy", "pxz", "pyz"]]
    assert np.allclose(fdotr, explicit, rtol=1e-9, atol=1e-9 * np.abs(fdotr).max())


def test_null_type_is_ignored(sige_potential):
    """pair_coeff ... Si NULL: type-2 atoms are invisible to tinynet.

    As for every LAMMPS many-body style, NULL types go to another style
    through pair hybrid (here `zero`, so type-2 atoms feel nothing).
    """
    lmp = open_lammps()
    lmp.commands_string(f"""
        units metal
        atom_modify map array sort 0 0.0
        lattice diamond 5.43
        region box block 0 2 0 2 0 2
        create_box 2 box
        create_atoms 1 box
        set type 1 type/fraction 2 0.4 12345
        mass * 28.0
        pair_style hybrid/overlay tinynet zero 6.0
        pair_coeff * * tinynet {sige_potential} Si NULL
        pair_coeff * 2 zero
        run 0
    """)
    forces = by_id(lmp, "f")
    types = by_id(lmp, "type").astype(int)
    assert np.all(forces[types == 2] == 0.0)
    atoms = to_ase(lmp)
    si_only = atoms[[s == "Si" for s in atoms.get_chemical_symbols()]]
    si_only.calc = TinyNetCalculator(sige_potential)
    assert si_only.get_potential_energy() == pytest.approx(lmp.get_thermo("pe"), rel=1e-12)


@pytest.fixture(scope="module")
def si_repulsive_potential(si_potential, tmp_path_factory):
    """The conftest's gentle Si potential with the trainer's core repulsion:
    without it, its random network lets two atoms fall onto each other
    within 2000 steps at 300 K (the core then stops the run)."""
    from ase.build import bulk

    from tinynet import core_repulsion
    from tinynet.potential_file import read_potential, write_potential

    pot = read_potential(si_potential)
    frames = [bulk("Si", "diamond", 5.43, cubic=True).repeat(2)]
    for k in range(4):
        frames.append(frames[0].copy())
        frames[-1].rattle(0.1, seed=k)
    pot["core_repulsion"] = core_repulsion.choose_radii(frames[1:], ["Si"], pot["cutoff"])
    path = tmp_path_factory.mktemp("potentials") / "Si_random_repulsive.tinynet"
    write_potential(path, pot)
    return path


def diamond_si_512(potential):
    """LAMMPS commands: 512-atom diamond Si with pair_style tinynet."""
    return f"""
        units metal
        lattice diamond 5.43
        region box block 0 4 0 4 0 4
        create_box 1 box
        create_atoms 1 box
        mass 1 28.0855
        pair_style tinynet
        pair_coeff * * {potential} Si
    """


def test_nve_energy_conservation(si_repulsive_potential, tmp_path):
    """512 Si atoms, 2000 steps of 1 fs: total-energy drift < 1e-5 eV/atom/ps."""
    si_potential = si_repulsive_potential
    lmp = open_lammps()
    lmp.commands_string(diamond_si_512(si_potential) + f"""
        velocity all create 300 4928 mom yes rot yes dist gaussian
        timestep 0.001
        fix integrate all nve
        variable etot equal etotal
        fix record all ave/time 10 1 10 v_etot file {tmp_path / "etotal.txt"} format " %.15g"
        thermo 500
        run 2000
    """)
    natoms = lmp.get_natoms()
    assert natoms >= 512
    lmp.close()
    record = np.loadtxt(tmp_path / "etotal.txt")
    assert len(record) == 201
    time_ps = record[:, 0] * 0.001
    e_per_atom = record[:, 1] / natoms
    drift = np.polyfit(time_ps, e_per_atom, 1)[0]
    assert abs(drift) < 1e-5, f"drift {drift:.3g} eV/atom/ps"
    assert np.ptp(e_per_atom) < 1e-3  # and no jumps


def test_consecutive_runs_use_current_bond_lists(si_repulsive_potential):
    """A run's setup re-sorts and re-ghosts the atoms and rebuilds the lists,
    then zeroes LAMMPS's build counter. The plugin's bond lists (cut once per
    build) must follow: a stale cut once gave 0.2 eV/atom at a second run's
    first step, and wrong forces until the next build."""
    lmp = open_lammps()
    lmp.commands_string(diamond_si_512(si_repulsive_potential) + """
        neighbor 1.0 bin
        neigh_modify every 1 delay 0 check yes
        velocity all create 600 4928 mom yes rot yes dist gaussian
        timestep 0.001
        fix integrate all nve
        thermo_style custom step pe etotal
        run 1
    """)
    for _ in range(3):
        # a short run without setup and (at 600 K) without a list build ...
        lmp.command("run 12 pre no post no")
        pe_end, etotal_end = lmp.get_thermo("pe"), lmp.get_thermo("etotal")
        # ... then a full setup on the same positions
        assert energy(lmp) == pytest.approx(pe_end, rel=1e-12)
        assert lmp.get_thermo("etotal") == pytest.approx(etotal_end, rel=1e-12)
        atoms = to_ase(lmp)
        atoms.calc = TinyNetCalculator(si_repulsive_potential)
        assert atoms.get_potential_energy() == pytest.approx(pe_end, rel=1e-12)
        f_lmp = by_id(lmp, "f")
        assert np.abs(atoms.get_forces() - f_lmp).max() < 1e-10 * np.abs(f_lmp).max()
    lmp.close()


# ---------------------------------------------------------------- bad input


def run_expecting_error(commands):
    lmp = open_lammps()
    with pytest.raises(Exception) as err:
        lmp.commands_string(commands)
    return str(err.value)


def setup_commands(potential, elements="Si Ge", units="metal"):
    return f"""
        units {units}
        lattice diamond 5.43
        region box block 0 1 0 1 0 1
        create_box 2 box
        create_atoms 1 box
        mass * 28.0
        pair_style tinynet
        pair_coeff * * {potential} {elements}
        run 0
    """


def broken_copy(source, tmp_path, edit, name="broken.tinynet"):
    doc = json.loads(open(source).read())
    edit(doc)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.tinynet"
    message = run_expecting_error(setup_commands(missing))
    assert str(missing) in message and "cannot open" in message


def test_truncated_file(sige_potential, tmp_path):
    path = tmp_path / "truncated.tinynet"
    text = open(sige_potential).read()
    path.write_text(text[: len(text) // 2])
    message = run_expecting_error(setup_commands(path))
    assert str(path) in message and "not valid JSON" in message


def test_unknown_version(sige_potential, tmp_path):
    path = broken_copy(sige_potential, tmp_path, lambda d: d.update(version=99))
    message = run_expecting_error(setup_commands(path))
    assert str(path) in message and "version" in message and "99" in message


def test_malformed_field(sige_potential, tmp_path):
    def edit(doc):
        doc["models"]["Ge"]["layers"][1]["weights"].pop()

    path = broken_copy(sige_potential, tmp_path, edit)
    message = run_expecting_error(setup_commands(path))
    assert str(path) in message and "models.Ge.layers[1].weights" in message


def test_nan_in_weights(sige_potential, tmp_path):
    path = tmp_path / "nan.tinynet"
    doc = json.loads(open(sige_potential).read())
    doc["models"]["Si"]["layers"][0]["weights"][2][3] = float("nan")
    path.write_text(json.dumps(doc))  # Python writes a bare NaN token
    message = run_expecting_error(setup_commands(path))
    assert str(path) in message and "models.Si.layers[0].weights[2][3]" in message and "NaN" in message


def test_element_not_in_file(sige_potential):
    message = run_expecting_error(setup_commands(sige_potential, elements="Si C"))
    assert str(sige_potential) in message and "'C'" in message


def test_units_mismatch(sige_potential):
    message = run_expecting_error(setup_commands(sige_potential, units="real"))
    assert str(sige_potential) in message and "units" in message


def test_file_with_wrong_units_field(sige_potential, tmp_path):
    path = broken_copy(sige_potential, tmp_path, lambda d: d.update(units="real"))
    message = run_expecting_error(setup_commands(path))
    assert str(path) in message and "units" in message


def test_newton_pair_off_is_refused(sige_potential):
    commands = setup_commands(sige_potential).replace("units metal", "units metal\nnewton off")
    assert "newton pair on" in run_expecting_error(commands)


def test_extrapolation_is_counted_and_can_be_fatal(si_potential, tmp_path):
    """Compress the crystal far beyond a narrow training range: warn, or stop."""
    def narrow(doc):
        model = doc["models"]["Si"]
        n = len(model["feature_min"])
        model["feature_min"] = [0.0] * n
        model["feature_max"] = [1e-6] * n

    path = broken_copy(si_potential, tmp_path, narrow)
    log = tmp_path / "log.lammps"
    lmp = open_lammps(["-screen", "none", "-log", str(log)])
    lmp.commands_string(
        setup_commands(path, elements="Si Si").replace("run 0", "compute extrap all pair tinynet\nrun 0\nrun 3")
    )
    natoms = lmp.get_natoms()
    assert lmp.extract_compute("extrap", 0, 1)[0] == natoms  # all atoms, this step
    lmp.close()
    # the end-of-run summary: every atom of the 4 computed steps of run 2
    assert f"{4 * natoms} atom-steps had descriptors outside the training range of {path}" in log.read_text()
    message = run_expecting_error(
        setup_commands(path, elements="Si Si").replace("pair_style tinynet", "pair_style tinynet extrapolation error")
    )
    assert "outside the training range" in message


def _long_range_potential(tmp_path, radial_cutoff, n_max=4):
    from tinynet.potential_file import random_potential

    desc = {"blocks": [{"type": "moments", "n_max": n_max, "bond_cutoff": 10.0, "r0": 0.0, "decay_lengths": [1.0]},
                       {"type": "radial", "cutoff": radial_cutoff, "centers": [2.0, 3.0], "alpha": 1.0}]}
    doc = random_potential(["Si"], desc, hidden=(4,), seed=3) if n_max == 4 else None
    if doc is None:    # beyond what write_potential/random_potential accept: edit a valid one
        doc = random_potential(["Si"], {"blocks": desc["blocks"][1:]}, hidden=(4,), seed=3)
        doc["descriptor"] = desc
        doc["cutoff"] = (n_max // 2) * 10.0
        n_feat = (n_max - 1) + 2
        for model in doc["models"].values():
            for key in ("feature_mean", "feature_std", "feature_min", "feature_max"):
                model[key] = [model[key][0]] * n_feat
            model["layers"][0]["weights"] = [model["layers"][0]["weights"][0]] * n_feat
    path = tmp_path / f"long{radial_cutoff}.tinynet"
    path.write_text(json.dumps(doc))
    return path


def test_longest_cutoff_runs_or_fails_clearly(tmp_path):
    """20 A, the largest interaction range a file may have, in a box half
    that size: LAMMPS's own clear neighbour-list message by default, a
    normal run once the list may hold that many neighbours (never a crash)."""
    path = _long_range_potential(tmp_path, 20.0)
    commands = setup_commands(path, elements="Si Si").replace("region box block 0 1 0 1 0 1",
                                                              "region box block 0 2 0 2 0 2")
    assert "Neighbor list overflow" in run_expecting_error(commands)
    lmp = open_lammps()
    lmp.commands_string(commands.replace("pair_style tinynet", "neigh_modify one 20000 page 400000\npair_style tinynet"))
    assert np.isfinite(lmp.get_thermo("pe"))
    lmp.close()


def test_range_beyond_maximum_is_refused(tmp_path):
    """Moments with n_max 6 and bond cutoff 10 reach 30 A: refused when read."""
    path = _long_range_potential(tmp_path, 5.0, n_max=6)
    message = run_expecting_error(setup_commands(path, elements="Si Si"))
    assert f"{path}: cutoff: exceeds the maximum of 20 Angstrom" in message
