"""tinynet next to DFT on the structures of its own DFT data set (mlearn Si,
PBE): elastic constants from the data's strained cells and a 300 K vacancy
formation energy from its AIMD frames, each computed the same way from the
DFT labels and from the potential.

The data are not part of the repository (optional; see potentials/README.md):

    python dft_comparison.py /path/to/mlearn-Si/training.extxyz /path/to/mlearn-Si/test.extxyz

Elastic constants: stress = C : strain fitted by least squares (cubic C11,
C12, C44) over the "Elastic" frames whose nominal strain (in the frame's
description) is at most --max-strain, the strain tensor taken from each cell
against the "Ground state crystal" cell. The atoms sit where the data put
them, so the DFT and tinynet numbers describe exactly the same structures.
Vacancy: dE = <E(63 atoms, vacancy AIMD 300 K)> - 63/64 <E(64 atoms, AIMD
300 K)>, which would estimate the 300 K formation energy if the vacancy frames
were the bulk crystal less one atom (the 3/2 kT per atom of potential energy
cancels); the mean coordination of each set (neighbours within 2.6 A) shows
whether they are.
"""

from __future__ import annotations

import argparse
import re

import numpy as np
from ase.io import read

from tinynet import TinyNetCalculator

EV_A3_TO_GPA = 160.21766


def voigt_strain(cell0, cell):
    f = np.linalg.solve(cell0, cell).T          # cell rows = cell0 rows @ F^T
    e = 0.5 * (f + f.T) - np.eye(3)
    return np.array([e[0, 0], e[1, 1], e[2, 2], 2 * e[1, 2], 2 * e[0, 2], 2 * e[0, 1]])


def fit_cubic(strains, stresses):
    """Least-squares C11, C12, C44 from Voigt strains and stresses (GPa)."""
    rows, rhs = [], []
    for e, s in zip(strains, stresses):
        for i in range(3):
            others = sum(e[j] for j in range(3) if j != i)
            rows.append([e[i], others, 0.0])
            rhs.append(s[i])
        for i in range(3, 6):
            rows.append([0.0, 0.0, e[i]])
            rhs.append(s[i])
    c, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    return c


def mean_and_error(values):
    values = np.asarray(values)
    return values.mean(), values.std(ddof=1) / np.sqrt(len(values))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", nargs="+", help="mlearn Si extxyz files (training and test)")
    p.add_argument("--potential", default="../../potentials/Si.tinynet")
    p.add_argument("--max-strain", type=float, default=0.02)
    args = p.parse_args(argv)
    frames = [a for path in args.data for a in read(path, ":")]
    calc = TinyNetCalculator(args.potential)

    def tinynet(atoms):
        b = atoms.copy()
        b.calc = calc
        return b.get_potential_energy(), b.get_stress()

    ground = next(a for a in frames if a.info.get("description") == "Ground state crystal")
    elastic = [a for a in frames if a.info.get("config_type") == "Elastic" and a is not ground]
    strains, dft, model = [], [], []
    for a in elastic:
        nominal = float(re.search(r"strain ([-\d.]+)", a.info["description"]).group(1))
        if abs(nominal) > args.max_strain + 1e-9:
            continue
        e = voigt_strain(ground.cell.array, a.cell.array)
        strains.append(e)
        dft.append(a.get_stress() * EV_A3_TO_GPA)
        model.append(tinynet(a)[1] * EV_A3_TO_GPA)
    c_dft, c_tn = fit_cubic(strains, dft), fit_cubic(strains, model)
    print(f"elastic constants from {len(strains)} strained cells (nominal |strain| <= {args.max_strain}), GPa:")
    print(f"  {'':8s} {'C11':>7s} {'C12':>7s} {'C44':>7s} {'B':>7s}")
    for name, c in (("DFT", c_dft), ("tinynet", c_tn)):
        print(f"  {name:8s} {c[0]:7.1f} {c[1]:7.1f} {c[2]:7.1f} {(c[0] + 2 * c[1]) / 3:7.1f}")

    def energies(kind, desc):
        sel = [a for a in frames if a.info.get("config_type") == kind and desc in a.info.get("description", "")]
        from ase.neighborlist import neighbor_list

        coordination = np.mean([len(neighbor_list("i", a, 2.6)) / len(a) for a in sel])
        return [a.get_potential_energy() for a in sel], [tinynet(a)[0] for a in sel], len(sel[0]), coordination

    vac_dft, vac_tn, n_vac, z_vac = energies("Vacancy", "at 300 K")
    bulk_dft, bulk_tn, n_bulk, z_bulk = energies("AIMD-NVT", "at 300 K")
    print(f"dE = <E_vac> - {n_vac}/{n_bulk} <E_bulk> from {len(vac_dft)} vacancy and {len(bulk_dft)} bulk "
          f"AIMD frames at 300 K:")
    for name, vac, bulk in (("DFT", vac_dft, bulk_dft), ("tinynet", vac_tn, bulk_tn)):
        mv, ev = mean_and_error(vac)
        mb, eb = mean_and_error(bulk)
        de = mv - n_vac / n_bulk * mb
        print(f"  {name:8s} {de:6.2f} +- {np.hypot(ev, n_vac / n_bulk * eb):.2f} eV   "
              f"(E/atom: vacancy set {mv / n_vac:.3f}, bulk set {mb / n_bulk:.3f} eV)")
    print(f"  mean coordination within 2.6 A: vacancy set {z_vac:.2f}, bulk set {z_bulk:.2f}")
    if abs(z_vac - z_bulk * n_vac / n_bulk) > 0.2:
        print("  the vacancy frames are not the bulk crystal less one atom, so dE is not a formation "
              "energy: the data carry no DFT vacancy formation energy")


if __name__ == "__main__":
    main()
