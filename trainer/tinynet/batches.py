"""Training arrays: structures grouped into batches, with bounded memory.

The heavy part of a batch is the per-pair Jacobian of the features (pairs x
features x 3) and, for structures with a stress label, the per-atom strain
Jacobian (atoms x features x 9).  It is

* built one batch at a time (descriptors of that batch's structures only, so
  the C++ core's float64 output never exists for the whole set),
* kept in the training dtype (float32 by default), raw (not divided by the
  feature spread: the model applies 1/std to dE/dG, so the Jacobian can be
  stored before the feature statistics of the whole set are known),
* held in memory when it is small, otherwise written to a per-rank cache file
  in the output folder and read back batch by batch every epoch.

Everything else a batch needs (normalised features, labels, index arrays) is
small and stays in memory.  Under MPI each rank builds only its share of
every batch; the global counts that normalise the loss are the same on all
ranks, so the summed gradient equals the single-process one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

EV_A3_TO_GPA = 160.21766208

# batch_size 0 ("auto"): full batch up to this many atoms in the fitting split,
# otherwise batches of about AUTO_BATCH_ATOMS atoms.
AUTO_FULL_BATCH_ATOMS = 30_000
AUTO_BATCH_ATOMS = 4_000
# Jacobians up to this size (per process) stay in memory; larger ones go to disk.
IN_MEMORY_BYTES = 2 << 30
HEAVY_KEYS = ("jac", "s_jac")


def partition(n_atoms_per_struct, batch_size, seed):
    """Fixed groups of structure indices (each sorted); the order of the groups
    is shuffled per epoch by the trainer.  batch_size 0 = automatic."""
    n = len(n_atoms_per_struct)
    if batch_size == 0:
        total = int(np.sum(n_atoms_per_struct))
        if total <= AUTO_FULL_BATCH_ATOMS:
            batch_size = n
        else:
            batch_size = max(1, int(round(AUTO_BATCH_ATOMS * n / total)))
    if batch_size >= n:
        return [list(range(n))]
    perm = np.random.default_rng(seed).permutation(n)
    return [sorted(perm[k:k + batch_size].tolist()) for k in range(0, n, batch_size)]


def composition_matrix(frames, elements):
    index = {e: k for k, e in enumerate(elements)}
    comp = np.zeros((len(frames), len(elements)))
    for s, f in enumerate(frames):
        for sym in f.atoms.get_chemical_symbols():
            comp[s, index[sym]] += 1
    return comp


def global_norms(frames, use_stress):
    """Loss denominators of a whole batch: structures, force components, stress components."""
    n_stress = sum(1 for f in frames if f.stress is not None) if use_stress else 0
    return np.array([len(frames), 3 * sum(f.n_atoms for f in frames), 9 * n_stress], np.float64)


def make_raw_batch(frames, descs, elements, e0, use_stress, dtype=np.float32, n_feat=None):
    """A batch of structures, atoms sorted by element.

    Returns (arrays, heavy, features): small arrays; the heavy Jacobians (raw,
    in `dtype`); the raw features (float64, same atom order) from which the
    normalised inputs "x" are made once the feature statistics are known.
    """
    n_el = len(elements)
    if n_feat is None:
        n_feat = descs[0]["features"].shape[1]
    n_per = np.array([len(d["species"]) for d in descs], dtype=np.int64)
    off = np.concatenate([[0], np.cumsum(n_per)[:-1]]).astype(np.int64)
    n = int(n_per.sum())
    cat = (lambda key, shape: np.concatenate([d[key] for d in descs]) if descs else np.zeros(shape))
    sp = cat("species", (0,)).astype(np.int64)
    g = cat("features", (0, n_feat))
    struct = np.repeat(np.arange(len(descs)), n_per)
    order = np.argsort(sp, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    pc = np.concatenate([d["pair_center"] + o for d, o in zip(descs, off)]).astype(np.int64) if descs else np.zeros(0, np.int64)
    pa = np.concatenate([d["pair_atom"] + o for d, o in zip(descs, off)]).astype(np.int64) if descs else np.zeros(0, np.int64)
    jac = np.concatenate([d["dG_dr"].astype(dtype) for d in descs]) if descs else np.zeros((0, n_feat, 3), dtype)
    forces = np.concatenate([f.forces for f in frames])[order] if frames else np.zeros((0, 3))
    comp = composition_matrix(frames, elements)
    arrays = {
        "species": sp[order].astype(np.int32),
        "counts": np.bincount(sp, minlength=n_el).astype(np.int32),
        "struct": struct[order].astype(np.int32),
        "n_struct": np.int32(len(frames)),
        "n_atoms_struct": n_per.astype(np.float64),
        # energies relative to the composition reference, formed in float64
        "energy": np.array([f.energy for f in frames], dtype=np.float64) - comp @ e0,
        "forces": forces,
        "pair_center": rank[pc].astype(np.int32),
        "pair_atom": rank[pa].astype(np.int32),
    }
    stressed = [k for k, f in enumerate(frames) if f.stress is not None] if use_stress else []
    if stressed:
        sel = np.concatenate([np.arange(off[k], off[k] + n_per[k]) for k in stressed])
        seg = np.concatenate([np.full(n_per[k], j) for j, k in enumerate(stressed)])
        s_jac = np.concatenate([descs[k]["dG_dstrain"].astype(dtype) for k in stressed]).reshape(len(sel), n_feat, 9)
        arrays["s_atom"] = rank[sel].astype(np.int32)
        arrays["s_seg"] = seg.astype(np.int32)
        arrays["s_ref"] = np.stack([frames[k].stress.reshape(9) for k in stressed]) * EV_A3_TO_GPA
        arrays["s_invvol"] = np.array([1.0 / frames[k].atoms.get_volume() for k in stressed])
    else:
        s_jac = np.zeros((0, n_feat, 9), dtype)
        arrays["s_atom"] = np.zeros(0, np.int32)
        arrays["s_seg"] = np.zeros(0, np.int32)
        arrays["s_ref"] = np.zeros((0, 9))
        arrays["s_invvol"] = np.zeros(0)
    arrays["n_stress"] = np.int32(len(stressed))
    return arrays, {"jac": jac, "s_jac": s_jac}, g[order]


def normalised_inputs(features, species, stats):
    mean = np.stack([s["mean"] for s in stats])
    std = np.stack([s["std"] for s in stats])
    return (features - mean[species]) / std[species]


# --------------------------------------------------------------------------
# where the Jacobians live

class MemoryStore:
    """Jacobians as TensorFlow constants, converted once."""

    kind = "memory"

    def __init__(self):
        self.items = {}

    def put(self, key, heavy, to_tensor):
        self.items[key] = {k: to_tensor(a) for k, a in heavy.items()}

    def get(self, key, to_tensor):
        return self.items[key]

    def close(self):
        self.items.clear()


class DiskStore:
    """Jacobians appended to one cache file per rank, read back batch by batch.

    The file is a temporary file of the output folder (``.tmp-<output>.jacobians-r<rank>-*``):
    removed when training ends, and as a stale temporary by the next run after a kill.
    """

    kind = "disk"

    def __init__(self, output, rank):
        import tempfile

        directory = os.path.dirname(os.path.abspath(output))
        fd, self.path = tempfile.mkstemp(prefix=f".tmp-{os.path.basename(output)}.jacobians-r{rank}-",
                                         dir=directory)
        self.fh = os.fdopen(fd, "w+b")
        self.index = {}
        self.bytes = 0

    def put(self, key, heavy, to_tensor):
        entry = {}
        for name, a in heavy.items():
            a = np.ascontiguousarray(a)
            entry[name] = (self.fh.tell(), a.dtype, a.shape)
            a.tofile(self.fh)
            self.bytes += a.nbytes
        self.index[key] = entry
        self.fh.flush()

    def get(self, key, to_tensor):
        out = {}
        for name, (offset, dtype, shape) in self.index[key].items():
            self.fh.seek(offset)
            a = np.fromfile(self.fh, dtype=dtype, count=int(np.prod(shape))).reshape(shape)
            out[name] = to_tensor(a)
        return out

    def close(self):
        if self.fh is not None:
            self.fh.close()
            self.fh = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


# --------------------------------------------------------------------------
# a set of batches

@dataclass
class BatchSet:
    """Batches of one split (fitting or validation): per batch, the global
    structure indices (into the split), the ones this rank holds, the small
    arrays (as tensors) and the Jacobians in `store`."""

    groups: list                    # global structure indices per batch
    local: list                     # this rank's structure indices per batch
    small: list = field(default_factory=list)
    store: object = None

    def __len__(self):
        return len(self.groups)

    def batch(self, k, to_tensor):
        return {**self.small[k], **self.store.get(k, to_tensor)}


# --------------------------------------------------------------------------
# memory estimate

@dataclass
class MemoryEstimate:
    pairs_per_atom: float
    store_bytes: int          # all of this rank's Jacobians
    step_bytes: int           # working set of the largest batch step
    build_bytes: int          # descriptor output while building the largest batch
    resident_bytes: int       # features, inputs, frames
    store_kind: str = "memory"

    @property
    def peak_growth(self):
        kept = self.store_bytes if self.store_kind == "memory" else 0
        return kept + self.resident_bytes + max(self.step_bytes, self.build_bytes)


def estimate_memory(sample_descs, n_feat, local_atoms, local_stress_atoms, largest_batch_atoms,
                    largest_batch_stress_atoms, total_atoms, itemsize):
    """Bytes this rank will add, from the pairs per atom of a sample of structures.

    A step holds the batch's Jacobian (and, streamed from disk, the buffer it
    was read into); building a batch holds the core's float64 output twice
    for a moment (C++ buffer and NumPy array) and its copy in the training dtype.
    """
    pairs = sum(len(d["pair_center"]) for d in sample_descs)
    atoms = sum(len(d["species"]) for d in sample_descs)
    ppa = pairs / max(atoms, 1)
    per_atom_jac = ppa * n_feat * 3
    store = itemsize * (per_atom_jac * local_atoms + n_feat * 9 * local_stress_atoms)
    batch_heavy = itemsize * (per_atom_jac * largest_batch_atoms + n_feat * 9 * largest_batch_stress_atoms)
    step = 2 * batch_heavy
    build = (2 * 8 + itemsize) * (per_atom_jac + n_feat * 9) * largest_batch_atoms
    resident = total_atoms * n_feat * 8 + local_atoms * n_feat * (8 + itemsize) + total_atoms * 200
    return MemoryEstimate(ppa, int(store), int(step), int(build), int(resident))
