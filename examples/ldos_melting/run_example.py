"""Run in.ldos_melt with pair_style tinynet and sw, then plot the DOS at the
Fermi level against temperature and the total DOS of the crystal and the melt.

    .venv/bin/python examples/ldos_melting/run_example.py [--steps 30000] [--ranks 2] [--pairs sw tinynet]
"""

import argparse
import subprocess
from pathlib import Path

import numpy as np

from tinynet.lammps_support import lammps_potentials_dir, lmp_executable, mpirun_executable, subprocess_env
from tinynet.ldos_file import energy_grid, read_ldos_model

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def read_fermi(path):
    """step, temperature, volume/atom, DOS(E_F)/atom."""
    return np.loadtxt(path, comments="#")


def read_total(path):
    """{step: total DOS vector} from a fix ave/time mode vector file."""
    out, lines = {}, [l for l in Path(path).read_text().splitlines() if not l.startswith("#")]
    k = 0
    while k < len(lines):
        step, n = map(int, lines[k].split()[:2])
        out[step] = np.array([float(l.split()[1]) for l in lines[k + 1:k + 1 + n]])
        k += 1 + n
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=30000)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--plot-only", action="store_true", help="reuse the dos_*.dat files of an earlier run")
    p.add_argument("--pairs", nargs="+", default=["sw"], help="sw and/or tinynet (potentials/Si.tinynet)")
    a = p.parse_args()
    model = read_ldos_model(REPO / "potentials" / "Si-ldos.tinynet")
    egrid = energy_grid(model["ldos"])
    fermi_col = int(np.argmin(np.abs(egrid))) + 1
    natoms = 8 * 27
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for pair in a.pairs:
        cmd = [mpirun_executable(), "-np", str(a.ranks), lmp_executable(), "-in", "in.ldos_melt", "-log",
               f"log.{pair}", "-screen", "none", "-var", "pair", pair, "-var", "steps", str(a.steps),
               "-var", "fermi", str(fermi_col), "-var", "sw_file", str(lammps_potentials_dir() / "Si.sw")]
        if not a.plot_only:
            subprocess.run(cmd, cwd=HERE, env=subprocess_env(), check=True)
        f = read_fermi(HERE / f"dos_fermi_{pair}.dat")
        ax1.plot(f[:, 1], f[:, 3], "o-", ms=3, label=f"pair_style {pair}")
        total = read_total(HERE / f"dos_total_{pair}.dat")
        steps = sorted(total)
        for step, style in ((steps[0], "-"), (steps[-1], "--")):
            T = f[np.argmin(np.abs(f[:, 0] - step)), 1]
            ax2.plot(egrid, total[step] / natoms, style, label=f"{pair}, step {step} ({T:.0f} K)")
        print(f"pair_style {pair}: temperature bin, volume (A^3/atom), total DOS at E_F (states/eV/atom)")
        for lo in range(0, 4000, 250):
            sel = (f[:, 1] >= lo) & (f[:, 1] < lo + 250)
            if sel.any():
                print(f"  {lo:4d}-{lo + 250:4d} K  {f[sel, 2].mean():8.2f}  {f[sel, 3].mean():.4f}  ({sel.sum()} samples)")
    ax1.set_xlabel("temperature (K)")
    ax1.set_ylabel("total DOS at E_F (states/eV/atom)")
    ax1.set_title("DOS at the Fermi level while heating")
    ax1.legend()
    ax2.axvline(0, color="grey", lw=0.5)
    ax2.set_xlabel("E - E_F (eV)")
    ax2.set_ylabel("DOS (states/eV/atom)")
    ax2.set_title("crystal (start) and melt (end)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "dos_vs_temperature.png", dpi=100)
    print(f"wrote {HERE / 'dos_vs_temperature.png'}")


if __name__ == "__main__":
    main()
