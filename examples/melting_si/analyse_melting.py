"""Melting temperature on heating, from the melt_<model>.dat files of in.melt.

The crystal-to-liquid collapse is the largest drop of volume per atom between
consecutive 1 ps blocks; the reported temperature is the mean temperature of
the block before it, with the volume and energy change across the
transition (the mean of 5 blocks before vs 5 after).

    python analyse_melting.py melt_sw.dat melt_tinynet.dat
"""

import sys

import numpy as np


def melting(path):
    data = np.loadtxt(path, comments="#")
    temp, vol, pe = data[:, 1], data[:, 2], data[:, 3]
    k = int(np.argmin(np.diff(vol)))          # block k -> k+1 has the largest drop
    before, after = slice(max(0, k - 4), k + 1), slice(k + 1, k + 6)
    return {"T_melt": temp[k], "v_solid": vol[before].mean(), "v_liquid": vol[after].mean(),
            "dE": pe[after].mean() - pe[before].mean(), "dV_rel": vol[after].mean() / vol[before].mean() - 1}


def main(paths):
    print(f"{'file':24s} {'T_melt (K)':>10s} {'V_solid':>8s} {'V_liquid':>8s} {'dV/V':>7s} {'dE (eV/atom)':>12s}")
    for path in paths:
        m = melting(path)
        print(f"{path:24s} {m['T_melt']:10.0f} {m['v_solid']:8.3f} {m['v_liquid']:8.3f} "
              f"{100 * m['dV_rel']:6.1f}% {m['dE']:12.3f}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["melt_sw.dat", "melt_tinynet.dat"])
