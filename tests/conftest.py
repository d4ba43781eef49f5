"""Shared fixtures: descriptor specs and reproducible random-weight potentials.

Physics tests use random (but seeded) networks: they test the machinery
(descriptor, forces, virial, MPI), not a fit, so they need no training.
"""

from __future__ import annotations

import os

# Before NumPy loads: the dense references do many small matrix-vector
# products, which multi-threaded BLAS makes ~100x slower on a busy machine.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # numpy_reference

# Two channels, odd n_max (odd cycles and same-shell bonds), radial block.
DESCRIPTOR_SIGE = {
    "blocks": [
        {"type": "moments", "n_max": 5, "bond_cutoff": 3.0, "r0": 0.5, "decay_lengths": [1.0, 2.0]},
        {"type": "radial", "cutoff": 4.5, "centers": [2.0, 2.5, 3.0, 3.5, 4.0], "alpha": 0.8},
    ]
}

# An L4(2)-like spec for speed-relevant runs.
DESCRIPTOR_SI_COMPACT = {
    "blocks": [
        {"type": "moments", "n_max": 4, "bond_cutoff": 2.9, "r0": 0.0, "decay_lengths": [1.0, 0.5]},
        {"type": "radial", "cutoff": 4.2, "centers": [2.2, 2.7, 3.2, 3.7], "alpha": 2.0},
    ]
}


def write_random_potential(path, elements, descriptor, seed=0, **kwargs):
    from tinynet.potential_file import random_potential, write_potential

    write_potential(path, random_potential(elements, descriptor, seed=seed, **kwargs))
    return Path(path)


@pytest.fixture(scope="session")
def sige_potential(tmp_path_factory):
    """A Si/Ge potential with random weights, on DESCRIPTOR_SIGE."""
    path = tmp_path_factory.mktemp("potentials") / "SiGe_random.tinynet"
    return write_random_potential(path, ["Si", "Ge"], DESCRIPTOR_SIGE, seed=1)


def gentle_potential(elements, descriptor, frames, seed=0, output_scale=0.05):
    """Random weights, but normalised on real environments (like a trained model)
    and with a small output layer, so MD at 300 K stays a warm crystal."""
    import numpy as np

    from tinynet.descriptors import compute
    from tinynet.potential_file import random_potential

    pot = random_potential(elements, descriptor, seed=seed)
    features = np.concatenate([compute(a, descriptor, elements, jacobian=False)["features"] for a in frames])
    for model in pot["models"].values():
        model["feature_mean"] = features.mean(axis=0).tolist()
        # Floor the spread: a feature (nearly) constant on these frames, such
        # as a 3-cycle moment in diamond, must not get a huge gain.
        floor = np.maximum(0.1 * np.abs(features.mean(axis=0)), 1e-3)
        model["feature_std"] = np.maximum(features.std(axis=0), floor).tolist()
        last = model["layers"][-1]
        last["weights"] = (np.array(last["weights"]) * output_scale).tolist()
    return pot


@pytest.fixture(scope="session")
def si_potential(tmp_path_factory):
    """Si potential with random weights, gentle enough for NVE tests."""
    from ase.build import bulk

    from tinynet.potential_file import write_potential

    frames = []
    for k in range(4):
        atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat(2)
        atoms.rattle(0.1, seed=k)
        frames.append(atoms)
    path = tmp_path_factory.mktemp("potentials") / "Si_random.tinynet"
    write_potential(path, gentle_potential(["Si"], DESCRIPTOR_SI_COMPACT, frames, seed=2))
    return path
