"""tinynet.dft, the optional GPAW data generator, without GPAW: the message when
it is missing, bad options, the Mulliken projection and Gaussian broadening on
a fake calculator with known states, the written file read back by
tinynet.ldos, the finite-difference stress, and the structure maker."""

from __future__ import annotations

import math
import sys

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

from tinynet import dft
from tinynet.ldos import load_ldos_frames, moments


# --------------------------------------------------------------------------
# a fake calculator with known LCAO states

def _random_lcao(nao, complex_, rng, eigenvalues):
    """Overlap S (Hermitian, positive definite) and coefficients C of a full
    set of states with the given eigenvalues: conj(C) S C^T = 1."""
    A = rng.normal(size=(nao, nao)) + (1j * rng.normal(size=(nao, nao)) if complex_ else 0)
    S = 0.3 * (A @ A.conj().T) / nao + np.eye(nao)        # overlapping, well conditioned
    L = np.linalg.cholesky(S)                               # S = L L^H
    U, _ = np.linalg.qr(rng.normal(size=(nao, nao)) + (1j * rng.normal(size=(nao, nao)) if complex_ else 0))
    X = np.linalg.solve(L.conj().T, U)                      # X^H S X = U^H U = 1
    return X.T.copy(), S, np.asarray(eigenvalues, float)


class FakeStates:
    """The states interface of tinynet.dft with chosen eigenvalues and bases."""

    def __init__(self, orbital_atoms, kweights, eigenvalues_sk, efermi, nspins=1, complex_=True,
                 coefficients=None, seed=0):
        rng = np.random.default_rng(seed)
        self.orbital_atoms = np.asarray(orbital_atoms)
        self.kweights = np.asarray(kweights, float)
        self.efermi, self.nspins = efermi, nspins
        nao = len(self.orbital_atoms)
        self.data = {}
        for s in range(nspins):
            for k in range(len(kweights)):
                if coefficients is None:
                    self.data[s, k] = _random_lcao(nao, complex_ and k > 0, rng, eigenvalues_sk[s][k])
                else:
                    self.data[s, k] = (coefficients, np.eye(nao), np.asarray(eigenvalues_sk[s][k], float))

    def get_fermi_level(self):
        return self.efermi

    def get_number_of_spins(self):
        return self.nspins

    def get_k_point_weights(self):
        return self.kweights

    def get_eigenvalues(self, kpt, spin):
        return self.data[spin, kpt][2]

    def get_occupation_numbers(self, kpt, spin):
        eps = self.data[spin, kpt][2]
        return (eps <= self.efermi) * self.kweights[kpt] * (2.0 / self.nspins)

    def get_lcao_matrices(self, kpt, spin):
        C, S, _ = self.data[spin, kpt]
        return C, S

    def get_orbital_atoms(self):
        return self.orbital_atoms


EGRID = dft.energy_grid(-14.0, 6.0, 0.1)
SIGMA = 0.2


def test_mulliken_weights_partition_each_band_and_each_orbital():
    rng = np.random.default_rng(1)
    C, S, _ = _random_lcao(7, True, rng, np.zeros(7))
    q = dft.mulliken_weights(C, S)
    assert np.allclose(q.sum(1), 1, atol=1e-12)      # every band: one state
    assert np.allclose(q.sum(0), 1, atol=1e-12)      # full set: one state per orbital
    # the transposed (conjugated) overlap is a different, wrong metric: refused
    with pytest.raises(ValueError, match="not orthonormal"):
        dft.mulliken_weights(C, S.T)


def test_known_states_give_gaussians_at_known_heights():
    """Orthonormal orbitals, each band entirely on one orbital: every atom's
    LDOS is a sum of Gaussians at its own bands' energies."""
    orbital_atoms = [0, 0, 1]
    eps = [-5.0, -1.0, 2.0]          # relative to E_F = 0.5 below
    efermi = 0.5
    states = FakeStates(orbital_atoms, [1.0], [[np.array(eps) + efermi]], efermi,
                        coefficients=np.eye(3))
    res = dft.ldos_from_states(states, 2, EGRID, SIGMA)
    peak = 2.0 / (SIGMA * math.sqrt(2 * math.pi))     # two spins, one state
    for atom, e in ((0, -5.0), (0, -1.0), (1, 2.0)):
        k = int(np.argmin(np.abs(EGRID - e)))
        assert res["ldos"][atom, k] == pytest.approx(peak, rel=1e-9)
    assert res["ldos"][1, int(np.argmin(np.abs(EGRID + 5.0)))] < 1e-20    # atom 1 has no state at -5 eV
    # occupied: bands at -5 and -1 eV (both on atom 0), two electrons each
    assert res["mulliken_pop"] == pytest.approx([4.0, 0.0])


@pytest.mark.parametrize("nspins", [1, 2])
def test_each_atom_integrates_to_its_projected_states(nspins):
    """Overlapping, complex LCAO bases at three k-points: integrated over the
    grid, each atom's LDOS holds exactly the states projected on it, and with a
    full set of bands those are (spin degeneracy) x (its orbitals)."""
    orbital_atoms = [0, 0, 1, 1, 1, 2]           # 2, 3 and 1 orbitals
    rng = np.random.default_rng(4)
    kweights = [0.125, 0.375, 0.5]
    efermi = 3.0
    # all bands well inside the grid (>= 6 sigma from its ends)
    eig = [[rng.uniform(-12.0, 4.5, 6) + efermi for _ in kweights] for _ in range(nspins)]
    res = dft.ldos_from_states(FakeStates(orbital_atoms, kweights, eig, efermi, nspins=nspins, seed=5),
                               3, EGRID, SIGMA)
    integral = res["ldos"].sum(1) * 0.1
    assert integral == pytest.approx(res["states_per_atom"], abs=1e-8)
    assert res["states_per_atom"] == pytest.approx(2.0 * np.array([2, 3, 1]), abs=1e-10)
    assert res["dos_total"] == pytest.approx(res["ldos"].sum(0), abs=1e-12)
    # Mulliken populations share out exactly the occupied electrons
    n_occupied = sum(w * np.sum(e <= efermi) * 2.0 / nspins
                     for s in range(nspins) for w, e in zip(kweights, eig[s]))
    assert res["mulliken_pop"].sum() == pytest.approx(n_occupied, abs=1e-10)
    # and the LDOS counts them too: integral up to E_F (bands far from E_F)
    if np.min(np.abs(np.concatenate([np.concatenate(e) for e in eig]) - efermi)) > 6 * SIGMA:
        m0, _, _ = moments(res["ldos"], EGRID)
        assert m0.sum() == pytest.approx(n_occupied, abs=1e-6)


def test_written_frames_read_back_by_tinynet_ldos(tmp_path):
    """A labelled frame as label_structure writes it (GPAW replaced by EMT
    energies/forces and the fake states) is what tinynet.ldos reads."""
    atoms = bulk("Cu", "fcc", 3.6, cubic=True)
    atoms.rattle(0.05, seed=1)
    n = len(atoms)
    settings = dft.DFTSettings().validate()
    egrid = settings.egrid()
    states = FakeStates(np.repeat(np.arange(n), 2), [0.5, 0.5],
                        [[np.linspace(-10, 3, 2 * n) + 5.0, np.linspace(-9, 4, 2 * n) + 5.0]], 5.0, seed=2)
    res = dft.ldos_from_states(states, n, egrid, settings.width)
    atoms.calc = EMT()
    out = dft.labelled_frame(atoms, res, egrid, settings.width, atoms.get_potential_energy(), atoms.get_forces(),
                             stress=atoms.get_stress(), info={"dft_basis": "dzp"})
    path = tmp_path / "labelled.extxyz"
    for _ in range(2):
        ase.io.write(path, out, format="extxyz", append=True)
    frames, grid, _ = load_ldos_frames(str(path))
    assert len(frames) == 2
    assert grid["n_points"] == 201 and grid["energy_start"] == pytest.approx(-14.0)
    assert grid["energy_step"] == pytest.approx(0.1) and grid["broadening"] == pytest.approx(0.2)
    # extended XYZ stores per-atom arrays with 8 decimals (as in si-ldos)
    assert np.abs(frames[1].ldos - res["ldos"]).max() <= 5.01e-9
    assert res["ldos"].max() > 1.0
    back = ase.io.read(path, "1")
    assert back.get_forces() == pytest.approx(atoms.get_forces())
    assert back.get_stress() == pytest.approx(atoms.get_stress())
    assert back.info["dft_basis"] == "dzp" and back.arrays["mulliken_pop"].sum() == pytest.approx(
        res["mulliken_pop"].sum(), abs=1e-6)
    assert np.allclose(back.info["dos_total"], res["ldos"].sum(0))


def test_finite_difference_stress_matches_analytic():
    atoms = bulk("Cu", "fcc", 3.55, cubic=True)
    atoms.set_cell(atoms.cell.array @ [[1.01, 0.01, 0], [0.01, 0.99, 0.02], [0, 0.02, 1.0]], scale_atoms=True)
    atoms.rattle(0.03, seed=3)

    def energy(strained):
        strained.calc = EMT()
        return strained.get_potential_energy()

    atoms.calc = EMT()
    fd = dft.finite_difference_stress(atoms, energy, 1e-4)
    assert np.abs(atoms.get_stress()).max() > 1e-3        # a real, non-trivial stress
    assert fd == pytest.approx(atoms.get_stress(), abs=1e-6)


def test_kpoint_mesh_per_unit_cell():
    cell = bulk("Si", "diamond", 5.47, cubic=True)
    assert dft.kpoint_mesh((3, 3, 3), cell) == (3, 3, 3)
    big = cell.repeat((2, 1, 1))
    big.info["supercell"] = np.array([2, 1, 1])
    assert dft.kpoint_mesh((3, 3, 3), big) == (2, 3, 3)       # as in si-ldos
    assert dft.kpoint_mesh((8, 8, 8), big) == (4, 8, 8)


# --------------------------------------------------------------------------
# the command line without GPAW

@pytest.fixture
def no_gpaw(monkeypatch):
    monkeypatch.setitem(sys.modules, "gpaw", None)     # `import gpaw` raises ImportError


@pytest.fixture
def structures(tmp_path):
    path = tmp_path / "in.extxyz"
    ase.io.write(path, dft.make_structures("Si", 5.47, supercells=[(1, 1, 1)], n_iso_strain=1, n_rattle=1,
                                           n_strain_rattle=0, n_vacancy=0))
    return path


def test_missing_gpaw_names_the_extra(no_gpaw, structures, tmp_path, capsys):
    out = tmp_path / "out.extxyz"
    assert dft.main(["ldos", str(structures), "-o", str(out)]) == 3
    err = capsys.readouterr().err
    assert "GPAW is not installed" in err and "pip install tinynet[dft]" in err
    assert not out.exists()
    with pytest.raises(dft.MissingGPAW, match=r"pip install tinynet\[dft\]"):
        dft.import_gpaw()


def test_module_import_does_not_import_gpaw():
    import subprocess

    code = "import sys, tinynet.dft; sys.exit('gpaw' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("option, value, message", [
    ("--width", "-0.2", "--width -0.2: must be a positive number"),
    ("--width", "0.05", "--width 0.05: must be at least the grid step"),
    ("--de", "0.3", "--de 0.3: must divide"),
    ("--de", "0", "--de 0.0: must be a positive number"),
    ("--emin", "1", "--emin 1.0 / --emax 6.0"),
    ("--emax", "nan", "--emax nan: must be a finite number"),
    ("--kpts", "3,3", "--kpts '3,3': expected three positive integers"),
    ("--dos-kpts", "8,0,8", "--dos-kpts '8,0,8': expected three positive integers"),
    ("--mode", "pw", "--mode 'pw': the per-atom LDOS is a Mulliken partition"),
    ("--basis", " ", "--basis: must not be empty"),
])
def test_bad_options_are_named_before_gpaw_is_needed(no_gpaw, structures, tmp_path, capsys, option, value, message):
    assert dft.main(["ldos", str(structures), "-o", str(tmp_path / "o.extxyz"), option, value]) == 2
    assert message in capsys.readouterr().err


def test_bad_files_are_named(no_gpaw, structures, tmp_path, capsys):
    assert dft.main(["ldos", str(tmp_path / "missing.extxyz"), "-o", str(tmp_path / "o.extxyz")]) == 2
    assert "missing.extxyz: no such file" in capsys.readouterr().err
    molecule = tmp_path / "molecule.xyz"
    ase.io.write(molecule, bulk("Si", "diamond", 5.47, cubic=True)[:2].copy())
    m = ase.io.read(molecule)
    m.pbc = False
    ase.io.write(molecule, m)
    assert dft.main(["ldos", str(molecule), "-o", str(tmp_path / "o.extxyz")]) == 2
    assert "molecule.xyz, frame 0: needs a periodic cell" in capsys.readouterr().err
    bad_rep = bulk("Si", "diamond", 5.47, cubic=True)
    bad_rep.info["supercell"] = np.array([2, 0, 1])
    ase.io.write(tmp_path / "rep.extxyz", bad_rep)
    assert dft.main(["ldos", str(tmp_path / "rep.extxyz"), "-o", str(tmp_path / "o.extxyz")]) == 2
    assert "rep.extxyz, frame 0: atoms.info['supercell']" in capsys.readouterr().err
    existing = tmp_path / "exists.extxyz"
    existing.write_text("")
    assert dft.main(["ldos", str(structures), "-o", str(existing)]) == 2
    assert "exists.extxyz: exists; use --resume" in capsys.readouterr().err


# --------------------------------------------------------------------------
# structures

def test_structures_like_the_shared_set(tmp_path, capsys):
    out = tmp_path / "s.extxyz"
    assert dft.main(["structures", "Si", "-a", "5.47", "-o", str(out), "--iso-strain", "2", "--rattled", "2",
                     "--strain-rattled", "2", "--vacancies", "2", "--seed", "7"]) == 0
    frames = ase.io.read(out, ":")
    cats = [f.info["category"] for f in frames]
    assert cats.count("pristine8") == cats.count("pristine16") == 1
    assert cats.count("vacancy7") == cats.count("vacancy15") == 2
    assert cats.count("strain_rattle16") == 2 and len(frames) == 2 * 9
    iso = [f for f in frames if f.info["category"] == "iso_strain8"]
    for f in iso:
        e = f.info["strain_voigt"][0]
        assert 0.01 <= abs(e) <= 0.03
        assert f.cell.lengths() == pytest.approx(5.47 * (1 + e) * np.ones(3))
    sr = [f for f in frames if f.info["category"] == "strain_rattle8"][0]
    v = sr.info["strain_voigt"]
    assert np.abs(v).max() <= 0.03 and np.abs(v).min() > 0
    ideal = bulk("Si", "diamond", 5.47, cubic=True).cell.array
    assert sr.cell.array == pytest.approx(ideal @ (np.eye(3) + dft._strain_matrix(v)))
    for f in frames:
        assert f.get_all_distances(mic=True)[np.triu_indices(len(f), 1)].min() > 1.8
    again = tmp_path / "again.extxyz"
    dft.main(["structures", "Si", "-a", "5.47", "-o", str(again), "--iso-strain", "2", "--rattled", "2",
              "--strain-rattled", "2", "--vacancies", "2", "--seed", "7"])
    assert all(np.array_equal(a.positions, b.positions) for a, b in zip(frames, ase.io.read(again, ":")))
    assert dft.main(["structures", "Si", "-a", "-1", "-o", str(out)]) == 2
    assert "-a -1.0: the lattice constant must be a positive number" in capsys.readouterr().err
    assert dft.main(["structures", "Si", "-a", "5.47", "-o", str(out), "--supercells", "2x1"]) == 2
    assert "--supercells '2x1'" in capsys.readouterr().err


# --------------------------------------------------------------------------
# a real GPAW run, only where GPAW is installed (never in the project's .venv)

def test_real_gpaw_two_atom_silicon():
    pytest.importorskip("gpaw")
    atoms = bulk("Si", "diamond", 5.47)            # primitive cell: two equivalent atoms
    settings = dft.DFTSettings(kpts=(2, 2, 2), dos_kpts=(4, 4, 4)).validate()
    out = dft.label_structure(atoms, settings, log=lambda m: None)
    ldos = out.arrays["ldos"]
    assert ldos.shape == (2, 201)
    assert np.abs(ldos[0] - ldos[1]).max() < 1e-6                 # the two sites are equivalent
    assert np.abs(ldos.sum(0) - out.info["dos_total"]).max() < 1e-12
    m0, _, _ = moments(ldos, EGRID)
    assert m0 == pytest.approx([4.0, 4.0], abs=0.1)               # 4 valence electrons per Si
    assert out.arrays["mulliken_pop"] == pytest.approx([4.0, 4.0], abs=1e-6)
    assert np.abs(out.get_forces()).max() < 1e-3                  # ideal crystal
