"""Stillinger-Weber silicon reference data, labelled by LAMMPS.

The project's own data for what needs no DFT: the demo, the examples that put
a tinynet potential trained on SW next to SW itself (elastic constants,
melting) and the validation test. Every frame carries SW's energy, forces and
stress (ASE sign and Voigt order):

* thermal frames: NVT snapshots of a 64-atom cell at given temperatures and
  isotropic lattice strains (the demo's data);
* strained crystals: the 0 K diamond lattice under random homogeneous strains
  (magnitudes up to max_strain): atoms on their sites, one sublattice shifted
  rigidly (the internal relaxation behind C44), or all atoms displaced at
  random;
* liquid frames: a 64-atom cell melted at 4000 K, then NPT at zero pressure
  at each temperature.

    python -m tinynet.sw_reference OUT.extxyz [--pure 150] [--rattled 30] [--temperatures 300 600] ...
"""

from __future__ import annotations

import argparse

import numpy as np
from ase import Atoms
from ase.io import write

from tinynet.lammps_support import lammps_potentials_dir, open_lammps

NKTV2P = 1.6021765e6  # bar per eV/A^3 (LAMMPS metal units)

SW_LATTICE = 5.431  # A, SW's 0 K lattice constant


def random_strain(rng, max_strain):
    """A symmetric strain tensor with a random direction (uniform on the
    6-d sphere) and a magnitude uniform in [0, max_strain], so that small
    strains, where elastic constants are defined, are as well sampled as
    large ones."""
    v = rng.normal(size=6)
    v *= rng.uniform(0, max_strain) / np.linalg.norm(v)
    return np.array([[v[0], v[5], v[4]], [v[5], v[1], v[3]], [v[4], v[3], v[2]]])


def sw_crystal(lattice_constant=SW_LATTICE, cells=2, triclinic=False):
    """A LAMMPS instance holding a diamond Si crystal of cells^3 conventional
    cells with SW, ready for snapshot() (atoms kept in id order)."""
    region = (f"prism 0 {cells} 0 {cells} 0 {cells} 0 0 0" if triclinic
              else f"block 0 {cells} 0 {cells} 0 {cells}")
    lmp = open_lammps()
    lmp.commands_string(f"""
        units metal
        atom_style atomic
        atom_modify map array sort 0 0.0
        lattice diamond {lattice_constant}
        region box {region}
        create_box 1 box
        create_atoms 1 box
        mass 1 28.0855
        pair_style sw
        pair_coeff * * {lammps_potentials_dir() / "Si.sw"} Si
        compute virial all pressure NULL virial
    """)
    return lmp


def strained_frames(count, max_strain=0.015, rattle=0.03, seed=0, cells=2, shift=0.0):
    """``count`` diamond cells (cells^3 x 8 atoms) under random strains,
    atoms displaced by up to ``rattle`` A per component (uniform), and the
    second fcc sublattice shifted rigidly by a random vector of length up to
    ``shift`` A: the internal relaxation that lowers C44 under shear."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        e = random_strain(rng, max_strain)
        lmp = sw_crystal(cells=cells, triclinic=True)
        # lower-triangular cell (LAMMPS form) deformed by (1 + e)
        L = cells * SW_LATTICE
        cell = (np.eye(3) + e) @ (L * np.eye(3))     # columns are the cell vectors
        # QR-style rotation into LAMMPS's upper-triangular convention
        a, b, c = cell[:, 0], cell[:, 1], cell[:, 2]
        ax = np.linalg.norm(a)
        bx = b @ a / ax
        by = np.sqrt(b @ b - bx * bx)
        cx = c @ a / ax
        cy = (b @ c - bx * cx) / by
        cz = np.sqrt(c @ c - cx * cx - cy * cy)
        lmp.command(f"change_box all x final 0 {ax} y final 0 {by} z final 0 {cz} "
                    f"xy final {bx} xz final {cx} yz final {cy} remap units box")
        if shift > 0:
            u = rng.normal(size=3)
            u *= rng.uniform(0, shift) / np.linalg.norm(u)
            # atoms 4..7 of every conventional cell are the second sublattice (basis 5-8)
            lmp.command("group sub2 id " + " ".join(str(8 * c + k) for c in range(cells ** 3) for k in range(5, 9)))
            lmp.command(f"displace_atoms sub2 move {u[0]} {u[1]} {u[2]} units box")
        if rattle > 0:
            lmp.command(f"displace_atoms all random {rattle} {rattle} {rattle} "
                        f"{int(rng.integers(1, 2**30))} units box")
        frames.append(snapshot(lmp))
        lmp.close()
    return frames


def thermal_frames(temperatures, strains, samples=8, every=40, seed=0):
    """NVT snapshots of a 64-atom cell, ``samples`` per (temperature, strain)."""
    frames = []
    for temperature in temperatures:
        for strain in strains:
            lmp = sw_crystal(SW_LATTICE * (1 + strain))
            lmp.commands_string(f"""
                velocity all create {2 * temperature} {1000 + seed + int(temperature)} dist gaussian
                timestep 0.001
                fix md all nvt temp {temperature} {temperature} 0.1
                run 200
            """)
            for _ in range(samples):
                lmp.command(f"run {every}")
                frames.append(snapshot(lmp))
            lmp.close()
    return frames


def liquid_frames(temperatures, samples=8, every=50, seed=0):
    """Snapshots of liquid SW silicon (64 atoms) at zero pressure."""
    frames = []
    for temperature in temperatures:
        lmp = sw_crystal()
        lmp.commands_string(f"""
            velocity all create 4000 {2000 + seed + int(temperature)} dist gaussian
            timestep 0.001
            fix md all npt temp 4000 {temperature} 0.1 iso 0 0 1.0
            run 3000
            unfix md
            fix md all npt temp {temperature} {temperature} 0.1 iso 0 0 1.0
            run 1000
        """)
        for _ in range(samples):
            lmp.command(f"run {every}")
            frames.append(snapshot(lmp))
        lmp.close()
    return frames


def snapshot(lmp):
    """The current LAMMPS state as ASE Atoms with its energy, forces and stress."""
    nlocal = lmp.extract_global("nlocal")
    order = np.argsort(lmp.numpy.extract_atom("id")[:nlocal])
    lo, hi, xy, yz, xz, _, _ = lmp.extract_box()
    cell = np.array([[hi[0] - lo[0], 0, 0], [xy, hi[1] - lo[1], 0], [xz, yz, hi[2] - lo[2]]])
    atoms = Atoms(
        "Si" * nlocal,
        positions=np.array(lmp.numpy.extract_atom("x")[:nlocal])[order],
        cell=cell,
        pbc=True,
    )
    lmp.command("run 0")
    pressure = np.array(lmp.numpy.extract_compute("virial", 0, 1))  # xx yy zz xy xz yz, bar
    # ASE stress (positive = tensile) = -virial pressure, Voigt xx yy zz yz xz xy
    stress = -pressure[[0, 1, 2, 5, 4, 3]] / NKTV2P
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms.calc = SinglePointCalculator(
        atoms,
        energy=lmp.get_thermo("pe"),
        forces=np.array(lmp.numpy.extract_atom("f")[:nlocal])[order],
        stress=stress,
    )
    return atoms


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tinynet.sw_reference", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("output")
    p.add_argument("--pure", type=int, default=150,
                   help="strained 8-atom cells with atoms on their lattice sites (default 150)")
    p.add_argument("--shifted", type=int, default=100,
                   help="strained 8-atom cells with one sublattice shifted rigidly (default 100)")
    p.add_argument("--shift", type=float, default=0.05, help="largest sublattice shift (A)")
    p.add_argument("--rattled", type=int, default=30,
                   help="strained 64-atom cells with displaced atoms (default 30)")
    p.add_argument("--max-strain", type=float, default=0.015)
    p.add_argument("--rattle", type=float, default=0.02, help="largest displacement per component (A)")
    p.add_argument("--temperatures", type=float, nargs="*", default=[300.0, 600.0])
    p.add_argument("--thermal-strains", type=float, nargs="*", default=[-0.01, 0.0, 0.01])
    p.add_argument("--samples", type=int, default=6, help="snapshots per temperature and strain")
    p.add_argument("--liquid", type=float, nargs="*", default=[], metavar="T",
                   help="also liquid snapshots at these temperatures (K)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    frames = (strained_frames(args.pure, args.max_strain, 0.0, seed=args.seed + 1, cells=1)
              + strained_frames(args.shifted, args.max_strain, 0.0, seed=args.seed + 3, cells=1, shift=args.shift)
              + strained_frames(args.rattled, args.max_strain, args.rattle, seed=args.seed + 2)
              + thermal_frames(args.temperatures, args.thermal_strains, args.samples, seed=args.seed)
              + liquid_frames(args.liquid, args.samples, seed=args.seed))
    write(args.output, frames)
    print(f"wrote {len(frames)} frames to {args.output}")


if __name__ == "__main__":
    main()
