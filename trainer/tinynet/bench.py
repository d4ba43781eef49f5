"""`tinynet bench`: speed and memory of pair_style tinynet against LAMMPS peers.

Part 1 (default): real LAMMPS MD (the environment's `lmp`, through `mpirun`),
one process per (system, pair style, rank count), identical input apart from
the pair style lines:

    diamond Si (8000 atoms; 32 000 with --large), velocities for 300 K (created
    at 600 K, equipartition brings them to ~300 K), NVE, 1 fs:
        tinynet (potentials/Si.tinynet), tinynet with `extrapolation ignore`,
        sw, tersoff, snap (Si_Zuo_JPCA2020 linear and quadratic), mliap nn
    SrTiO3 cubic perovskite (a = 3.905 A, 10x10x10 cells = 5000 atoms):
        tinynet (potentials/SrTiO3.tinynet)

Each process runs `run 1` (set-up, cold caches), a short calibration run,
then `--repeats` timed runs. The time per step is read from LAMMPS's
"Loop time of X on P procs for N steps with M atoms" line of the timed runs
(set-up excluded). The number of steps of a timed run is chosen inside
LAMMPS from the calibration rate so that one repeat lasts about
`--target-time` seconds (between --min-steps and --steps): SNAP and mliap
automatically get a few steps, Tersoff a few hundred.

Memory per rank: the maximum of LAMMPS's "Per MPI rank memory allocation"
line (what the styles declare), and the peak resident set size of the
largest process (measured by the kernel, so it also sees memory a style does
not declare); `RSS-base` is the peak RSS minus that of the same run with
`pair_style zero` (LAMMPS itself, atoms, neighbour list).

Part 2 (`--descriptors`): cost per atom of each descriptor block, through the
same C++ core from Python, versus cycle length n_max and versus the number of
neighbours, separately from the network (see `descriptor_study`).

Usage: `tinynet bench [options]` or `python -m tinynet.bench [options]`;
`--help` lists the options.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tinynet.lammps_support import (
    PACKAGE_DIR,
    lammps_potentials_dir,
    lmp_executable,
    mpirun_executable,
    subprocess_env,
)

REPO_DIR = PACKAGE_DIR.parent.parent
SI_LATTICE = 5.431  # A, diamond Si
SI_D1 = 2.35  # nearest-neighbour distance used for the random L4(2) preset
SRTIO3_LATTICE = 3.905  # A, cubic perovskite
SRTIO3_D1 = round(SRTIO3_LATTICE / math.sqrt(2.0), 3)  # Sr-O, the largest per-element NN distance
TIMESTEP_PS = 0.001  # 1 fs
MASSES = {"Si": 28.0855, "Sr": 87.62, "Ti": 47.867, "O": 15.999}

SI_STYLES = ("tinynet", "tinynet-noextrap", "sw", "tersoff", "snap", "snap-quadratic", "mliap-nn")
SRTIO3_STYLES = ("tinynet", "tinynet-noextrap")
ALL_STYLES = SI_STYLES
DEFAULT_STYLES = ("tinynet", "tinynet-noextrap", "sw", "tersoff", "snap", "snap-quadratic", "mliap-nn")
SYSTEMS = ("si", "srtio3")

STYLE_LABELS = {
    "tinynet": "tinynet",
    "tinynet-noextrap": "tinynet extrap. ignore",
    "sw": "sw",
    "tersoff": "tersoff",
    "snap": "snap linear (Zuo 2020)",
    "snap-quadratic": "snap quadratic (Zuo 2020)",
    "mliap-nn": "mliap nn (so3)",
    "zero": "pair zero (baseline)",
}

# Rough peak memory per atom (MB) of styles that need a lot, to refuse runs
# that would exhaust the machine instead of being killed half-way.
MEMORY_MB_PER_ATOM = {"mliap-nn": 0.25}  # measured peak RSS: 1.7 GB at 8000 atoms, 1 rank

# fix spring/self constant (eV/A^2: Si's thermal <u^2> at 300 K) used with
# random-weight tinynet models: their tiny random forces hold nothing together,
# and within a few hundred fs a free "gas" at crystal density has ~50% more
# bonds per atom than the crystal, which would inflate the measured cost.
DEFAULT_TETHER = 5.0


# --------------------------------------------------------------------------
# small helpers


def _git_commit() -> str | None:
    try:
        head = subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=20)
        if head.returncode != 0:
            return None
        status = subprocess.run(["git", "-C", str(REPO_DIR), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=20)
        dirty = status.returncode == 0 and status.stdout.strip() != ""
        return head.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_available_mb() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def cpu_busy(seconds=1.0):
    """Fraction of all CPUs busy (any process) over `seconds`, from /proc/stat; None if unknown."""
    def sample():
        with open("/proc/stat") as fh:
            v = [float(x) for x in fh.readline().split()[1:]]
        return sum(v), v[3] + (v[4] if len(v) > 4 else 0.0)  # total, idle + iowait
    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return round(1.0 - (i1 - i0) / (t1 - t0), 3) if t1 > t0 else None


def machine_info() -> dict:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    mem = None
    try:
        with open("/proc/meminfo") as fh:
            mem = round(float(fh.readline().split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    from tinynet import __version__

    return {
        "cpu_model": _cpu_model(),
        "nproc": os.cpu_count(),
        "nproc_usable": affinity,
        "memory_gb": mem,
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "tinynet_version": __version__,
        "loadavg_start": _loadavg(),
        "cpu_busy_start": cpu_busy(),
    }


def choose_replication(n_atoms: float, atoms_per_cell: int) -> tuple[int, int, int]:
    """Cell repetitions (nx >= ny >= nz) giving about n_atoms, as cubic as possible."""
    cells = max(1.0, n_atoms / atoms_per_cell)
    k = max(1, round(cells ** (1.0 / 3.0)))
    best, best_score = (1, 1, 1), math.inf
    for nx in range(1, 2 * k + 3):
        for ny in range(1, nx + 1):
            for nz in range(1, ny + 1):
                err = abs(nx * ny * nz - cells) / cells
                score = 10.0 * err + 0.01 * (nx / nz - 1.0)
                if score < best_score - 1e-12:
                    best, best_score = (nx, ny, nz), score
    return best


def _clamp_expr(var: str, lo: int, hi: int) -> str:
    return f"ternary(v_{var}<{lo},{lo},ternary(v_{var}>{hi},{hi},v_{var}))"


# --------------------------------------------------------------------------
# random-weight tinynet potentials (cost does not depend on the weights)


def si_frames(n=4, rattle=0.1):
    from ase.build import bulk

    frames = []
    for k in range(n):
        atoms = bulk("Si", "diamond", SI_LATTICE, cubic=True).repeat(2)
        atoms.rattle(rattle, seed=k)
        frames.append(atoms)
    return frames


def srtio3_cell(a=SRTIO3_LATTICE):
    from ase import Atoms

    return Atoms("SrTiO3", scaled_positions=[(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
                 cell=[a, a, a], pbc=True)


def srtio3_frames(n=4, rattle=0.08):
    frames = []
    for k in range(n):
        atoms = srtio3_cell().repeat(3)
        atoms.rattle(rattle, seed=k)
        frames.append(atoms)
    return frames


def make_random_potential(path, elements, d1, frames, preset="L4(2)", seed=0, hidden=(16, 32),
                          output_scale=0.05):
    """Write a random-weight potential with the `preset` descriptor to `path`.

    Normalisation and feature ranges come from `frames` (rattled crystals), as
    in a trained model, and the output layer is scaled down so that MD stays
    a warm solid for a while. Only the cost of such a potential is meaningful.
    """
    import numpy as np

    from tinynet.descriptors import compute
    from tinynet.potential_file import random_potential, write_potential
    from tinynet.presets import make_preset

    descriptor = make_preset(preset, d1)
    pot = random_potential(elements, descriptor, hidden=hidden, seed=seed)
    per_element = {el: [] for el in elements}
    for atoms in frames:
        res = compute(atoms, descriptor, elements, jacobian=False)
        for k, el in enumerate(elements):
            sel = res["species"] == k
            if sel.any():
                per_element[el].append(res["features"][sel])
    for el, model in pot["models"].items():
        g = np.concatenate(per_element[el]) if per_element[el] else None
        if g is None:
            continue
        mean = g.mean(axis=0)
        std = np.maximum(g.std(axis=0), np.maximum(0.1 * np.abs(mean), 1e-3))
        lo, hi = g.min(axis=0), g.max(axis=0)
        pad = 0.1 * (hi - lo) + 1e-9
        model["feature_mean"] = mean.tolist()
        model["feature_std"] = std.tolist()
        model["feature_min"] = (lo - pad).tolist()
        model["feature_max"] = (hi + pad).tolist()
        last = model["layers"][-1]
        last["weights"] = (np.asarray(last["weights"]) * output_scale).tolist()
    pot["provenance"] = {"generator": "tinynet.bench random potential (benchmark only, not a fit)",
                         "preset": preset, "d1": d1, "seed": seed}
    write_potential(path, pot)
    return Path(path)


# --------------------------------------------------------------------------
# cases


@dataclass
class Case:
    system: str  # "si" / "srtio3"
    system_label: str
    style: str
    ranks: int
    n_atoms: int
    replication: tuple
    pair_lines: list = field(default_factory=list)
    unavailable: str | None = None
    note: str = ""
    potential: str | None = None
    tether: float = 0.0  # eV/A^2 of fix spring/self (0: none)
    lattice: float | None = None  # lattice constant (A); default: the system's own
    # results
    status: str = "pending"
    steps: int | None = None
    loop_times: list = field(default_factory=list)
    memory_mb: float | None = None
    rss_mb: float | None = None
    lammps_version: str | None = None
    breakdown: dict = field(default_factory=dict)
    load_start: list | None = None
    retry_reason: str | None = None
    warnings: list = field(default_factory=list)
    wall_seconds: float | None = None
    log: str | None = None
    energy_drift: float | None = None  # eV/atom, total energy change over the timed runs (largest of all rounds)
    temperature_range: tuple | None = None  # K, lowest and highest printed in the timed runs

    @property
    def label(self):
        base = STYLE_LABELS.get(self.style, self.style)
        return f"{base} [{self.note}]" if self.note else base

    # per atom-step, microseconds, of each timed repeat
    @property
    def us_per_atom_step(self):
        return [t / (self.steps * self.n_atoms) * 1e6 for t in self.loop_times] if self.steps else []

    @property
    def us_min(self):
        v = self.us_per_atom_step
        return min(v) if v else None

    @property
    def us_median(self):
        v = self.us_per_atom_step
        return statistics.median(v) if v else None

    @property
    def ns_per_day(self):
        if not self.loop_times:
            return None
        per_step = statistics.median(self.loop_times) / self.steps
        return 86400.0 / per_step * TIMESTEP_PS * 1e-3

    @property
    def ok(self):
        return self.status == "ok"


def _system_setup(system: str, rep, lattice=None) -> tuple[str, list]:
    nx, ny, nz = rep
    if system == "si":
        text = f"""lattice diamond {lattice or SI_LATTICE}
region box block 0 {nx} 0 {ny} 0 {nz}
create_box 1 box
create_atoms 1 box
mass 1 {MASSES['Si']}"""
        return text, ["Si"]
    text = f"""lattice custom {lattice or SRTIO3_LATTICE} a1 1 0 0 a2 0 1 0 a3 0 0 1 &
  basis 0.0 0.0 0.0 basis 0.5 0.5 0.5 basis 0.5 0.5 0.0 basis 0.5 0.0 0.5 basis 0.0 0.5 0.5
region box block 0 {nx} 0 {ny} 0 {nz}
create_box 3 box
create_atoms 3 box basis 1 1 basis 2 2 basis 3 3 basis 4 3 basis 5 3
mass 1 {MASSES['Sr']}
mass 2 {MASSES['Ti']}
mass 3 {MASSES['O']}"""
    return text, ["Sr", "Ti", "O"]


def make_input(case: Case, repeats: int, max_steps: int, min_steps: int, target_time: float,
               neigh_every: int = 0) -> str:
    setup, _ = _system_setup(case.system, case.replication, case.lattice)
    pair = "\n".join(case.pair_lines)
    lines = [
        "# tinynet bench: " + f"{case.system_label}, {case.label}, {case.ranks} rank(s)",
        "units metal",
        "atom_style atomic",
        "boundary p p p",
        setup,
        pair,
        "neighbor 1.0 bin",
        (f"neigh_modify every {neigh_every} delay 0 check no" if neigh_every > 0
         else "neigh_modify every 1 delay 0 check yes"),
        "velocity all create 600.0 4928459 mom yes rot yes dist gaussian loop geom",
        "fix integrate all nve",
    ]
    if case.tether > 0:
        # Same for every style of this system; keeps a random-weight tinynet model a crystal.
        lines.append(f"fix tether all spring/self {case.tether}")
        lines.append("fix_modify tether energy yes")  # in etotal: the NVE check stays valid
    lines += [
        f"timestep {TIMESTEP_PS}",
        "thermo_style custom step temp pe etotal press",
        "thermo 0",
        'print "@BENCH phase warmup"',
        "variable bench_t0 timer",
        "run 1",
        "variable bench_t1 timer",
    ]
    if target_time > 0:
        lines += [
            f"variable bench_nw0 equal round({0.25 * target_time}/(v_bench_t1-v_bench_t0))",
            f"variable bench_nw equal {_clamp_expr('bench_nw0', 1, max(1, min(20, max_steps)))}",
            'print "@BENCH phase calibrate"',
            "run ${bench_nw} pre no post no",
            "variable bench_t2 timer",
            "variable bench_rate equal (v_bench_t2-v_bench_t1)/${bench_nw}",
            f"variable bench_n0 equal round({target_time}/v_bench_rate)",
            f"variable bench_n equal {_clamp_expr('bench_n0', min_steps, max_steps)}",
        ]
    else:
        lines += [f"variable bench_n equal {max_steps}"]
    lines.append('print "@BENCH steps ${bench_n}"')
    for r in range(repeats):
        # first timed run: full set-up (memory line); last: LAMMPS timing breakdown
        opts = ("" if r == 0 else " pre no") + ("" if r == repeats - 1 else " post no")
        lines += [f'print "@BENCH phase timed {r}"', "run ${bench_n}" + opts]
    lines.append('print "@BENCH done"')
    return "\n".join(lines) + "\n"


_LOOP_RE = re.compile(r"Loop time of ([0-9.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms")
_MEM_RE = re.compile(r"Per MPI rank memory allocation \(min/avg/max\) = ([0-9.eE+-]+) \| ([0-9.eE+-]+) \| ([0-9.eE+-]+) Mbytes")
# "Pair    | 0.0199 | 0.0199 | 0.0199 |   0.0 | 99.26" (MPI task timing breakdown, avg time, %total)
_SECTION_RE = re.compile(r"^(Pair|Neigh|Comm|Output|Modify|Other)\s*\|\s*([0-9.eE+-]*)\s*\|\s*([0-9.eE+-]+)\s*\|.*\|\s*([0-9.eE+-]+)\s*$")
_VERSION_RE = re.compile(r"^LAMMPS \((.+)\)\s*$", re.MULTILINE)
# a thermo row of "thermo_style custom step temp pe etotal press"
_THERMO_ROW_RE = re.compile(r"^\d+(\s+[-+0-9.eE]+){4}$")
# NVE check of every run (physics, not speed): a tinynet run whose total
# energy moves more than this is not timing the potential's real dynamics
# (a stale-list bug once heated the bench's crystal to 2000 K unnoticed).
NVE_DRIFT_LIMIT_EV_PER_ATOM = 1e-3


def parse_output(text: str) -> dict:
    """Timed Loop lines, steps, peak declared memory, version, errors, warnings."""
    phase = None
    timed, steps = [], None
    mem = None
    errors, warnings = [], []
    breakdown = {}
    thermo = []  # (step, temp, pe, etotal, press) rows printed in the timed phases
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("@BENCH phase"):
            phase = s.split()[2]
            continue
        if phase == "timed" and _THERMO_ROW_RE.match(s):
            thermo.append(tuple(float(v) for v in s.split()))
            continue
        if s.startswith("@BENCH steps"):
            try:
                steps = int(float(s.split()[2]))
            except (IndexError, ValueError):
                pass
            continue
        if s.startswith("ERROR"):
            errors.append(s)
        elif s.startswith("WARNING"):
            warnings.append(s)
        m = _MEM_RE.search(s)
        if m:
            mem = max(mem or 0.0, float(m.group(3)))
        m = _SECTION_RE.match(s)
        if m and phase == "timed":
            breakdown[m.group(1).lower()] = float(m.group(4))
        m = _LOOP_RE.search(s)
        if m and phase == "timed":
            timed.append({"seconds": float(m.group(1)), "procs": int(m.group(2)),
                          "steps": int(m.group(3)), "atoms": int(m.group(4))})
    v = _VERSION_RE.search(text)
    return {"timed": timed, "steps": steps, "memory_mb": mem, "errors": errors, "warnings": warnings,
            "breakdown_percent": breakdown, "thermo_timed": thermo,
            "lammps_version": v.group(1).strip() if v else None}


# Started by the benchmark with a fresh, small Python: it runs the command and
# records the peak RSS of its descendants (kernel accounting, ru_maxrss of
# waited-for children: mpirun -> proxy -> lmp wrapper -> lmp). A direct child
# of the benchmark process would instead inherit the benchmark's own peak RSS
# (Linux keeps it across fork and exec).
_RSS_HELPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[2:])\n"
    "open(sys.argv[1], 'w').write(f'{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss} {rc}')\n"
    "sys.exit(rc)\n"
)


def _run_process(cmd, cwd, log_path, timeout):
    """Run cmd (own process group), output to log_path.

    Returns (exit code, peak RSS in MB of the largest descendant or None, wall s, timed_out).
    """
    rss_file = Path(str(log_path) + ".maxrss")
    rss_file.unlink(missing_ok=True)
    t0 = time.perf_counter()
    timed_out = False
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-S", "-c", _RSS_HELPER, str(rss_file), *cmd], cwd=cwd,
                                stdout=log, stderr=subprocess.STDOUT, env=_bench_env(), start_new_session=True)
        try:
            proc.wait(timeout=timeout or None)
        except subprocess.TimeoutExpired:
            timed_out = True
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        if timed_out:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    rss, rc = None, proc.returncode
    try:
        kb, rc = rss_file.read_text().split()
        rss, rc = float(kb) / 1024.0, int(rc)  # rc < 0: mpirun killed by signal -rc
    except (OSError, ValueError):
        pass
    return rc, rss, time.perf_counter() - t0, timed_out


def _bench_env():
    env = subprocess_env()
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run_case(case: Case, workdir: Path, args, round_: int = 0) -> Case:
    """One LAMMPS run of `case`. Round 0 calibrates the step count and records
    memory; later rounds (--rounds) repeat the same step count and add their
    timed runs to the case's."""
    name = f"{case.system}_{case.n_atoms}_{case.style}_np{case.ranks}" + (f"_round{round_}" if round_ else "")
    inp = workdir / f"{name}.in"
    log = workdir / f"{name}.log"
    if round_ == 0:
        steps, min_steps, target_time = args.steps, args.min_steps, args.target_time
    else:
        steps, min_steps, target_time = case.steps, case.steps, 0
    inp.write_text(make_input(case, args.repeats, steps, min_steps, target_time, getattr(args, "neigh_every", 0)))
    cmd = [mpirun_executable(), "-np", str(case.ranks), lmp_executable(), "-in", inp.name, "-log", "none"]
    case.load_start = _loadavg()
    rc, rss, wall, timed_out = _run_process(cmd, workdir, log, args.timeout)
    text = log.read_text(errors="replace")
    parsed = parse_output(text)
    if rc < 0 and not timed_out and not parsed["errors"] and not getattr(case, "_retried", False):
        # Killed by a signal from outside (not a LAMMPS error): try once more.
        case._retried = True
        case.retry_reason = f"first attempt killed by signal {-rc}"
        return run_case(case, workdir, args, round_)
    if round_ > 0:
        return _add_round(case, parsed, rc, timed_out, args)
    case.log = str(log)
    case.wall_seconds = round(wall, 2)
    case.rss_mb = round(rss, 1) if rss is not None else None
    case.memory_mb = parsed["memory_mb"]
    case.lammps_version = parsed["lammps_version"]
    case.warnings = parsed["warnings"][:5]
    case.breakdown = parsed["breakdown_percent"]
    _record_nve(case, parsed)
    timed = parsed["timed"]
    if timed_out:
        case.status = f"failed: timed out after {args.timeout:.0f} s"
    elif rc != 0 or parsed["errors"] or len(timed) < args.repeats:
        if parsed["errors"]:
            err = parsed["errors"][0]
        elif rc < 0:
            err = f"killed by signal {-rc} (not a LAMMPS error)"
        else:
            err = "no ERROR line; last output: " + (text.strip().splitlines() or ["none"])[-1].strip()
        if re.search(r"Unrecognized pair style|Unknown pair style|Unrecognized.*style", err):
            case.status = f"unavailable: {err}"
        else:
            case.status = f"failed (exit {rc}): {err}" if rc >= 0 else f"failed: {err}"
    else:
        case.status = "ok"
        case.steps = timed[0]["steps"]
        case.loop_times = [t["seconds"] for t in timed]
    return case


def _add_round(case: Case, parsed: dict, rc: int, timed_out: bool, args) -> Case:
    """A later round's timed runs join the case's; a failure fails the case."""
    timed = parsed["timed"]
    if timed_out or rc != 0 or parsed["errors"] or len(timed) < args.repeats:
        case.status = "failed: a later round did not finish: " + (
            parsed["errors"][0] if parsed["errors"] else f"exit {rc}")
    else:
        case.loop_times += [t["seconds"] for t in timed]
        _record_nve(case, parsed)
    return case


def _record_nve(case: Case, parsed: dict):
    """Total-energy change per atom from the first to the last timed step
    (NVE: it should be ~0), and the temperatures seen; kept over rounds."""
    rows = parsed.get("thermo_timed") or []
    if len(rows) < 2 or not case.n_atoms:
        return
    drift = (rows[-1][3] - rows[0][3]) / case.n_atoms
    if case.energy_drift is None or abs(drift) > abs(case.energy_drift):
        case.energy_drift = drift
    temps = [r[1] for r in rows]
    lo, hi = min(temps), max(temps)
    if case.temperature_range:
        lo, hi = min(lo, case.temperature_range[0]), max(hi, case.temperature_range[1])
    case.temperature_range = (lo, hi)


# --------------------------------------------------------------------------
# planning


def _default_potential(name: str) -> Path:
    here = Path.cwd() / "potentials" / name
    return here if here.exists() else REPO_DIR / "potentials" / name


def _potential_json(path):
    """A potential file's JSON as a dict, or None if it cannot be read."""
    try:
        with open(path) as fh:
            pot = json.load(fh)
    except (OSError, ValueError):
        return None
    return pot if isinstance(pot, dict) else None


def _file_elements(path: Path):
    pot = _potential_json(path)
    return pot.get("elements") if pot else None


def _describe_potential(path: Path) -> str:
    """Short summary of a potential's descriptor and network, for the notes."""
    pot = _potential_json(path)
    if pot is None:
        return "unreadable"
    try:
        from tinynet.blocks import BLOCK_TYPES

        parts = [BLOCK_TYPES[b["type"]].describe(b) for b in pot["descriptor"]["blocks"]]
        model = next(iter(pot["models"].values()))
        hidden = [len(layer["bias"]) for layer in model["layers"][:-1]]
        return "; ".join(parts) + f"; cutoff {pot['cutoff']}; hidden {hidden}"
    except (ValueError, KeyError, TypeError, StopIteration):
        return "unreadable"


def plan_cases(args, workdir: Path) -> tuple[list, list]:
    """All cases to run, and notes (skipped systems, random potentials...)."""
    lp = lammps_potentials_dir()
    notes = []
    cases = []
    random_mode = args.random_tinynet  # None, "missing" or "always"

    def tinynet_potential(system, trained: Path, elements, d1, frames_fn):
        """(path or None, note, reason-if-unavailable)."""
        if random_mode == "always" or (random_mode == "missing" and not trained.exists()):
            path = workdir / f"{system}_random_L4-2.tinynet"
            if not path.exists():
                make_random_potential(path, elements, d1, frames_fn(), seed=args.seed)
            why = "forced" if random_mode == "always" else f"{trained} not found"
            notes.append(f"{system}: tinynet rows use a RANDOM-weight L4(2) potential ({why}); "
                         "its cost equals a trained L4(2) model's, its physics is meaningless.")
            return path, "random L4(2)", None
        if not trained.exists():
            return None, "", f"{trained} not found (train one, or use --random-tinynet)"
        have = _file_elements(trained)
        if have is None:
            return None, "", f"{trained} is not a readable tinynet file"
        missing = [e for e in elements if e not in have]
        if missing:
            return None, "", f"{trained} has no model for {', '.join(missing)}"
        notes.append(f"{system}: tinynet = {trained} ({_describe_potential(trained)})")
        return trained, "", None

    def tether_for(random_used):
        if args.tether == "auto":
            return DEFAULT_TETHER if random_used else 0.0
        return float(args.tether)

    ranks = sorted(set(args.ranks))
    sizes = [int(round(n * args.atoms_scale)) for n in args.si_atoms]
    if args.large and int(round(32000 * args.atoms_scale)) not in sizes:
        sizes.append(int(round(32000 * args.atoms_scale)))

    if "si" in args.systems:
        si_path, si_note, si_reason = (None, "", None)
        if any(s.startswith("tinynet") for s in args.styles):
            # absolute: LAMMPS runs in the work directory
            trained = Path(args.si_potential).resolve() if args.si_potential else _default_potential("Si.tinynet")
            si_path, si_note, si_reason = tinynet_potential("si", trained, ["Si"], SI_D1, si_frames)
        si_tether = tether_for(bool(si_note))
        if si_tether:
            notes.append(f"si: every style runs with 'fix spring/self {si_tether}' (tether; same input for all)")
        for n in sizes:
            rep = choose_replication(n, 8)
            n_atoms = 8 * rep[0] * rep[1] * rep[2]
            label = f"Si diamond {n_atoms}"
            styles = list(args.styles)
            if args.memory_baseline and "zero" not in styles:
                styles.append("zero")
            for style in styles:
                for r in ranks:
                    c = Case("si", label, style, r, n_atoms, rep, tether=si_tether)
                    if style in ("tinynet", "tinynet-noextrap"):
                        c.note = si_note
                        c.unavailable = si_reason
                        if si_path:
                            c.potential = str(si_path)
                            extra = " extrapolation ignore" if style == "tinynet-noextrap" else ""
                            c.pair_lines = [f"pair_style tinynet{extra}", f"pair_coeff * * {si_path} Si"]
                    elif style == "sw":
                        c.pair_lines = ["pair_style sw", f"pair_coeff * * {lp / 'Si.sw'} Si"]
                    elif style == "tersoff":
                        c.pair_lines = ["pair_style tersoff", f"pair_coeff * * {lp / 'Si.tersoff'} Si"]
                    elif style in ("snap", "snap-quadratic"):
                        stem = "Si_Zuo_JPCA2020" + (".quadratic" if style == "snap-quadratic" else "")
                        # what the shipped include file <stem>.snap says, with full paths
                        c.pair_lines = ["pair_style snap",
                                        f"pair_coeff * * {lp / (stem + '.snapcoeff')} {lp / (stem + '.snapparam')} Si"]
                    elif style == "mliap-nn":
                        # Si.nn.mliap.descriptor holds SO3 parameters (rcutfac, nmax, lmax, alpha)
                        c.pair_lines = [f"pair_style mliap model nn {lp / 'Si.nn.mliap.model'} "
                                        f"descriptor so3 {lp / 'Si.nn.mliap.descriptor'}",
                                        "pair_coeff * * Si"]
                    elif style == "zero":
                        c.pair_lines = ["pair_style zero 4.0", "pair_coeff * *"]
                    else:
                        c.unavailable = f"unknown style {style!r}"
                    for f in re.findall(r"(/\S+)", " ".join(c.pair_lines)):
                        if not Path(f).exists() and c.unavailable is None:
                            c.unavailable = f"file {f} not found"
                    need = MEMORY_MB_PER_ATOM.get(style, 0.0) * n_atoms
                    avail = _mem_available_mb()
                    if need and avail and need > 0.8 * avail and c.unavailable is None:
                        c.unavailable = (f"needs ~{need / 1024:.1f} GB of memory, "
                                         f"{avail / 1024:.1f} GB available")
                    cases.append(c)

    if "srtio3" in args.systems:
        styles = [s for s in args.styles if s in SRTIO3_STYLES]
        if args.memory_baseline:
            styles.append("zero")
        rep = choose_replication(args.srtio3_atoms * args.atoms_scale, 5)
        n_atoms = 5 * rep[0] * rep[1] * rep[2]
        label = f"SrTiO3 {n_atoms}"
        trained = (Path(args.srtio3_potential).resolve() if args.srtio3_potential
                   else _default_potential("SrTiO3.tinynet"))
        path, note, reason = (None, "", None)
        if any(s.startswith("tinynet") for s in styles):
            path, note, reason = tinynet_potential("srtio3", trained, ["Sr", "Ti", "O"], SRTIO3_D1, srtio3_frames)
        st_tether = tether_for(bool(note))
        if st_tether and not reason:
            notes.append(f"srtio3: every style runs with 'fix spring/self {st_tether}' (tether; same input for all)")
        if reason:
            notes.append(f"SrTiO3 skipped: {reason}")
            styles = []
        for style in styles:
            for r in ranks:
                c = Case("srtio3", label, style, r, n_atoms, rep, tether=st_tether)
                if style == "zero":
                    c.pair_lines = ["pair_style zero 4.0", "pair_coeff * *"]
                else:
                    c.note = note
                    c.potential = str(path)
                    extra = " extrapolation ignore" if style == "tinynet-noextrap" else ""
                    c.pair_lines = [f"pair_style tinynet{extra}", f"pair_coeff * * {path} Sr Ti O"]
                cases.append(c)
    return cases, notes


# --------------------------------------------------------------------------
# results


def _find(cases, system_label, style, ranks):
    for c in cases:
        if c.system_label == system_label and c.style == style and c.ranks == ranks and c.ok:
            return c
    return None


def _tersoff_ref(cases, c):
    """Tersoff on the same system and ranks; for SrTiO3, Si Tersoff of the nearest size."""
    ref = _find(cases, c.system_label, "tersoff", c.ranks)
    if ref or c.system == "si":
        return ref
    si = [x for x in cases if x.system == "si" and x.style == "tersoff" and x.ranks == c.ranks and x.ok]
    return min(si, key=lambda x: abs(x.n_atoms - c.n_atoms)) if si else None


def derive(cases) -> list:
    """Rows with the measured numbers and every ratio, computed from those numbers."""
    rows = []
    for c in cases:
        row = {
            "system": c.system_label,
            "atoms": c.n_atoms,
            "style": c.style,
            "label": c.label,
            "ranks": c.ranks,
            "status": c.status,
            "potential": c.potential,
            "pair_lines": c.pair_lines,
            "tether_ev_per_a2": c.tether,
        }
        if c.ok:
            ref = _tersoff_ref(cases, c)
            base = _find(cases, c.system_label, "zero", c.ranks)
            one = _find(cases, c.system_label, c.style, 1)
            row.update({
                "steps": c.steps,
                "loop_times_s": c.loop_times,
                "us_per_atom_step": [round(x, 6) for x in c.us_per_atom_step],
                "us_per_atom_step_min": c.us_min,
                "us_per_atom_step_median": c.us_median,
                "ns_per_day": c.ns_per_day,
                "memory_mb_per_rank": c.memory_mb,
                "max_rss_mb": c.rss_mb,
                "rss_above_baseline_mb": (round(c.rss_mb - base.rss_mb, 1)
                                          if base and c.rss_mb and base.rss_mb and c.style != "zero" else None),
                "wall_seconds": c.wall_seconds,
                "tersoff_reference": (f"{ref.system_label}, {ref.ranks} rank(s)" if ref else None),
                "time_vs_tersoff": (c.us_median / ref.us_median if ref else None),
                "memory_vs_tersoff": (c.memory_mb / ref.memory_mb if ref and c.memory_mb and ref.memory_mb else None),
                "rss_vs_tersoff": (c.rss_mb / ref.rss_mb if ref and ref.rss_mb and c.rss_mb else None),
                "speedup_vs_1_rank": (one.us_median / c.us_median if one and c.ranks > 1 else None),
                "timing_breakdown_percent": c.breakdown,
                "loadavg_at_start": c.load_start,
                "retry": c.retry_reason,
                "warnings": c.warnings,
                "nve_energy_drift_ev_per_atom": c.energy_drift,
                "temperature_range_k": c.temperature_range,
            })
            if (base and ref and c.style != "zero" and ref.system_label == c.system_label
                    and None not in (c.rss_mb, ref.rss_mb, base.rss_mb)):
                dc, dr = c.rss_mb - base.rss_mb, ref.rss_mb - base.rss_mb
                row["rss_above_baseline_vs_tersoff"] = dc / dr if dr > 1.0 else None
            if c.style == "tinynet":
                ign = _find(cases, c.system_label, "tinynet-noextrap", c.ranks)
                if ign:
                    row["extrapolation_overhead"] = c.us_median / ign.us_median - 1.0
        rows.append(row)
    return rows


def _moments_n_max(path):
    """n_max of a potential file's moments block (None: no such block or unreadable)."""
    pot = _potential_json(path)
    try:
        blocks = pot["descriptor"]["blocks"]
        return max((blk["n_max"] for blk in blocks if blk.get("type") == "moments"), default=None)
    except (KeyError, TypeError, AttributeError):
        return None


LARGE_SI_ATOMS = 64000  # the issue's size for the 2-rank and memory targets


def targets(rows) -> list:
    """Issue 9's targets, checked against the measured rows (PASS/FAIL), and
    the NVE check of every tinynet run."""
    out = []
    ok = [r for r in rows if r["status"] == "ok"]
    tinynet = [r for r in ok if r["style"] == "tinynet" and r["atoms"]]
    si = [r for r in tinynet if r["system"].startswith("Si")]
    for r in si:
        v = r.get("time_vs_tersoff")
        if v is None or r["ranks"] != 1:
            continue
        n_max = _moments_n_max(r["potential"]) if r.get("potential") else None
        fast = n_max is not None and n_max <= 4
        limit, preset = (1.5, "fast preset") if fast else (4.0, "accurate preset")
        out.append((f"time/atom-step <= {limit:g}x tersoff, {preset} ({r['system']}, 1 rank)",
                    f"{v:.2f}x", "PASS" if v <= limit else "FAIL"))
    for r in tinynet:
        v = r.get("time_vs_tersoff")
        if r["system"].startswith("SrTiO3") and r["ranks"] == 1 and v is not None:
            out.append((f"time/atom-step <= 3x Si tersoff ({r['system']}, 1 rank)",
                        f"{v:.2f}x", "PASS" if v <= 3.0 else "FAIL"))
    big = max((r["atoms"] for r in si), default=None)
    note = "" if big is None or big >= LARGE_SI_ATOMS else f" (the target is for {LARGE_SI_ATOMS} atoms)"
    for r in si:
        if r["atoms"] == big and r.get("speedup_vs_1_rank") is not None:
            v = r["speedup_vs_1_rank"]
            out.append((f"{r['ranks']}-rank speed-up >= 1.8 ({r['system']}){note}", f"{v:.2f}",
                        "PASS" if v >= 1.8 else "FAIL"))
    for r in si:
        if r["atoms"] != big:
            continue
        # (the table's RSS-above-baseline ratio is not one of them: Tersoff's own
        # share over the pair_style zero run is a few MB, so that ratio measures
        # little but the size of that share)
        for key, what in (("memory_vs_tersoff", "LAMMPS"), ("rss_vs_tersoff", "peak RSS")):
            v = r.get(key)
            if v is not None:
                out.append((f"memory/rank ({what}) <= 2x tersoff ({r['system']}, {r['ranks']} rank(s)){note}",
                            f"{v:.2f}x", "PASS" if v <= 2 else "FAIL"))
    for r in ok:
        if r["style"] == "tinynet" and r.get("extrapolation_overhead") is not None:
            v = r["extrapolation_overhead"]
            out.append((f"extrapolation counters cost <= 10% ({r['system']}, {r['ranks']} rank(s))",
                        f"{100 * v:+.1f}%", "PASS" if v <= 0.10 else "FAIL"))
    for r in tinynet:
        v = r.get("nve_energy_drift_ev_per_atom")
        if v is not None:
            out.append((f"NVE: total energy drift <= {1e3 * NVE_DRIFT_LIMIT_EV_PER_ATOM:g} meV/atom "
                        f"({r['system']}, {r['ranks']} rank(s))", f"{1e3 * v:+.3f}",
                        "PASS" if abs(v) <= NVE_DRIFT_LIMIT_EV_PER_ATOM else "FAIL"))
    return out


def _f(x, fmt):
    return "-" if x is None else format(x, fmt)


def format_table(rows, notes=(), target_rows=()) -> str:
    head = ["system", "style", "np", "steps", "us/atom/step min", "median", "ns/day", "x tersoff",
            "speed-up", "MB/rank", "RSS MB", "RSS-base", "mem x ters.", "RSS x ters.", "pair/neigh/comm %"]
    body = []
    for r in rows:
        if r["status"] != "ok":
            body.append([r["system"], r["label"], str(r["ranks"]), r["status"]])
            continue
        body.append([
            r["system"], r["label"], str(r["ranks"]), str(r["steps"]),
            _f(r["us_per_atom_step_min"], ".3f"), _f(r["us_per_atom_step_median"], ".3f"),
            _f(r["ns_per_day"], ".3g"), _f(r["time_vs_tersoff"], ".2f"),
            _f(r["speedup_vs_1_rank"], ".2f"), _f(r["memory_mb_per_rank"], ".3g"),
            _f(r["max_rss_mb"], ".0f"), _f(r["rss_above_baseline_mb"], ".0f"),
            _f(r["memory_vs_tersoff"], ".2f"), _f(r["rss_vs_tersoff"], ".2f"),
            "/".join(_f(r["timing_breakdown_percent"].get(k), ".0f") for k in ("pair", "neigh", "comm")),
        ])
    full = [b for b in body if len(b) == len(head)]
    widths = [max(len(h), *(len(b[i]) for b in full)) if full else len(h) for i, h in enumerate(head)]
    widths[0] = max(widths[0], *(len(b[0]) for b in body)) if body else widths[0]
    widths[1] = max(widths[1], *(len(b[1]) for b in body)) if body else widths[1]

    def line(cells):
        out = []
        for i, cell in enumerate(cells):
            if i == len(cells) - 1 and len(cells) < len(head):
                out.append(cell)
            else:
                out.append(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]))
        return "  ".join(out).rstrip()

    text = [line(head), "  ".join("-" * w for w in widths)]
    text += [line(b) for b in body]
    legend = ("us/atom/step: wall time per atom and MD step of the timed runs (LAMMPS 'Loop time', set-up "
              "excluded), min and median over repeats; ns/day at 1 fs; x tersoff: median time ratio to "
              "Tersoff on the same system and rank count (SrTiO3: to Si Tersoff); speed-up: 1-rank time / "
              "this time; MB/rank: LAMMPS 'Per MPI rank memory' (max); RSS MB: peak resident memory of the "
              "largest process (kernel peak RSS); RSS-base: RSS minus that of the pair_style zero run; "
              "mem x ters. and RSS x ters.: MB/rank and RSS MB over Tersoff's; pair/neigh/comm %: "
              "LAMMPS timing breakdown of the last timed run.")
    text += ["", legend]
    if target_rows:
        text += ["", "Targets (issue 9) and the NVE check:"]
        w = max(len(t[0]) for t in target_rows)
        text += [f"  {t[0].ljust(w)}  {t[1]:>8}  {t[2]}" for t in target_rows]
    if notes:
        text += ["", "Notes:"] + [f"  - {n}" for n in notes]
    return "\n".join(text)


# --------------------------------------------------------------------------
# descriptor cost study (part 2)


def _time_call(fn, repeats):
    fn()  # warm-up (allocations, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def angular_block_variants(quick=False):
    """(label, block) for the cost table: each block type at typical settings."""
    rb, rc = 3.06, 4.35
    centres = [round(0.75 * SI_D1 + i * (rc - 0.75 * SI_D1) / 8, 4) for i in range(8)]
    walk = {"bond_cutoff": rb, "r0": SI_D1, "decay_lengths": [0.5, 1.0]}
    variants = [
        ("moments s n4", {"type": "moments", "n_max": 4, **walk}),
        ("moments sp n4", {"type": "moments", "orbitals": "sp", "n_max": 4, **walk}),
        ("simple_cycles n6", {"type": "simple_cycles", "n_max": 6, **walk}),
        ("radial 8", {"type": "radial", "cutoff": rc, "centers": centres, "alpha": 0.8}),
        ("eann L2 8", {"type": "eann", "cutoff": rc, "centers": centres, "alpha": 0.8, "l_max": 2}),
        ("bessel n4 l4", {"type": "bessel", "cutoff": rc, "n_max": 4, "l_max": 4}),
    ]
    if not quick:
        variants += [
            ("moments sp n6", {"type": "moments", "orbitals": "sp", "n_max": 6, **walk}),
            ("eann L3 8", {"type": "eann", "cutoff": rc, "centers": centres, "alpha": 0.8, "l_max": 3}),
            ("bessel n6 l6 5.5A", {"type": "bessel", "cutoff": 5.5, "n_max": 6, "l_max": 6}),
        ]
    return variants


def descriptor_study(cells=5, repeats=5, rattle=0.05, workdir=None, quick=False, log=print) -> dict:
    """Cost per atom of descriptor blocks through the C++ core (no LAMMPS).

    Structure: diamond Si, `cells`^3 conventional cells, rattled. For each
    descriptor variant it times, on the same graph:
      fwd        Descriptor.compute(..., jacobian=False)      features only
      fwd+bwd    Potential.evaluate with a 1-node network     descriptor + its reverse sweep (forces)
      total      Potential.evaluate with the 16x32 network    what pair_style tinynet does per step
      network    total - fwd+bwd                              16x32 network, forward + backward
    Variants: moments vs n_max = 2..8 (2 decay channels), moments vs bond
    cutoff (neighbour count), radial vs cutoff, the L4(2)/L6(4) presets, and
    every block type alone (angular_block_variants).
    Graph construction (Python neighbour lists) is not timed.
    """
    import numpy as np
    from ase.build import bulk
    from ase.neighborlist import neighbor_list

    from tinynet import _core
    from tinynet.descriptors import build_graph, core_descriptor, species_indices
    from tinynet.potential_file import random_potential, write_potential
    from tinynet.presets import make_preset

    own_dir = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="tinynet_desc_")) if own_dir else Path(workdir)
    atoms = bulk("Si", "diamond", SI_LATTICE, cubic=True).repeat(cells)
    atoms.rattle(rattle, seed=0)
    n = len(atoms)
    elements = ["Si"]
    species = species_indices(atoms, elements)

    def neighbours(r):
        return len(neighbor_list("i", atoms, r)) / n

    def measure(kind, param, descriptor):
        desc = core_descriptor(descriptor, elements)
        graph, owner = build_graph(atoms, species, desc.cutoff, desc.bond_cutoff)
        t_fwd = _time_call(lambda: desc.compute(graph, owner, n, False), repeats)
        times = {}
        for tag, hidden in (("tiny", (1,)), ("full", (16, 32))):
            path = workdir / f"desc_{kind}_{param}_{tag}.tinynet"
            write_potential(path, random_potential(elements, descriptor, hidden=hidden, seed=0))
            pot = _core.Potential(str(path))
            times[tag] = _time_call(lambda: pot.evaluate(graph, n), repeats)
        us = 1e6 / n
        row = {
            "study": kind, "param": param, "descriptor": descriptor, "n_features": desc.n_features,
            "cutoff": desc.cutoff, "bond_cutoff": desc.bond_cutoff,
            "bonds_per_atom": neighbours(desc.bond_cutoff) if desc.bond_cutoff > 0 else 0.0,
            "neighbours_per_atom": neighbours(desc.cutoff),
            "graph_nodes_per_atom": len(owner) / n,
            "fwd_us": t_fwd[0] * us, "fwd_us_median": t_fwd[1] * us,
            "fwd_bwd_us": times["tiny"][0] * us, "total_us": times["full"][0] * us,
        }
        row["bwd_us"] = row["fwd_bwd_us"] - row["fwd_us"]
        row["network_us"] = row["total_us"] - row["fwd_bwd_us"]
        log(f"  {kind:<16} {str(param):>8}  F={row['n_features']:3d}  bonds/atom={row['bonds_per_atom']:5.1f}  "
            f"nbrs/atom={row['neighbours_per_atom']:6.1f}  fwd={row['fwd_us']:8.3f}  fwd+bwd={row['fwd_bwd_us']:8.3f}  "
            f"total={row['total_us']:8.3f} us/atom")
        return row

    rows = []
    decay = [0.5, 1.0]
    n_values = (2, 4, 6) if quick else range(2, 9)
    for n_max in n_values:
        rows.append(measure("moments_n_max", n_max, {"blocks": [
            {"type": "moments", "n_max": n_max, "bond_cutoff": 3.06, "r0": SI_D1, "decay_lengths": decay}]}))
    for rb in ((2.7, 4.1) if quick else (2.7, 3.06, 4.1, 4.8)):
        rows.append(measure("moments_bond_cut", rb, {"blocks": [
            {"type": "moments", "n_max": 4, "bond_cutoff": rb, "r0": SI_D1, "decay_lengths": decay}]}))
    for rc in ((3.0, 4.35) if quick else (3.0, 4.35, 5.5, 6.5, 8.0)):
        centres = [round(0.75 * SI_D1 + i * (rc - 0.75 * SI_D1) / 8, 4) for i in range(8)]
        rows.append(measure("radial_cutoff", rc, {"blocks": [
            {"type": "radial", "cutoff": rc, "centers": centres, "alpha": 0.8}]}))
    for preset in (("L4(2)",) if quick else ("L4(2)", "L6(4)")):
        rows.append(measure("preset", preset, make_preset(preset, SI_D1)))
    # Every block type alone, at settings comparable to the presets' (same
    # bond cutoff for the walks, the L4(2) radial range for neighbour sums).
    for name, block in angular_block_variants(quick):
        rows.append(measure("block", name, {"blocks": [block]}))
    if own_dir:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"atoms": n, "structure": f"diamond Si {cells}^3 cells, a={SI_LATTICE}, rattle {rattle} A",
            "repeats": repeats, "rows": rows}


def format_descriptor_table(study) -> str:
    head = ["study", "param", "F", "bonds/at", "nbrs/at", "nodes/at", "fwd", "bwd", "fwd+bwd", "network", "total"]
    body = []
    for r in study["rows"]:
        body.append([r["study"], str(r["param"]), str(r["n_features"]), f"{r['bonds_per_atom']:.1f}",
                     f"{r['neighbours_per_atom']:.1f}", f"{r['graph_nodes_per_atom']:.2f}",
                     f"{r['fwd_us']:.3f}", f"{r['bwd_us']:.3f}", f"{r['fwd_bwd_us']:.3f}",
                     f"{r['network_us']:.3f}", f"{r['total_us']:.3f}"])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(widths[i]) if i < 2 else h.rjust(widths[i]) for i, h in enumerate(head)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(b)) for b in body]
    lines += ["", f"Times in us per atom (min of {study['repeats']}), {study['structure']}, {study['atoms']} atoms, "
              "C++ core called from Python, 1 thread. fwd: features; bwd: reverse sweep to forces "
              "(fwd+bwd - fwd); network: 16x32 network forward+backward (total - fwd+bwd). "
              "bonds/at: neighbours within the bond cutoff; nbrs/at: within the descriptor cutoff; "
              "nodes/at: graph nodes (atoms + periodic images) per atom."]
    return "\n".join(lines)


# --------------------------------------------------------------------------
# command line


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    g = parser.add_argument_group("what to run")
    g.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS),
                   help="systems (default: si srtio3)")
    g.add_argument("--styles", nargs="+", choices=ALL_STYLES + ("zero",), default=list(DEFAULT_STYLES),
                   metavar="STYLE",
                   help="pair styles: " + " ".join(ALL_STYLES) + " (default: all; SrTiO3 runs the tinynet ones)")
    g.add_argument("--ranks", nargs="+", type=int, default=[1, 2], help="MPI rank counts (default: 1 2)")
    g.add_argument("--si-atoms", nargs="+", type=int, default=[8000], metavar="N",
                   help="Si system sizes in atoms (default: 8000)")
    g.add_argument("--large", action="store_true", help="also run Si with 32 000 atoms")
    g.add_argument("--srtio3-atoms", type=int, default=5000, help="SrTiO3 size in atoms (default: 5000)")
    g.add_argument("--atoms-scale", type=float, default=1.0,
                   help="multiply every system size by this (e.g. 0.05 for a quick check)")
    g.add_argument("--no-memory-baseline", dest="memory_baseline", action="store_false",
                   help="skip the pair_style zero runs used for the RSS-above-baseline column")
    g = parser.add_argument_group("timing")
    g.add_argument("--repeats", type=int, default=3, help="timed runs per case and round (default: 3)")
    g.add_argument("--rounds", type=int, default=1,
                   help="run the whole list of cases this many times, interleaved, the later rounds with the "
                        "first round's step counts; medians over every round's timed runs (default: 1)")
    g.add_argument("--steps", type=int, default=200, help="maximum MD steps per timed run (default: 200)")
    g.add_argument("--min-steps", type=int, default=3, help="minimum MD steps per timed run (default: 3)")
    g.add_argument("--target-time", type=float, default=2.0,
                   help="aim for this many seconds per timed run, between --min-steps and --steps; "
                        "0 = always --steps (default: 2)")
    g.add_argument("--neigh-every", type=int, default=0, metavar="N",
                   help="rebuild neighbour lists every N steps unconditionally (check no), to include their "
                        "cost as in a liquid or hot solid; default 0: rebuild only when an atom moved half "
                        "the 1 A skin (in a 300 K crystal that is rarely)")
    g.add_argument("--timeout", type=float, default=900.0, help="kill one LAMMPS run after this many s")
    g = parser.add_argument_group("potentials")
    g.add_argument("--si-potential", help="tinynet Si potential (default: potentials/Si.tinynet)")
    g.add_argument("--srtio3-potential", help="tinynet SrTiO3 potential (default: potentials/SrTiO3.tinynet)")
    g.add_argument("--random-tinynet", nargs="?", const="missing", choices=("missing", "always"),
                   help="benchmark a random-weight L4(2) potential (same cost as a trained one) where the "
                        "trained file is missing, or 'always'")
    g.add_argument("--seed", type=int, default=0, help="seed of the random potentials")
    g.add_argument("--tether", default="auto", metavar="K",
                   help="add 'fix spring/self K' (eV/A^2) to every run of a system; 'auto' (default): "
                        f"K={DEFAULT_TETHER} where that system's tinynet model is random, else none")
    g = parser.add_argument_group("output")
    g.add_argument("--json", metavar="FILE", help="write results and machine info as JSON")
    g.add_argument("--workdir", help="keep inputs, logs and random potentials here (default: temporary)")
    g.add_argument("--descriptors", action="store_true",
                   help="run the descriptor cost study (C++ core, no LAMMPS) instead of the MD benchmark")
    g.add_argument("--desc-cells", type=int, default=5, help="descriptor study: diamond cells per side (default 5)")
    g.add_argument("--desc-quick", action="store_true", help="descriptor study: fewer variants")
    return parser


def _check_args(args):
    if args.repeats < 1 or args.rounds < 1:
        raise SystemExit("tinynet bench: --repeats and --rounds must be >= 1")
    if args.steps < 1 or args.min_steps < 1 or args.min_steps > args.steps:
        raise SystemExit("tinynet bench: need 1 <= --min-steps <= --steps")
    if any(r < 1 for r in args.ranks):
        raise SystemExit("tinynet bench: --ranks must be >= 1")
    if args.tether != "auto":
        try:
            if float(args.tether) < 0:
                raise ValueError
        except ValueError:
            raise SystemExit("tinynet bench: --tether must be 'auto' or a number >= 0") from None
    if args.neigh_every < 0:
        raise SystemExit("tinynet bench: --neigh-every must be >= 0")
    if args.atoms_scale <= 0:
        raise SystemExit("tinynet bench: --atoms-scale must be > 0")


def _write_json(path, payload):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        json.dump(payload, fh, indent=1, default=str)
        fh.write("\n")


def run(args) -> int:
    """Run the benchmark selected by `args` (from add_arguments); returns an exit status."""
    _check_args(args)
    t_start = time.perf_counter()
    info = machine_info()
    own_dir = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="tinynet_bench_")) if own_dir else Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if args.descriptors:
            print(f"tinynet bench --descriptors on {info['cpu_model']} ({info['nproc']} cpus)", flush=True)
            study = descriptor_study(cells=args.desc_cells, repeats=max(3, args.repeats), workdir=workdir,
                                     quick=args.desc_quick, log=lambda s: print(s, flush=True))
            print()
            print(format_descriptor_table(study))
            info["elapsed_seconds"] = round(time.perf_counter() - t_start, 1)
            info["loadavg_end"] = _loadavg()
            if args.json:
                _write_json(args.json, {"kind": "tinynet-descriptor-bench", "machine": info, "study": study})
                print(f"\nwrote {args.json}")
            return 0

        cases, notes = plan_cases(args, workdir)
        runnable = [c for c in cases if c.unavailable is None]
        print(f"tinynet bench: {len(runnable)} LAMMPS runs on {info['cpu_model']} ({info['nproc']} cpus, "
              f"{100 * (info['cpu_busy_start'] or 0):.0f}% busy, load {info['loadavg_start']}); "
              f"work dir {workdir}", flush=True)
        for c in cases:
            if c.unavailable is not None:
                c.status = f"unavailable: {c.unavailable}"
        # Rounds interleave the styles: a slow spell of a shared machine hits
        # every style's timings instead of one style's.
        for round_ in range(args.rounds):
            if args.rounds > 1:
                print(f" round {round_ + 1} of {args.rounds}", flush=True)
            for c in cases:
                if not (c.ok or c.status == "pending"):
                    continue
                print(f"  {c.system_label:<18} {c.label:<36} np={c.ranks} ...", end=" ", flush=True)
                run_case(c, workdir, args, round_)
                if c.ok:
                    print(f"{c.us_median:.3f} us/atom/step ({c.steps} steps x {len(c.loop_times)}, "
                          f"{c.wall_seconds:.0f} s)", flush=True)
                else:
                    print(c.status, flush=True)
        versions = {c.lammps_version for c in cases if c.lammps_version}
        info["lammps_version"] = ", ".join(sorted(versions)) or None
        info["elapsed_seconds"] = round(time.perf_counter() - t_start, 1)
        info["loadavg_end"] = _loadavg()
        rows = derive(cases)
        target_rows = targets(rows)
        busy = info["cpu_busy_start"]
        if busy is not None and busy > 0.2:
            notes.append(f"machine was {100 * busy:.0f}% busy just before the start; timings may be inflated")
        for c in cases:
            if c.retry_reason:
                notes.append(f"{c.system_label} {c.label} np={c.ranks}: {c.retry_reason}, ran again")
        notes.append(f"total time {info['elapsed_seconds']:.0f} s; LAMMPS {info['lammps_version']}; "
                     f"git {info['git_commit']}")
        print()
        print(format_table(rows, notes, target_rows))
        if args.json:
            settings = {k: getattr(args, k) for k in (
                "systems", "styles", "ranks", "si_atoms", "large", "srtio3_atoms", "atoms_scale", "repeats", "rounds",
                "steps", "min_steps", "target_time", "random_tinynet", "seed", "tether", "neigh_every")}
            _write_json(args.json, {
                "kind": "tinynet-md-bench", "machine": info, "settings": settings,
                "md": {"timestep_fs": TIMESTEP_PS * 1000, "ensemble": "NVE",
                       "velocity": "create 600 K (about 300 K after equipartition)",
                       "neighbor": ("1.0 bin, " + (f"every {args.neigh_every} delay 0 check no" if args.neigh_every
                                                   else "every 1 delay 0 check yes"))},
                "rows": rows,
                "targets": [{"target": t[0], "value": t[1], "result": t[2]} for t in target_rows],
                "notes": notes,
            })
            print(f"\nwrote {args.json}")
        failed = [c for c in cases if c.status.startswith("failed")]
        return 1 if failed else 0
    finally:
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="tinynet bench", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
