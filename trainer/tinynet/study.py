"""Descriptor study: which descriptor gives the most accuracy per microsecond.

For every dataset and descriptor variant of a JSON plan
(``benchmarks/descriptor_study.json``), the study

1. trains the same 16x32 network (``tinynet train``, same split, seed and
   time budget),
2. evaluates it on the dataset's test split (``tinynet test --json``),
3. times MD with it in LAMMPS with the harness of ``tinynet bench``
   (Tersoff on diamond Si in the same run, as the cost reference),

and writes ``results.json``, a Markdown table and one accuracy-versus-cost
PNG per dataset (Pareto front marked).

    python -m tinynet.study benchmarks/descriptor_study.json --out runs/study

Variants are written in terms of the dataset's per-pair bond lengths
(tinynet.bond_lengths), so one plan serves Si, Ge and SrTiO3 (see
``variant_descriptor``); ``L4(2)`` and ``L6(4)`` are the presets themselves.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tinynet.lammps_support import lammps_potentials_dir
from tinynet.bond_lengths import BondScales, pair_distance_shells
from tinynet.presets import (CENTRE_START_FACTOR, PRESET_NAMES, gaussian_centres, make_preset,
                             neighbour_cutoff, walk_lengths)



# ---------------------------------------------------------------- variants


def variant_descriptor(name: str, scales: BondScales, n_species: int) -> dict:
    """The blocks of variant `name` for the dataset's bond lengths `scales`."""
    if name in PRESET_NAMES:
        return make_preset(name, scales)
    bond_cutoff, r0 = walk_lengths(scales)           # per pair: first minimum / first peak of g(r)
    rc = neighbour_cutoff(scales.longest_bond())     # 2nd shell and at least 5 A
    start = CENTRE_START_FACTOR * scales.shortest_bond()
    centres, alpha = gaussian_centres(start, rc, 10)
    walk = {"bond_cutoff": bond_cutoff, "r0": r0, "decay_lengths": [0.5, 1.0]}
    radial = {"type": "radial", "cutoff": rc, "centers": centres, "alpha": alpha}
    few, few_alpha = gaussian_centres(start, rc, 6)
    eann = {"type": "eann", "cutoff": rc, "centers": few, "alpha": few_alpha, "l_max": 3}
    bessel = {"type": "bessel", "cutoff": rc, "n_max": 4 if n_species == 1 else 2, "l_max": 4}
    blocks = {
        "radial": [radial],
        "s-moments+radial": [{"type": "moments", "n_max": 4, **walk}, radial],
        "sp-moments+radial": [{"type": "moments", "orbitals": "sp", "n_max": 4, **walk}, radial],
        "eann": [eann],
        "bessel": [bessel],
        "simple-cycles+radial": [{"type": "simple_cycles", "n_max": 6, **walk}, radial],
        "s-moments+eann": [{"type": "moments", "n_max": 4, **walk}, eann],
        "sp-moments+eann": [{"type": "moments", "orbitals": "sp", "n_max": 4, **walk}, eann],
        "sp-moments+bessel": [{"type": "moments", "orbitals": "sp", "n_max": 4, **walk}, bessel],
    }
    if name not in blocks:
        raise ValueError(f"unknown study variant {name!r} (known: {', '.join([*blocks, *PRESET_NAMES])})")
    return {"blocks": blocks[name]}


# ---------------------------------------------------------------- stages


def _run(cmd, log):
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        tail = Path(log).read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed (exit {proc.returncode}):\n" + "\n".join(tail))


def train_variant(dataset, name, descriptor, out: Path, minutes, epochs, seed):
    config = out / f"{name}.config.json"
    config.write_text(json.dumps({"descriptor": descriptor, "loss": dataset.get("loss", {})}, indent=1))
    potential = out / f"{name}.tinynet"
    cmd = [sys.executable, "-m", "tinynet.cli", "train", *dataset["train"], "--test", *dataset["test"],
           "-o", str(potential), "--config", str(config), "--max-time", str(minutes),
           "--epochs", str(epochs), "--seed", str(seed), "--no-progress", "--no-plots"]
    t0 = time.time()
    _run(cmd, out / f"{name}.train.log")
    return potential, time.time() - t0


def test_variant(potential: Path, test_files, out: Path, name):
    cmd = [sys.executable, "-m", "tinynet.cli", "test", str(potential), *test_files, "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"tinynet test failed for {potential}: {proc.stderr[-2000:]}")
    (out / f"{name}.test.json").write_text(proc.stdout)
    return json.loads(proc.stdout)


def md_cost(potential: Path, elements, lattice, n_atoms, repeats, workdir: Path):
    """µs/atom/step of MD with `potential` (its crystal: diamond or perovskite at
    `lattice`) and of Tersoff on diamond Si, with the harness of tinynet bench."""
    from tinynet import bench

    args = argparse.Namespace(repeats=repeats, steps=200, min_steps=5, target_time=2.0, timeout=900)
    system, per_cell = ("srtio3", 5) if len(elements) > 1 else ("si", 8)
    rep = bench.choose_replication(n_atoms, per_cell)
    si_rep = bench.choose_replication(n_atoms, 8)
    cases = [
        bench.Case(system, system, "tinynet", 1, per_cell * math.prod(rep), rep, lattice=lattice,
                   pair_lines=["pair_style tinynet", f"pair_coeff * * {potential} {' '.join(elements)}"]),
        bench.Case("si", "si", "tersoff", 1, 8 * math.prod(si_rep), si_rep,
                   pair_lines=["pair_style tersoff", f"pair_coeff * * {lammps_potentials_dir() / 'Si.tersoff'} Si"]),
    ]
    timings = []
    for case in cases:
        case = bench.run_case(case, workdir, args)
        if not case.ok:
            raise RuntimeError(f"MD timing of {case.style} failed: {case.status}")
        timings.append(case.us_median)
    return tuple(timings)


def cost_fields(potential: Path, elements, dataset, plan, workdir: Path) -> dict:
    """The cost columns of a study row: md_cost of `potential` and of Tersoff in the same run."""
    us, tersoff = md_cost(potential, elements, dataset.get("lattice"), plan["md_atoms"],
                          plan.get("md_repeats", 3), workdir)
    return {"us_per_atom_step": us, "tersoff_us": tersoff, "x_tersoff": us / tersoff}


# ---------------------------------------------------------------- report


def pareto_front(points):
    """Indices of (cost, error) points not dominated by a cheaper, more accurate one."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    front, best = [], math.inf
    for i in order:
        if points[i][1] < best:
            front.append(i)
            best = points[i][1]
    return front


def format_table(results) -> str:
    lines = []
    for ds, rows in results["datasets"].items():
        lines += [f"### {ds}", "",
                  "| variant | features | E MAE (meV/at) | E RMSE | F MAE (eV/Å) | F RMSE | S RMSE (GPa) | "
                  "µs/atom/step | × Tersoff | train min |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            def f(x, fmt):
                return "—" if x is None else format(x, fmt)
            lines.append(f"| {r['variant']} | {r['n_features']} | {f(r['energy_mae'], '.2f')} | "
                         f"{f(r['energy_rmse'], '.2f')} | {f(r['force_mae'], '.3f')} | {f(r['force_rmse'], '.3f')} | "
                         f"{f(r['stress_rmse'], '.3f')} | {f(r['us_per_atom_step'], '.2f')} | "
                         f"{f(r['x_tersoff'], '.2f')} | {f(r['train_minutes'], '.1f')} |")
        lines.append("")
    return "\n".join(lines)


def plot_dataset(name, rows, reference, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [(r["us_per_atom_step"], r["force_mae"]) for r in rows if r["us_per_atom_step"] and r["force_mae"]]
    labelled = [r for r in rows if r["us_per_atom_step"] and r["force_mae"]]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.scatter([p[0] for p in pts], [p[1] for p in pts], color="tab:blue")
    for r, p in zip(labelled, pts):
        ax.annotate(f"{r['variant']} ({r['n_features']})", p, fontsize=7, xytext=(4, 3), textcoords="offset points")
    front = sorted(pareto_front(pts), key=lambda i: pts[i][0])
    ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "--", color="tab:red", label="Pareto front")
    if reference.get("tersoff_us"):
        ax.axvline(reference["tersoff_us"], color="gray", ls=":", label="Tersoff cost (Si, same run)")
        # peers too slow to time in every study run: their cost as a multiple of Tersoff's (plan, measured by bench)
        for label, ratio in reference.get("cost_lines_x_tersoff", {}).items():
            ax.axvline(ratio * reference["tersoff_us"], color="tab:purple", ls=":", lw=0.8)
            ax.text(ratio * reference["tersoff_us"], ax.get_ylim()[1], f"{label} ", fontsize=7, rotation=90,
                    va="top", ha="right", color="tab:purple")
    ax.set_xscale("log")
    for label, value in reference.get("force_mae_lines", {}).items():
        ax.axhline(value, color="tab:green", ls="-.", lw=0.8)
        ax.text(ax.get_xlim()[0], value, f" {label}", fontsize=7, va="bottom", color="tab:green")
    ax.set_xlabel("MD cost in LAMMPS (µs/atom/step, 1 rank)")
    ax.set_ylabel("test force MAE (eV/Å)")
    ax.set_title(f"{name}: accuracy vs cost, 16×32 network")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- driver


def run_plan(plan: dict, out: Path, repo: Path, log=print, remeasure_cost=False) -> dict:
    from ase.io import read

    from tinynet.potential_file import n_features

    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {"datasets": {}}
    for ds_name, ds in plan["datasets"].items():
        ds = dict(ds)
        ds["train"] = [str((repo / p).resolve()) for p in ds["train"]]
        ds["test"] = [str((repo / p).resolve()) for p in ds["test"]]
        if not all(Path(p).exists() for p in ds["train"] + ds["test"]):
            log(f"{ds_name}: data not found, skipped")
            continue
        frames = read(ds["train"][0], ":")
        elements = sorted({s for a in frames for s in a.get_chemical_symbols()},
                          key=lambda s: ds.get("elements", []).index(s) if s in ds.get("elements", []) else 99)
        scales = pair_distance_shells(frames, elements)
        rows = results["datasets"].setdefault(ds_name, [])    # earlier rows stay (a run may do some variants)
        done = {r["variant"] for r in rows}
        ds_out = out / ds_name
        ds_out.mkdir(exist_ok=True)
        for variant in plan["variants"]:
            if variant in done:
                if remeasure_cost and plan.get("md_atoms"):    # same potentials, today's core and machine
                    row = next(r for r in rows if r["variant"] == variant)
                    row.update(cost_fields((ds_out / f"{variant}.tinynet").resolve(), elements, ds, plan, ds_out))
                    log(f"{ds_name} / {variant}: {row['us_per_atom_step']:.2f} us/atom/step "
                        f"({row['x_tersoff']:.2f} x Tersoff)")
                    results_path.write_text(json.dumps(results, indent=1))
                continue
            descriptor = variant_descriptor(variant, scales, len(elements))
            log(f"{ds_name} / {variant}: {n_features(descriptor, len(elements))} features, training "
                f"{plan['minutes']} min")
            potential, tested = ds_out / f"{variant}.tinynet", ds_out / f"{variant}.test.json"
            if potential.exists() and tested.exists():    # trained by an interrupted study
                seconds = json.loads(tested.read_text()).get("train_seconds", 0.0)
                metrics = json.loads(tested.read_text())
            else:
                potential, seconds = train_variant(ds, variant, descriptor, ds_out, plan["minutes"],
                                                   plan.get("epochs", 100000), plan.get("seed", 0))
                metrics = test_variant(potential, ds["test"], ds_out, variant)
                tested.write_text(json.dumps({**metrics, "train_seconds": seconds}, indent=1))
            cost = {"us_per_atom_step": None, "tersoff_us": None, "x_tersoff": None}
            if plan.get("md_atoms"):
                cost = cost_fields(potential.resolve(), elements, ds, plan, ds_out)
            row = {"variant": variant, "n_features": n_features(descriptor, len(elements)),
                   "descriptor": descriptor, "train_minutes": seconds / 60.0,
                   "energy_mae": metrics.get("energy_mae_meV_atom"),
                   "energy_rmse": metrics.get("energy_rmse_meV_atom"),
                   "force_mae": metrics.get("force_mae_eV_A"), "force_rmse": metrics.get("force_rmse_eV_A"),
                   "stress_rmse": metrics.get("stress_rmse_GPa"),
                   **cost}
            log(f"    E MAE {row['energy_mae']} meV/atom, F MAE {row['force_mae']} eV/A, "
                f"{cost['us_per_atom_step']} us/atom/step ({cost['x_tersoff']} x Tersoff)")
            rows.append(row)
            results_path.write_text(json.dumps(results, indent=1))
        tersoff_values = [r["tersoff_us"] for r in rows if r.get("tersoff_us")]
        reference = {"tersoff_us": float(np.median(tersoff_values)) if tersoff_values else None,
                     "force_mae_lines": ds.get("reference_force_mae", {}),
                     "cost_lines_x_tersoff": ds.get("reference_cost_x_tersoff", {})}
        if any(r["us_per_atom_step"] for r in rows):
            plot_dataset(ds_name, rows, reference, out / f"{ds_name}_accuracy_vs_cost.png")
    (out / "table.md").write_text(format_table(results))
    return results


def write_report(results: dict, out: Path, docs: Path):
    """The table (Markdown) and the accuracy-vs-cost plots, for docs/."""
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "descriptor_study_table.md").write_text(
        "<!-- generated by python -m tinynet.study ... --report docs; do not edit -->\n\n" + format_table(results))
    for name in results["datasets"]:
        png = out / f"{name}_accuracy_vs_cost.png"
        if png.exists():
            (docs / f"descriptor_study_{name}.png").write_bytes(png.read_bytes())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinynet.study", description=__doc__.split("\n\n")[0])
    parser.add_argument("plan", help="JSON plan (datasets, variants, minutes, md_atoms)")
    parser.add_argument("--out", default="runs/study", help="output folder (results are resumed from it)")
    parser.add_argument("--minutes", type=float, help="override the plan's training budget per variant")
    parser.add_argument("--variants", nargs="+", help="only these variants")
    parser.add_argument("--datasets", nargs="+", help="only these datasets")
    parser.add_argument("--remeasure-cost", action="store_true",
                        help="time MD again for variants already trained (after the core changed, or on a quiet machine)")
    parser.add_argument("--report", metavar="DIR", help="also write the table and plots into DIR (e.g. docs)")
    args = parser.parse_args(argv)
    plan_path = Path(args.plan)
    plan = json.loads(plan_path.read_text())
    if args.minutes is not None:
        plan["minutes"] = args.minutes
    if args.variants:
        plan["variants"] = args.variants
    if args.datasets:
        plan["datasets"] = {k: v for k, v in plan["datasets"].items() if k in args.datasets}
    repo = plan_path.resolve().parent.parent
    results = run_plan(plan, Path(args.out), repo, remeasure_cost=args.remeasure_cost)
    if args.report:
        write_report(results, Path(args.out).resolve(), Path(args.report))
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
