"""Training stage 4b: L-BFGS refinement of the Adam fit (optional).

Adam's steps keep a fixed size relative to the gradient noise, so near the
minimum they rattle around it; on a small, smooth fitting problem (a few
hundred structures, full batch) a quasi-Newton method converges far further in
the same time. MTP trains with BFGS for this reason. This stage starts from the
best Adam weights and runs SciPy's L-BFGS-B on the whole fitting set's loss
(the sum over this rank's batches, summed over ranks; every rank runs the same
optimiser on the same numbers, so they stay in step without talking about x).
Validation loss is checked after every iteration and the best weights kept,
as in the Adam stage.

Resume: the checkpoint written during this stage holds the current and best
weights and the iterations done; a resumed run continues L-BFGS from there
with an empty curvature memory (so it is not bit-identical to a run that was
never interrupted, unlike the Adam stage).
"""

from __future__ import annotations

import math
import time

import numpy as np


class FlatModel:
    """The model's weights as one float64 vector, and the fitting set's loss
    and gradient as a function of it (summed over batches and ranks)."""

    def __init__(self, model, fit_set, to_tensor, comm):
        self.model = model
        self.fit_set = fit_set
        self.to_tensor = to_tensor
        self.comm = comm
        self.shapes = [tuple(v.shape) for v in model.flat]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.last_sums = np.zeros(6)

    def get(self):
        return np.concatenate([v.numpy().astype(np.float64).ravel() for v in self.model.flat])

    def set(self, x):
        k = 0
        for v, shape, n in zip(self.model.flat, self.shapes, self.sizes):
            v.assign(x[k:k + n].reshape(shape).astype(self.model.np_dtype))
            k += n

    def loss_and_gradient(self, x):
        self.set(x)
        total = np.zeros(sum(self.sizes) + 1 + 6)
        for k in range(len(self.fit_set)):
            loss, sums, grads = self.model.gradients(self.fit_set.batch(k, self.to_tensor))
            total += np.concatenate([g.ravel() for g in grads] + [[loss], sums])
        if self.comm.size > 1:
            total = self.comm.allreduce_sum(total)
        n = sum(self.sizes)
        self.last_sums = total[n + 1:]
        loss = total[n]
        if not math.isfinite(loss) or not np.all(np.isfinite(total[:n])):
            # L-BFGS-B backs off from an infinite value; a NaN would end it
            return float("inf"), np.zeros(n)
        return float(loss), total[:n]


def refine(model, fit_set, to_tensor, validate, iterations, max_seconds, comm, on_iteration):
    """Up to ``iterations`` L-BFGS iterations or ``max_seconds``.

    Starts from the model's current weights. ``validate()`` returns the
    validation error sums of the current weights (or None);
    ``on_iteration(i, fit_sums, val_sums)`` is called after every iteration
    (history, best weights, checkpoints) and returns True to stop (a signal).
    Returns (iterations done, stop reason)."""
    from scipy.optimize import minimize

    flat = FlatModel(model, fit_set, to_tensor, comm)
    x0 = flat.get()
    t0 = time.time()
    done = [0, "converged"]

    def callback(intermediate_result):
        flat.set(intermediate_result.x)
        done[0] += 1
        stop = on_iteration(done[0], flat.last_sums.copy(), validate())
        # the ranks must agree on stopping: time and signals are per rank
        flags = np.array([float(stop), float(time.time() - t0 > max_seconds)])
        flags = comm.allreduce_sum(flags) if comm.size > 1 else flags
        if flags[0]:
            done[1] = "interrupted"
            raise StopIteration
        if flags[1]:
            done[1] = "time limit"
            raise StopIteration

    if iterations > 0 and max_seconds > 0:
        res = minimize(flat.loss_and_gradient, x0, jac=True, method="L-BFGS-B", callback=callback,
                       options={"maxiter": iterations, "maxcor": 30, "ftol": 0.0, "gtol": 0.0,
                                "maxfun": 4 * iterations})
        if done[1] == "converged" and res.nit >= iterations:
            done[1] = "iterations"
    return done[0], done[1]
