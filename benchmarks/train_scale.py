"""Training memory and speed at scale (issue 10 targets), one command per measurement.

    .venv/bin/python benchmarks/train_scale.py make-set  OUT.extxyz [--atoms 80000]
    .venv/bin/python benchmarks/train_scale.py large     OUT_DIR [--data OUT.extxyz] [--epochs 3]
    .venv/bin/python benchmarks/train_scale.py mlearn-si OUT_DIR [--epochs 100] [--ranks 1 2] [--repeats 3]

make-set: a two-element training set of ~80 000 atoms: 192-atom fcc Cu/Al
    cells (4x4x3 conventional cells, 30 % Al at random), strained by up to
    3 %, rattled by 0.1 A, labelled with ASE's EMT (energy, forces, stress).
large:    trains it with a 6 A descriptor of 66 features (moments n_max 4
    with three decay lengths, 24 radial Gaussians to 6 A; 2 elements) and
    the default automatic batch size (minibatches of ~4000 atoms); reports
    peak RSS, Jacobian store and epochs/s from the run's provenance.
mlearn-si: the shipped Si configuration (potentials/Si.config.json) on
    ../shared/data/mlearn-Si, full batch, with 1 and 2 MPI ranks and 1 rank
    limited to one TensorFlow thread, interleaved repeats, medians.

Every run is a real `tinynet train` process (under `mpirun -np N` for N > 1);
peak RSS is the largest over the ranks as the trainer reports it (getrusage).
Wall-clock numbers depend on what else runs on the machine: the script prints
the load average next to each result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

LARGE_DESCRIPTOR = {
    "blocks": [
        {"type": "moments", "n_max": 4, "bond_cutoff": 3.0, "r0": 2.55, "decay_lengths": [0.4, 0.8, 1.6]},
        {"type": "radial", "cutoff": 6.0, "centers": [round(1.9 + 0.17 * k, 3) for k in range(24)], "alpha": 8.0},
    ]
}


def make_set(path, n_atoms, seed=0):
    import ase.io
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    rng = np.random.default_rng(seed)
    frames = []
    base = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((4, 4, 3))
    while sum(len(a) for a in frames) < n_atoms:
        atoms = base.copy()
        symbols = np.where(rng.random(len(atoms)) < 0.3, "Al", "Cu")
        atoms.set_chemical_symbols(symbols.tolist())
        strain = np.eye(3) + rng.uniform(-0.03, 0.03, (3, 3))
        atoms.set_cell(atoms.cell.array @ strain, scale_atoms=True)
        atoms.positions += rng.normal(0, 0.1, atoms.positions.shape)
        atoms.calc = EMT()
        e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
        atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f, stress=s)
        frames.append(atoms)
    ase.io.write(path, frames, format="extxyz")
    print(f"wrote {path}: {len(frames)} frames, {sum(len(a) for a in frames)} atoms")


def tinynet_train(args, ranks=1, env=None):
    """Run `tinynet train` (under mpirun for ranks > 1); returns (provenance, wall seconds, load)."""
    from tinynet.lammps_support import mpirun_executable, subprocess_env

    cmd = [sys.executable, "-c", "import sys; from tinynet.cli import main; sys.exit(main(sys.argv[1:]))",
           "train", *args, "--no-progress", "--no-plots"]
    if ranks > 1:
        cmd = [mpirun_executable(), "-np", str(ranks), *cmd]
    e = subprocess_env()
    e.update(env or {})
    load = os.getloadavg()[0]
    t0 = time.time()
    proc = subprocess.run(cmd, env=e, capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    print(proc.stdout.strip())
    out = args[args.index("-o") + 1]
    return json.load(open(out))["provenance"], wall, load


def run_large(out_dir, data, epochs):
    out_dir.mkdir(parents=True, exist_ok=True)
    if not Path(data).exists():
        make_set(data, 80_000)
    cfg = out_dir / "large.config.json"
    cfg.write_text(json.dumps({"descriptor": LARGE_DESCRIPTOR, "training": {"epochs": epochs, "patience": 0}}))
    prov, wall, load = tinynet_train([str(data), "-o", str(out_dir / "large.tinynet"), "--config", str(cfg)])
    tr = prov["training"]
    import ase.io

    n_atoms = sum(len(a) for a in ase.io.read(data, ":"))
    result = {"frames": sum(f["n_frames"] for f in prov["train_files"]), "atoms": n_atoms,
              "peak_memory_MB": tr["peak_memory_MB"],
              "jacobian_store": tr["jacobian_store"], "batches_per_epoch": tr["batches_per_epoch"],
              "epochs_per_second": tr["epochs_per_second"], "descriptor_seconds": tr["descriptor_seconds"],
              "wall_seconds": wall, "load_at_start": load}
    print(json.dumps(result, indent=1))
    return result


# (name, MPI ranks, extra environment): the 1-rank, 1-thread run separates
# the data-parallel scaling from what TensorFlow's own threads already gain
MLEARN_RUNS = {1: [("1 rank", 1, {})], 2: [("2 ranks", 2, {})]}
ONE_THREAD = ("1 rank, 1 TF thread", 1, {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"})


def run_mlearn(out_dir, epochs, ranks_list, repeats=3):
    """Interleaved repeats of every run; medians of the trainer's epochs/s."""
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = [r for n in ranks_list for r in MLEARN_RUNS.get(n, [(f"{n} ranks", n, {})])]
    if 1 in ranks_list:
        runs.insert(1, ONE_THREAD)
    speeds = {name: [] for name, _, _ in runs}
    for repeat in range(repeats):
        for name, ranks, env in runs:
            out = out_dir / f"Si_{name.replace(' ', '_').replace(',', '')}.tinynet"
            prov, wall, load = tinynet_train([str(SHARED / "mlearn-Si" / "training.extxyz"), "-o", str(out),
                                              "--config", str(REPO / "potentials" / "Si.config.json"),
                                              "--epochs", str(epochs)], ranks=ranks, env=env)
            tr = prov["training"]
            speeds[name].append(tr["epochs_per_second"])
            print(f"repeat {repeat + 1}, {name}: {tr['epochs_per_second']:.2f} epochs/s, "
                  f"peak {tr['peak_memory_MB']} MB/rank, wall {wall:.0f} s, load {load:.2f}")
    medians = {name: float(np.median(v)) for name, v in speeds.items()}
    for name, v in medians.items():
        print(f"median {name}: {v:.2f} epochs/s  ({', '.join(f'{x:.2f}' for x in speeds[name])})")
    if "1 rank" in medians and "2 ranks" in medians:
        print(f"2 ranks / 1 rank: {medians['2 ranks'] / medians['1 rank']:.2f}")
        one_thread = medians[ONE_THREAD[0]]
        print(f"2 ranks / (1 rank, 1 thread): {medians['2 ranks'] / one_thread:.2f}   "
              f"(1 rank's TensorFlow threads alone: {medians['1 rank'] / one_thread:.2f})")
    return speeds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    m = sub.add_parser("make-set")
    m.add_argument("output")
    m.add_argument("--atoms", type=int, default=80_000)
    lg = sub.add_parser("large")
    lg.add_argument("out_dir", type=Path)
    lg.add_argument("--data", default="/tmp/tinynet_cual_80k.extxyz")
    lg.add_argument("--epochs", type=int, default=3)
    ml = sub.add_parser("mlearn-si")
    ml.add_argument("out_dir", type=Path)
    ml.add_argument("--epochs", type=int, default=100)
    ml.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ml.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    if a.what == "make-set":
        make_set(a.output, a.atoms)
    elif a.what == "large":
        run_large(a.out_dir, a.data, a.epochs)
    else:
        run_mlearn(a.out_dir, a.epochs, a.ranks, a.repeats)


if __name__ == "__main__":
    main()
