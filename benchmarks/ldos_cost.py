"""Cost of `compute tinynet/ldos` relative to one force evaluation.

One LAMMPS process runs MD of diamond Si with `pair_style tinynet` and an
LDOS model evaluated every step (through `fix ave/atom`, so its time lands in
LAMMPS' "Modify" row), alternating with runs without it; the cost of one LDOS
call is the extra Modify time per step over the Pair time per step of the
same runs. Medians of the interleaved repeats are printed.

    .venv/bin/python benchmarks/ldos_cost.py [--ldos potentials/Si-ldos.tinynet]
        [--potential potentials/Si.tinynet] [--cells 4] [--steps 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "trainer"))

from tinynet.lammps_support import lmp_executable, subprocess_env  # noqa: E402

INPUT = """
units metal
atom_style atomic
boundary p p p
lattice diamond 5.431
region box block 0 {cells} 0 {cells} 0 {cells}
create_box 1 box
create_atoms 1 box
mass 1 28.0855
displace_atoms all random 0.05 0.05 0.05 4711
pair_style tinynet
pair_coeff * * {potential} Si
compute ldos all tinynet/ldos {ldos} Si
velocity all create 600 4928 mom yes rot yes
fix nve all nve
thermo_style custom step pe
run 2
"""

REPEAT = """
print "BENCH without"
run {steps}
fix avg all ave/time 1 1 1 c_ldos mode vector
print "BENCH with"
run {steps}
unfix avg
"""

ROW = re.compile(r"^(Pair|Modify)\s*\|\s*[\d.eE+-]+\s*\|\s*([\d.eE+-]+)\s*\|")


def parse(log: str, steps: int):
    """{label: [(pair s/step, modify s/step), ...]} from the timing rows after each BENCH label."""
    out, label, rows = {}, None, {}
    for line in log.splitlines():
        if line.startswith("BENCH "):
            label, rows = line.split()[1], {}
            continue
        m = ROW.match(line)
        if label and m:
            rows[m.group(1)] = float(m.group(2)) / steps
            if len(rows) == 2:
                out.setdefault(label, []).append((rows["Pair"], rows["Modify"]))
                label = None
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ldos", default=str(REPO / "potentials/Si-ldos.tinynet"))
    p.add_argument("--potential", default=str(REPO / "potentials/Si.tinynet"))
    p.add_argument("--cells", type=int, default=4)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    script = INPUT.format(cells=args.cells, potential=Path(args.potential).resolve(),
                          ldos=Path(args.ldos).resolve())
    script += REPEAT.format(steps=args.steps) * args.repeats
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "in.ldos_cost").write_text(script)
        proc = subprocess.run([lmp_executable(), "-in", "in.ldos_cost", "-log", "none"], cwd=tmp,
                              capture_output=True, text=True, env=subprocess_env())
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        return 1
    runs = parse(proc.stdout, args.steps)
    pair = statistics.median(r[0] for r in runs["with"] + runs["without"])
    extra = statistics.median(w[1] - wo[1] for w, wo in zip(runs["with"], runs["without"]))
    atoms = 8 * args.cells**3
    print(f"{atoms} atoms, {args.repeats} interleaved repeats of {args.steps} steps")
    print(f"force evaluation (Pair): {pair / atoms * 1e6:.2f} us/atom")
    print(f"LDOS call (extra Modify): {extra / atoms * 1e6:.2f} us/atom")
    print(f"LDOS call / force evaluation: {extra / pair:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
