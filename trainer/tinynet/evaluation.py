"""Errors of a potential on labelled frames, and the trainer's plots.

Predictions here are plain NumPy: descriptors and Jacobians from
:mod:`tinynet.descriptors` (the C++ core) and the network from
:func:`tinynet.potential_file.evaluate_network`, i.e. exactly what the file
says, independent of TensorFlow.

Conventions: energy errors per atom (meV/atom); force errors over Cartesian
components (eV/A); stress RMSE over the six Voigt components (GPa), only on
frames that carry a stress label.
"""

from __future__ import annotations

import math

import numpy as np

from tinynet.data import DataError

EV_A3_TO_GPA = 160.21766208

METRIC_KEYS = ("energy_rmse_meV_atom", "energy_mae_meV_atom", "force_rmse_eV_A", "force_mae_eV_A",
               "stress_rmse_GPa", "n_structures", "n_atoms")


def check_elements(potential, frames):
    allowed = set(potential["elements"])
    for f in frames:
        bad = sorted(set(f.atoms.get_chemical_symbols()) - allowed)
        if bad:
            raise DataError(f"{f.where}: element(s) {', '.join(bad)} not in the potential "
                            f"(elements {', '.join(potential['elements'])})")


def predict_one(potential, atoms, desc=None, stress=True):
    """Energy (eV), forces (N,3) and stress (3x3, eV/A^3, ASE sign; None if not
    periodic) of the whole potential: the networks plus, where the potential has
    one, the core repulsion ("energies" are the networks' per-atom energies)."""
    from tinynet.potential_file import evaluate_network

    elements = potential["elements"]
    if desc is None:
        from tinynet.descriptors import compute as compute_descriptors

        desc = compute_descriptors(atoms, potential["descriptor"], elements, jacobian=True)
    G = desc["features"]
    sp = desc["species"]
    n = len(sp)
    e_atoms = np.zeros(n)
    dEdG = np.zeros_like(G)
    for t, el in enumerate(elements):
        idx = np.nonzero(sp == t)[0]
        if len(idx):
            e, g = evaluate_network(potential["models"][el], G[idx])
            e_atoms[idx] = e
            dEdG[idx] = g
    contrib = np.einsum("pf,pfx->px", dEdG[desc["pair_center"]], desc["dG_dr"])
    forces = np.zeros((n, 3))
    np.add.at(forces, desc["pair_atom"], -contrib)
    s = None
    if stress and all(atoms.pbc) and atoms.cell.rank == 3:
        s = np.einsum("if,ifab->ab", dEdG, desc["dG_dstrain"]) / atoms.get_volume()
    energy = float(e_atoms.sum())
    if potential.get("core_repulsion"):
        # The file's full energy: network plus the fixed short-range baseline.
        from tinynet.core_repulsion import baseline
        from tinynet.potential_file import descriptor_cutoff

        e_rep, f_rep, s_rep = baseline(atoms, potential["core_repulsion"], elements,
                                       descriptor_cutoff(potential["descriptor"]))
        energy += e_rep
        forces += f_rep
        if s is not None and s_rep is not None:
            s = s + s_rep
    return {"energy": energy, "energies": e_atoms, "forces": forces, "stress": s}


def predict(potential, frames, descs=None, progress=False):
    check_elements(potential, frames)
    it = range(len(frames))
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="evaluating", unit="struct", leave=False)
    out = []
    for k in it:
        out.append(predict_one(potential, frames[k].atoms, descs[k] if descs is not None else None))
    return out


def _voigt(s):
    return np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])


def metrics_from(frames, preds) -> dict:
    de = np.array([(p["energy"] - f.energy) / f.n_atoms for f, p in zip(frames, preds)])
    df = np.concatenate([(p["forces"] - f.forces).ravel() for f, p in zip(frames, preds)])
    ds = [(_voigt(p["stress"]) - _voigt(f.stress)) * EV_A3_TO_GPA
          for f, p in zip(frames, preds) if f.stress is not None and p["stress"] is not None]
    ds = np.concatenate(ds) if ds else None
    return {
        "energy_rmse_meV_atom": 1000.0 * math.sqrt(float(np.mean(de ** 2))),
        "energy_mae_meV_atom": 1000.0 * float(np.mean(np.abs(de))),
        "force_rmse_eV_A": math.sqrt(float(np.mean(df ** 2))),
        "force_mae_eV_A": float(np.mean(np.abs(df))),
        "stress_rmse_GPa": math.sqrt(float(np.mean(ds ** 2))) if ds is not None else None,
        "n_structures": len(frames),
        "n_atoms": int(sum(f.n_atoms for f in frames)),
    }


def evaluate_frames(potential, frames, descs=None, progress=False) -> dict:
    return metrics_from(frames, predict(potential, frames, descs=descs, progress=progress))


def evaluate_files(potential, paths, progress=False) -> dict:
    """Metrics of ``potential`` (dict) on every frame of ``paths``."""
    from tinynet.data import load_files

    data = load_files(paths, elements=potential["elements"], role="the potential's")
    return evaluate_frames(potential, data.frames, progress=progress)


def format_metrics(m: dict) -> str:
    lines = [f"structures: {m['n_structures']}   atoms: {m['n_atoms']}",
             f"energy RMSE {m['energy_rmse_meV_atom']:.3f} meV/atom   MAE {m['energy_mae_meV_atom']:.3f} meV/atom",
             f"force  RMSE {m['force_rmse_eV_A']:.4f} eV/A       MAE {m['force_mae_eV_A']:.4f} eV/A"]
    if m.get("stress_rmse_GPa") is not None:
        lines.append(f"stress RMSE {m['stress_rmse_GPa']:.4f} GPa")
    else:
        lines.append("stress: no labels")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# plots

def write_plots(stem, train_frames, train_pred, test_frames, test_pred, history) -> dict:
    """Parity plots (energy, forces) and learning curves as PNG; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}
    sets = [("train", train_frames, train_pred, "tab:blue")]
    if test_frames is not None and test_pred is not None:
        sets.append(("test", test_frames, test_pred, "tab:red"))

    def parity(key, reference, predicted, size, alpha, scale, unit, fmt, xlabel, ylabel, title):
        fig, ax = plt.subplots(figsize=(5, 5))
        lo, hi = np.inf, -np.inf
        for name, frames, preds, color in sets:
            if frames is None or preds is None:
                continue
            ref, prd = reference(frames), predicted(frames, preds)
            rmse = scale * math.sqrt(np.mean((prd - ref) ** 2))
            ax.scatter(ref, prd, s=size, color=color, alpha=alpha, label=f"{name}: RMSE {rmse:{fmt}} {unit}")
            lo, hi = min(lo, ref.min(), prd.min()), max(hi, ref.max(), prd.max())
        if np.isfinite(lo):
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(fontsize=8)
        fig.tight_layout()
        files[key] = stem + "." + key + ".png"
        _save(fig, files[key])

    parity("parity_energy",
           lambda frames: np.array([f.energy / f.n_atoms for f in frames]),
           lambda frames, preds: np.array([p["energy"] / f.n_atoms for f, p in zip(frames, preds)]),
           8, 0.7, 1000, "meV/atom", ".2f",
           "reference energy (eV/atom)", "tinynet energy (eV/atom)", "Energy parity")
    parity("parity_forces",
           lambda frames: np.concatenate([f.forces.ravel() for f in frames]),
           lambda frames, preds: np.concatenate([p["forces"].ravel() for p in preds]),
           3, 0.4, 1, "eV/Å", ".3f",
           "reference force component (eV/Å)", "tinynet force component (eV/Å)", "Force parity")

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    if history:
        ep = [h["epoch"] for h in history]
        a1.plot(ep, [h["train_energy_rmse_meV_atom"] for h in history], label="train")
        a2.plot(ep, [h["train_force_rmse_eV_A"] for h in history], label="train")
        if history[0].get("val_energy_rmse_meV_atom") is not None:
            a1.plot(ep, [h["val_energy_rmse_meV_atom"] for h in history], label="validation")
            a2.plot(ep, [h["val_force_rmse_eV_A"] for h in history], label="validation")
    for a, lab in ((a1, "energy RMSE (meV/atom)"), (a2, "force RMSE (eV/Å)")):
        a.set_xlabel("epoch")
        a.set_ylabel(lab)
        a.set_yscale("log")
        a.grid(alpha=0.3)
        a.legend()
    fig.suptitle("Learning curves")
    fig.tight_layout()
    files["learning_curves"] = stem + ".learning_curves.png"
    _save(fig, files["learning_curves"])
    return files


def _save(fig, path):
    """PNG written atomically (a kill leaves the old plot or none, never half a file)."""
    import matplotlib.pyplot as plt

    from tinynet.atomic import atomic_path

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)
