"""Fitting tinynet potentials with TensorFlow.

The network is the only thing TensorFlow sees.  Descriptors and their
Jacobians come from :mod:`tinynet.descriptors` (the C++ core, the same code
LAMMPS runs), computed once per structure and held as dense arrays:

    E_s   = sum_{i in s} scale * NN_t(x_i) + e0_t,      x_i = (G_i - mean_t) / std_t
            (the graph sees E_s - sum e0, formed in float64)
    F_j   = -scale * sum_{p: atom(p)=j} dNN/dx[center(p)] . dx_dr[p]
    sig_s = (scale / V_s) sum_{i in s} dNN/dx_i . dx_dstrain_i   (ASE sign)

dNN/dx is computed analytically inside the graph (tanh MLP back-propagation),
so the weight gradient of the force loss is an ordinary first-order gradient.
Per-structure sums are segment sums; there is no Python loop over structures
inside a step.  Optimiser: Adam (written out here, so that its state is
checkpointed exactly) with a learning rate halving every ``lr_decay_epochs``.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import signal
import time
from dataclasses import dataclass, field

import numpy as np

from tinynet.data import DataError, load_files, nearest_neighbor_distances, split_indices
from tinynet.potential_file import descriptor_cutoff, n_features
from tinynet.presets import ConfigError, make_preset, validate_config

EV_A3_TO_GPA = 160.21766208
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


def composition_matrix(frames, elements):
    index = {e: k for k, e in enumerate(elements)}
    comp = np.zeros((len(frames), len(elements)))
    for s, f in enumerate(frames):
        for sym in f.atoms.get_chemical_symbols():
            comp[s, index[sym]] += 1
    return comp


def feature_stats(descs, n_elements, n_feat):
    """Per element: mean, std (>= 1e-8, 1 for constant features), min, max of raw features."""
    stats = []
    for t in range(n_elements):
        rows = [d["features"][d["species"] == t] for d in descs]
        g = np.concatenate(rows) if rows else np.zeros((0, n_feat))
        if len(g) == 0:
            z = np.zeros(n_feat)
            stats.append({"mean": z, "std": np.ones(n_feat), "min": z, "max": z, "n": 0})
            continue
        std = g.std(axis=0)
        std = np.where(std > 1e-8 * np.maximum(1.0, np.abs(g.mean(axis=0))), std, 1.0)
        stats.append({"mean": g.mean(axis=0), "std": std, "min": g.min(axis=0),
                      "max": g.max(axis=0), "n": len(g)})
    return stats


def make_batch(frames, descs, elements, stats, e0, use_stress):
    """Dense float64 arrays for a group of structures, atoms sorted by element."""
    n_el = len(elements)
    n_per = np.array([len(d["species"]) for d in descs])
    off = np.concatenate([[0], np.cumsum(n_per)[:-1]]).astype(np.int64)
    n = int(n_per.sum())
    sp = np.concatenate([d["species"] for d in descs]).astype(np.int64)
    g = np.concatenate([d["features"] for d in descs])
    struct = np.repeat(np.arange(len(descs)), n_per)
    order = np.argsort(sp, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    mean = np.stack([s["mean"] for s in stats])
    std = np.stack([s["std"] for s in stats])
    x = ((g - mean[sp]) / std[sp])[order]
    pc = np.concatenate([d["pair_center"] + o for d, o in zip(descs, off)]).astype(np.int64)
    pa = np.concatenate([d["pair_atom"] + o for d, o in zip(descs, off)]).astype(np.int64)
    jac = np.concatenate([d["dG_dr"] for d in descs]) / std[sp[pc]][:, :, None]
    forces = np.concatenate([f.forces for f in frames])[order]
    comp = composition_matrix(frames, elements)
    batch = {
        "x": x,
        "counts": np.bincount(sp, minlength=n_el).astype(np.int32),
        "struct": struct[order].astype(np.int32),
        "n_struct": np.int32(len(frames)),
        "n_atoms_struct": n_per.astype(np.float64),
        # energies relative to the composition reference, formed in float64
        "energy": np.array([f.energy for f in frames]) - comp @ e0,
        "forces": forces,
        "pair_center": rank[pc].astype(np.int32),
        "pair_atom": rank[pa].astype(np.int32),
        "jac": jac,
    }
    # stress: only atoms of structures that have a stress label
    stressed = [k for k, f in enumerate(frames) if f.stress is not None] if use_stress else []
    F = x.shape[1]
    if stressed:
        sel = np.concatenate([np.arange(off[k], off[k] + n_per[k]) for k in stressed])
        seg = np.concatenate([np.full(n_per[k], j) for j, k in enumerate(stressed)])
        sj = np.concatenate([descs[k]["dG_dstrain"] for k in stressed]) / std[sp[sel]][:, :, None, None]
        batch["s_atom"] = rank[sel].astype(np.int32)
        batch["s_seg"] = seg.astype(np.int32)
        batch["s_jac"] = sj.reshape(len(sel), F, 9)
        batch["s_ref"] = np.stack([frames[k].stress.reshape(9) for k in stressed]) * EV_A3_TO_GPA
        batch["s_invvol"] = np.array([1.0 / frames[k].atoms.get_volume() for k in stressed])
    else:
        batch["s_atom"] = np.zeros(0, np.int32)
        batch["s_seg"] = np.zeros(0, np.int32)
        batch["s_jac"] = np.zeros((0, F, 9))
        batch["s_ref"] = np.zeros((0, 9))
        batch["s_invvol"] = np.zeros(0)
    batch["n_stress"] = np.int32(len(stressed))
    return batch


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


class Model:
    """TF variables, Adam state and compiled step/evaluation functions."""

    def __init__(self, params, n_el, scale, weights, dtype="float64"):
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
        self._step = self._eval = None

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

    def to_tensors(self, batch):
        tf = self.tf
        out = {}
        for k, a in batch.items():
            a = np.asarray(a)
            if a.dtype.kind == "f":
                out[k] = tf.constant(a.astype(self.np_dtype))
            else:
                out[k] = tf.constant(a)
        return out

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
            grads.append(g)
        out = tf.concat(outs, 0)
        g = tf.concat(grads, 0)
        n_atoms = tf.shape(b["x"])[0]
        energy = self.scale * tf.math.unsorted_segment_sum(out, b["struct"], b["n_struct"])
        gp = tf.gather(g, b["pair_center"])
        fp = tf.reduce_sum(b["jac"] * gp[:, :, None], axis=1)
        forces = -self.scale * tf.math.unsorted_segment_sum(fp, b["pair_atom"], n_atoms)
        gs = tf.gather(g, b["s_atom"])
        sp = tf.reduce_sum(b["s_jac"] * gs[:, :, None], axis=1)
        stress = tf.math.unsorted_segment_sum(sp, b["s_seg"], b["n_stress"])
        stress = stress * (self.scale * EV_A3_TO_GPA) * b["s_invvol"][:, None]
        return energy, forces, stress

    def _sums(self, b):
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
        loss = (self.w_e * se / tf.maximum(ne, one) + self.w_f * sf / tf.maximum(nf, one)
                + self.w_s * ss / tf.maximum(ns, one))
        return loss, tf.stack([se, ne, sf, nf, ss, ns])

    def _evaluate(self, b):
        return self._sums(b)

    def _train_step(self, b, lr):
        tf = self.tf
        with tf.GradientTape() as tape:
            loss, sums = self._sums(b)
        grads = tape.gradient(loss, self.flat)
        self.t.assign_add(1.0)
        t = tf.cast(self.t, self.dtype)
        b1, b2, eps = 0.9, 0.999, 1e-8
        lr = tf.cast(lr, self.dtype)
        corr = lr * tf.sqrt(1.0 - tf.pow(tf.constant(b2, self.dtype), t)) / (1.0 - tf.pow(tf.constant(b1, self.dtype), t))
        for var, gr, m, v in zip(self.flat, grads, self.m, self.v):
            m.assign(b1 * m + (1.0 - b1) * gr)
            v.assign(b2 * v + (1.0 - b2) * gr * gr)
            var.assign_sub(corr * m / (tf.sqrt(v) + eps))
        return loss, sums

    def _compile(self, batch):
        """One trace for every batch: leading dimensions are unknown. (Shape-specialised
        traces could round differently, and a resumed run must repeat the original exactly.)"""
        tf = self.tf
        spec = {k: tf.TensorSpec([None] * min(len(v.shape), 1) + list(v.shape[1:]), v.dtype)
                for k, v in batch.items()}
        self._step = tf.function(self._train_step,
                                 input_signature=[spec, tf.TensorSpec([], tf.float64)])
        self._eval = tf.function(self._evaluate, input_signature=[spec])

    def train_step(self, batch, lr):
        if self._step is None:
            self._compile(batch)
        loss, sums = self._step(batch, self.tf.constant(lr, self.tf.float64))
        return float(loss), sums.numpy().astype(np.float64)

    def evaluate(self, batch):
        if self._eval is None:
            self._compile(batch)
        loss, sums = self._eval(batch)
        return float(loss), sums.numpy().astype(np.float64)


def sums_to_rmse(sums):
    se, ne, sf, nf, ss, ns = sums
    return {
        "energy_rmse_meV_atom": 1000.0 * math.sqrt(se / ne) if ne else float("nan"),
        "force_rmse_eV_A": math.sqrt(sf / nf) if nf else float("nan"),
        "stress_rmse_GPa": math.sqrt(ss / ns) if ns else float("nan"),
    }


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
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_checkpoint(path, n_el):
    try:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            n = meta["n_arrays"]
            params = _unflatten([z[f"p{i}"] for i in range(n)], n_el)
            best = _unflatten([z[f"best{i}"] for i in range(n)], n_el)
            state = {"m": [z[f"m{i}"] for i in range(n)], "v": [z[f"v{i}"] for i in range(n)],
                     "t": float(z["adam_t"])}
            history = json.loads(str(z["history"]))
    except (OSError, KeyError, ValueError) as exc:
        raise TrainingError(f"{path}: unreadable checkpoint ({exc})") from exc
    return meta, params, best, state, history


class TrainingError(Exception):
    """A problem with a training run (e.g. a checkpoint that does not match)."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT/SIGTERM stopped the run after checkpointing its last complete epoch."""


# --------------------------------------------------------------------------
# the training run

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


def _lr(cfg_t, epoch):
    return max(cfg_t["min_learning_rate"], cfg_t["learning_rate"] * 0.5 ** (epoch / cfg_t["lr_decay_epochs"]))


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


def train(train_paths, output, test_paths=None, config=None, preset=None, epochs=None,
          max_time=None, resume=False, seed=None, progress=True, log=print, command=None,
          plots=True):
    """Fit a potential and write it (plus metrics JSON and PNG plots) next to ``output``.

    ``config``: a validated config dict (see :func:`tinynet.presets.validate_config`)
    or None for defaults; ``preset``, ``epochs``, ``max_time`` (minutes) and
    ``seed`` override it.  ``resume`` continues from ``output``'s checkpoint.
    """
    from tinynet import evaluation

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
    if seed is not None:
        cfg["training"]["seed"] = int(seed)
    tcfg = cfg["training"]
    seed = tcfg["seed"]
    output = str(output)
    ckpt = checkpoint_path(output)
    out_dir = os.path.dirname(os.path.abspath(output))
    os.makedirs(out_dir, exist_ok=True)

    # ---- data
    elements = cfg["elements"]
    data = load_files(train_paths, elements=elements, role="configured")
    if elements is None:
        elements = data.elements
    n_el = len(elements)
    if test_paths:
        test = load_files(test_paths, elements=elements, role="training-set")
        train_idx, test_idx = list(range(len(data))), None
        split = {"test": "files"}
    else:
        train_idx, test_idx = split_indices(len(data), tcfg["test_fraction"], seed)
        test = data.subset(test_idx) if test_idx else None
        split = {"test": {"fraction": tcfg["test_fraction"], "seed": seed, "indices": test_idx}}
    pool = data.subset(train_idx)
    fit_local, val_local = split_indices(len(pool), tcfg["validation_fraction"], seed + 1)
    fit = pool.subset(fit_local)
    val = pool.subset(val_local) if val_local else None
    split["validation"] = {"fraction": tcfg["validation_fraction"], "seed": seed + 1,
                           "indices": [train_idx[i] for i in val_local]}
    split["n_train"], split["n_validation"] = len(fit), len(val_local)
    split["n_test"] = len(test) if test is not None else 0
    missing = [e for e in elements if not any(e in f.atoms.get_chemical_symbols() for f in fit.frames)]
    if missing:
        log(f"warning: element(s) {', '.join(missing)} have no atoms in the training split")

    # ---- descriptor
    resume_state = None
    if resume:
        if not os.path.exists(ckpt):
            raise TrainingError(f"{ckpt}: no checkpoint to resume from")
        resume_state = load_checkpoint(ckpt, n_el)
        meta = resume_state[0]
        if [f["sha256"] for f in meta["train_files"]] != [f["sha256"] for f in data.files]:
            raise TrainingError(f"{ckpt}: checkpoint was made with different training data")
        if meta["elements"] != elements:
            raise TrainingError(f"{ckpt}: checkpoint elements {meta['elements']} differ from {elements}")
        same = {k: v for k, v in meta["config"].items() if k != "training"}
        now = {k: v for k, v in cfg.items() if k != "training"}
        if meta["config"]["descriptor"] is None and now["descriptor"] is None:
            pass
        if json.dumps(same, sort_keys=True) != json.dumps(now, sort_keys=True) or any(
                meta["config"]["training"][k] != tcfg[k] for k in
                ("seed", "batch_size", "validation_fraction", "test_fraction", "dtype")):
            raise TrainingError(f"{ckpt}: checkpoint was made with a different configuration")
        descriptor = meta["descriptor"]
    elif cfg["descriptor"] is not None:
        descriptor = cfg["descriptor"]
    else:
        nn = nearest_neighbor_distances(fit.frames)
        if not nn:
            raise DataError("training data: no atom has a neighbour within 8 A; cannot derive a preset")
        descriptor = make_preset(cfg["preset"], max(nn.values()))
    n_feat = n_features(descriptor, n_el)

    t0 = time.time()
    fit_desc = compute_descriptors_for(fit.frames, descriptor, elements, progress=progress,
                                       label="descriptors (train)")
    val_desc = compute_descriptors_for(val.frames, descriptor, elements, progress=progress,
                                       label="descriptors (validation)") if val else []
    t_desc = time.time() - t0
    pool_desc = fit_desc + val_desc
    stats = feature_stats(pool_desc, n_el, n_feat)
    e0 = fit_e0(fit.frames, elements)
    resid = np.array([(f.energy - c) / f.n_atoms for f, c in
                      zip(fit.frames, composition_matrix(fit.frames, elements) @ e0)])
    force_rms = math.sqrt(np.mean(np.concatenate([f.forces.ravel() for f in fit.frames]) ** 2))
    scale = float(max(resid.std(), 0.1 * force_rms, 1e-3))

    lcfg = cfg["loss"]
    use_stress = lcfg["stress_weight"] > 0
    weights = (lcfg["energy_weight"], lcfg["force_weight"], lcfg["stress_weight"])

    # ---- batches (fixed partition; order shuffled per epoch from (seed, epoch))
    bs = tcfg["batch_size"]
    if bs <= 0 or bs >= len(fit):
        groups = [list(range(len(fit)))]
    else:
        perm = np.random.default_rng(seed + 2).permutation(len(fit))
        groups = [sorted(perm[k:k + bs].tolist()) for k in range(0, len(fit), bs)]
    params0 = init_params(n_el, n_feat, cfg["network"]["hidden"], seed)
    model = Model(params0, n_el, scale, weights, dtype=tcfg["dtype"])
    train_batches = [model.to_tensors(make_batch([fit.frames[i] for i in g], [fit_desc[i] for i in g],
                                                 elements, stats, e0, use_stress)) for g in groups]
    val_batch = model.to_tensors(make_batch(val.frames, val_desc, elements, stats, e0, use_stress)) if val else None

    # ---- state
    history = []
    epoch = 0
    best_loss = float("inf")
    best_epoch = -1
    best_params = model.get_params()
    if resume_state is not None:
        meta, params, best_params, opt_state, history = resume_state
        model.set_params(params)
        model.set_state(opt_state)
        epoch = meta["epoch"]
        best_loss = meta["best_loss"] if meta["best_loss"] is not None else float("inf")
        best_epoch = meta["best_epoch"]
        log(f"resuming from {ckpt} at epoch {epoch} (best validation loss {best_loss:.6g} at epoch {best_epoch})")

    def meta_now():
        return {"version": CHECKPOINT_VERSION, "epoch": epoch, "best_epoch": best_epoch,
                "best_loss": best_loss if math.isfinite(best_loss) else None,
                "n_arrays": len(params0[0]) * n_el, "elements": elements, "descriptor": descriptor,
                "config": cfg, "train_files": data.files, "seed": seed}

    max_epochs = tcfg["epochs"]
    patience = tcfg["patience"]
    max_seconds = tcfg["max_time_minutes"] * 60.0 if tcfg["max_time_minutes"] > 0 else float("inf")
    stop_reason = "epochs"
    if epoch >= max_epochs:
        stop_reason = "epochs (already reached)"
    if best_epoch >= 0 and patience > 0 and epoch - best_epoch >= patience:
        stop_reason = "early stopping (already reached)"
        max_epochs = epoch

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=max_epochs, initial=min(epoch, max_epochs), desc="training", unit="epoch",
                   dynamic_ncols=True)
    t_start = time.time()
    last_ckpt = time.time()
    epochs_this_run = 0
    t_train = 0.0
    try:
        with _Interrupt() as intr:
            while epoch < max_epochs:
                te = time.time()
                lr = _lr(tcfg, epoch)
                order = (np.random.default_rng([seed, epoch]).permutation(len(train_batches))
                         if len(train_batches) > 1 else [0])
                sums = np.zeros(6)
                for k in order:
                    _, s = model.train_step(train_batches[k], lr)
                    sums += s
                # errors reached during the epoch (weights changing), cheap and honest enough
                tr = sums_to_rmse(sums)
                if val_batch is not None:
                    vloss, vs = model.evaluate(val_batch)
                    va = sums_to_rmse(vs)
                else:
                    vloss = (weights[0] * sums[0] / max(sums[1], 1) + weights[1] * sums[2] / max(sums[3], 1)
                             + weights[2] * sums[4] / max(sums[5], 1))
                    va = {}
                epoch += 1
                epochs_this_run += 1
                if epochs_this_run > 1:  # the first epoch includes tracing the graph
                    t_train += time.time() - te
                if not math.isfinite(vloss):
                    raise TrainingError(f"training diverged at epoch {epoch} (non-finite loss); "
                                        "lower training.learning_rate")
                if vloss < best_loss:
                    best_loss, best_epoch = float(vloss), epoch
                    best_params = model.get_params()
                history.append({"epoch": epoch, "lr": lr, "val_loss": float(vloss),
                                "train_energy_rmse_meV_atom": tr["energy_rmse_meV_atom"],
                                "train_force_rmse_eV_A": tr["force_rmse_eV_A"],
                                "val_energy_rmse_meV_atom": va.get("energy_rmse_meV_atom"),
                                "val_force_rmse_eV_A": va.get("force_rmse_eV_A")})
                if bar is not None:
                    post = {"E": f"{tr['energy_rmse_meV_atom']:.2f}", "F": f"{tr['force_rmse_eV_A']:.3f}"}
                    if va:
                        post.update({"vE": f"{va['energy_rmse_meV_atom']:.2f}",
                                     "vF": f"{va['force_rmse_eV_A']:.3f}"})
                    bar.set_postfix(post, refresh=False)
                    bar.update(1)
                stop = None
                if patience > 0 and epoch - best_epoch >= patience:
                    stop = "early stopping"
                elif time.time() - t_start > max_seconds:
                    stop = "time limit"
                elif intr.flag:
                    stop = "interrupted"
                if (stop or epoch % tcfg["checkpoint_every"] == 0 or time.time() - last_ckpt > 60
                        or epoch == max_epochs):
                    save_checkpoint(ckpt, meta_now(), model.get_params(), best_params,
                                    model.get_state(), history)
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
    eps = (epochs_this_run - 1) / t_train if t_train > 0 else 0.0

    # ---- export with the best weights
    pot = export_potential(elements, descriptor, stats, e0, best_params, scale,
                           activation=cfg["network"]["activation"])
    metrics = {"train": evaluation.evaluate_frames(pot, fit.frames, descs=fit_desc)}
    if val is not None:
        metrics["validation"] = evaluation.evaluate_frames(pot, val.frames, descs=val_desc)
    test_pred = None
    if test is not None:
        test_pred = evaluation.predict(pot, test.frames)
        metrics["test"] = evaluation.metrics_from(test.frames, test_pred)
    fit_pred = evaluation.predict(pot, fit.frames, descs=fit_desc) if plots else None
    pot["provenance"] = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "package": "tinynet", "version": package_version(),
        "command": command,
        "train_files": data.files,
        "test_files": test.files if test_paths else None,
        "split": split,
        "preset": cfg["preset"] if cfg["descriptor"] is None else None,
        "config": cfg,
        "errors": metrics,
        "training": {"epochs": epoch, "best_epoch": best_epoch, "stop_reason": stop_reason,
                     "best_validation_loss": best_loss if math.isfinite(best_loss) else None,
                     "epochs_per_second": eps, "descriptor_seconds": t_desc,
                     "energy_scale_eV": scale, "dtype": tcfg["dtype"]},
    }
    from tinynet.potential_file import write_potential

    write_potential(output, pot)
    files = {"potential": output}
    stem = os.path.splitext(output)[0]
    files["metrics"] = stem + ".metrics.json"
    with open(files["metrics"], "w") as fh:
        json.dump({"potential": os.path.basename(output), "errors": metrics,
                   "training": pot["provenance"]["training"], "split": split}, fh, indent=1)
    if plots:
        files.update(evaluation.write_plots(stem, fit.frames, fit_pred, test.frames if test else None,
                                            test_pred, history))
    return TrainResult(output, pot, metrics, history, epoch, best_epoch, stop_reason, files, eps)
