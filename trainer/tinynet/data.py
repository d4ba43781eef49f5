"""Loading labelled structures with ASE.

Every frame used for training or testing must carry a total energy and
forces; stress is optional.  Problems are reported as :class:`DataError`
with the file and the (0-based) frame index, never as a bare traceback.

Frames are also checked for values no real calculation produces (they come
from broken or mis-converted files, and would otherwise surface as a
diverging fit far from their cause):

* two atoms closer than ``MIN_DISTANCE`` (0.5 A), periodic images included;
* a force component beyond ``MAX_FORCE`` (1e3 eV/A);
* an energy per atom beyond ``MAX_ENERGY_PER_ATOM`` (1e6 eV: total energies
  of all-electron codes reach ~1e5 eV per heavy atom);
* a stress component beyond ``MAX_STRESS`` (100 eV/A^3, 16 TPa).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np


MIN_DISTANCE = 0.5            # A
MAX_FORCE = 1e3               # eV/A, per component
MAX_ENERGY_PER_ATOM = 1e6     # eV
MAX_STRESS = 100.0            # eV/A^3, per component


class DataError(Exception):
    """A dataset problem, naming the file and frame concerned."""


@dataclass
class Frame:
    """One labelled structure."""

    atoms: object                 # ase.Atoms (positions, cell, pbc, symbols)
    energy: float                 # total energy, eV
    forces: np.ndarray            # (N, 3), eV/Angstrom
    stress: np.ndarray | None     # (3, 3), eV/Angstrom^3, ASE sign (positive = tensile), or None
    source: str                   # file path
    index: int                    # frame index inside the file

    @property
    def n_atoms(self) -> int:
        return len(self.atoms)

    @property
    def where(self) -> str:
        return f"{self.source}, frame {self.index}"


@dataclass
class Dataset:
    frames: list = field(default_factory=list)
    files: list = field(default_factory=list)   # [{"path", "sha256", "n_frames"}]

    def __len__(self):
        return len(self.frames)

    @property
    def elements(self) -> list:
        return sorted({s for f in self.frames for s in f.atoms.get_chemical_symbols()})

    @property
    def n_atoms(self) -> int:
        return sum(f.n_atoms for f in self.frames)

    def subset(self, indices) -> "Dataset":
        return Dataset([self.frames[i] for i in indices], list(self.files))


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_frames(path: str):
    """Every structure in `path` (any format ASE reads); DataError naming the file otherwise."""
    import ase.io

    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, expected a structure file")
    try:
        frames = ase.io.read(path, ":")
    except Exception as exc:  # ASE raises many different types for bad files
        msg = str(exc).strip() or type(exc).__name__
        raise DataError(f"{path}: cannot read structures ({type(exc).__name__}: {msg})") from exc
    if not isinstance(frames, list):
        frames = [frames]
    if not frames:
        raise DataError(f"{path}: contains no structures")
    return frames


def _label(atoms, path, k, need_stress=False):
    where = f"{path}, frame {k}"
    calc = atoms.calc
    results = getattr(calc, "results", {}) if calc is not None else {}
    # energy
    energy = None
    if calc is not None:
        try:
            energy = atoms.get_potential_energy()
        except Exception:
            energy = None
    if energy is None:
        for key in ("energy", "free_energy", "Energy", "total_energy"):
            if key in atoms.info:
                energy = atoms.info[key]
                break
    if energy is None:
        raise DataError(f"{where}: no energy label")
    try:
        energy = float(energy)
    except (TypeError, ValueError):
        raise DataError(f"{where}: energy label is not a number ({energy!r})")
    if not np.isfinite(energy):
        raise DataError(f"{where}: energy is not finite ({energy})")
    # forces
    forces = None
    if calc is not None and "forces" in results:
        forces = results["forces"]
    elif "forces" in atoms.arrays:
        forces = atoms.arrays["forces"]
    if forces is None:
        raise DataError(f"{where}: no force labels")
    forces = np.array(forces, dtype=np.float64)
    if forces.shape != (len(atoms), 3):
        raise DataError(f"{where}: forces have shape {forces.shape}, expected ({len(atoms)}, 3)")
    if not np.all(np.isfinite(forces)):
        raise DataError(f"{where}: forces contain non-finite values")
    # stress (optional)
    stress = None
    raw = None
    if calc is not None and "stress" in results:
        raw = results["stress"]
    elif "stress" in atoms.info:
        raw = atoms.info["stress"]
    if raw is not None:
        s = np.array(raw, dtype=np.float64)
        if s.shape == (6,):
            xx, yy, zz, yz, xz, xy = s
            s = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
        elif s.shape == (9,):
            s = s.reshape(3, 3)
        if s.shape != (3, 3):
            raise DataError(f"{where}: stress has shape {np.shape(raw)}, expected 6 or 3x3")
        if not np.all(np.isfinite(s)):
            raise DataError(f"{where}: stress contains non-finite values")
        if all(atoms.pbc) and atoms.cell.volume > 1e-8:
            stress = 0.5 * (s + s.T)
    if len(atoms) == 0:
        raise DataError(f"{where}: structure has no atoms")
    check_physical(atoms, energy, forces, stress, where)
    return energy, forces, stress


def check_physical(atoms, energy, forces, stress, where):
    """DataError naming `where` for coincident atoms or absurd labels (see the module doc)."""
    from ase.neighborlist import neighbor_list

    if abs(energy) > MAX_ENERGY_PER_ATOM * len(atoms):
        raise DataError(f"{where}: energy {energy:.6g} eV is {abs(energy) / len(atoms):.3g} eV per atom, "
                        f"beyond the {MAX_ENERGY_PER_ATOM:g} eV/atom any real calculation gives")
    fmax = float(np.max(np.abs(forces))) if forces.size else 0.0
    if fmax > MAX_FORCE:
        i = int(np.argmax(np.max(np.abs(forces), axis=1)))
        raise DataError(f"{where}: force on atom {i} has a component of {fmax:.6g} eV/A, "
                        f"beyond the {MAX_FORCE:g} eV/A bound (units, or a broken calculation?)")
    if stress is not None and np.max(np.abs(stress)) > MAX_STRESS:
        raise DataError(f"{where}: stress component {np.max(np.abs(stress)):.6g} eV/A^3 is beyond "
                        f"the {MAX_STRESS:g} eV/A^3 bound")
    try:
        i, j, d = neighbor_list("ijd", atoms, MIN_DISTANCE)
    except Exception:  # a degenerate cell: the descriptor code reports it
        return
    if len(d):
        k = int(np.argmin(d))
        raise DataError(f"{where}: atoms {i[k]} and {j[k]} are {d[k]:.4f} A apart, closer than the "
                        f"{MIN_DISTANCE} A minimum (duplicated atom or broken structure?)")


def load_files(paths, elements=None, role="data") -> Dataset:
    """Read every frame of every path; validate labels.

    ``elements``: if given, every atom must be one of them (element mismatch
    is reported with file and frame).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    ds = Dataset()
    allowed = set(elements) if elements is not None else None
    for path in paths:
        path = os.fspath(path)
        frames = read_frames(path)
        for k, atoms in enumerate(frames):
            if allowed is not None:
                bad = sorted(set(atoms.get_chemical_symbols()) - allowed)
                if bad:
                    raise DataError(
                        f"{path}, frame {k}: element(s) {', '.join(bad)} not in "
                        f"{role} elements {sorted(allowed)}")
            energy, forces, stress = _label(atoms, path, k)
            bare = atoms.copy()
            bare.calc = None
            ds.frames.append(Frame(bare, energy, forces, stress, path, k))
        ds.files.append({"path": path, "sha256": sha256_of(path), "n_frames": len(frames)})
    if not ds.frames:
        raise DataError(f"no structures in {', '.join(map(str, paths))}")
    return ds


def split_indices(n: int, fraction: float, seed: int):
    """Reproducible split of range(n) into (kept, held_out); held_out ~ fraction*n."""
    if n < 2 or fraction <= 0:
        return list(range(n)), []
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_out = int(round(fraction * n))
    n_out = min(max(n_out, 1), n - 1)
    held = sorted(int(i) for i in perm[:n_out])
    kept = sorted(int(i) for i in perm[n_out:])
    return kept, held
