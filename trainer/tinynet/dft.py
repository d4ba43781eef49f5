"""DFT training data with GPAW: energy, forces, (stress) and a per-atom LDOS.

    python -m tinynet.dft structures Si -a 5.47 -o structures.extxyz [--supercells 1x1x1,2x1x1 ...]
    python -m tinynet.dft ldos structures.extxyz -o labelled.extxyz [--mode lcao --basis dzp --xc PBE
        --kpts 3,3,3 --dos-kpts 8,8,8 --width 0.2 --emin -14 --emax 6 --de 0.1]

The optional extra ``pip install tinynet[dft]`` brings GPAW from PyPI; nothing
else in tinynet needs it, and it is imported only when a calculation starts.

Per structure (the recipe of ../shared/data/si-ldos):
1. self-consistent LCAO run on a Gamma-centred k-mesh: energy, free energy, forces;
2. stress only on request (``--stress``), by central finite differences of
   the free energy under strain, since GPAW has no analytic LCAO stress;
3. a fixed-density run on a denser Monkhorst-Pack mesh without symmetry
   reduction (the per-atom split is not symmetric under the point group), with
   the Fermi level redetermined on that mesh;
4. per-atom LDOS: each band's Mulliken weight on each atom, from the LCAO
   coefficients and overlap matrix, Gaussian-broadened onto a fixed grid
   relative to the Fermi level.  Summed over atoms it is the total DOS.

The result is written as ``tinynet.ldos`` reads it: ``atoms.arrays["ldos"]``
(states/eV/atom, both spins), ``atoms.info["ldos_egrid"]`` and ``["ldos_sigma"]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

INSTALL_HINT = "pip install tinynet[dft]"
ORTHONORMALITY_TOLERANCE = 1e-6   # LCAO states must satisfy C* S C^T = 1 to this


class SettingsError(ValueError):
    """A bad command-line option or setting; the message names it."""


class MissingGPAW(RuntimeError):
    """GPAW is not installed."""


def import_gpaw():
    """GPAW, imported only here, so that tinynet never needs it otherwise."""
    try:
        import gpaw
    except ImportError as exc:
        raise MissingGPAW(
            f"GPAW is not installed ({exc}); DFT data generation needs it: {INSTALL_HINT} "
            "(GPAW compiles C extensions: it needs libxc, BLAS/LAPACK and FFTW development "
            "files; see docs/dft_data.md)") from None
    return gpaw


# --------------------------------------------------------------------------
# settings

def _mesh(text, option):
    """'3,3,3' or '3x3x3' -> (3, 3, 3), positive integers."""
    parts = str(text).replace("x", ",").split(",")
    try:
        mesh = tuple(int(p) for p in parts)
    except ValueError:
        raise SettingsError(f"{option} {text!r}: expected three positive integers, e.g. 3,3,3") from None
    if len(mesh) != 3 or min(mesh) < 1:
        raise SettingsError(f"{option} {text!r}: expected three positive integers, e.g. 3,3,3")
    return mesh


@dataclass
class DFTSettings:
    mode: str = "lcao"
    basis: str = "dzp"
    xc: str = "PBE"
    kpts: tuple = (3, 3, 3)          # SCF mesh (Gamma-centred) per unit cell, see kpoint_mesh
    dos_kpts: tuple = (8, 8, 8)      # fixed-density mesh (Monkhorst-Pack) per unit cell
    occupation_width: float = 0.1    # eV, Fermi-Dirac
    h: float = 0.2                   # A, real-space grid spacing
    width: float = 0.2               # eV, Gaussian broadening of the LDOS (sigma)
    emin: float = -14.0              # eV relative to E_F
    emax: float = 6.0
    de: float = 0.1
    stress: bool = False             # finite-difference stress (costs 12 extra SCF runs)
    stress_strain: float = 0.002     # strain step of the finite differences

    def validate(self):
        """Raise SettingsError naming the first bad option."""
        if self.mode != "lcao":
            raise SettingsError(f"--mode {self.mode!r}: the per-atom LDOS is a Mulliken partition of "
                                "LCAO coefficients, so only --mode lcao is supported")
        for name in ("basis", "xc"):
            if not str(getattr(self, name)).strip():
                raise SettingsError(f"--{name}: must not be empty")
        as_text = lambda m: m if isinstance(m, str) else ",".join(map(str, m))
        self.kpts = _mesh(as_text(self.kpts), "--kpts")
        self.dos_kpts = _mesh(as_text(self.dos_kpts), "--dos-kpts")
        for name, option in (("width", "--width"), ("de", "--de"), ("h", "--h"),
                             ("occupation_width", "--occupation-width"), ("stress_strain", "--stress-strain")):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise SettingsError(f"{option} {value}: must be a positive number")
        for name in ("emin", "emax"):
            if not math.isfinite(getattr(self, name)):
                raise SettingsError(f"--{name} {getattr(self, name)}: must be a finite number")
        if not self.emin < 0 < self.emax:
            raise SettingsError(f"--emin {self.emin} / --emax {self.emax}: the grid must run from below "
                                "to above the Fermi level (emin < 0 < emax)")
        steps = (self.emax - self.emin) / self.de
        if abs(steps - round(steps)) > 1e-6 or round(steps) < 1:
            raise SettingsError(f"--de {self.de}: must divide emax - emin = {self.emax - self.emin:g} eV "
                                "into whole steps")
        # A Gaussian sampled more coarsely than its width does not integrate to one on the grid.
        if self.width < self.de:
            raise SettingsError(f"--width {self.width}: must be at least the grid step --de {self.de} "
                                "(a narrower Gaussian is not resolved by the grid)")
        if self.stress_strain > 0.05:
            raise SettingsError(f"--stress-strain {self.stress_strain}: must be a small strain (<= 0.05)")
        return self

    def egrid(self):
        return energy_grid(self.emin, self.emax, self.de)


def energy_grid(emin, emax, de):
    """The LDOS grid, eV relative to E_F, both ends included."""
    n = int(round((emax - emin) / de)) + 1
    return np.round(emin + de * np.arange(n), 10)


def kpoint_mesh(mesh, atoms):
    """k-mesh for this cell: `mesh` is per unit cell, so a cell that
    atoms.info["supercell"] says is an (n1, n2, n3) repetition gets
    ceil(mesh_i / n_i) points (as in the shared si-ldos set: 3x3x3 per 8-atom
    cube, 2x3x3 for the 2x1x1 cell)."""
    rep = np.asarray(atoms.info.get("supercell", (1, 1, 1))).ravel()
    if rep.size != 3 or not all(float(r).is_integer() and r >= 1 for r in rep):
        raise ValueError(f"atoms.info['supercell'] = {atoms.info['supercell']!r}: expected three "
                         "positive integers (the repetitions of the unit cell)")
    rep = rep.astype(int)
    return tuple(int(max(1, math.ceil(m / r))) for m, r in zip(mesh, rep))


# --------------------------------------------------------------------------
# projections and broadening (no GPAW here: any object with these methods works)
#
# The "states" interface, named after ASE/GPAW's calculator methods:
#   get_fermi_level() -> eV
#   get_number_of_spins() -> 1 or 2
#   get_k_point_weights() -> (nk,), summing to 1
#   get_eigenvalues(kpt, spin) -> (nbands,) eV
#   get_occupation_numbers(kpt, spin) -> (nbands,) electrons, k-weight and spin
#       degeneracy included (as GPAW returns them: their total is the electron count)
#   get_lcao_matrices(kpt, spin) -> (C_nM, S_MM): psi_n = sum_M C_nM phi_M,
#       S_MM' = <phi_M|phi_M'>, so conj(C) S C^T = 1
#   get_orbital_atoms() -> (nao,) the atom each basis function sits on

def mulliken_weights(C, S):
    """Mulliken weight of every band n on every basis function M:
    q_nM = Re(conj(C_nM) (S c_n)_M).  Each band's weights sum to one, and for a
    complete set of bands each orbital's weights sum to one."""
    C, S = np.asarray(C), np.asarray(S)
    overlap = C.conj() @ S @ C.T
    residual = float(np.max(np.abs(overlap - np.eye(len(C))))) if len(C) else 0.0
    if residual > ORTHONORMALITY_TOLERANCE:
        raise ValueError(f"LCAO states are not orthonormal with this overlap matrix "
                         f"(max |C* S C^T - 1| = {residual:.2e})")
    return np.real(C.conj() * (C @ S.T))


def atom_weights(q_nM, orbital_atoms, n_atoms):
    """Sum orbital weights per atom: (nbands, nao) -> (nbands, n_atoms)."""
    out = np.zeros((q_nM.shape[0], n_atoms))
    np.add.at(out.T, np.asarray(orbital_atoms), q_nM.T)
    return out


def gaussians(centres, egrid, sigma):
    """Normalised Gaussians exp(-(E - c)^2 / 2 sigma^2) / (sigma sqrt(2 pi)): (len(centres), len(egrid))."""
    x = (np.asarray(egrid)[None, :] - np.asarray(centres)[:, None]) / sigma
    return np.exp(-0.5 * x * x) / (sigma * math.sqrt(2 * math.pi))


def ldos_from_states(states, n_atoms, egrid, sigma):
    """Per-atom LDOS on `egrid` (eV relative to the Fermi level) from a states
    object (interface above).  Returns a dict:

    ldos (n_atoms, n_points) states/eV/atom, both spins; dos_total (n_points,);
    states_per_atom (n_atoms,): Mulliken-projected states of all bands (the
    integral of the LDOS over an unbounded grid); mulliken_pop (n_atoms,):
    projected electrons; efermi (eV); max_orthonormality_residual.
    """
    egrid = np.asarray(egrid, dtype=float)
    efermi = float(states.get_fermi_level())
    nspins = int(states.get_number_of_spins())
    if nspins not in (1, 2):
        raise ValueError(f"{nspins} spin channels: only collinear calculations (1 or 2) are supported")
    degeneracy = 2.0 if nspins == 1 else 1.0
    kweights = np.asarray(states.get_k_point_weights(), dtype=float)
    if abs(kweights.sum() - 1) > 1e-8:
        raise ValueError(f"k-point weights sum to {kweights.sum()}, not 1")
    orbital_atoms = np.asarray(states.get_orbital_atoms(), dtype=int)
    if orbital_atoms.min() < 0 or orbital_atoms.max() >= n_atoms:
        raise ValueError(f"basis functions sit on atoms outside 0..{n_atoms - 1}")

    ldos = np.zeros((n_atoms, egrid.size))
    states_per_atom = np.zeros(n_atoms)
    population = np.zeros(n_atoms)
    for spin in range(nspins):
        for k, wk in enumerate(kweights):
            eps = np.asarray(states.get_eigenvalues(kpt=k, spin=spin), dtype=float)
            occ = np.asarray(states.get_occupation_numbers(kpt=k, spin=spin), dtype=float)
            C, S = states.get_lcao_matrices(kpt=k, spin=spin)
            q = atom_weights(mulliken_weights(C, S), orbital_atoms, n_atoms)   # (nbands, atoms)
            if q.shape[0] != eps.size:
                raise ValueError(f"k-point {k}, spin {spin}: {eps.size} eigenvalues but {q.shape[0]} bands")
            w = degeneracy * wk * q
            ldos += w.T @ gaussians(eps - efermi, egrid, sigma)
            states_per_atom += w.sum(0)
            population += occ @ q
    return {"ldos": ldos, "dos_total": ldos.sum(0), "states_per_atom": states_per_atom,
            "mulliken_pop": population, "efermi": efermi}


# --------------------------------------------------------------------------
# GPAW (imported lazily)

class GPAWStates:
    """A finished GPAW LCAO calculation seen through the states interface."""

    def __init__(self, calc):
        self.calc = calc
        comm = getattr(calc, "comm", None)
        if comm is not None and comm.size > 1:
            # coefficients of other ranks' k-points and bands are not here
            raise ValueError("the LDOS projection needs a serial GPAW run (found an MPI communicator of "
                             f"size {comm.size}); split the structures over several processes instead")
        ibzwfs = calc.dft.ibzwfs
        if getattr(ibzwfs, "ncomponents", 1) == 4:
            raise ValueError("non-collinear GPAW calculations are not supported")
        self._wfs = {(w.k, w.spin): w for w in ibzwfs}

    def get_fermi_level(self):
        return self.calc.get_fermi_level()

    def get_number_of_spins(self):
        return self.calc.get_number_of_spins()

    def get_k_point_weights(self):
        return np.asarray(self.calc.get_k_point_weights())

    def get_eigenvalues(self, kpt, spin):
        return self.calc.get_eigenvalues(kpt=kpt, spin=spin)

    def get_occupation_numbers(self, kpt, spin):
        # raw (0..1) and weighted here: GPAW 26 scales the non-raw numbers in
        # place, so asking twice would count the k-point weight twice
        raw = np.array(self.calc.get_occupation_numbers(kpt=kpt, spin=spin, raw=True), dtype=float)
        return raw * self.get_k_point_weights()[kpt] * (2.0 / self.get_number_of_spins())

    def get_lcao_matrices(self, kpt, spin):
        wfs = self._wfs[(kpt, spin)]
        return np.asarray(wfs.C_nM.data), np.asarray(wfs.S_MM.data)

    def get_orbital_atoms(self):
        nao = [setup.nao for setup in self.calc.dft.setups]
        return np.repeat(np.arange(len(nao)), nao)


def _gpaw_calculator(settings, kpts, txt):
    from gpaw import GPAW

    return GPAW(mode=settings.mode, basis=settings.basis, xc=settings.xc, h=settings.h,
                kpts={"size": kpts, "gamma": True},
                occupations={"name": "fermi-dirac", "width": settings.occupation_width},
                txt=txt)


def finite_difference_stress(atoms, energy, strain):
    """Stress (Voigt xx yy zz yz xz xy, eV/A^3, ASE sign) by central differences
    of `energy(strained atoms)` (the free energy: the one forces and stress
    derive from) under symmetric strains +-`strain`."""
    volume = atoms.get_volume()
    cell = atoms.cell.array.copy()
    stress = np.zeros(6)
    for v, (i, j) in enumerate(((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))):
        e = []
        for sign in (1, -1):
            eps = np.zeros((3, 3))
            eps[i, j] = eps[j, i] = sign * strain
            strained = atoms.copy()
            strained.set_cell(cell @ (np.eye(3) + eps), scale_atoms=True)
            e.append(energy(strained))
        # dE = V sum_ij sigma_ij eps_ij: a shear strain enters twice (ij and ji)
        stress[v] = (e[0] - e[1]) / (2 * strain * volume * (1 if i == j else 2))
    return stress


def labelled_frame(atoms, ldos_result, egrid, sigma, energy, forces, free_energy=None, stress=None, info=None):
    """A copy of `atoms` with the labels in the layout tinynet.ldos reads:
    arrays ldos, mulliken_pop; info ldos_egrid, ldos_sigma, dos_total, efermi
    (+ `info`); energy, forces, free energy and stress in a SinglePointCalculator."""
    from ase.calculators.singlepoint import SinglePointCalculator

    out = atoms.copy()
    out.calc = None
    out.arrays["ldos"] = np.asarray(ldos_result["ldos"], dtype=float)
    out.arrays["mulliken_pop"] = np.asarray(ldos_result["mulliken_pop"], dtype=float)
    out.info.update({"ldos_egrid": np.asarray(egrid, dtype=float), "ldos_sigma": float(sigma),
                     "dos_total": np.asarray(ldos_result["dos_total"], dtype=float),
                     "efermi": float(ldos_result["efermi"])})
    out.info.update(info or {})
    results = {"energy": float(energy), "forces": np.asarray(forces, dtype=float)}
    if free_energy is not None:
        results["free_energy"] = float(free_energy)
    if stress is not None:
        results["stress"] = np.asarray(stress, dtype=float)
    out.calc = SinglePointCalculator(out, **results)
    return out


def label_structure(atoms, settings, txt=None, log=print):
    """Run GPAW on one structure; return a copy carrying energy, forces, (stress),
    the per-atom LDOS and the grid and run details in atoms.info."""
    import_gpaw()
    import gpaw

    t0 = time.time()
    kpts = kpoint_mesh(settings.kpts, atoms)
    dos_kpts = kpoint_mesh(settings.dos_kpts, atoms)
    work = atoms.copy()
    work.calc = _gpaw_calculator(settings, kpts, txt)
    energy = work.get_potential_energy()
    free_energy = work.get_potential_energy(force_consistent=True)
    forces = work.get_forces()
    scf = work.calc
    t_scf = time.time() - t0

    stress = None
    if settings.stress:
        def free(strained):
            strained.calc = _gpaw_calculator(settings, kpts, txt)
            return strained.get_potential_energy(force_consistent=True)
        stress = finite_difference_stress(work, free, settings.stress_strain)
    t_stress = time.time() - t0 - t_scf

    # Dense mesh, no symmetry: the Mulliken split of one atom is not invariant
    # under point-group operations that move it.  All LCAO states (nbands =
    # nao): GPAW's default keeps ~1.2x the occupied ones, which would cut the
    # conduction band off a few eV above E_F.
    dos_calc = scf.fixed_density(kpts={"size": dos_kpts, "gamma": False}, symmetry="off", nbands="nao",
                                 update_fermi_level=True, txt=txt)
    egrid = settings.egrid()
    res = ldos_from_states(GPAWStates(dos_calc), len(atoms), egrid, settings.width)
    t_ldos = time.time() - t0 - t_scf - t_stress

    info = {"efermi_scf": float(scf.get_fermi_level()), "gpaw_version": gpaw.__version__,
            "dft_mode": settings.mode, "dft_basis": settings.basis, "dft_xc": settings.xc,
            "occupation_width": float(settings.occupation_width), "kpts_scf": np.array(kpts),
            "kpts_dos": np.array(dos_kpts), "time_scf": round(t_scf, 2), "time_ldos": round(t_ldos, 2)}
    if stress is not None:
        info["time_stress"] = round(t_stress, 2)
    out = labelled_frame(atoms, res, egrid, settings.width, energy, forces, free_energy=free_energy,
                         stress=stress, info=info)
    log(f"{len(atoms)} atoms: E = {energy:.4f} eV, E_F = {res['efermi']:.3f} eV, "
        f"Mulliken electrons {res['mulliken_pop'].mean():.3f}/atom, {time.time() - t0:.1f} s")
    return out


# --------------------------------------------------------------------------
# structures like the shared si-ldos set

def _strain_matrix(voigt):
    """Symmetric strain from Voigt (xx, yy, zz, yz, xz, xy), engineering shear."""
    xx, yy, zz, yz, xz, xy = voigt
    return np.array([[xx, xy / 2, xz / 2], [xy / 2, yy, yz / 2], [xz / 2, yz / 2, zz]])


def make_structures(symbol, a, crystal="diamond", supercells=((1, 1, 1), (2, 1, 1)), n_iso_strain=5,
                    n_rattle=10, n_strain_rattle=10, n_vacancy=5, max_strain=0.03,
                    rattle=(0.05, 0.15), seed=2024):
    """Ideal, isotropically strained, rattled, strained+rattled and one-vacancy
    cells of a cubic bulk crystal, per supercell; each frame's atoms.info says
    how it was made (category, rattle_sigma, strain_voigt, n_vacancies, supercell)."""
    from ase.build import bulk

    if not (a > 0 and math.isfinite(a)):
        raise SettingsError(f"-a {a}: the lattice constant must be a positive number (A)")
    counts = {"iso_strain": n_iso_strain, "rattle": n_rattle, "strain_rattle": n_strain_rattle,
              "vacancy": n_vacancy}
    for name, n in counts.items():
        if int(n) != n or n < 0:
            raise SettingsError(f"--{name.replace('_', '-')} {n}: must be a whole number >= 0")
    lo, hi = rattle
    if not 0 <= lo <= hi:
        raise SettingsError(f"--rattle {lo},{hi}: need 0 <= min <= max (A)")
    try:
        unit = bulk(symbol, crystal, a=a, cubic=True)
    except Exception as exc:
        raise SettingsError(f"{symbol} {crystal} a={a}: ASE cannot build it ({exc})") from None
    rng = np.random.default_rng(seed)
    iso_steps = [s * f for f in (0.01, 0.02, 0.03) for s in (-1, 1)]   # +-1..3 %
    out = []

    def frame(base, rep, category, voigt=np.zeros(6), sigma=0.0, vacancies=0):
        at = base.copy()
        if vacancies:
            del at[rng.choice(len(at), vacancies, replace=False).tolist()]
        at.set_cell(at.cell.array @ (np.eye(3) + _strain_matrix(voigt)), scale_atoms=True)
        if sigma > 0:
            at.positions += rng.normal(0, sigma, at.positions.shape)
        at.info.update({"struct_id": len(out), "category": f"{category}{len(at)}", "rattle_sigma": float(sigma),
                        "strain_voigt": np.asarray(voigt, dtype=float), "n_vacancies": vacancies,
                        "supercell": np.array(rep)})
        out.append(at)

    for rep in supercells:
        rep = tuple(int(r) for r in rep)
        base = unit.repeat(rep)
        frame(base, rep, "pristine")
        for k in range(n_iso_strain):
            s = iso_steps[k % len(iso_steps)]
            frame(base, rep, "iso_strain", voigt=[s, s, s, 0, 0, 0])
        for _ in range(n_rattle):
            frame(base, rep, "rattle", sigma=rng.uniform(lo, hi))
        for _ in range(n_strain_rattle):
            frame(base, rep, "strain_rattle", voigt=rng.uniform(-max_strain, max_strain, 6),
                  sigma=rng.uniform(lo, hi))
        for k in range(n_vacancy):
            # every other vacancy cell also rattled and strained a little
            voigt = rng.uniform(-max_strain / 2, max_strain / 2, 6) if k % 2 else np.zeros(6)
            frame(base, rep, "vacancy", voigt=voigt, sigma=rng.uniform(0, lo) if k % 2 else 0.0, vacancies=1)
    return out


# --------------------------------------------------------------------------
# command line

def _read_structures(path):
    from tinynet.data import DataError, read_frames

    try:
        frames = read_frames(path)
    except DataError as exc:
        raise SettingsError(str(exc)) from None
    for k, at in enumerate(frames):
        if len(at) == 0:
            raise SettingsError(f"{path}, frame {k}: structure has no atoms")
        if not all(at.pbc) or at.cell.rank < 3:
            raise SettingsError(f"{path}, frame {k}: needs a periodic cell in all three directions "
                                "(the k-point sampling assumes a bulk crystal)")
        try:
            kpoint_mesh((1, 1, 1), at)
        except ValueError as exc:
            raise SettingsError(f"{path}, frame {k}: {exc}") from None
    return frames


def _count_frames(path):
    import ase.io

    try:
        return len(ase.io.read(path, ":"))
    except Exception as exc:
        raise SettingsError(f"{path}: cannot read the frames already written ({exc}); "
                            "remove it or run without --resume") from None


def run_ldos(args, log=print):
    settings = DFTSettings(mode=args.mode, basis=args.basis, xc=args.xc, kpts=args.kpts, dos_kpts=args.dos_kpts,
                           occupation_width=args.occupation_width, h=args.h, width=args.width, emin=args.emin,
                           emax=args.emax, de=args.de, stress=args.stress, stress_strain=args.stress_strain)
    settings.validate()
    frames = _read_structures(args.input)
    if os.path.abspath(args.input) == os.path.abspath(args.output):
        raise SettingsError(f"-o {args.output}: must differ from the input file")
    done = 0
    if os.path.exists(args.output):
        if args.resume:
            done = _count_frames(args.output)
        elif not args.overwrite:
            raise SettingsError(f"-o {args.output}: exists; use --resume to continue it or --overwrite")
        else:
            os.remove(args.output)
    import_gpaw()   # after the arguments: a bad option is reported even without GPAW

    import ase.io

    txt = args.log if args.log else None
    log(f"{len(frames)} structures from {args.input}; {done} already in {args.output}; settings "
        + ", ".join(f"{k}={v}" for k, v in asdict(settings).items()))
    for k in range(done, len(frames)):
        labelled = label_structure(frames[k], settings, txt=txt, log=lambda m, k=k: log(f"frame {k}: {m}"))
        ase.io.write(args.output, labelled, format="extxyz", append=True)
    return 0


def run_structures(args, log=print):
    import ase.io

    supercells = [_mesh(s, "--supercells") for s in args.supercells.split(",")] if args.supercells else []
    if not supercells:
        raise SettingsError("--supercells: give at least one, e.g. 1x1x1,2x1x1")
    try:
        rattle = tuple(float(x) for x in args.rattle.split(","))
        assert len(rattle) == 2
    except (ValueError, AssertionError):
        raise SettingsError(f"--rattle {args.rattle!r}: expected min,max in A, e.g. 0.05,0.15") from None
    if not 0 <= args.max_strain <= 0.2:
        raise SettingsError(f"--max-strain {args.max_strain}: must be between 0 and 0.2")
    frames = make_structures(args.symbol, args.a, crystal=args.crystal, supercells=supercells,
                             n_iso_strain=args.iso_strain, n_rattle=args.rattled, n_strain_rattle=args.strain_rattled,
                             n_vacancy=args.vacancies, max_strain=args.max_strain, rattle=rattle, seed=args.seed)
    ase.io.write(args.output, frames, format="extxyz")
    log(f"wrote {len(frames)} structures to {args.output}")
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="python -m tinynet.dft", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    d = DFTSettings()
    q = sub.add_parser("ldos", help="label structures with GPAW: energy, forces, per-atom LDOS")
    q.add_argument("input", help="structures (any format ASE reads, periodic cells)")
    q.add_argument("-o", "--output", required=True, help="extended XYZ file to write")
    q.add_argument("--mode", default=d.mode, help="GPAW mode (only lcao: the LDOS is a Mulliken partition)")
    q.add_argument("--basis", default=d.basis, help=f"LCAO basis (default {d.basis})")
    q.add_argument("--xc", default=d.xc, help=f"exchange-correlation functional (default {d.xc})")
    q.add_argument("--kpts", default="3,3,3", help="SCF Gamma-centred k-mesh per unit cell (default 3,3,3; "
                   "divided by atoms.info['supercell'] when present)")
    q.add_argument("--dos-kpts", default="8,8,8", help="k-mesh of the LDOS run per unit cell (default 8,8,8)")
    q.add_argument("--occupation-width", type=float, default=d.occupation_width, help="Fermi-Dirac width, eV")
    q.add_argument("--h", type=float, default=d.h, help="real-space grid spacing, A (default 0.2)")
    q.add_argument("--width", type=float, default=d.width, help="Gaussian broadening sigma of the LDOS, eV")
    q.add_argument("--emin", type=float, default=d.emin, help="grid start, eV relative to E_F (default -14)")
    q.add_argument("--emax", type=float, default=d.emax, help="grid end, eV relative to E_F (default 6)")
    q.add_argument("--de", type=float, default=d.de, help="grid step, eV (default 0.1)")
    q.add_argument("--stress", action="store_true", help="finite-difference stress (12 extra SCF runs per structure)")
    q.add_argument("--stress-strain", type=float, default=d.stress_strain, help="strain step for --stress")
    q.add_argument("--resume", action="store_true", help="keep the frames already in OUTPUT, do the rest")
    q.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    q.add_argument("--log", help="GPAW text output file (default: none)")
    s = sub.add_parser("structures", help="ideal, strained, rattled and vacancy cells of a cubic crystal")
    s.add_argument("symbol", help="element, e.g. Si")
    s.add_argument("-a", type=float, required=True, help="cubic lattice constant, A")
    s.add_argument("--crystal", default="diamond", help="ASE crystal structure (default diamond)")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--supercells", default="1x1x1,2x1x1", help="repetitions of the cubic cell")
    s.add_argument("--iso-strain", type=int, default=5, help="isotropically strained cells (+-1..3 %%) per supercell")
    s.add_argument("--rattled", type=int, default=10, help="rattled cells per supercell")
    s.add_argument("--strain-rattled", type=int, default=10, help="randomly strained and rattled cells per supercell")
    s.add_argument("--vacancies", type=int, default=5, help="one-vacancy cells per supercell")
    s.add_argument("--rattle", default="0.05,0.15", help="range of the rattle sigma, A")
    s.add_argument("--max-strain", type=float, default=0.03, help="largest strain component")
    s.add_argument("--seed", type=int, default=2024)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.command == "ldos":
            return run_ldos(args)
        return run_structures(args)
    except MissingGPAW as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (SettingsError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
