"""No silent NaN: atoms closer than the core's minimum distance stop LAMMPS
(1 and 2 real MPI ranks) and the ASE calculator with a message naming the
atoms; parameters that could overflow are refused by both file readers, and
a non-finite position reaching the core is named. (LAMMPS itself stops on
non-numeric coordinates when it re-neighbours; the core's non-finite check
uses the same collective stop as the close-atom check tested here.)"""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from tinynet import _core
from tinynet.calculator import TinyNetCalculator
from tinynet.lammps_support import lmp_executable, mpirun_executable, subprocess_env

MIN_DISTANCE = 0.1  # A, core/include/tinynet/potential.h

# 64 Si atoms; atom 10 is put onto (or next to) atom 20 before the first force call.
INPUT = """
units metal
atom_style atomic
atom_modify map array
lattice diamond 5.43
region box block 0 2 0 2 0 2
create_box 1 box
create_atoms 1 box
mass 1 28.0855
variable x20 equal x[20]+{dx}
variable y20 equal y[20]
variable z20 equal z[20]
set atom 10 x ${{x20}} y ${{y20}} z ${{z20}}
pair_style tinynet
pair_coeff * * {potential} Si
run 0
print "SURVIVED $(pe)"
"""


def run_lmp(tmp_path, potential, ranks, dx=0.0):
    inp = tmp_path / f"in.close{ranks}"
    inp.write_text(INPUT.format(potential=potential, dx=dx))
    cmd = [mpirun_executable(), "-np", str(ranks), lmp_executable(), "-in", str(inp), "-log", "none"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=subprocess_env(), cwd=tmp_path)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("ranks", [1, 2])
@pytest.mark.parametrize("dx, shown", [(0.0, "0"), (0.05, "0.05")])
def test_close_atoms_stop_lammps(tmp_path, si_potential, ranks, dx, shown):
    code, out = run_lmp(tmp_path, si_potential, ranks, dx)
    assert code != 0 and "SURVIVED" not in out, out[-2000:]
    pair = r"atom (10 and atom 20|20 and atom 10)"
    assert re.search(rf"ERROR.*pair_style tinynet: {pair} are {re.escape(shown)} Angstrom apart "
                     rf"\(closer than the minimum of {MIN_DISTANCE:g} Angstrom", out), out[-2000:]


def test_atoms_just_above_the_minimum_run(tmp_path, si_potential):
    code, out = run_lmp(tmp_path, si_potential, 1, dx=1.5 * MIN_DISTANCE)
    assert code == 0 and "SURVIVED" in out, out[-2000:]


def test_overflowing_parameters_are_refused(si_potential, tmp_path):
    """Hoppings exp(-(r - r0)/lambda) with r0 = 20 A and lambda = 0.05 A would be
    ~1e170 and their 4-hop products inf: both readers refuse such a file."""
    from tinynet.potential_file import PotentialFileError, read_potential

    doc = json.loads(open(si_potential).read())
    b = next(k for k, block in enumerate(doc["descriptor"]["blocks"]) if block["type"] == "moments")
    doc["descriptor"]["blocks"][b].update(r0=20.0, decay_lengths=[0.05])
    path = tmp_path / "overflow.tinynet"
    path.write_text(json.dumps(doc))
    field = f"descriptor.blocks[{b}].decay_lengths[0]"
    with pytest.raises(PotentialFileError, match=re.escape(f"{path}: {field}")):
        read_potential(path)
    with pytest.raises(ValueError, match=re.escape(f"{path}: {field}")):
        _core.Potential(str(path))


def test_calculator_raises_for_coincident_atoms(si_potential):
    atoms = bulk("Si", "diamond", 5.43, cubic=True)
    atoms.positions[5] = atoms.positions[2] + [0.03, 0.0, 0.0]
    atoms.calc = TinyNetCalculator(si_potential)
    with pytest.raises(ValueError, match=r"atom (2 and atom 5|5 and atom 2) are 0.03 Angstrom apart"):
        atoms.get_potential_energy()
    # across the periodic boundary: atom 1 sits 0.03 A from an image of atom 0
    pair = Atoms("Si2", positions=[[0, 0, 0], [4.97, 2.5, 2.5]], cell=np.eye(3) * [5.0, 5.0, 5.0], pbc=True)
    pair.positions[1] = [4.97, 0.0, 0.0]
    pair.calc = TinyNetCalculator(si_potential)
    with pytest.raises(ValueError, match=r"atom (0 and atom 1 \(periodic image\)|1 and atom 0 \(periodic image\)) "
                                         r"are 0.03 Angstrom apart"):
        pair.get_potential_energy()


def test_nan_position_is_named(si_potential):
    """A NaN coordinate fails every distance test; the core names the atom
    instead of silently leaving it out."""
    pot = _core.Potential(str(si_potential))
    x = np.array([[0.0, 0.0, 0.0], [2.3, 0.0, 0.0], [np.nan, 1.0, 1.0]])
    graph = _core.Graph(x, np.zeros(3, dtype=np.int32), np.array([0, 2, 4], dtype=np.int32),
                        np.array([2, 2, 2], dtype=np.int32),
                        np.array([1, 2, 0, 2, 0, 1], dtype=np.int32))
    with pytest.raises(RuntimeError, match=r"non-finite position, energy or force at atom 2"):
        pot.evaluate(graph, 3)


def test_close_pair_outside_the_centres_lists_and_infinite_position(si_potential):
    """The core checks the centres' lists while it builds their environments
    and the other nodes' lists after the last centre: a close pair among
    non-centre nodes (images, ghosts) is still reported, and so is an
    infinite coordinate (which fails no 'r < cutoff' test either)."""
    pot = _core.Potential(str(si_potential))

    def graph(x, starts, counts, neighbours):
        return _core.Graph(np.asarray(x, dtype=float), np.zeros(len(x), dtype=np.int32),
                           np.array(starts, dtype=np.int32), np.array(counts, dtype=np.int32),
                           np.array(neighbours, dtype=np.int32))

    # centres 0 and 1; nodes 2 and 3 are no centres, 0.05 A apart
    g = graph([[0, 0, 0], [2.3, 0, 0], [5, 5, 5], [5.05, 5, 5]], [0, 1, 2, 3], [1, 1, 1, 1], [1, 0, 3, 2])
    with pytest.raises(ValueError, match=r"atom (2 and atom 3|3 and atom 2) are 0.05 Angstrom apart"):
        pot.evaluate(g, 2)
    g = graph([[0, 0, 0], [2.3, 0, 0], [np.inf, 1, 1]], [0, 2, 4], [2, 2, 2], [1, 2, 0, 2, 0, 1])
    with pytest.raises(RuntimeError, match=r"non-finite position, energy or force at atom 2"):
        pot.evaluate(g, 3)
