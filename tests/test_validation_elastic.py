"""Physics validation: a tinynet potential trained on Stillinger-Weber (SW)
silicon reproduces SW's own elastic constants C11, C12, C44 at 0 K and its
bulk modulus at 300 K (issue 12: within 2 %).

Real end to end: SW reference data labelled by LAMMPS (tinynet.sw_reference),
a real TensorFlow training (Adam, then L-BFGS) with the elastic example's
configuration, and the example's own LAMMPS inputs, which compute the same
quantity for SW and for tinynet in one run (examples/elastic_si). The training
has a fixed number of epochs and iterations (no time limit), so the potential
does not depend on how busy the machine is.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from ase.io import read, write

from conftest import REPO

from tinynet.lammps_support import lammps_potentials_dir, lmp_executable, mpirun_executable, subprocess_env
from tinynet.presets import validate_config
from tinynet import sw_reference
from tinynet.sw_reference import strained_frames, thermal_frames
from tinynet.training import train

EXAMPLE = REPO / "examples" / "elastic_si"
TOLERANCE = 0.02


@pytest.fixture(scope="module")
def sw_potential(tmp_path_factory):
    """tinynet trained on SW data made for elastic properties (the example's
    data, fewer rattled cells and thermal snapshots)."""
    out = tmp_path_factory.mktemp("elastic")
    frames = (strained_frames(150, 0.015, 0.0, seed=1, cells=1)
              + strained_frames(100, 0.015, 0.0, seed=3, cells=1, shift=0.05)
              + strained_frames(20, 0.015, 0.02, seed=2)
              + thermal_frames([300.0, 600.0], [-0.01, 0.0, 0.01], samples=4))
    data = out / "sw_si.extxyz"
    write(data, frames)
    config = json.loads((EXAMPLE / "train_config.json").read_text())
    config["training"].update(epochs=3000, patience=3000, lbfgs_iterations=1500)
    potential = out / "Si_sw.tinynet"
    result = train([str(data)], str(potential), config=validate_config(config), progress=False, plots=False,
                   log=lambda *a, **k: None)
    assert "L-BFGS iterations" in result.stop_reason
    return potential


def _run_lammps(args, tmp_path, ranks=1):
    """The example's input (with its include files) run in a copy of the example folder."""
    cwd = tmp_path / "example"
    shutil.copytree(EXAMPLE, cwd)
    cmd = [lmp_executable(), *args]
    if ranks > 1:
        cmd = [mpirun_executable(), "-np", str(ranks), *cmd]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=subprocess_env(), timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _values(stdout, tag):
    """{model: {name: value}} from the inputs' summary lines."""
    found = {}
    for model, rest in re.findall(rf"^{tag} (sw|tinynet) (.*)$", stdout, re.M):
        found[model] = {k: float(v) for k, v in re.findall(r"(\w+) ([-\d.]+)", rest)}
    assert set(found) == {"sw", "tinynet"}, stdout[-3000:]
    return found


def _compare(found, names):
    ratios = {n: found["tinynet"][n] / found["sw"][n] - 1.0 for n in names}
    report = ", ".join(f"{n} SW {found['sw'][n]:.2f} tinynet {found['tinynet'][n]:.2f} GPa ({100 * r:+.2f} %)"
                       for n, r in ratios.items())
    print(report)
    bad = {n: r for n, r in ratios.items() if abs(r) > TOLERANCE}
    assert not bad, f"beyond {100 * TOLERANCE:g} % of SW: {report}"


def test_reference_data_command_line(tmp_path):
    out = tmp_path / "sw.extxyz"
    sw_reference.main([str(out), "--pure", "2", "--shifted", "1", "--rattled", "1", "--temperatures", "300",
                       "--thermal-strains", "0", "--samples", "1", "--liquid", "2500"])
    frames = read(out, ":")
    # 2 strained and 1 sublattice-shifted 8-atom cells, 1 rattled, 1 thermal and 1 liquid 64-atom cell
    assert [len(a) for a in frames] == [8, 8, 8, 64, 64, 64]
    for atoms in frames:
        assert -4.4 < atoms.get_potential_energy() / len(atoms) < -3.5   # SW crystal: -4.337 eV/atom
        assert atoms.get_forces().shape == (len(atoms), 3) and atoms.get_stress().shape == (6,)
    energies = [a.get_potential_energy() / len(a) for a in frames]
    assert energies[-1] > energies[-2] > energies[0]           # liquid above 300 K crystal above 0 K
    assert abs(frames[0].get_stress()).max() > 1e-4            # strained: a stress of order 0.1-1 GPa


def test_elastic_constants_at_0K_match_sw(sw_potential, tmp_path):
    stdout = _run_lammps(["-in", str(EXAMPLE / "in.elastic_0K"), "-var", "potential", str(sw_potential),
                          "-var", "sw_file", str(lammps_potentials_dir() / "Si.sw"), "-log", "none"],
                         tmp_path)
    found = _values(stdout, "ELASTIC_0K")
    # the method itself: SW's published constants (151.4, 76.4, 56.4 GPa)
    assert found["sw"]["C11"] == pytest.approx(151.4, rel=0.005)
    assert found["sw"]["C44"] == pytest.approx(56.4, rel=0.005)
    _compare(found, ["C11", "C12", "C44"])


def test_bulk_modulus_at_300K_matches_sw(sw_potential, tmp_path):
    stdout = _run_lammps(["-in", str(EXAMPLE / "in.moduli_300K"), "-var", "potential", str(sw_potential),
                          "-var", "sw_file", str(lammps_potentials_dir() / "Si.sw"), "-var", "modes", "iso",
                          "-log", "none"], tmp_path, ranks=2)
    _compare(_values(stdout, "MODULI_300K"), ["B"])
