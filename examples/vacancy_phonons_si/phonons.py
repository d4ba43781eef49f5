"""Phonon dispersion and density of states of diamond Si by finite
displacements, with ASE's Phonons and the tinynet ASE calculator (the same
C++ core as pair_style tinynet).

    python phonons.py [--potential ../../potentials/Si.tinynet] [--supercell 4]

Writes phonon_dos.dat (THz, states per THz per cell) and, with matplotlib,
phonons.png; prints the frequencies at Gamma, X and L and where the DOS
peaks.  The lattice constant is the potential's own (zero stress).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile

import numpy as np
from ase.build import bulk
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS
from ase.phonons import Phonons
from ase.units import _hplanck, _e

from tinynet import TinyNetCalculator

EV_TO_THZ = _e / _hplanck * 1e-12


def relaxed_lattice(calc, guess=5.47):
    atoms = bulk("Si", "diamond", guess)
    atoms.calc = calc
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=1e-5, steps=200)
    return atoms, (atoms.get_volume() * 4) ** (1 / 3)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--potential", default="../../potentials/Si.tinynet")
    p.add_argument("--supercell", type=int, default=4, help="N for an N x N x N supercell of the primitive cell")
    p.add_argument("--delta", type=float, default=0.01, help="displacement (A)")
    p.add_argument("--kpts", type=int, default=20, help="q-point grid for the DOS (N x N x N)")
    p.add_argument("--no-plot", action="store_true")
    args = p.parse_args(argv)

    calc = TinyNetCalculator(args.potential)
    atoms, a0 = relaxed_lattice(calc)
    print(f"lattice constant {a0:.4f} A")

    workdir = tempfile.mkdtemp(prefix="tinynet_phonons_")
    try:
        n = args.supercell
        ph = Phonons(atoms, calc, supercell=(n, n, n), delta=args.delta, name=f"{workdir}/ph")
        ph.run()
        ph.read(acoustic=True)
        ph.clean()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    path = atoms.cell.bandpath("GXWKGL", npoints=200)
    bands = ph.get_band_structure(path)
    special = path.special_points
    for label in "GXL":
        freqs = np.sort(ph.band_structure([special[label]])[0]) * EV_TO_THZ
        print(f"{label}: " + " ".join(f"{f:6.2f}" for f in freqs) + " THz")
    dos = ph.get_dos(kpts=(args.kpts,) * 3).sample_grid(npts=300, width=2e-3)
    energies, weights = dos.get_energies() * EV_TO_THZ, dos.get_weights() / EV_TO_THZ
    np.savetxt("phonon_dos.dat", np.column_stack([energies, weights]),
               header="frequency_THz  DOS_states_per_THz_per_cell", fmt="%.6f")
    top = energies[np.argmax(weights)]
    print(f"DOS: highest peak at {top:.2f} THz, maximum frequency {energies[weights > 1e-3 * weights.max()].max():.2f} THz"
          " -> phonon_dos.dat")
    if args.no_plot:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 4), gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
        bands._energies = bands.energies * EV_TO_THZ     # plot in THz
        bands.plot(ax=ax1, emin=0, emax=1.1 * energies.max(), ylabel="frequency (THz)")
        ax2.plot(weights, energies)
        ax2.set_xlabel("DOS")
        fig.tight_layout()
        fig.savefig("phonons.png", dpi=120)
        print("plot -> phonons.png")
    except Exception as exc:  # the numbers above do not depend on the plot
        print(f"(no plot: {exc})")


if __name__ == "__main__":
    main()
