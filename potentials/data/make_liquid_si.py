"""Liquid-Si structures for the LDOS training data (issue 13): 16-atom cubic
cells, Stillinger-Weber NVT MD in LAMMPS, melted at 4000 K and sampled at
1700-2500 K at two densities (18.0 A^3/atom, DFT/experimental l-Si; 19.7, the
SW liquid at zero pressure that examples/ldos_melting produces).

    .venv/bin/python potentials/data/make_liquid_si.py -o liquid_structures.extxyz

Runs are interleaved in the output (run 0 frame 0, run 1 frame 0, ...), so
that labelling any prefix of the file covers every density and temperature.
"""

import argparse

import numpy as np
from ase import Atoms
import ase.io

from tinynet.lammps_support import lammps_potentials_dir, open_lammps

DENSITIES = (18.0, 19.7)           # A^3/atom
TEMPERATURES = (1700, 2100, 2500)  # K


def run(volume_per_atom, temperature, seed, n_atoms, n_frames, melt_ps, equil_ps, every_ps):
    lmp = open_lammps()
    L = (volume_per_atom * n_atoms) ** (1 / 3)
    for c in (
        "units metal", "atom_style atomic", "boundary p p p",
        f"region box block 0 {L} 0 {L} 0 {L}", "create_box 1 box",
        f"create_atoms 1 random {n_atoms} {seed} NULL overlap 2.0 maxtry 1000",
        "mass 1 28.0855", "pair_style sw", f"pair_coeff * * {lammps_potentials_dir() / 'Si.sw'} Si",
        "timestep 0.001", "thermo 1000",
        f"velocity all create 4000 {seed + 1} mom yes rot yes dist gaussian",
        f"fix nvt all nvt temp 4000 4000 0.1", f"run {int(melt_ps * 1000)}", "unfix nvt",
        f"fix nvt all nvt temp 4000 {temperature} 0.1", f"run {int(equil_ps * 500)}", "unfix nvt",
        f"fix nvt all nvt temp {temperature} {temperature} 0.1", f"run {int(equil_ps * 500)}",
    ):
        lmp.command(c)
    frames = []
    for k in range(n_frames):
        lmp.command(f"run {int(every_ps * 1000)}")
        x = np.array(lmp.numpy.extract_atom("x")[:n_atoms], dtype=float)
        T = lmp.get_thermo("temp")
        a = Atoms("Si%d" % n_atoms, positions=x, cell=[L, L, L], pbc=True)
        a.wrap()
        a.info.update(category=f"liquid{n_atoms}", md_potential="sw", md_temperature=float(temperature),
                      md_temperature_instant=float(T), volume_per_atom=float(volume_per_atom), md_seed=int(seed),
                      md_time_ps=float(melt_ps + equil_ps + (k + 1) * every_ps))
        frames.append(a)
    lmp.close()
    return frames


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--atoms", type=int, default=16)
    p.add_argument("--frames-per-run", type=int, default=6)
    p.add_argument("--melt-ps", type=float, default=10.0)
    p.add_argument("--equil-ps", type=float, default=10.0)
    p.add_argument("--every-ps", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=2026)
    a = p.parse_args()
    runs, k = [], 0
    for rho in DENSITIES:
        for T in TEMPERATURES:
            runs.append(run(rho, T, a.seed + 100 * k, a.atoms, a.frames_per_run, a.melt_ps, a.equil_ps, a.every_ps))
            k += 1
    out = [r[i] for i in range(a.frames_per_run) for r in runs]
    ase.io.write(a.output, out, format="extxyz")
    print(f"{len(out)} structures -> {a.output}")


if __name__ == "__main__":
    main()
