"""Fitting tinynet potentials with TensorFlow.

The network is the only thing TensorFlow sees.  Descriptors and their
Jacobians come from :mod:`tinynet.descriptors` (the C++ core, the same code
LAMMPS runs), computed once per structure and kept per batch
(:mod:`tinynet.batches`: float32, in memory or streamed from a cache file):

    E_s   = sum_{i in s} scale * NN_t(x_i) + e0_t,      x_i = (G_i - mean_t) / std_t
            (the graph sees E_s - sum e0, formed in float64)
    F_j   = -scale * sum_{p: atom(p)=j} dNN/dG[center(p)] . dG_dr[p]
    sig_s = (scale / V_s) sum_{i in s} dNN/dG_i . dG_dstrain_i   (ASE sign)

dNN/dx is computed analytically inside the graph (tanh MLP back-propagation)
and divided by std_t to give dNN/dG, so the weight gradient of the force loss
is an ordinary first-order gradient.  Per-structure sums are segment sums;
there is no Python loop over structures inside a step.  Optimiser: Adam
(written out here, so that its state is checkpointed exactly).  Learning rate:
halving every ``lr_decay_epochs`` epochs, evaluated per step, with a linear
warm-up over the first epoch when an epoch has several batches.

A run is a sequence of named stages (:func:`train`): settings, load and
split the data, choose the descriptor, build the training arrays, fit,
export, write the outputs.  Under ``mpirun -np N`` every rank runs the same
stages on its share of the structures (:mod:`tinynet.parallel`); gradients
and error sums are summed over ranks, and rank 0 alone writes files.
"""

from __future__ import annotations

import datetime
import glob
import json
import math
import os
import signal
import time
from dataclasses import dataclass, field

import numpy as np

from tinynet import atomic, batches as batching, core_repulsion, memory, parallel
from tinynet.batches import EV_A3_TO_GPA, composition_matrix  # noqa: F401  (re-exported)
from tinynet.bond_lengths import pair_distance_shells
from tinynet.data import DataError, load_files, split_indices
from tinynet.potential_file import STD_RELATIVE_FLOOR, descriptor_cutoff, n_features
from tinynet.presets import ConfigError, make_preset, validate_config  # noqa: F401

CHECKPOINT_VERSION = 1

# TensorFlow's C++ warnings (e.g. grappler's "Not handling type DT_DOUBLE") are noise here.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def package_version() -> str:
    try:
        import tinynet

        return str(getattr(tinynet, "__version__", "0.1.0"))
    except Exception:
        return "0.1.0"


# --------------------------------------------------------------------------
# descriptors and data arrays

def compute_descriptors_for(frames, descriptor, elements, jacobian=True, progress=False, label="descriptors"):
    """Run the descriptor core on every frame; element problems become DataError."""
    from tinynet.descriptors import compute as compute_descriptors

    it = frames
    if progress:
        from tqdm import tqdm

        it = tqdm(frames, desc=label, unit="struct", leave=False)
    out = []
    for f in it:
        try:
            out.append(compute_descriptors(f.atoms, descriptor, elements, jacobian=jacobian))
        except ValueError as exc:
            raise DataError(f"{f.where}: {exc}") from exc
    return out


def fit_e0(frames, elements):
    """Per-element reference energies: least squares of total energies on composition."""
    comp = composition_matrix(frames, elements)
    energies = np.array([f.energy for f in frames])
    e0, *_ = np.linalg.lstsq(comp, energies, rcond=None)
    return e0


def feature_stats(descs, n_elements, n_feat):
    """Per element: mean, std (1 where below the file format's relative floor), min, max of raw features."""
    stats = []
    for t in range(n_elements):
        rows = [d["features"][d["species"] == t] for d in descs]
        g = np.concatenate(rows) if rows else np.zeros((0, n_feat))
        if len(g) == 0:
            z = np.zeros(n_feat)
            stats.append({"mean": z, "std": np.ones(n_feat), "min": z, "max": z, "n": 0})
            continue
        std = g.std(axis=0)
        # below the file format's floor (potential_file.STD_RELATIVE_FLOOR) a
        # feature counts as constant: gain 1 instead of a huge one
        std = np.where(std >= STD_RELATIVE_FLOOR * np.maximum(1.0, np.abs(g.mean(axis=0))), std, 1.0)
        stats.append({"mean": g.mean(axis=0), "std": std, "min": g.min(axis=0),
                      "max": g.max(axis=0), "n": len(g)})
    return stats


def make_batch(frames, descs, elements, stats, e0, use_stress, dtype=np.float64):
    """All arrays of one batch in one dict (small sets, tests): normalised
    inputs, labels, raw Jacobians, and the loss denominators of the batch."""
    arrays, heavy, features = batching.make_raw_batch(frames, descs, elements, e0, use_stress, dtype)
    arrays["x"] = batching.normalised_inputs(features, arrays["species"], stats)
    arrays["norm"] = batching.global_norms(frames, use_stress)
    return {**arrays, **heavy}


# --------------------------------------------------------------------------
# the model

def init_params(n_el, n_feat, hidden, seed, out_bias=0.0):
    """Glorot-uniform weights from a seeded NumPy generator: [[W1, b1, ..., Wout, bout] per element]."""
    rng = np.random.default_rng(seed)
    sizes = [n_feat] + list(hidden) + [1]
    params = []
    for _ in range(n_el):
        p = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            lim = math.sqrt(6.0 / (a + b))
            p.append(rng.uniform(-lim, lim, size=(a, b)))
            p.append(np.zeros(b))
        p[-1] = np.full(1, out_bias)
        params.append(p)
    return params


def loss_from_sums(sums, weights):
    """The loss of a whole split from its summed squared errors and counts."""
    se, ne, sf, nf, ss, ns = sums
    return (weights[0] * se / max(ne, 1) + weights[1] * sf / max(nf, 1) + weights[2] * ss / max(ns, 1))


class Model:
    """TF variables, Adam state and compiled step/evaluation functions.

    ``inv_std`` (per element, 1/feature std) turns dNN/dx into dNN/dG, so that
    batches carry raw Jacobians; None when the Jacobians are already divided.
    """

    # batch entries the graph does not read
    _HOST_ONLY = ("species",)

    def __init__(self, params, n_el, scale, weights, dtype="float64", inv_std=None):
        import tensorflow as tf

        self.tf = tf
        self.dtype = tf.float64 if dtype == "float64" else tf.float32
        self.np_dtype = np.float64 if dtype == "float64" else np.float32
        self.n_el = n_el
        self.scale = float(scale)
        self.w_e, self.w_f, self.w_s = (float(w) for w in weights)
        self.vars = [[tf.Variable(np.asarray(a, self.np_dtype)) for a in p] for p in params]
        self.flat = [v for p in self.vars for v in p]
        self.m = [tf.Variable(tf.zeros_like(v)) for v in self.flat]
        self.v = [tf.Variable(tf.zeros_like(v)) for v in self.flat]
        self.t = tf.Variable(0.0, dtype=tf.float64)
        self.inv_std = (None if inv_std is None else
                        [tf.constant(np.asarray(s, self.np_dtype)) for s in inv_std])
        self._step = self._eval = self._grads_fn = self._apply_fn = self._pred = None

    # ---- state
    def get_params(self):
        return [[v.numpy().astype(np.float64) for v in p] for p in self.vars]

    def set_params(self, params):
        for p, q in zip(self.vars, params):
            for v, a in zip(p, q):
                v.assign(np.asarray(a, self.np_dtype))

    def get_state(self):
        return {"m": [a.numpy() for a in self.m], "v": [a.numpy() for a in self.v], "t": float(self.t.numpy())}

    def set_state(self, state):
        for var, a in zip(self.m, state["m"]):
            var.assign(a)
        for var, a in zip(self.v, state["v"]):
            var.assign(a)
        self.t.assign(state["t"])

    def to_tensor(self, a):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            return self.tf.constant(a.astype(self.np_dtype, copy=False))
        return self.tf.constant(a)

    def to_tensors(self, batch):
        return {k: self.to_tensor(a) for k, a in batch.items() if k not in self._HOST_ONLY}

    # ---- graph pieces
    def _mlp(self, x, p):
        tf = self.tf
        acts = []
        a = x
        n_hidden = len(p) // 2 - 1
        for k in range(n_hidden):
            a = tf.tanh(tf.matmul(a, p[2 * k]) + p[2 * k + 1])
            acts.append(a)
        w_out = p[-2]
        out = tf.matmul(a, w_out)[:, 0] + p[-1][0]
        d = tf.zeros_like(a) + tf.transpose(w_out)          # d out / d a_last
        for k in reversed(range(n_hidden)):
            d = d * (1.0 - acts[k] * acts[k])               # d out / d z_k
            d = tf.matmul(d, p[2 * k], transpose_b=True)    # d out / d a_(k-1)
        return out, d

    def _predict(self, b):
        tf = self.tf
        xs = tf.split(b["x"], b["counts"], num=self.n_el)
        outs, grads = [], []
        for t in range(self.n_el):
            o, g = self._mlp(xs[t], self.vars[t])
            outs.append(o)
            grads.append(g if self.inv_std is None else g * self.inv_std[t])
        out = tf.concat(outs, 0)
        g = tf.concat(grads, 0)
        n_atoms = tf.shape(b["x"])[0]
        energy = self.scale * tf.math.unsorted_segment_sum(out, b["struct"], b["n_struct"])
        # per pair dE/dG . dG/dr as a batched (1 x F) @ (F x 3) product: no pairs x F x 3 temporary
        gp = tf.gather(g, b["pair_center"])
        fp = tf.matmul(gp[:, None, :], b["jac"])[:, 0, :]
        forces = -self.scale * tf.math.unsorted_segment_sum(fp, b["pair_atom"], n_atoms)
        gs = tf.gather(g, b["s_atom"])
        sp = tf.matmul(gs[:, None, :], b["s_jac"])[:, 0, :]
        stress = tf.math.unsorted_segment_sum(sp, b["s_seg"], b["n_stress"])
        stress = stress * (self.scale * EV_A3_TO_GPA) * b["s_invvol"][:, None]
        return energy, forces, stress

    def _sums(self, b):
        """Loss of this rank's part of a batch, normalised by the whole batch's
        counts (b["norm"]), so that the ranks' gradients add up to the batch's."""
        tf = self.tf
        energy, forces, stress = self._predict(b)
        de = (energy - b["energy"]) / b["n_atoms_struct"]
        se = tf.reduce_sum(de * de)
        df = forces - b["forces"]
        sf = tf.reduce_sum(df * df)
        ds = stress - b["s_ref"]
        ss = tf.reduce_sum(ds * ds)
        ne = tf.cast(b["n_struct"], se.dtype)
        nf = tf.cast(tf.size(b["forces"]), se.dtype)
        ns = tf.cast(tf.size(b["s_ref"]), se.dtype)
        one = tf.constant(1.0, se.dtype)
        norm = b["norm"]
        loss = (self.w_e * se / tf.maximum(norm[0], one) + self.w_f * sf / tf.maximum(norm[1], one)
                + self.w_s * ss / tf.maximum(norm[2], one))
        return loss, tf.stack([se, ne, sf, nf, ss, ns])

    def _evaluate(self, b):
        return self._sums(b)

    def _adam(self, grads, lr):
        tf = self.tf
        self.t.assign_add(1.0)
        t = tf.cast(self.t, self.dtype)
        b1, b2, eps = 0.9, 0.999, 1e-8
        lr = tf.cast(lr, self.dtype)
        corr = lr * tf.sqrt(1.0 - tf.pow(tf.constant(b2, self.dtype), t)) / (1.0 - tf.pow(tf.constant(b1, self.dtype), t))
        for var, gr, m, v in zip(self.flat, grads, self.m, self.v):
            m.assign(b1 * m + (1.0 - b1) * gr)
            v.assign(b2 * v + (1.0 - b2) * gr * gr)
            var.assign_sub(corr * m / (tf.sqrt(v) + eps))

    def _gradients(self, b):
        tf = self.tf
        with tf.GradientTape() as tape:
            loss, sums = self._sums(b)
        return loss, sums, tape.gradient(loss, self.flat)

    def _train_step(self, b, lr):
        loss, sums, grads = self._gradients(b)
        self._adam(grads, lr)
        return loss, sums

    def _compile(self, batch):
        """One trace for every batch: leading dimensions are unknown. (Shape-specialised
        traces could round differently, and a resumed run must repeat the original exactly.)"""
        tf = self.tf
        spec = {k: tf.TensorSpec([None] * min(len(v.shape), 1) + list(v.shape[1:]), v.dtype)
                for k, v in batch.items()}
        lr_spec = tf.TensorSpec([], tf.float64)
        self._step = tf.function(self._train_step, input_signature=[spec, lr_spec])
        self._eval = tf.function(self._evaluate, input_signature=[spec])
        self._grads_fn = tf.function(self._gradients, input_signature=[spec])
        self._pred = tf.function(self._predict, input_signature=[spec])
        gspec = [tf.TensorSpec(v.shape, v.dtype) for v in self.flat]
        self._apply_fn = tf.function(self._adam, input_signature=[gspec, lr_spec])

    def gradients(self, batch):
        """Loss, error sums and weight gradients (float64 NumPy) of this rank's part of `batch`."""
        if self._grads_fn is None:
            self._compile(batch)
        loss, sums, grads = self._grads_fn(batch)
        return (float(loss.numpy()), sums.numpy().astype(np.float64),
                [g.numpy().astype(np.float64) for g in grads])

    def train_step(self, batch, lr, comm=None):
        """One Adam step on `batch` (this rank's part); with several ranks the
        gradients and error sums are summed over ranks first.  Returns the sums."""
        tf = self.tf
        if self._step is None:
            self._compile(batch)
        lr = tf.constant(lr, tf.float64)
        if comm is None or comm.size == 1:
            _, sums = self._step(batch, lr)
            return sums.numpy().astype(np.float64)
        _, sums, grads = self.gradients(batch)
        flat = np.concatenate([g.ravel() for g in grads] + [sums])
        flat = comm.allreduce_sum(flat)
        summed, k = [], 0
        for v in self.flat:
            n = int(np.prod(v.shape))
            summed.append(tf.constant(flat[k:k + n].reshape(v.shape).astype(self.np_dtype)))
            k += n
        self._apply_fn(summed, lr)
        return flat[k:]

    def evaluate(self, batch):
        """Error sums of this rank's part of `batch` (summed over ranks by the caller)."""
        if self._eval is None:
            self._compile(batch)
        _, sums = self._eval(batch)
        return sums.numpy().astype(np.float64)

    def predict(self, batch):
        if self._pred is None:
            self._compile(batch)
        return tuple(t.numpy() for t in self._pred(batch))


def sums_to_rmse(sums):
    se, ne, sf, nf, ss, ns = sums
    return {
        "energy_rmse_meV_atom": 1000.0 * math.sqrt(se / ne) if ne else float("nan"),
        "force_rmse_eV_A": math.sqrt(sf / nf) if nf else float("nan"),
        "stress_rmse_GPa": math.sqrt(ss / ns) if ns else float("nan"),
    }


def learning_rate(tcfg, epoch, step=0, n_steps=1):
    """Halving every lr_decay_epochs (continuous in the step), floored at
    min_learning_rate; with several batches per epoch, a linear warm-up over
    the first epoch (Adam's first minibatch steps are full-size steps on noisy
    gradients).  One batch per epoch: exactly the per-epoch schedule."""
    e = epoch + step / n_steps
    lr = max(tcfg["min_learning_rate"], tcfg["learning_rate"] * 0.5 ** (e / tcfg["lr_decay_epochs"]))
    if n_steps > 1 and epoch == 0:
        lr *= (step + 1) / n_steps
    return lr


# --------------------------------------------------------------------------
# export

def export_potential(elements, descriptor, stats, e0, params, scale, activation="tanh"):
    """The potential-file dict (without provenance) for the given weights."""
    cutoff = float(descriptor_cutoff(descriptor))
    models = {}
    for t, el in enumerate(elements):
        p = params[t]
        layers = []
        n_layers = len(p) // 2
        for k in range(n_layers):
            w = np.asarray(p[2 * k], np.float64)
            b = np.asarray(p[2 * k + 1], np.float64)
            last = k == n_layers - 1
            if last:
                w, b = w * scale, b * scale
            layers.append({"weights": w.tolist(), "bias": b.tolist(),
                           "activation": "linear" if last else activation})
        s = stats[t]
        models[el] = {"e0": float(e0[t]),
                      "feature_mean": s["mean"].tolist(), "feature_std": s["std"].tolist(),
                      "feature_min": s["min"].tolist(), "feature_max": s["max"].tolist(),
                      "layers": layers}
    return {"format": "tinynet-potential", "version": 1, "units": "metal",
            "elements": list(elements), "descriptor": descriptor, "cutoff": cutoff,
            "models": models, "provenance": {}}


# --------------------------------------------------------------------------
# checkpoints

def checkpoint_path(output: str) -> str:
    return str(output) + ".ckpt.npz"


def _flatten(params):
    return [a for p in params for a in p]


def _unflatten(flat, n_el):
    k = len(flat) // n_el
    return [list(flat[t * k:(t + 1) * k]) for t in range(n_el)]


def save_checkpoint(path, meta, params, best_params, opt_state, history):
    """Atomic: a temporary file next to `path`, renamed over it."""
    arrays = {"meta": np.array(json.dumps(meta))}
    for i, a in enumerate(_flatten(params)):
        arrays[f"p{i}"] = a
    for i, a in enumerate(_flatten(best_params)):
        arrays[f"best{i}"] = a
    for i, (m, v) in enumerate(zip(opt_state["m"], opt_state["v"])):
        arrays[f"m{i}"] = m
        arrays[f"v{i}"] = v
    arrays["adam_t"] = np.array(opt_state["t"])
    arrays["history"] = np.array(json.dumps(history))
    with atomic.atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())


def load_checkpoint(path, n_el):
    """(meta, params, best params, Adam state, history); a damaged file is a
    TrainingError that says how to go on."""
    try:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            n = meta["n_arrays"]
            params = _unflatten([z[f"p{i}"] for i in range(n)], n_el)
            best = _unflatten([z[f"best{i}"] for i in range(n)], n_el)
            state = {"m": [z[f"m{i}"] for i in range(n)], "v": [z[f"v{i}"] for i in range(n)],
                     "t": float(z["adam_t"])}
            history = json.loads(str(z["history"]))
    except Exception as exc:  # zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError, ...
        detail = str(exc).strip() or type(exc).__name__
        raise TrainingError(f"{path}: corrupt, truncated or empty checkpoint ({type(exc).__name__}: {detail}); "
                            "delete it and start the run again without --resume") from exc
    return meta, params, best, state, history


class TrainingError(Exception):
    """A problem with a training run (e.g. a checkpoint that does not match)."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT/SIGTERM stopped the run after checkpointing its last complete epoch."""


class _Interrupt:
    """SIGINT/SIGTERM set a flag checked between epochs, so that the run stops
    after a checkpoint of the last complete epoch; a second SIGINT aborts at once."""

    def __init__(self):
        self.flag = False
        self.old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.old[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not in the main thread
                pass
        return self

    def _handler(self, signum, frame):
        if self.flag and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.flag = True

    def __exit__(self, *exc):
        for sig, old in self.old.items():
            signal.signal(sig, old)
        return False


# --------------------------------------------------------------------------
# the training run, stage by stage

@dataclass
class TrainResult:
    output: str
    potential: dict
    metrics: dict
    history: list
    epochs_run: int
    best_epoch: int
    stop_reason: str
    files: dict = field(default_factory=dict)
    epochs_per_second: float = 0.0
    peak_memory_bytes: int = 0      # largest peak RSS over the ranks
    n_ranks: int = 1


@dataclass
class Split:
    data: object                # every training-file frame
    fit: object                 # the fitting split (weights are fitted on it)
    val: object                 # validation split (early stopping) or None
    test: object                # test frames or None
    info: dict                  # what goes into provenance["split"]
    test_from_files: bool
    elements: list              # the model's elements, in order


UNBOUNDED_EPOCHS = 10**9


def portable_path(path):
    """A path for provenance: relative to the working directory (the
    repository, for the shipped potentials) when the file lies at most two
    levels above it, else the file name; never an absolute path of the
    machine that trained."""
    rel = os.path.relpath(os.path.abspath(path))
    return rel if not rel.startswith(os.path.join("..", "..", "..")) else os.path.basename(path)


def portable_files(files):
    """Data files for provenance (portable_path); the sha256 identifies the data."""
    return [{**f, "path": portable_path(f["path"])} for f in files]


def portable_command(argv):
    """The command line for provenance, with every existing file named by portable_path."""
    return " ".join(portable_path(a) if os.path.isabs(a) and os.path.exists(a) else a for a in argv)


def settings(config, preset, epochs, max_time, seed):
    """Stage 0: the validated configuration with the command-line overrides."""
    cfg = validate_config(None) if config is None else config
    cfg = json.loads(json.dumps(cfg))
    if preset is not None:
        from tinynet.presets import parse_preset

        parse_preset(preset)
        cfg["preset"] = preset
        cfg["descriptor"] = None
    if epochs is not None:
        cfg["training"]["epochs"] = int(epochs)
    if max_time is not None:
        cfg["training"]["max_time_minutes"] = float(max_time)
        if epochs is None:
            # A time budget is the bound: the configured epoch count would cut
            # it short; early stopping still ends a converged run.
            cfg["training"]["epochs"] = UNBOUNDED_EPOCHS
    if seed is not None:
        cfg["training"]["seed"] = int(seed)
    return cfg


def load_and_split(cfg, train_paths, test_paths, allow_missing_elements=False, log=print):
    """Stage 1: read and check the data; test, validation and fitting splits."""
    tcfg = cfg["training"]
    seed = tcfg["seed"]
    elements = cfg["elements"]
    data = load_files(train_paths, elements=elements, role="configured")
    if elements is None:
        elements = data.elements
    if test_paths:
        test = load_files(test_paths, elements=elements, role="training-set")
        train_idx, test_idx = list(range(len(data))), None
        info = {"test": "files"}
    else:
        train_idx, test_idx = split_indices(len(data), tcfg["test_fraction"], seed)
        test = data.subset(test_idx) if test_idx else None
        info = {"test": {"fraction": tcfg["test_fraction"], "seed": seed, "indices": test_idx}}
    pool = data.subset(train_idx)
    fit_local, val_local = split_indices(len(pool), tcfg["validation_fraction"], seed + 1)
    fit = pool.subset(fit_local)
    val = pool.subset(val_local) if val_local else None
    info["validation"] = {"fraction": tcfg["validation_fraction"], "seed": seed + 1,
                          "indices": [train_idx[i] for i in val_local]}
    info["n_train"], info["n_validation"] = len(fit), len(val_local)
    info["n_test"] = len(test) if test is not None else 0
    _check_elements_fitted(elements, data, fit, allow_missing_elements, log)
    return Split(data, fit, val, test, info, bool(test_paths), list(elements))


def _check_elements_fitted(elements, data, fit, allow, log):
    """An element without atoms in the fitting split would get an untrained network."""
    present = {s for f in fit.frames for s in f.atoms.get_chemical_symbols()}
    missing = [e for e in elements if e not in present]
    if not missing:
        return
    where = []
    for e in missing:
        hit = next((f.where for f in data.frames if e in f.atoms.get_chemical_symbols()), None)
        where.append(f"{e} (first in {hit}, which is not in the fitting split)" if hit
                     else f"{e} (in no training frame)")
    msg = (f"element(s) {', '.join(missing)} have no atoms in the fitting split: "
           + "; ".join(where))
    if not allow:
        raise DataError(msg + ". Their networks would stay untrained: add such structures, change "
                        "training.seed or the split fractions, or pass --allow-missing-elements")
    log(f"warning: {msg}; their networks stay untrained (--allow-missing-elements)")


def read_resume_state(ckpt, cfg, split, comm):
    """The checkpoint to continue from, checked against this run's data and config."""
    tcfg = cfg["training"]
    elements = split.elements
    if comm.rank == 0:
        try:
            if not os.path.exists(ckpt):
                raise TrainingError(f"{ckpt}: no checkpoint to resume from")
            state = load_checkpoint(ckpt, len(elements))
        except TrainingError as exc:
            state = exc
    else:
        state = None
    state = comm.bcast(state)
    if isinstance(state, TrainingError):
        raise state
    meta = state[0]
    if [f["sha256"] for f in meta["train_files"]] != [f["sha256"] for f in split.data.files]:
        raise TrainingError(f"{ckpt}: checkpoint was made with different training data")
    if meta["elements"] != elements:
        raise TrainingError(f"{ckpt}: checkpoint elements {meta['elements']} differ from {elements}")
    same = {k: v for k, v in meta["config"].items() if k != "training"}
    now = {k: v for k, v in cfg.items() if k != "training"}
    if json.dumps(same, sort_keys=True) != json.dumps(now, sort_keys=True) or any(
            meta["config"]["training"][k] != tcfg[k] for k in
            ("seed", "batch_size", "validation_fraction", "test_fraction", "dtype")):
        raise TrainingError(f"{ckpt}: checkpoint was made with a different configuration")
    return state


def choose_descriptor(cfg, split, resume_state):
    """Stage 2: the checkpoint's descriptor, the configured one, or the preset
    fitted to the fitting split's per-pair bond lengths (tinynet.bond_lengths)."""
    if resume_state is not None:
        return resume_state[0]["descriptor"]
    if cfg["descriptor"] is not None:
        return cfg["descriptor"]
    try:
        scales = pair_distance_shells(split.fit.frames, split.elements)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    return make_preset(cfg["preset"], scales)


@dataclass
class TrainingArrays:
    elements: list
    descriptor: dict
    n_feat: int
    stats: list
    e0: np.ndarray
    scale: float
    use_stress: bool
    weights: tuple
    fit_set: object             # batches.BatchSet
    val_set: object             # batches.BatchSet or None
    estimate: object            # batches.MemoryEstimate
    descriptor_seconds: float

    def close(self):
        for s in (self.fit_set, self.val_set):
            if s is not None and s.store is not None:
                s.store.close()


def _local_groups(groups, frames, comm):
    """This rank's structures of every batch (balanced by atoms within each batch)."""
    out = []
    for g in groups:
        parts = parallel.share(len(g), [frames[i].n_atoms for i in g], comm.size)
        out.append([g[j] for j in parts[comm.rank]])
    return out


def _stress_atoms(frames, idx, use_stress):
    return sum(frames[i].n_atoms for i in idx if use_stress and frames[i].stress is not None)


def build_training_arrays(cfg, split, descriptor, output, comm, store="auto", progress=False, log=print):
    """Stage 3: batches of the fitting and validation splits, their Jacobians
    in memory or in a cache file, feature statistics, reference energies.

    Refuses, before the expensive part, a run whose estimated memory exceeds
    what this process has."""
    tcfg = cfg["training"]
    seed = tcfg["seed"]
    elements = split.elements
    n_el = len(elements)
    n_feat = n_features(descriptor, n_el)
    fit, val = split.fit, split.val
    lcfg = cfg["loss"]
    use_stress = lcfg["stress_weight"] > 0
    weights = (lcfg["energy_weight"], lcfg["force_weight"], lcfg["stress_weight"])
    dtype = np.float64 if tcfg["dtype"] == "float64" else np.float32

    groups = batching.partition([f.n_atoms for f in fit.frames], tcfg["batch_size"], seed + 2)
    fit_set = batching.BatchSet(groups, _local_groups(groups, fit.frames, comm))
    val_set = None
    if val is not None:
        # validation in batches of the same size (memory), order irrelevant
        vsize = max(len(g) for g in groups)
        vgroups = [list(range(k, min(k + vsize, len(val)))) for k in range(0, len(val), vsize)]
        val_set = batching.BatchSet(vgroups, _local_groups(vgroups, val.frames, comm))

    # ---- memory estimate, from the descriptors of a few of this rank's structures
    sets = [(fit_set, fit.frames)] + ([(val_set, val.frames)] if val_set else [])
    local_idx = [(frames, i) for s, frames in sets for g in s.local for i in g]
    sample = local_idx[:: max(1, len(local_idx) // 6)][:6]
    sample_descs = compute_descriptors_for([fr[i] for fr, i in sample], descriptor, elements)
    local_atoms = sum(fr[i].n_atoms for fr, i in local_idx)
    local_stress = sum(_stress_atoms(fr, [i], use_stress) for fr, i in local_idx)
    biggest = max(((sum(fr[i].n_atoms for i in g), _stress_atoms(fr, g, use_stress))
                   for s, fr in sets for g in s.local), default=(0, 0))
    total_atoms = split.data.n_atoms
    est = batching.estimate_memory(sample_descs, n_feat, local_atoms, local_stress, biggest[0], biggest[1],
                                   total_atoms, np.dtype(dtype).itemsize)
    try:
        room, where = memory.available_to_process(comm.local_size)
    except ValueError as exc:
        raise TrainingError(str(exc)) from None
    if store == "auto":
        fits = room is None or est.store_bytes <= room // 2
        store = "memory" if est.store_bytes <= batching.IN_MEMORY_BYTES and fits else "disk"
    est.store_kind = store
    need = est.peak_growth
    refuse = room is not None and need > room
    refuse = comm.allreduce_max(int(refuse))
    if refuse:
        big = max(biggest[0], 1)
        raise TrainingError(
            f"estimated memory {memory.gib(need)} per process exceeds the {memory.gib(max(room, 0))} "
            f"available ({where}): {est.pairs_per_atom:.0f} atom pairs per atom x {n_feat} features; "
            f"Jacobians {memory.gib(est.store_bytes)} ({store}), largest batch {big} atoms needs "
            f"{memory.gib(est.step_bytes)} per step. Use a smaller training.batch_size, fewer features "
            "or a shorter cutoff, or more MPI ranks (on more nodes)")
    log(f"training arrays: {fit_set.groups and len(fit_set.groups)} batch(es), "
        f"{est.pairs_per_atom:.0f} pairs/atom x {n_feat} features, Jacobians "
        f"{memory.gib(est.store_bytes)} kept {'in memory' if store == 'memory' else 'in a cache file'}, "
        f"estimated peak {memory.gib(need)} above the start")

    # ---- reference energies and energy scale (every rank has every frame)
    e0 = fit_e0(fit.frames, elements)
    resid = np.array([(f.energy - c) / f.n_atoms for f, c in
                      zip(fit.frames, composition_matrix(fit.frames, elements) @ e0)])
    force_rms = math.sqrt(np.mean(np.concatenate([f.forces.ravel() for f in fit.frames]) ** 2))
    scale = float(max(resid.std(), 0.1 * force_rms, 1e-3))

    # ---- descriptors batch by batch; Jacobians to the store, raw features kept
    t0 = time.time()
    to_tensor = tensor_converter(tcfg["dtype"])
    for s, _ in sets:
        s.store = batching.MemoryStore() if store == "memory" else batching.DiskStore(output, comm.rank)
    raw = {}           # (split name, structure index) -> (features, species), this rank's
    small = {}
    it = [(name, s, frames, k) for name, (s, frames) in zip(("fit", "val"), sets) for k in range(len(s))]
    if progress and comm.rank == 0:
        from tqdm import tqdm

        it = tqdm(it, desc="descriptors", unit="batch", leave=False)
    for name, s, frames, k in it:
        idx = s.local[k]
        fr = [frames[i] for i in idx]
        descs = compute_descriptors_for(fr, descriptor, elements)
        arrays, heavy, features = batching.make_raw_batch(fr, descs, elements, e0, use_stress, dtype,
                                                          n_feat=n_feat)
        for i, d in zip(idx, descs):
            raw[(name, i)] = (d["features"], d["species"])
        del descs
        arrays["norm"] = batching.global_norms([frames[i] for i in s.groups[k]], use_stress)
        small[(name, k)] = (arrays, features)
        s.store.put(k, heavy, to_tensor)
        del heavy
    t_desc = time.time() - t0

    # ---- feature statistics over fit + validation, in the single-process order
    mine = [(name, i, raw[(name, i)]) for (name, i) in raw]
    everything = {}
    for part in comm.allgather(mine):
        for name, i, fs in part:
            everything[(name, i)] = fs
    order = [("fit", i) for i in range(len(fit))] + ([("val", i) for i in range(len(val))] if val else [])
    stats = feature_stats([{"features": everything[key][0], "species": everything[key][1]} for key in order],
                          n_el, n_feat)
    del everything, mine, raw
    for s, name in ((fit_set, "fit"), (val_set, "val")):
        if s is None:
            continue
        for k in range(len(s)):
            arrays, features = small.pop((name, k))
            arrays["x"] = batching.normalised_inputs(features, arrays["species"], stats)
            s.small.append({key: to_tensor(a) for key, a in arrays.items() if key != "species"})
    return TrainingArrays(elements, descriptor, n_feat, stats, e0, scale, use_stress, weights,
                          fit_set, val_set, est, t_desc)


def tensor_converter(dtype_name):
    """numpy -> TF constant, floats in the training dtype."""
    import tensorflow as tf

    np_dtype = np.float64 if dtype_name == "float64" else np.float32

    def to_tensor(a):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            return tf.constant(a.astype(np_dtype, copy=False))
        return tf.constant(a)

    return to_tensor


@dataclass
class FitResult:
    params: list
    best_params: list
    history: list
    epoch: int
    best_epoch: int
    best_loss: float
    stop_reason: str
    epochs_per_second: float


def _nonfinite_structures(model, arrays, split, comm, to_tensor):
    """`file, frame` of the structures whose errors are not finite in the
    training dtype (this is where a non-finite loss comes from)."""
    bad = []
    for s, frames in ((arrays.fit_set, split.fit.frames), (arrays.val_set, split.val.frames if split.val else None)):
        if s is None:
            continue
        for k in range(len(s)):
            b = s.batch(k, to_tensor)
            energy, forces, stress = model.predict(b)
            dt = energy.dtype
            struct = b["struct"].numpy()
            with np.errstate(all="ignore"):
                de = ((energy - b["energy"].numpy().astype(dt)) / b["n_atoms_struct"].numpy().astype(dt)) ** 2
                df = np.sum((forces - b["forces"].numpy().astype(dt)) ** 2, axis=1)
                ds = np.sum((stress - b["s_ref"].numpy().astype(dt)) ** 2, axis=1)
            flag = ~np.isfinite(de)
            flag |= np.bincount(struct, weights=~np.isfinite(df), minlength=len(flag)) > 0
            stressed = [j for j, i in enumerate(s.local[k]) if frames[i].stress is not None] if arrays.use_stress else []
            for j, ok in zip(stressed, np.isfinite(ds)):
                flag[j] |= not ok
            bad += [frames[s.local[k][j]].where for j in np.nonzero(flag)[0]]
    return [w for part in comm.allgather(bad) for w in part]


def validation_sums(model, val_set, to_tensor, comm):
    """Error sums of the whole validation split (this rank's batches, summed over ranks)."""
    vs = np.zeros(6)
    for k in range(len(val_set)):
        vs += model.evaluate(val_set.batch(k, to_tensor))
    return comm.allreduce_sum(vs)


def history_entry(epoch, lr, val_loss, train_rmse, val_rmse, **extra):
    """One learning-curve point (train_rmse, val_rmse: sums_to_rmse dicts, val_rmse may be {})."""
    return {"epoch": epoch, "lr": lr, **extra, "val_loss": float(val_loss),
            "train_energy_rmse_meV_atom": train_rmse["energy_rmse_meV_atom"],
            "train_force_rmse_eV_A": train_rmse["force_rmse_eV_A"],
            "val_energy_rmse_meV_atom": val_rmse.get("energy_rmse_meV_atom"),
            "val_force_rmse_eV_A": val_rmse.get("force_rmse_eV_A")}


def fit(model, arrays, split, cfg, ckpt, meta_base, resume_state, comm, progress, log):
    """Stage 4: epochs of Adam steps over the batches (order shuffled per epoch
    from (seed, epoch)), validation loss, best weights, checkpoints; stops at
    the epoch limit, early stopping, the time limit or SIGINT/SIGTERM."""
    tcfg = cfg["training"]
    seed = tcfg["seed"]
    weights = arrays.weights
    to_tensor = tensor_converter(tcfg["dtype"])
    fit_set, val_set = arrays.fit_set, arrays.val_set
    n_batches = len(fit_set)

    history = []
    epoch = 0
    best_loss = float("inf")
    best_epoch = -1
    best_params = model.get_params()
    timed = {"epochs": 0, "seconds": 0.0}
    previous_stop = None
    if resume_state is not None:
        meta, params, best_params, opt_state, history = resume_state
        model.set_params(params)
        model.set_state(opt_state)
        epoch = meta["epoch"]
        best_loss = meta["best_loss"] if meta["best_loss"] is not None else float("inf")
        best_epoch = meta["best_epoch"]
        timed = dict(meta.get("timed", timed))
        previous_stop = meta.get("stop_reason")
        log(f"resuming from {ckpt} at epoch {epoch} (best validation loss {best_loss:.6g} at epoch {best_epoch})")

    def meta_now(stop=None):
        return {**meta_base, "version": CHECKPOINT_VERSION, "epoch": epoch, "best_epoch": best_epoch,
                "best_loss": best_loss if math.isfinite(best_loss) else None,
                "timed": timed, "stop_reason": stop, "n_ranks": comm.size}

    def checkpoint(stop=None):
        if comm.rank == 0:
            save_checkpoint(ckpt, meta_now(stop), model.get_params(), best_params, model.get_state(), history)

    max_epochs = tcfg["epochs"]
    patience = tcfg["patience"]
    max_seconds = stage_seconds(tcfg, "adam")
    stop_reason = "epochs"
    if epoch >= max_epochs:
        # nothing to do: keep what stopped the run that wrote the checkpoint
        stop_reason = previous_stop or "epochs"
    if best_epoch >= 0 and patience > 0 and epoch - best_epoch >= patience:
        stop_reason = previous_stop or "early stopping"
        max_epochs = epoch
    if resume_state is not None and resume_state[0].get("stage") == "lbfgs":
        # the Adam stage had ended; what it reached is in the checkpoint
        max_epochs = epoch
        stop_reason = resume_state[0]["adam_stop_reason"]

    bar = None
    if progress and comm.rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=None if max_epochs >= UNBOUNDED_EPOCHS else max_epochs,
                   initial=min(epoch, max_epochs), desc="training", unit="epoch",
                   dynamic_ncols=True)
    t_start = time.time()
    last_ckpt = time.time()
    epochs_this_run = 0
    try:
        with _Interrupt() as intr:
            while epoch < max_epochs:
                te = time.time()
                start_params = model.get_params()     # to name the culprits if this epoch diverges
                order = (np.random.default_rng([seed, epoch]).permutation(n_batches)
                         if n_batches > 1 else [0])
                sums = np.zeros(6)
                for step, k in enumerate(order):
                    lr = learning_rate(tcfg, epoch, step, n_batches)
                    sums += model.train_step(fit_set.batch(k, to_tensor), lr, comm)
                # errors reached during the epoch (weights changing), cheap and honest enough
                tr = sums_to_rmse(sums)
                if val_set is not None:
                    vs = validation_sums(model, val_set, to_tensor, comm)
                    vloss = loss_from_sums(vs, weights)
                    va = sums_to_rmse(vs)
                else:
                    vloss = loss_from_sums(sums, weights)
                    va = {}
                epoch += 1
                epochs_this_run += 1
                if epochs_this_run > 1:  # the first epoch includes tracing the graph
                    timed["epochs"] += 1
                    timed["seconds"] += time.time() - te
                if not (math.isfinite(vloss) and np.all(np.isfinite(sums))):
                    model.set_params(start_params)
                    bad = _nonfinite_structures(model, arrays, split, comm, to_tensor)
                    shown = "; ".join(bad[:10]) + (f"; ... ({len(bad)} in all)" if len(bad) > 10 else "")
                    raise TrainingError(
                        f"training diverged at epoch {epoch} (non-finite loss)"
                        + (f"; non-finite errors on: {shown}" if bad else "")
                        + (". Check those structures' labels" if 0 < len(bad) < len(split.fit) else "")
                        + "; or lower training.learning_rate")
                if vloss < best_loss:
                    best_loss, best_epoch = float(vloss), epoch
                    best_params = model.get_params()
                history.append(history_entry(epoch, lr, vloss, tr, va))
                if bar is not None:
                    post = {"E": f"{tr['energy_rmse_meV_atom']:.2f}", "F": f"{tr['force_rmse_eV_A']:.3f}"}
                    if va:
                        post.update({"vE": f"{va['energy_rmse_meV_atom']:.2f}",
                                     "vF": f"{va['force_rmse_eV_A']:.3f}"})
                    bar.set_postfix(post, refresh=False)
                    bar.update(1)
                # the ranks must agree on stopping: time and signals are per rank
                flags = np.array([float(intr.flag), float(time.time() - t_start > max_seconds),
                                  float(time.time() - last_ckpt > 60)])
                flags = comm.allreduce_sum(flags) if comm.size > 1 else flags
                stop = None
                if patience > 0 and epoch - best_epoch >= patience:
                    stop = "early stopping"
                elif flags[1]:
                    stop = "time limit"
                elif flags[0]:
                    stop = "interrupted"
                if stop or epoch % tcfg["checkpoint_every"] == 0 or flags[2] or epoch == max_epochs:
                    checkpoint(stop or ("epochs" if epoch == max_epochs else None))
                    last_ckpt = time.time()
                if stop:
                    stop_reason = stop
                    break
    finally:
        if bar is not None:
            bar.close()
    if stop_reason == "interrupted":
        raise TrainingInterrupted(f"interrupted after epoch {epoch}; checkpoint {ckpt} saved: "
                                  "run the same command with --resume to continue")
    eps = timed["epochs"] / timed["seconds"] if timed["seconds"] > 0 else 0.0
    return FitResult(model.get_params(), best_params, history, epoch, best_epoch, best_loss, stop_reason, eps)


def stage_seconds(tcfg, stage):
    """Time budget of the Adam or the L-BFGS stage: with an L-BFGS stage, it
    gets lbfgs_time_fraction of max_time_minutes and Adam the rest."""
    total = tcfg["max_time_minutes"] * 60.0 if tcfg["max_time_minutes"] > 0 else float("inf")
    share = tcfg["lbfgs_time_fraction"] if tcfg["lbfgs_iterations"] > 0 else 0.0
    return total * (share if stage == "lbfgs" else 1.0 - share)


def refine_lbfgs(model, arrays, fitted, cfg, ckpt, meta_base, resume_state, comm, log):
    """Stage 4b (optional, training.lbfgs_iterations > 0): L-BFGS on the whole
    fitting set from the best Adam weights (tinynet.lbfgs); keeps the weights
    with the lowest validation loss of both stages."""
    from tinynet import lbfgs

    tcfg = cfg["training"]
    to_tensor = tensor_converter(tcfg["dtype"])
    weights = arrays.weights
    history = fitted.history
    best = {"loss": fitted.best_loss, "epoch": fitted.best_epoch, "params": fitted.best_params}
    start, done_before = fitted.best_params, 0
    if resume_state is not None and resume_state[0].get("stage") == "lbfgs":
        start, done_before = resume_state[1], resume_state[0]["lbfgs_done"]
        log(f"resuming the L-BFGS stage after {done_before} iterations (new curvature memory)")
    remaining = tcfg["lbfgs_iterations"] - done_before
    if remaining <= 0:
        return fitted
    model.set_params(start)
    log(f"L-BFGS refinement: up to {remaining} iterations"
        + (f" or {stage_seconds(tcfg, 'lbfgs') / 60:.1f} min" if tcfg["max_time_minutes"] > 0 else ""))

    def validate():
        return None if arrays.val_set is None else validation_sums(model, arrays.val_set, to_tensor, comm)

    state = {"last_ckpt": time.time(), "done": done_before}

    def on_iteration(i, fit_sums, val_sums, intr):
        epoch = fitted.epoch + done_before + i
        vloss = loss_from_sums(val_sums if val_sums is not None else fit_sums, weights)
        if vloss < best["loss"]:
            best.update(loss=float(vloss), epoch=epoch, params=model.get_params())
        tr, va = sums_to_rmse(fit_sums), (sums_to_rmse(val_sums) if val_sums is not None else {})
        history.append(history_entry(epoch, None, vloss, tr, va, stage="lbfgs"))
        state["done"] = done_before + i
        if time.time() - state["last_ckpt"] > 60 or intr.flag:
            checkpoint()
        return intr.flag

    def checkpoint():
        if comm.rank == 0:
            meta = {**meta_base, "version": CHECKPOINT_VERSION, "epoch": fitted.epoch,
                    "best_epoch": best["epoch"], "best_loss": best["loss"] if math.isfinite(best["loss"]) else None,
                    "stop_reason": None, "n_ranks": comm.size, "stage": "lbfgs",
                    "lbfgs_done": state["done"], "adam_stop_reason": fitted.stop_reason}
            save_checkpoint(ckpt, meta, model.get_params(), best["params"], model.get_state(), history)
        state["last_ckpt"] = time.time()

    with _Interrupt() as intr:
        done, reason = lbfgs.refine(model, arrays.fit_set, to_tensor, validate, remaining,
                                    stage_seconds(tcfg, "lbfgs"), comm,
                                    lambda i, f, v: on_iteration(i, f, v, intr))
    checkpoint()
    log(f"L-BFGS: {done} iterations ({reason}); best validation loss {best['loss']:.6g} at epoch {best['epoch']}")
    if reason == "interrupted":
        raise TrainingInterrupted(f"interrupted in the L-BFGS stage; checkpoint {ckpt} saved: "
                                  "run the same command with --resume to continue")
    return FitResult(model.get_params(), best["params"], history, fitted.epoch + done_before + done,
                     best["epoch"], best["loss"], f"{fitted.stop_reason}, then L-BFGS {reason}",
                     fitted.epochs_per_second)


def _predict_shared(pot, frames, comm):
    """Predictions of the exported potential on `frames`, each rank a share, gathered."""
    from tinynet import evaluation

    if frames is None:
        return None
    mine = parallel.share(len(frames), [f.n_atoms for f in frames], comm.size)[comm.rank]
    preds = evaluation.predict(pot, [frames[i] for i in mine])
    out = [None] * len(frames)
    for part in comm.allgather(list(zip(mine, preds))):
        for i, p in part:
            out[i] = p
    return out


def _check_finite_predictions(preds, frames, what):
    bad = [f.where for f, p in zip(frames, preds)
           if not (np.isfinite(p["energy"]) and np.all(np.isfinite(p["forces"]))
                   and (p["stress"] is None or np.all(np.isfinite(p["stress"]))))]
    if bad:
        raise TrainingError(f"the fitted potential gives non-finite results on {what} structure(s) "
                            f"{'; '.join(bad[:10])}{' ...' if len(bad) > 10 else ''}")


def export(arrays, fitted, split, cfg, comm):
    """Stage 5: the potential with the best weights, and its errors on every
    split (NumPy evaluation of the exported file, independent of TensorFlow)."""
    from tinynet import evaluation

    pot = export_potential(arrays.elements, arrays.descriptor, arrays.stats, arrays.e0, fitted.best_params,
                           arrays.scale, activation=cfg["network"]["activation"])
    preds = {}
    metrics = {}
    for name, ds in (("train", split.fit), ("validation", split.val), ("test", split.test)):
        if ds is None:
            continue
        preds[name] = _predict_shared(pot, ds.frames, comm)
        _check_finite_predictions(preds[name], ds.frames, name)
        metrics[name] = evaluation.metrics_from(ds.frames, preds[name])
    return pot, metrics, preds


def write_outputs(output, pot, metrics, preds, split, history, plots):
    """Stage 6 (rank 0): potential, metrics JSON and plots, each written atomically."""
    from tinynet import evaluation
    from tinynet.potential_file import write_potential

    write_potential(output, pot)    # atomically, with the umask's mode
    files = {"potential": output}
    stem = os.path.splitext(output)[0]
    files["metrics"] = stem + ".metrics.json"
    atomic.write_text(files["metrics"], json.dumps(
        {"potential": os.path.basename(output), "errors": metrics,
         "training": pot["provenance"]["training"], "split": split.info}, indent=1, allow_nan=False))
    if plots:
        files.update(evaluation.write_plots(stem, split.fit.frames, preds["train"],
                                            split.test.frames if split.test else None,
                                            preds.get("test"), history))
    return files


def _stale_temporaries(output):
    """Names (for atomic.remove_stale) of what a killed run may have left."""
    base = os.path.basename(output)
    stem = os.path.splitext(base)[0]
    names = [base, base + ".ckpt.npz", stem + ".metrics.json",
             stem + ".parity_energy.png", stem + ".parity_forces.png", stem + ".learning_curves.png"]
    # the Jacobian caches and the checkpoint temporary of older versions; the
    # potential writer's own temporaries (".tmp-*<ext>") only when old
    ext = os.path.splitext(base)[1] or ".tinynet"
    return names, [f".tmp-{glob.escape(base)}.jacobians-r*", glob.escape(base) + ".ckpt.npz.tmp.npz"], [f".tmp-*{ext}"]


def train(train_paths, output, test_paths=None, config=None, preset=None, epochs=None,
          max_time=None, resume=False, seed=None, progress=True, log=print, command=None,
          plots=True, allow_missing_elements=False, store="auto"):
    """Fit a potential and write it (plus metrics JSON and PNG plots) next to ``output``.

    ``config``: a validated config dict (see :func:`tinynet.presets.validate_config`)
    or None for defaults; ``preset``, ``epochs``, ``max_time`` (minutes) and
    ``seed`` override it.  ``resume`` continues from ``output``'s checkpoint.
    ``allow_missing_elements``: train although an element has no atoms in the
    fitting split.  ``store``: where the Jacobians live, "auto", "memory" or "disk".
    Under ``mpirun`` every rank calls this; rank 0 writes the files.
    """
    comm = parallel.world()
    if comm.size > 1:
        _share_cores(comm)
        if comm.rank != 0:
            log = (lambda *a, **k: None)
    cfg = settings(config, preset, epochs, max_time, seed)
    tcfg = cfg["training"]
    output = str(output)
    ckpt = checkpoint_path(output)
    out_dir = os.path.dirname(os.path.abspath(output))
    if comm.rank == 0:
        os.makedirs(out_dir, exist_ok=True)
        names, patterns, old = _stale_temporaries(output)
        for p in atomic.remove_stale(out_dir, names, patterns, old):
            log(f"removed {p}, left by an interrupted earlier run")
    comm.barrier()

    split = load_and_split(cfg, train_paths, test_paths, allow_missing_elements, log)
    resume_state = read_resume_state(ckpt, cfg, split, comm) if resume else None
    descriptor = choose_descriptor(cfg, split, resume_state)
    # -- core repulsion (tinynet.core_repulsion): radii from the data, labels minus the baseline
    repulsion = core_repulsion.for_training(split, descriptor_cutoff(descriptor), log)
    # -- end core repulsion
    arrays = build_training_arrays(cfg, split, descriptor, output, comm, store=store,
                                   progress=progress, log=log)
    try:
        elements = arrays.elements
        params0 = init_params(len(elements), arrays.n_feat, cfg["network"]["hidden"], tcfg["seed"])
        model = Model(params0, len(elements), arrays.scale, arrays.weights, dtype=tcfg["dtype"],
                      inv_std=[1.0 / s["std"] for s in arrays.stats])
        meta_base = {"n_arrays": len(params0[0]) * len(elements), "elements": elements,
                     "descriptor": descriptor, "config": cfg, "train_files": split.data.files,
                     "seed": tcfg["seed"]}
        fitted = fit(model, arrays, split, cfg, ckpt, meta_base, resume_state, comm, progress, log)
        if tcfg["lbfgs_iterations"] > 0:
            fitted = refine_lbfgs(model, arrays, fitted, cfg, ckpt, meta_base, resume_state, comm, log)
    finally:
        arrays.close()

    pot, metrics, preds = export(arrays, fitted, split, cfg, comm)
    pot["core_repulsion"] = repulsion    # core repulsion: part of the potential
    peak = comm.allreduce_max(memory.peak_rss())
    pot["provenance"] = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "package": "tinynet", "version": package_version(),
        "command": command,
        "train_files": portable_files(split.data.files),
        "test_files": portable_files(split.test.files) if split.test_from_files else None,
        "split": split.info,
        "preset": cfg["preset"] if cfg["descriptor"] is None else None,
        "config": cfg,
        "errors": metrics,
        "training": {"epochs": fitted.epoch, "best_epoch": fitted.best_epoch, "stop_reason": fitted.stop_reason,
                     "best_validation_loss": fitted.best_loss if math.isfinite(fitted.best_loss) else None,
                     "epochs_per_second": fitted.epochs_per_second, "descriptor_seconds": arrays.descriptor_seconds,
                     "energy_scale_eV": arrays.scale, "dtype": tcfg["dtype"], "mpi_ranks": comm.size,
                     "batches_per_epoch": len(arrays.fit_set), "jacobian_store": arrays.estimate.store_kind,
                     "peak_memory_MB": round(peak / 2**20, 1)},
    }
    files = {}
    if comm.rank == 0:
        files = write_outputs(output, pot, metrics, preds, split, fitted.history, plots)
    comm.barrier()
    return TrainResult(output, pot, metrics, fitted.history, fitted.epoch, fitted.best_epoch,
                       fitted.stop_reason, files, fitted.epochs_per_second, peak, comm.size)


def _share_cores(comm):
    """TensorFlow threads: the node's cores divided among its ranks (before TF starts)."""
    import tensorflow as tf

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    try:
        tf.config.threading.set_intra_op_parallelism_threads(max(1, cores // comm.local_size))
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:   # already initialised (e.g. a second train() in one process)
        pass
