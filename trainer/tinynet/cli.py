"""The ``tinynet`` command.

Each subcommand is one ``add_<name>_arguments(parser)`` function and one
``run_<name>(args) -> exit code`` function, registered in :data:`COMMANDS`
(or at run time with :func:`register_command`).  Expected errors (bad data,
config, potential file, checkpoint) print ``tinynet <cmd>: error: ...`` and
exit with status 2; an interrupted training exits with 130.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _version():
    try:
        import tinynet

        return getattr(tinynet, "__version__", "0.1.0")
    except Exception:
        return "0.1.0"


def _expected_errors():
    from tinynet.data import DataError
    from tinynet.presets import ConfigError

    errors = [DataError, ConfigError]
    try:
        from tinynet.potential_file import PotentialFileError

        errors.append(PotentialFileError)
    except ImportError:
        pass
    try:
        from tinynet.training import TrainingError

        errors.append(TrainingError)
    except ImportError:
        pass
    return tuple(errors)


# --------------------------------------------------------------------------
# train

def add_train_arguments(p):
    from tinynet.presets import PRESET_NAMES

    p.add_argument("data", nargs="+", metavar="DATA",
                   help="training structures: any file ase.io.read(path, ':') reads (extxyz, OUTCAR, vasprun.xml, ...)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.tinynet", help="potential file to write")
    p.add_argument("--target", choices=("energy", "ldos"), default="energy",
                   help="fit energies/forces (a potential), or per-atom LDOS (a tinynet-ldos model, docs/ldos.md)")
    p.add_argument("--test", nargs="+", metavar="DATA", default=None,
                   help="test structures (default: a reproducible 20%% split of DATA)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--preset", metavar="NAME", default=None,
                   help=f"descriptor preset, L<n>(<N>): {', '.join(PRESET_NAMES)} (default L4(2))")
    g.add_argument("--config", metavar="FILE", default=None,
                   help="JSON (or YAML with PyYAML) config; unknown keys are errors")
    p.add_argument("--epochs", type=int, default=None, metavar="N", help="maximum number of epochs")
    p.add_argument("--batch-size", default=None, metavar="N|auto|full",
                   help="structures per Adam step (training.batch_size): auto (default) is full batch up to "
                        "30000 atoms in the fitting split, else batches of about 4000 atoms")
    p.add_argument("--max-time", type=float, default=None, metavar="MINUTES",
                   help="stop (keeping the best weights) after this many minutes; without --epochs the "
                        "time (and early stopping) is then the only bound")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from OUT.tinynet.ckpt.npz")
    p.add_argument("--seed", type=int, default=None, metavar="N", help="random seed (split, init, batches)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--allow-missing-elements", action="store_true",
                   help="train even if an element has no atoms in the fitting split (its network stays untrained)")
    p.add_argument("--memory-limit", metavar="SIZE", default=None,
                   help="memory one training process may use, e.g. 6G (default: what the machine has "
                        "available; also TINYNET_MEMORY_LIMIT); a run estimated to need more is refused")
    p.add_argument("--jacobians", choices=("auto", "memory", "disk"), default="auto",
                   help="keep the feature Jacobians in memory or stream them from a cache file in the "
                        "output folder (default auto: memory up to 2 GB per process)")


FULL_BATCH = 2**31 - 1      # a batch size above any number of structures


def run_train(args):
    if args.target == "ldos":
        from tinynet.ldos import run_train_from_cli

        return run_train_from_cli(args)
    from tinynet.evaluation import format_metrics
    from tinynet.presets import load_config, validate_config
    from tinynet.training import portable_command, train

    if args.epochs is not None and args.epochs < 0:
        raise SystemExit("tinynet train: error: --epochs must be >= 0")
    cfg = load_config(args.config) if args.config else validate_config(None)
    if args.batch_size is not None:
        named = {"auto": 0, "full": FULL_BATCH}
        if args.batch_size in named:
            cfg["training"]["batch_size"] = named[args.batch_size]
        elif args.batch_size.isdigit() and int(args.batch_size) > 0:
            cfg["training"]["batch_size"] = int(args.batch_size)
        else:
            raise SystemExit(f"tinynet train: error: --batch-size: expected a positive integer, auto or full, "
                             f"got {args.batch_size!r}")
    if args.memory_limit is not None:
        from tinynet.memory import LIMIT_VARIABLE, parse_size

        try:
            parse_size(args.memory_limit, "--memory-limit")
        except ValueError as exc:
            raise SystemExit(f"tinynet train: error: {exc}")
        os.environ[LIMIT_VARIABLE] = args.memory_limit
    command = "tinynet " + portable_command(args.argv)
    res = train(args.data, args.output, test_paths=args.test, config=cfg, preset=args.preset,
                epochs=args.epochs, max_time=args.max_time, resume=args.resume, seed=args.seed,
                progress=not args.no_progress, command=command, plots=not args.no_plots,
                allow_missing_elements=args.allow_missing_elements, store=args.jacobians)
    from tinynet.parallel import world

    if world().rank != 0:
        return 0
    ranks = f" on {res.n_ranks} MPI ranks" if res.n_ranks > 1 else ""
    print(f"wrote {res.output}  ({res.epochs_run} epochs, best {res.best_epoch}, "
          f"stopped: {res.stop_reason})")
    print(f"speed: {res.epochs_per_second:.2f} epochs/s{ranks}; peak memory "
          f"{res.peak_memory_bytes / 2**20:.0f} MB per process")
    for name in ("train", "validation", "test"):
        if name in res.metrics:
            print(f"-- {name}")
            print(format_metrics(res.metrics[name]))
    for k, v in res.files.items():
        if k != "potential":
            print(f"{k}: {v}")
    return 0


# --------------------------------------------------------------------------
# test

def add_test_arguments(p):
    p.add_argument("potential", metavar="POTENTIAL", help="a .tinynet file (potential or tinynet-ldos model)")
    p.add_argument("data", nargs="+", metavar="DATA", help="labelled structures (any ASE-readable file)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")


def run_test(args):
    from tinynet.ldos_file import is_ldos_file

    if is_ldos_file(args.potential):
        from tinynet.ldos import run_test_from_cli

        return run_test_from_cli(args)
    from tinynet.evaluation import evaluate_files, format_metrics
    from tinynet.potential_file import read_potential

    pot = read_potential(args.potential)
    m = evaluate_files(pot, args.data, progress=not args.json and sys.stderr.isatty())
    if args.json:
        print(json.dumps(m, indent=1))
    else:
        print(f"{args.potential} on {', '.join(args.data)}")
        print(format_metrics(m))
    return 0


# --------------------------------------------------------------------------
# info

def add_info_arguments(p):
    p.add_argument("potential", metavar="POTENTIAL", help="a .tinynet file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def potential_summary(pot):
    from tinynet.potential_file import block_sizes

    n_el = len(pot["elements"])
    sizes = block_sizes(pot["descriptor"], n_el)
    blocks = [dict(b, n_features=n) for b, n in zip(pot["descriptor"]["blocks"], sizes)]
    shapes = {}
    for el, m in pot["models"].items():
        layers = m["layers"]
        shape = [len(layers[0]["weights"])] + [len(l["bias"]) for l in layers]
        shapes[el] = {"layers": shape, "activations": [l["activation"] for l in layers], "e0": m["e0"],
                      "n_parameters": sum(len(l["weights"]) * len(l["bias"]) + len(l["bias"]) for l in layers)}
    return {"elements": pot["elements"], "units": pot["units"], "cutoff": pot["cutoff"],
            "n_features": sum(sizes), "descriptor_blocks": blocks, "networks": shapes,
            "provenance": pot.get("provenance", {})}


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list) and len(v) > 8:
        return "[" + ", ".join(_fmt(x) for x in v[:8]) + f", ... ({len(v)} values)]"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def run_info(args):
    from tinynet.potential_file import read_potential

    pot = read_potential(args.potential)
    s = potential_summary(pot)
    if args.json:
        print(json.dumps(s, indent=1))
        return 0
    print(f"potential: {args.potential}")
    print(f"elements:  {' '.join(s['elements'])}   units: {s['units']}   cutoff: {s['cutoff']:.4g} A")
    print(f"descriptor: {s['n_features']} features per atom")
    for b in s["descriptor_blocks"]:
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in b.items() if k not in ("type", "n_features"))
        print(f"  {b['type']:8s} {b['n_features']:4d} features  ({params})")
    print("networks:")
    for el, n in s["networks"].items():
        print(f"  {el:3s} {' x '.join(map(str, n['layers']))}  ({'/'.join(n['activations'])}), "
              f"{n['n_parameters']} parameters, e0 = {n['e0']:.6f} eV")
    prov = s["provenance"] or {}
    if not prov:
        print("provenance: none recorded")
        return 0
    print("provenance:")
    for k in ("created", "version", "command", "preset"):
        if prov.get(k) is not None:
            print(f"  {k}: {prov[k]}")
    for k in ("train_files", "test_files"):
        for f in prov.get(k) or []:
            print(f"  {k[:-6]} file: {f.get('path')}  ({f.get('n_frames')} frames, sha256 {str(f.get('sha256'))[:16]}...)")
    split = prov.get("split") or {}
    if split:
        print(f"  split: {split.get('n_train')} train / {split.get('n_validation')} validation / "
              f"{split.get('n_test')} test structures")
    tr = prov.get("training") or {}
    if tr:
        print(f"  training: {tr.get('epochs')} epochs, best at {tr.get('best_epoch')}, "
              f"stopped: {tr.get('stop_reason')}")
    errors = prov.get("errors") or {}
    if errors:
        print("  errors:              E RMSE    E MAE   F RMSE    F MAE  S RMSE")
        print("                  (meV/atom)          (eV/A)              (GPa)")
        for name, m in errors.items():
            srm = m.get("stress_rmse_GPa")
            print(f"    {name:12s} {m['energy_rmse_meV_atom']:9.3f} {m['energy_mae_meV_atom']:8.3f} "
                  f"{m['force_rmse_eV_A']:8.4f} {m['force_mae_eV_A']:8.4f} "
                  f"{'   -' if srm is None else f'{srm:7.3f}'}")
    return 0


# --------------------------------------------------------------------------

COMMANDS = {
    "train": ("fit a potential to labelled structures", add_train_arguments, run_train),
    "test": ("errors of a potential on labelled structures", add_test_arguments, run_test),
    "info": ("describe a potential file", add_info_arguments, run_info),
}


def _lazy(module, function):
    """A subcommand function imported only when that subcommand runs."""

    def call(*args):
        import importlib

        return getattr(importlib.import_module(module), function)(*args)

    return call


COMMANDS["demo"] = ("the main job on an embedded default: SW-silicon data, training, MD in LAMMPS",
                    _lazy("tinynet.demo", "add_arguments"), _lazy("tinynet.demo", "run"))
COMMANDS["bench"] = ("MD cost next to sw/tersoff/snap/mliap in one run, and descriptor cost study",
                     _lazy("tinynet.bench", "add_arguments"), _lazy("tinynet.bench", "run"))


def register_command(name, help, add_arguments, run):
    """Add a subcommand: ``add_arguments(parser)`` and ``run(args) -> int``."""
    COMMANDS[name] = (help, add_arguments, run)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tinynet", description="tinynet: small, fast machine-learning potentials for LAMMPS")
    parser.add_argument("--version", action="version", version=f"tinynet {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (help_, add_arguments, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        add_arguments(p)
        p.set_defaults(_run=run, _parser=p)
    return parser


def main(argv=None):
    # TensorFlow's C++ start-up chatter is not for our users.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt as exc:
        print(f"tinynet {args.command}: {exc or 'interrupted'}", file=sys.stderr)
        return 130
    except _expected_errors() as exc:
        print(f"tinynet {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
