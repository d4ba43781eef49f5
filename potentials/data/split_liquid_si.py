"""Split the labelled liquid-Si frames into train and test files by a fixed
seed (issue 13):

    .venv/bin/python potentials/data/split_liquid_si.py liquid_labelled.extxyz \
        potentials/data/si-ldos-liquid-train.extxyz potentials/data/si-ldos-liquid-test.extxyz
"""

import argparse

import ase.io
import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("labelled")
    p.add_argument("train")
    p.add_argument("test")
    p.add_argument("--test-fraction", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=2026)
    a = p.parse_args()
    frames = ase.io.read(a.labelled, ":")
    n_test = max(1, int(round(a.test_fraction * len(frames))))
    test = set(np.random.default_rng(a.seed).permutation(len(frames))[:n_test].tolist())
    for k, f in enumerate(frames):
        f.info["liquid_frame"] = k
    ase.io.write(a.train, [f for k, f in enumerate(frames) if k not in test], format="extxyz")
    ase.io.write(a.test, [f for k, f in enumerate(frames) if k in test], format="extxyz")
    print(f"{len(frames)} frames: {len(frames) - n_test} -> {a.train}, {n_test} (frames {sorted(test)}) -> {a.test}")


if __name__ == "__main__":
    main()
