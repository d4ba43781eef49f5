"""Before/after check for speed work on the C++ core: energies, forces,
stresses and per-atom energies of the shipped potentials and of random ones
(moments with 1..4 channels and odd n_max, sp moments, eann, radial, two
species) on rattled, compressed, sheared, hot and close-pair structures,
through the `_core` module of a given build.

    CORE_DIR=/tmp/cg-base-pkg python benchmarks/results_check.py save before
    CORE_DIR=/tmp/cg-pkg      python benchmarks/results_check.py save after
    python benchmarks/results_check.py compare before after    # worst relative difference

CORE_DIR is a build's TINYNET_PACKAGE_DIR (default: the package's own _core);
results go to results_<tag>.npy in the working directory. Used for the
callgrind rounds in benchmarks/README.md (required: <= 1e-10 relative).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def use_core(directory):
    """Make `tinynet._core` the module built into `directory`."""
    path = next(Path(directory).glob("_core.*.so"))
    spec = importlib.util.spec_from_file_location("tinynet._core", path)
    core = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(core)
    sys.modules["tinynet._core"] = core
    import tinynet

    tinynet._core = core


def diamond(a=5.43, seed=0, amp=0.1, ge_fraction=0.0):
    from ase.build import bulk

    atoms = bulk("Si", "diamond", a, cubic=True).repeat(2)
    atoms.rattle(amp, seed=seed)
    if ge_fraction:
        symbols = atoms.get_chemical_symbols()
        rng = np.random.default_rng(seed)
        for i in rng.choice(len(atoms), int(ge_fraction * len(atoms)), replace=False):
            symbols[i] = "Ge"
        atoms.set_chemical_symbols(symbols)
    return atoms


def close_pairs():
    """One pair inside the core repulsion's switching range, one inside its inner radius."""
    atoms = diamond(seed=7, amp=0.05)
    for i, j, r in ((0, 1, 1.5), (8, 9, 1.1)):
        d = atoms.positions[j] - atoms.positions[i]
        atoms.positions[j] = atoms.positions[i] + r * d / np.linalg.norm(d)
    return atoms


def sheared():
    atoms = diamond(seed=5).repeat((1, 1, 1))
    atoms.set_cell(atoms.cell + [[0, 0.4, 0], [0.3, 0, 0], [0, 0.2, 0]], scale_atoms=True)
    return atoms


def perovskite(seed):
    from ase import Atoms

    cell = Atoms("SrTiO3", scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
                 cell=[3.905] * 3, pbc=True).repeat(3)
    cell.rattle(0.08, seed=seed)
    return cell


def moments(n_max, decay, **extra):
    return {"type": "moments", "n_max": n_max, "bond_cutoff": 3.0, "r0": 2.35, "decay_lengths": decay, **extra}


EANN = {"type": "eann", "cutoff": 5.0, "centers": [2.0, 2.6, 3.2, 3.8, 4.4], "alpha": 1.5, "l_max": 2}
RANDOM = {
    "m4_c1_eann": (["Si"], [moments(4, [0.7]), EANN]),
    "m6_c3_eann3": (["Si"], [moments(6, [0.5, 1.0, 2.0]),
                             {"type": "eann", "cutoff": 5.0, "centers": [2.0, 2.5, 3.0, 3.5, 4.0, 4.5], "alpha": 2.0,
                              "l_max": 3}]),
    "m5_c4": (["Si"], [moments(5, [0.4, 0.7, 1.0, 2.0])]),
    "m4_sp": (["Si"], [moments(4, [0.5, 1.0], orbitals="sp")]),
    "sige_m5_radial": (["Si", "Ge"], [moments(5, [1.0, 2.0]),
                                      {"type": "radial", "cutoff": 4.5, "centers": [2.0, 2.5, 3.0, 3.5, 4.0],
                                       "alpha": 0.8}]),
    "sige_m4_eann": (["Si", "Ge"], [moments(4, [0.5, 1.0]), EANN]),
}


def cases(workdir):
    from tinynet.potential_file import random_potential, write_potential

    si = {"close": close_pairs(), "rattled": diamond(seed=1), "compressed": diamond(a=5.43 * 0.93, seed=2),
          "hot": diamond(seed=3, amp=0.25), "sheared": sheared()}
    sige = {"sige": diamond(seed=4, ge_fraction=1 / 3), "sige_compressed": diamond(a=5.2, seed=6, ge_fraction=1 / 3)}
    for element in ("Si", "Ge"):
        for name, atoms in si.items():
            atoms = atoms.copy()
            if element == "Ge":
                atoms.set_chemical_symbols(["Ge"] * len(atoms))
                atoms.set_cell(atoms.cell * 1.04, scale_atoms=True)
            yield f"{element}/{name}", REPO / f"potentials/{element}.tinynet", atoms
    for seed in range(2):
        yield f"SrTiO3/{seed}", REPO / "potentials/SrTiO3.tinynet", perovskite(seed)
    for name, (elements, blocks) in RANDOM.items():
        path = Path(workdir) / f"random_{name}.tinynet"
        write_potential(path, random_potential(elements, {"blocks": blocks}, seed=3))
        for structure, atoms in (sige if len(elements) == 2 else si).items():
            yield f"{name}/{structure}", path, atoms.copy()


def evaluate(workdir):
    from tinynet.calculator import TinyNetCalculator

    results = {}
    for key, path, atoms in cases(workdir):
        atoms.calc = TinyNetCalculator(path)
        results[key] = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(),
                        "stress": atoms.get_stress(), "energies": atoms.get_potential_energies()}
    return results


def compare(a, b, report=1e-12):
    worst = 0.0
    for key in a:
        for quantity in a[key]:
            x, y = np.asarray(a[key][quantity]), np.asarray(b[key][quantity])
            rel = np.max(np.abs(x - y)) / max(np.max(np.abs(x)), 1e-300)
            worst = max(worst, rel)
            if rel > report:
                print(f"{key} {quantity}: {rel:.2e}")
    return worst


def main(argv):
    if len(argv) == 3 and argv[1] == "save":
        if os.environ.get("CORE_DIR"):
            use_core(os.environ["CORE_DIR"])
        np.save(f"results_{argv[2]}.npy", evaluate(os.getcwd()), allow_pickle=True)
        return 0
    if len(argv) == 4 and argv[1] == "compare":
        a, b = (np.load(f"results_{tag}.npy", allow_pickle=True).item() for tag in argv[2:])
        worst = compare(a, b)
        print(f"{len(a)} cases, worst relative difference {worst:.2e}:", "OK" if worst <= 1e-10 else "FAIL")
        return 0 if worst <= 1e-10 else 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
