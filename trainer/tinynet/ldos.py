"""Per-atom LDOS: data, training (TensorFlow), metrics, plots, and the command line.

    python -m tinynet.ldos train TRAIN.extxyz [...] --test TEST.extxyz -o X-ldos.tinynet [--preset "L4(2)"]
    python -m tinynet.ldos test X-ldos.tinynet DATA.extxyz [--json]

Data: any file ASE reads whose frames carry ``atoms.arrays["ldos"]`` (N atoms x
n_points, states/eV/atom) and in ``atoms.info`` the grid ``ldos_egrid`` (eV,
relative to the Fermi level, evenly spaced) and the broadening ``ldos_sigma``
(eV), as in ../shared/data/si-ldos.  Problems are DataError naming file and frame.

Model: the same descriptor features as the potentials (C++ core, no Jacobian),
normalised per element, into a per-element tanh MLP whose linear output layer
has one value per grid point; loss = mean squared error over atoms and grid
points.  The output layer starts from the training curves' mean (bias) and
principal components (weights), so training starts near the best rank-k fit.
Splits are those of ``tinynet train``: --test files, else a seeded test
fraction of the structures; then a seeded validation fraction for early
stopping.  The model with the best validation loss is exported.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import sys
import time

import numpy as np

from tinynet.data import DataError, read_frames, sha256_of, split_indices
from tinynet.network_file import STD_RELATIVE_FLOOR
from tinynet.ldos_file import (FORMAT_NAME, _plain, FORMAT_VERSION, LDOS_UNITS, REFERENCE, UNITS,
                               energy_grid, evaluate_ldos, read_ldos_model, write_ldos_model)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
CHECKPOINT_VERSION = 1
GRID_TOLERANCE = 1e-6      # eV: grids of different frames must agree to this


# --------------------------------------------------------------------------
# data

class LDOSFrame:
    """One structure with its per-atom LDOS."""

    def __init__(self, atoms, ldos, source, index):
        self.atoms, self.ldos, self.source, self.index = atoms, ldos, source, index

    @property
    def where(self):
        return f"{self.source}, frame {self.index}"


def _grid_of(atoms, where):
    if "ldos_egrid" not in atoms.info:
        raise DataError(f"{where}: no energy grid (atoms.info['ldos_egrid'])")
    egrid = np.asarray(atoms.info["ldos_egrid"], dtype=float).ravel()
    if egrid.size < 2 or not np.all(np.isfinite(egrid)):
        raise DataError(f"{where}: ldos_egrid must hold at least 2 finite energies")
    step = (egrid[-1] - egrid[0]) / (egrid.size - 1)
    if not step > 0 or np.max(np.abs(np.diff(egrid) - step)) > GRID_TOLERANCE:
        raise DataError(f"{where}: ldos_egrid is not an increasing, evenly spaced grid")
    sigma = atoms.info.get("ldos_sigma")
    try:
        sigma = float(sigma)
    except (TypeError, ValueError):
        raise DataError(f"{where}: no Gaussian broadening (atoms.info['ldos_sigma'])") from None
    if not (math.isfinite(sigma) and sigma > 0):
        raise DataError(f"{where}: ldos_sigma must be a positive number, got {sigma}")
    return {"energy_start": float(egrid[0]), "energy_step": float(step),
            "n_points": int(egrid.size), "reference": REFERENCE, "broadening": sigma,
            "units": LDOS_UNITS}


def _same_grid(a, b):
    return (a["n_points"] == b["n_points"] and abs(a["energy_start"] - b["energy_start"]) < GRID_TOLERANCE
            and abs(a["energy_step"] - b["energy_step"]) < GRID_TOLERANCE
            and abs(a["broadening"] - b["broadening"]) < GRID_TOLERANCE)


def load_ldos_frames(paths, grid=None, elements=None):
    """Frames with a per-atom LDOS, all on one grid.  Returns (frames, grid, files).

    `grid`: the "ldos" section the data must match (default: the first frame's).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    frames, files = [], []
    grid_from = None if grid is None else "the model"
    for path in map(os.fspath, paths):
        structures = read_frames(path)
        for k, atoms in enumerate(structures):
            where = f"{path}, frame {k}"
            if len(atoms) == 0:
                raise DataError(f"{where}: structure has no atoms")
            if elements is not None:
                bad = sorted(set(atoms.get_chemical_symbols()) - set(elements))
                if bad:
                    raise DataError(f"{where}: element(s) {', '.join(bad)} not in the model's "
                                    f"elements {list(elements)}")
            this = _grid_of(atoms, where)
            if grid is None:
                grid, grid_from = this, where
            elif not _same_grid(this, grid):
                raise DataError(
                    f"{where}: LDOS grid ({this['n_points']} points from {this['energy_start']:g} eV, "
                    f"step {this['energy_step']:g}, broadening {this['broadening']:g}) differs from "
                    f"{grid_from} ({grid['n_points']} points from {grid['energy_start']:g} eV, step "
                    f"{grid['energy_step']:g}, broadening {grid['broadening']:g})")
            if "ldos" not in atoms.arrays:
                raise DataError(f"{where}: no per-atom LDOS (atoms.arrays['ldos'])")
            ldos = np.asarray(atoms.arrays["ldos"], dtype=float)
            if ldos.ndim == 1:
                ldos = ldos[:, None]
            if ldos.shape != (len(atoms), grid["n_points"]):
                raise DataError(f"{where}: ldos has {ldos.shape[1]} values per atom, expected "
                                f"{grid['n_points']} (one per point of the energy grid)")
            if not np.all(np.isfinite(ldos)):
                bad = np.argwhere(~np.isfinite(ldos))[0]
                raise DataError(f"{where}: ldos is not finite (atom {bad[0]}, grid point {bad[1]})")
            bare = atoms.copy()
            bare.calc = None
            frames.append(LDOSFrame(bare, ldos, path, k))
        files.append({"path": path, "sha256": sha256_of(path), "n_frames": len(structures)})
    if not frames:
        raise DataError(f"no structures in {', '.join(map(str, paths))}")
    return frames, grid, files


def features_of(frames, descriptor, elements):
    """Per frame: (features (N, F), species (N,)) from the C++ core."""
    from tinynet.descriptors import compute

    out = []
    for f in frames:
        try:
            d = compute(f.atoms, descriptor, elements, jacobian=False)
        except ValueError as exc:
            raise DataError(f"{f.where}: {exc}") from exc
        out.append((d["features"], d["species"]))
    return out


def _stack(frames, feats, n_el):
    """Per element: (features, ldos, frame id) of all its atoms."""
    G = np.concatenate([g for g, _ in feats]) if feats else np.zeros((0, 0))
    S = np.concatenate([s for _, s in feats]) if feats else np.zeros(0, int)
    L = np.concatenate([f.ldos for f in frames]) if frames else np.zeros((0, 0))
    fid = np.concatenate([np.full(len(f.atoms), k) for k, f in enumerate(frames)]) if frames else np.zeros(0, int)
    return [(G[S == t], L[S == t], fid[S == t]) for t in range(n_el)]


# --------------------------------------------------------------------------
# metrics

def occupied(egrid):
    return egrid <= 1e-9


def moments(ldos, egrid):
    """Per atom, over the occupied grid (E <= E_F): electron count m0 = int rho dE,
    band centre m1 = int E rho / m0 (eV), band variance m2 = int (E - m1)^2 rho / m0 (eV^2)."""
    occ = occupied(egrid)
    e, rho = egrid[occ], np.asarray(ldos)[:, occ]
    de = egrid[1] - egrid[0]
    m0 = rho.sum(1) * de
    w = rho.sum(1)
    m1 = (rho * e).sum(1) / w
    m2 = (rho * (e[None, :] - m1[:, None]) ** 2).sum(1) / w
    return m0, m1, m2


def band_edges(ldos, egrid, threshold):
    """Valence and conduction band edges (eV from E_F) per atom: walking down
    (up) from E_F, the first energy where the LDOS rises to `threshold`
    (linear interpolation); NaN if it never does."""
    ldos = np.asarray(ldos)
    out = np.full((len(ldos), 2), np.nan)
    k0 = int(np.argmin(np.abs(egrid)))
    for i, rho in enumerate(ldos):
        for side, order in ((0, range(k0, 0, -1)), (1, range(k0, len(egrid) - 1))):
            step = -1 if side == 0 else 1
            for k in order:
                a, b = rho[k], rho[k + step]
                if a < threshold <= b:
                    out[i, side] = egrid[k] + (egrid[k + step] - egrid[k]) * (threshold - a) / (b - a)
                    break
                if a >= threshold:    # E_F itself lies in states: the edge is at E_F
                    out[i, side] = egrid[k]
                    break
    return out


def ldos_metrics(pred, ref, egrid):
    """Errors of predicted vs reference LDOS (atoms x grid points)."""
    pred, ref = np.asarray(pred), np.asarray(ref)
    occ = occupied(egrid)
    err = pred - ref
    mean_occ = float(ref[:, occ].mean())
    rmse = float(np.sqrt(np.mean(err ** 2)))
    rmse_occ = float(np.sqrt(np.mean(err[:, occ] ** 2)))
    m_ref, m_pred = moments(ref, egrid), moments(pred, egrid)
    rel = {}
    for name, a, b in zip(("m0_electrons", "m1_band_centre", "m2_band_variance"), m_pred, m_ref):
        r = np.abs(a - b) / np.abs(b)
        rel[name] = {"mean_abs_rel_error": float(r.mean()), "max_abs_rel_error": float(r.max()),
                     "fraction_within_5pct": float(np.mean(r <= 0.05)),
                     "mean_abs_error": float(np.abs(a - b).mean()), "mean_reference": float(b.mean())}
    # Edge: where the LDOS reaches 10 % of its occupied mean (robust to the
    # broadening tails, meaningful for a gap of a few tenths of an eV).
    threshold = 0.1 * mean_occ
    e_ref, e_pred = band_edges(ref, egrid, threshold), band_edges(pred, egrid, threshold)
    edges = {}
    for side, name in enumerate(("valence_edge", "conduction_edge")):
        ok = np.isfinite(e_ref[:, side]) & np.isfinite(e_pred[:, side])
        d = e_pred[ok, side] - e_ref[ok, side]
        edges[name] = {"mae_eV": float(np.abs(d).mean()) if ok.any() else None,
                       "rmse_eV": float(np.sqrt(np.mean(d ** 2))) if ok.any() else None,
                       "mean_reference_eV": float(e_ref[ok, side].mean()) if ok.any() else None,
                       "n_atoms": int(ok.sum())}
    edges["threshold_states_per_eV"] = threshold
    return {
        "n_atoms": int(len(ref)),
        "rmse": rmse,
        "rmse_occupied": rmse_occ,
        "mean_ldos_occupied": mean_occ,
        "rmse_relative_to_mean_occupied": rmse / mean_occ,
        "rmse_occupied_relative_to_mean_occupied": rmse_occ / mean_occ,
        "rmse_by_energy": np.sqrt(np.mean(err ** 2, axis=0)).tolist(),
        "moments_occupied": rel,
        "band_edges": edges,
    }


def format_metrics(m, label="test"):
    mo = m["moments_occupied"]
    be = m["band_edges"]
    fmt = lambda x: "n/a" if x is None else f"{x:.3f}"
    return "\n".join([
        f"{label}: {m['n_atoms']} atoms; LDOS RMSE {m['rmse']:.4f} states/eV/atom "
        f"({100 * m['rmse_relative_to_mean_occupied']:.1f} % of the mean occupied LDOS "
        f"{m['mean_ldos_occupied']:.4f}); occupied grid only {m['rmse_occupied']:.4f} "
        f"({100 * m['rmse_occupied_relative_to_mean_occupied']:.1f} %)",
        "  occupied-band moments, mean |relative error| (fraction of atoms within 5 %): "
        + ", ".join(f"{k} {100 * v['mean_abs_rel_error']:.2f} % ({100 * v['fraction_within_5pct']:.0f} %)"
                    for k, v in mo.items()),
        f"  band edges (LDOS = {be['threshold_states_per_eV']:.3f}): valence MAE "
        f"{fmt(be['valence_edge']['mae_eV'])} eV, conduction MAE {fmt(be['conduction_edge']['mae_eV'])} eV",
    ])


def predict_frames(model, frames, feats=None):
    """Predicted LDOS (NumPy forward of the file's networks), one array per frame."""
    elements = model["elements"]
    if feats is None:
        feats = features_of(frames, model["descriptor"], elements)
    out = []
    for (G, S) in feats:
        pred = np.zeros((len(G), model["ldos"]["n_points"]))
        for t, el in enumerate(elements):
            if np.any(S == t):
                pred[S == t] = evaluate_ldos(model["models"][el], G[S == t])
        out.append(pred)
    return out


def test_report(model_path, data_paths):
    """LDOS errors of an LDOS model file on labelled data (for `tinynet test`)."""
    model = read_ldos_model(model_path)
    frames, _, _ = load_ldos_frames(data_paths, grid=model["ldos"], elements=model["elements"])
    pred = np.concatenate(predict_frames(model, frames))
    ref = np.concatenate([f.ldos for f in frames])
    return ldos_metrics(pred, ref, energy_grid(model["ldos"]))


# --------------------------------------------------------------------------
# the network in TensorFlow

def _init_params(n_feat, hidden, L_fit, seed):
    """Hidden layers N(0, 1/n_in); the output layer from the curves' mean and
    principal components, so the untrained model already outputs the mean curve."""
    rng = np.random.default_rng(seed)
    sizes = [n_feat, *hidden]
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params += [rng.normal(0, 1 / math.sqrt(a), (a, b)), np.zeros(b)]
    mean = L_fit.mean(0) if len(L_fit) else np.zeros(L_fit.shape[1])
    k = hidden[-1]
    W = np.zeros((k, L_fit.shape[1]))
    if len(L_fit) > 1:
        _, s, vt = np.linalg.svd(L_fit - mean, full_matrices=False)
        r = min(k, len(s))
        # scaled so that a unit change of a hidden unit moves the curve by its PC's spread
        W[:r] = vt[:r] * (s[:r, None] / math.sqrt(len(L_fit))) * 0.5
    params += [W, mean.copy()]
    return params


class _Net:
    """Per-element MLPs in TensorFlow (float64) with a hand-written Adam,
    so that the optimiser state is checkpointed exactly."""

    def __init__(self, params_per_el):
        import tensorflow as tf

        self.tf = tf
        self.vars = [[tf.Variable(p, dtype=tf.float64) for p in params] for params in params_per_el]
        self.flat = [v for vs in self.vars for v in vs]
        self.m = [tf.Variable(tf.zeros_like(v)) for v in self.flat]
        self.v = [tf.Variable(tf.zeros_like(v)) for v in self.flat]
        self.t = tf.Variable(0.0, dtype=tf.float64)
        self._step = tf.function(self._train_step)
        self._loss = tf.function(self._sse)

    def forward(self, t, x):
        tf = self.tf
        vs = self.vars[t]
        for l in range(0, len(vs) - 2, 2):
            x = tf.tanh(tf.matmul(x, vs[l]) + vs[l + 1])
        return tf.matmul(x, vs[-2]) + vs[-1]

    def _sse(self, xs, ys):
        """Sum of squared errors over all atoms and grid points, and the count."""
        tf = self.tf
        total = tf.constant(0.0, tf.float64)
        count = tf.constant(0.0, tf.float64)
        for t, (x, y) in enumerate(zip(xs, ys)):
            total += tf.reduce_sum((self.forward(t, x) - y) ** 2)
            count += tf.cast(tf.size(y), tf.float64)
        return total, count

    def _train_step(self, xs, ys, lr):
        tf = self.tf
        with tf.GradientTape() as tape:
            total, count = self._sse(xs, ys)
            loss = total / tf.maximum(count, 1.0)
        grads = tape.gradient(loss, self.flat)
        self.t.assign_add(1.0)
        b1, b2, eps = 0.9, 0.999, 1e-8
        for v, g, m, s in zip(self.flat, grads, self.m, self.v):
            if g is None:
                continue
            m.assign(b1 * m + (1 - b1) * g)
            s.assign(b2 * s + (1 - b2) * g * g)
            mhat = m / (1 - b1 ** self.t)
            shat = s / (1 - b2 ** self.t)
            v.assign_sub(lr * mhat / (tf.sqrt(shat) + eps))
        return loss

    def step(self, xs, ys, lr):
        return float(self._step(xs, ys, self.tf.constant(lr, self.tf.float64)))

    def mse(self, xs, ys):
        total, count = self._loss(xs, ys)
        return float(total) / max(float(count), 1.0)

    def params(self):
        return [[v.numpy() for v in vs] for vs in self.vars]

    def state(self):
        return {"m": [a.numpy() for a in self.m], "v": [a.numpy() for a in self.v], "t": float(self.t.numpy())}

    def set(self, params, state=None):
        for vs, ps in zip(self.vars, params):
            for v, p in zip(vs, ps):
                v.assign(p)
        if state is not None:
            for a, x in zip(self.m, state["m"]):
                a.assign(x)
            for a, x in zip(self.v, state["v"]):
                a.assign(x)
            self.t.assign(state["t"])


def _save_checkpoint(path, meta, params, best, state, history):
    arrays = {"meta": np.array(json.dumps(meta)), "history": np.array(json.dumps(history)),
              "adam_t": np.array(state["t"])}
    flat = [p for ps in params for p in ps]
    for i, a in enumerate(flat):
        arrays[f"p{i}"] = a
    for i, a in enumerate(p for ps in best for p in ps):
        arrays[f"b{i}"] = a
    for i, (m, v) in enumerate(zip(state["m"], state["v"])):
        arrays[f"m{i}"], arrays[f"v{i}"] = m, v
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _load_checkpoint(path, shapes):
    def regroup(flat):
        out, k = [], 0
        for el_shapes in shapes:
            out.append([flat[k + j] for j in range(len(el_shapes))])
            k += len(el_shapes)
        return out

    try:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            n = sum(len(s) for s in shapes)
            params = regroup([z[f"p{i}"] for i in range(n)])
            best = regroup([z[f"b{i}"] for i in range(n)])
            state = {"m": [z[f"m{i}"] for i in range(n)], "v": [z[f"v{i}"] for i in range(n)],
                     "t": float(z["adam_t"])}
            history = json.loads(str(z["history"]))
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: unreadable checkpoint ({exc})") from exc
    got = [[tuple(p.shape) for p in ps] for ps in params]
    if got != [[tuple(s) for s in ss] for ss in shapes]:
        raise DataError(f"{path}: checkpoint is for a different network (shapes {got})")
    return meta, params, best, state, history


# --------------------------------------------------------------------------
# training

DEFAULTS = {"hidden": [16, 32], "epochs": 3000, "learning_rate": 0.005, "lr_decay_epochs": 1000,
            "min_learning_rate": 1e-4, "patience": 800, "validation_fraction": 0.1,
            "test_fraction": 0.2, "seed": 0, "checkpoint_every": 100}


def train(train_paths, output, test_paths=None, preset="L4(2)", descriptor=None, options=None,
          resume=False, max_time=None, plots=True, log=print, command=None):
    """Fit an LDOS model and write it, its metrics JSON and plots next to `output`.
    Returns the metrics dict."""
    from tinynet.potential_file import n_features
    from tinynet.bond_lengths import pair_distance_shells
    from tinynet.presets import make_preset

    opt = dict(DEFAULTS)
    for k, v in (options or {}).items():
        if k not in DEFAULTS:
            raise ValueError(f"unknown LDOS training option {k!r} (known: {', '.join(DEFAULTS)})")
        opt[k] = v
    seed = int(opt["seed"])
    t_start = time.time()

    # ---- data and splits (as tinynet train)
    frames, grid, files = load_ldos_frames(train_paths)
    split = {}
    if test_paths:
        test, _, test_files = load_ldos_frames(test_paths, grid=grid)
        pool = frames
        files += test_files
        split["test"] = "files"
    else:
        keep, held = split_indices(len(frames), opt["test_fraction"], seed)
        pool, test = [frames[i] for i in keep], [frames[i] for i in held]
        split["test"] = {"fraction": opt["test_fraction"], "seed": seed, "indices": held}
    fit_idx, val_idx = split_indices(len(pool), opt["validation_fraction"], seed + 1)
    fit, val = [pool[i] for i in fit_idx], [pool[i] for i in val_idx]
    split["validation"] = {"fraction": opt["validation_fraction"], "seed": seed + 1, "indices": val_idx}
    split.update(n_train=len(fit), n_validation=len(val), n_test=len(test))
    elements = sorted({s for f in frames for s in f.atoms.get_chemical_symbols()})
    for f in test:
        bad = sorted(set(f.atoms.get_chemical_symbols()) - set(elements))
        if bad:
            raise DataError(f"{f.where}: element(s) {', '.join(bad)} not in the training data")

    preset_used = preset if descriptor is None else None
    if descriptor is None:
        descriptor = make_preset(preset, pair_distance_shells([f.atoms for f in pool], elements))
    n_feat = n_features(descriptor, len(elements))
    egrid = energy_grid(grid)
    log(f"LDOS training: {len(fit)} fit / {len(val)} validation / {len(test)} test structures, "
        f"{n_feat} features, grid {grid['n_points']} points")

    # ---- features, normalisation
    feats_fit = features_of(fit, descriptor, elements)
    feats_val = features_of(val, descriptor, elements)
    feats_test = features_of(test, descriptor, elements)
    per_fit = _stack(fit, feats_fit, len(elements))
    per_val = _stack(val, feats_val, len(elements))
    stats = []
    for G, _, _ in per_fit:
        mean = G.mean(0) if len(G) else np.zeros(n_feat)
        std = G.std(0) if len(G) else np.ones(n_feat)
        # below the file format's floor (network_file.STD_RELATIVE_FLOOR) a
        # feature is treated as constant: unit spread
        stats.append((mean, np.where(std >= STD_RELATIVE_FLOOR * np.maximum(1.0, np.abs(mean)), std, 1.0)))
    hidden = [int(h) for h in opt["hidden"]]

    import tensorflow as tf

    def tensors(per):
        xs = tuple(tf.constant((G - m) / s if len(G) else np.zeros((0, n_feat))) for (G, _, _), (m, s) in zip(per, stats))
        ys = tuple(tf.constant(L if len(L) else np.zeros((0, grid["n_points"]))) for _, L, _ in per)
        return xs, ys

    x_fit, y_fit = tensors(per_fit)
    x_val, y_val = tensors(per_val)
    params0 = [_init_params(n_feat, hidden, L, seed + 17 * t) for t, (_, L, _) in enumerate(per_fit)]
    net = _Net(params0)

    # ---- resume
    ckpt = output + ".checkpoint.npz"
    meta_now = {"version": CHECKPOINT_VERSION, "n_features": n_feat, "hidden": hidden,
                "elements": elements, "descriptor": descriptor, "grid": grid, "seed": seed,
                "n_fit": len(fit), "n_validation": len(val)}
    epoch, history, best = 0, [], None
    best_loss, best_epoch = math.inf, -1
    if resume:
        if not os.path.exists(ckpt):
            raise DataError(f"{ckpt}: no checkpoint to resume from")
        meta, params, best, state, history = _load_checkpoint(ckpt, [[p.shape for p in ps] for ps in params0])
        for key in ("n_features", "hidden", "elements", "descriptor", "grid", "seed", "n_fit"):
            if meta.get(key) != meta_now[key]:
                raise DataError(f"{ckpt}: checkpoint does not match this run ({key} differs)")
        net.set(params, state)
        epoch, best_loss, best_epoch = meta["epoch"], meta["best_loss"], meta["best_epoch"]
        log(f"resuming from {ckpt} at epoch {epoch} (best validation MSE {best_loss:.4g} at epoch {best_epoch})")
    if best is None:
        best = net.params()

    def checkpoint():
        meta = dict(meta_now, epoch=epoch, best_loss=best_loss, best_epoch=best_epoch)
        _save_checkpoint(ckpt, meta, net.params(), best, net.state(), history)

    # ---- epochs (full batch: a few thousand atoms at most per element)
    stop = "epochs"
    has_val = len(val) > 0
    try:
        while epoch < opt["epochs"]:
            lr = max(opt["min_learning_rate"], opt["learning_rate"] * 0.5 ** (epoch / opt["lr_decay_epochs"]))
            train_mse = net.step(x_fit, y_fit, lr)
            epoch += 1
            val_mse = net.mse(x_val, y_val) if has_val else train_mse
            if val_mse < best_loss:
                best_loss, best_epoch, best = val_mse, epoch, net.params()
            if epoch % 10 == 0 or epoch == opt["epochs"]:
                history.append({"epoch": epoch, "train_rmse": math.sqrt(train_mse), "val_rmse": math.sqrt(val_mse)})
            if epoch % opt["checkpoint_every"] == 0:
                checkpoint()
            if epoch % 500 == 0:
                log(f"epoch {epoch}: train RMSE {math.sqrt(train_mse):.4f}, validation {math.sqrt(val_mse):.4f}")
            if epoch - best_epoch > opt["patience"]:
                stop = "early stopping"
                break
            if max_time and time.time() - t_start > max_time:
                stop = "time limit"
                break
    except KeyboardInterrupt:
        checkpoint()
        log(f"interrupted at epoch {epoch}; checkpoint {ckpt} (resume with --resume)")
        raise
    checkpoint()

    # ---- export the best model, then measure the file itself
    models = {}
    for t, el in enumerate(elements):
        ps = best[t]
        layers = [{"weights": ps[l], "bias": ps[l + 1], "activation": "tanh"} for l in range(0, len(ps), 2)]
        layers[-1]["activation"] = "linear"
        models[el] = {"feature_mean": stats[t][0], "feature_std": stats[t][1], "layers": layers}
    model = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "units": UNITS, "elements": elements,
             "descriptor": descriptor, "ldos": grid, "models": models,
             "provenance": {"generator": "tinynet.ldos.train", "command": command,
                            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                            "files": files, "split": split, "options": opt, "preset": preset_used,
                            "epochs_run": epoch, "best_epoch": best_epoch, "stop_reason": stop}}
    sets = {"train": (fit, feats_fit), "validation": (val, feats_val), "test": (test, feats_test)}
    metrics = {}
    preds = {}
    for name, (fr, fe) in sets.items():
        if not fr:
            continue
        preds[name] = np.concatenate(predict_frames(_plain(model), fr, fe))
        metrics[name] = ldos_metrics(preds[name], np.concatenate([f.ldos for f in fr]), egrid)
    model["provenance"]["errors"] = {k: {"rmse": v["rmse"], "rmse_relative_to_mean_occupied": v["rmse_relative_to_mean_occupied"]}
                                     for k, v in metrics.items()}
    write_ldos_model(output, model)
    stem = output[:-len(".tinynet")] if output.endswith(".tinynet") else output
    metrics_path = stem + ".metrics.json"
    result = {"model": output, "descriptor": descriptor, "n_features": n_feat, "hidden": hidden,
              "epochs_run": epoch, "best_epoch": best_epoch, "stop_reason": stop,
              "train_seconds": round(time.time() - t_start, 1), "split": split, "history": history, **metrics}
    with open(metrics_path, "w") as fh:
        json.dump(result, fh, indent=1)
    for name in ("train", "test"):
        if name in metrics:
            log(format_metrics(metrics[name], name))
    if plots and test:
        result["plots"] = write_plots(stem, egrid, test, preds["test"], metrics, history)
    return result


def write_plots(stem, egrid, frames, pred, metrics, history):
    """Predicted vs DFT LDOS of representative atoms, RMSE by energy, learning curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ase.neighborlist import neighbor_list

    ref = np.concatenate([f.ldos for f in frames])
    # representative atoms: the lowest and highest coordination, the median error, the worst
    coord = np.concatenate([np.bincount(neighbor_list("i", f.atoms, 2.8), minlength=len(f.atoms)) for f in frames])
    err = np.sqrt(np.mean((pred - ref) ** 2, axis=1))
    picks = {"lowest coordination": int(np.argmin(coord)), "typical error": int(np.argsort(err)[len(err) // 2]),
             "largest error": int(np.argmax(err)), "highest coordination": int(np.argmax(coord))}
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    for ax, (label, i) in zip(axes.ravel(), picks.items()):
        ax.plot(egrid, ref[i], "k-", lw=1.5, label="DFT")
        ax.plot(egrid, pred[i], "r--", lw=1.2, label="tinynet")
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_title(f"{label} (atom {i}, {coord[i]} neighbours < 2.8 A, RMSE {err[i]:.3f})", fontsize=9)
        ax.set_ylabel("LDOS (states/eV/atom)")
    for ax in axes[1]:
        ax.set_xlabel("E - E_F (eV)")
    axes[0, 0].legend()
    fig.tight_layout()
    paths = {"ldos_examples": stem + ".ldos_examples.png"}
    fig.savefig(paths["ldos_examples"], dpi=100)
    plt.close(fig)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, style in (("train", "b-"), ("test", "r-")):
        if name in metrics:
            ax1.plot(egrid, metrics[name]["rmse_by_energy"], style, label=name)
    ax1.plot(egrid, ref.mean(0), "k:", label="mean DFT LDOS (test)")
    ax1.axvline(0, color="grey", lw=0.5)
    ax1.set_xlabel("E - E_F (eV)")
    ax1.set_ylabel("RMSE (states/eV/atom)")
    ax1.set_title("LDOS error by energy")
    ax1.legend()
    if history:
        ep = [h["epoch"] for h in history]
        ax2.semilogy(ep, [h["train_rmse"] for h in history], label="train")
        ax2.semilogy(ep, [h["val_rmse"] for h in history], label="validation")
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("RMSE (states/eV/atom)")
        ax2.legend()
    fig.tight_layout()
    paths["error_by_energy"] = stem + ".error_by_energy.png"
    fig.savefig(paths["error_by_energy"], dpi=100)
    plt.close(fig)
    return paths


# --------------------------------------------------------------------------
# hooks for `tinynet train --target ldos` and `tinynet test` (tinynet.cli)

def run_train_from_cli(args):
    """`tinynet train --target ldos ...`: the cli's train arguments (data,
    output, test, preset, config, epochs, seed, max_time [minutes], resume,
    no_plots); a --config contributes its "descriptor", "preset" and
    network.hidden (its training section is for energy fits: LDOS training
    keeps its own defaults, DEFAULTS)."""
    options, descriptor, preset = {}, None, args.preset or "L4(2)"
    if getattr(args, "config", None):
        from tinynet.presets import load_config

        cfg = load_config(args.config)
        descriptor = cfg.get("descriptor")
        preset = cfg.get("preset") or preset
        options["hidden"] = list(cfg["network"]["hidden"])
    if args.epochs is not None:
        options["epochs"] = args.epochs
    if args.seed is not None:
        options["seed"] = args.seed
    command = "tinynet " + " ".join(getattr(args, "argv", []) or [])
    result = train(args.data, args.output, test_paths=args.test, preset=preset, descriptor=descriptor,
                   options=options, resume=args.resume, max_time=args.max_time * 60 if args.max_time else None,
                   plots=not args.no_plots, command=command)
    print(f"wrote {args.output}  ({result['epochs_run']} epochs, best {result['best_epoch']}, "
          f"stopped: {result['stop_reason']})")
    return 0


def run_test_from_cli(args):
    """`tinynet test LDOS_MODEL DATA... [--json]` for a tinynet-ldos file."""
    m = test_report(args.potential, args.data)
    if args.json:
        print(json.dumps(m, indent=1))
    else:
        print(f"{args.potential} on {', '.join(args.data)}")
        print(format_metrics(m))
    return 0


# --------------------------------------------------------------------------
# command line

def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tinynet.ldos", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="fit a per-atom LDOS model")
    t.add_argument("train", nargs="+", help="training structures with atoms.arrays['ldos']")
    t.add_argument("--test", nargs="+", help="test structures (default: a held-out fraction)")
    t.add_argument("-o", "--output", required=True, help="the LDOS model file to write (*.tinynet)")
    t.add_argument("--preset", default="L4(2)", help="descriptor preset L<n>(<N>) (default L4(2))")
    t.add_argument("--descriptor", help="JSON file with an explicit descriptor {\"blocks\": [...]}")
    t.add_argument("--hidden", help="hidden layer sizes, e.g. 16,32 (default)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--patience", type=int, help="early stopping: epochs without validation improvement")
    t.add_argument("--max-time", type=float, help="minutes")
    t.add_argument("--resume", action="store_true", help="continue from the output's checkpoint")
    t.add_argument("--no-plots", action="store_true")
    e = sub.add_parser("test", help="LDOS errors of a model on labelled structures")
    e.add_argument("model")
    e.add_argument("data", nargs="+")
    e.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    try:
        if a.command == "train":
            options = {}
            if a.hidden:
                options["hidden"] = [int(x) for x in a.hidden.split(",")]
            for key in ("epochs", "learning_rate", "seed", "patience"):
                if getattr(a, key) is not None:
                    options[key] = getattr(a, key)
            descriptor = None
            if a.descriptor:
                with open(a.descriptor) as fh:
                    descriptor = json.load(fh)
            train(a.train, a.output, test_paths=a.test, preset=a.preset, descriptor=descriptor,
                  options=options, resume=a.resume, max_time=a.max_time * 60 if a.max_time else None,
                  plots=not a.no_plots, command=" ".join(["python -m tinynet.ldos", *(argv or sys.argv[1:])]))
        else:
            m = test_report(a.model, a.data)
            print(json.dumps(m, indent=1) if a.json else format_metrics(m))
    except (DataError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
