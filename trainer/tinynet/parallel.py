"""The trainer's view of MPI: one communicator object, serial when not under mpirun.

``mpirun -np N tinynet train ...`` gives every rank its own share of the
structures; what the ranks must agree on (feature statistics, gradients, error
sums) goes through the few collective operations below.  mpi4py is imported
only when the process was started by an MPI launcher with more than one rank,
so a plain ``tinynet train`` never initialises MPI.
"""

from __future__ import annotations

import os

import numpy as np

# Environment variables through which launchers announce the number of ranks
# (MPICH/Hydra and Intel MPI: PMI_SIZE; Open MPI: OMPI_COMM_WORLD_SIZE; Slurm: PMI/PMIX).
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_SIZE")


def launched_with_mpi() -> bool:
    for name in _SIZE_VARIABLES:
        try:
            if int(os.environ.get(name, "1")) > 1:
                return True
        except ValueError:
            pass
    return False


class SerialComm:
    """One process: every collective is the identity."""

    rank = 0
    size = 1
    local_size = 1

    def allreduce_sum(self, array):
        return np.asarray(array)

    def allreduce_max(self, value):
        return value

    def allgather(self, obj):
        return [obj]

    def bcast(self, obj):
        return obj

    def barrier(self):
        pass


class MPIComm:
    """COMM_WORLD through mpi4py.  Sums of float arrays use MPI_SUM on contiguous
    float64 buffers, so every rank receives the same bits (one reduction)."""

    def __init__(self):
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        # ranks sharing this node's memory (for the memory check and thread counts)
        self.local_size = self.comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()

    def allreduce_sum(self, array):
        a = np.ascontiguousarray(array, dtype=np.float64)
        out = np.empty_like(a)
        self.comm.Allreduce(a, out, op=self.MPI.SUM)
        return out

    def allreduce_max(self, value):
        return self.comm.allreduce(value, op=self.MPI.MAX)

    def allgather(self, obj):
        return self.comm.allgather(obj)

    def bcast(self, obj):
        return self.comm.bcast(obj, root=0)

    def barrier(self):
        self.comm.Barrier()


_COMM = None


def world():
    """The communicator of this process (MPI under a multi-rank launch, else serial)."""
    global _COMM
    if _COMM is None:
        _COMM = MPIComm() if launched_with_mpi() else SerialComm()
    return _COMM


def share(n_items, weights, size):
    """Split items 0..n_items-1 over `size` ranks: greedy by weight (e.g. atoms),
    heaviest first, ties to the lowest rank; each rank's list sorted.
    Deterministic, so every rank computes the same assignment."""
    order = sorted(range(n_items), key=lambda i: (-weights[i], i))
    load = [0.0] * size
    parts = [[] for _ in range(size)]
    for i in order:
        r = min(range(size), key=lambda k: (load[k], k))
        parts[r].append(i)
        load[r] += weights[i]
    return [sorted(p) for p in parts]
