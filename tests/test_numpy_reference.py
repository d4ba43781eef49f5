"""Tests of the NumPy descriptor reference (tests/numpy_reference.py)."""

import numpy as np
import pytest
from ase import Atoms

import numpy_reference as ref
from tinynet.potential_file import random_potential

MOMENTS = {"type": "moments", "n_max": 5, "bond_cutoff": 3.0, "r0": 0.0,
           "decay_lengths": [1.0, 2.0]}
RADIAL = {"type": "radial", "cutoff": 4.5, "centers": [1.5, 2.5, 3.5],
          "alpha": 0.8}
DESCRIPTOR = {"blocks": [MOMENTS, RADIAL]}
ELEMENTS = ["Sr", "Ti", "O"]


def h(r, decay=1.0, r0=0.0, rb=3.0):
    return np.exp(-(r - r0) / decay) * ref.fc(r / rb)


def perovskite(rattle=0.1, seed=1):
    """Rattled cubic SrTiO3, 5 atoms, a = 3.9 A."""
    a = 3.9
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5],
            [0, 0.5, 0.5]]
    atoms = Atoms("SrTiO3", scaled_positions=frac, cell=np.eye(3) * a,
                  pbc=True)
    rng = np.random.default_rng(seed)
    atoms.positions += rng.normal(0, rattle, atoms.positions.shape)
    atoms.cell = atoms.cell + rng.normal(0, 0.05, (3, 3))   # triclinic
    return atoms


def cluster(seed=2):
    """A small non-periodic Sr/Ti/O cluster with distances ~2-3 A."""
    rng = np.random.default_rng(seed)
    grid = np.array([[x, y, z] for x in range(2) for y in range(2)
                     for z in range(2)], dtype=float) * 2.2
    pos = grid + rng.normal(0, 0.15, grid.shape)
    return Atoms("SrTiO2SrTiOO", positions=pos)


def jacobian_dense(d, n_atoms):
    """Turn the pair list into a dense (N, F, N, 3) Jacobian."""
    F = d["features"].shape[1]
    J = np.zeros((n_atoms, F, n_atoms, 3))
    for i, j, g in zip(d["pair_center"], d["pair_atom"], d["dG_dr"]):
        J[i, :, j, :] += g
    return J


def strained(atoms, eps):
    """Homogeneous deformation r -> (1 + eps) r of atoms and cell."""
    m = np.eye(3) + eps
    out = atoms.copy()
    out.set_cell(atoms.cell.array @ m.T, scale_atoms=False)
    out.positions = atoms.positions @ m.T
    return out


# ---------------------------------------------------------------------------
# hand-checkable cases
# ---------------------------------------------------------------------------

def test_dimer_by_hand():
    d = 2.1
    atoms = Atoms("SrO", positions=[[0, 0, 0], [0, 0, d]])
    desc = {"blocks": [MOMENTS, RADIAL]}
    out = ref.compute(atoms, desc, ELEMENTS)
    G = out["features"]
    assert G.shape == (2, 4 * 2 * 3 + 3 * 3)
    assert list(out["species"]) == [0, 2]
    # moments, centre Sr: index = ((n-2)*n_channels + c)*n_species + s
    for c, lam in enumerate([1.0, 2.0]):
        hc = h(d, decay=lam)
        idx = lambda n, s: ((n - 2) * 2 + c) * 3 + s
        mu = G[0]
        assert mu[idx(2, 2)] == pytest.approx(hc**2, rel=1e-14)  # middle node O
        assert mu[idx(2, 0)] == 0.0
        assert mu[idx(3, 0)] == 0.0 and mu[idx(3, 2)] == 0.0
        assert mu[idx(4, 0)] == pytest.approx(hc**4, rel=1e-14)  # middle Sr
        assert mu[idx(4, 2)] == 0.0
        assert np.all(mu[[idx(5, s) for s in range(3)]] == 0.0)
        # centre O sees the Sr as middle node of 2-paths
        assert G[1][idx(2, 0)] == pytest.approx(hc**2, rel=1e-14)
        assert G[1][idx(4, 2)] == pytest.approx(hc**4, rel=1e-14)
    # radial: only species O contributes to Sr's features
    g = G[0, 24:].reshape(3, 3)
    expect = np.exp(-0.8 * (d - np.array([1.5, 2.5, 3.5]))**2) * ref.fc(d / 4.5)
    np.testing.assert_allclose(g[:, 2], expect, rtol=1e-14)
    assert np.all(g[:, :2] == 0.0)


def test_simple_cubic_bonds_to_own_images():
    """One atom, a = 2.5 < bond cutoff 3.0: every bond goes to an image of
    the atom itself.  Nearest-neighbour cubic lattice: 6 neighbours, no odd
    cycles, 90 closed 4-walks."""
    a = 2.5
    atoms = Atoms("Ti", cell=np.eye(3) * a, pbc=True)
    out = ref.compute(atoms, DESCRIPTOR, ELEMENTS)
    G = out["features"][0]
    for c, lam in enumerate([1.0, 2.0]):
        hc = h(a, decay=lam)
        idx = lambda n: ((n - 2) * 2 + c) * 3 + 1
        assert G[idx(2)] == pytest.approx(6 * hc**2, rel=1e-13)
        assert G[idx(3)] == pytest.approx(0.0, abs=1e-300)
        assert G[idx(4)] == pytest.approx(90 * hc**4, rel=1e-13)
        assert G[idx(5)] == pytest.approx(0.0, abs=1e-300)
    # radial: shells of 6 at a, 12 at a*sqrt2, 8 at a*sqrt3 (6 at 2a = cutoff
    # 5.0 > 4.5 excluded)
    shells = [(6, a), (12, a * np.sqrt(2)), (8, a * np.sqrt(3))]
    centers = np.array([1.5, 2.5, 3.5])
    expect = sum(m * np.exp(-0.8 * (r - centers)**2) * ref.fc(r / 4.5)
                 for m, r in shells)
    np.testing.assert_allclose(G[24:].reshape(3, 3)[:, 1], expect, rtol=1e-13)
    # one atom: only the self pair, whose gradient vanishes (images move too)
    assert list(out["pair_center"]) == [0] and list(out["pair_atom"]) == [0]
    assert np.abs(out["dG_dr"]).max() < 1e-14


def test_moments_equal_matrix_powers_of_full_graph():
    """Summed over species, mu_n = [H^n]_ii with H over the whole cluster."""
    atoms = cluster()
    out = ref.compute(atoms, {"blocks": [MOMENTS]}, ELEMENTS, jacobian=False)
    G = out["features"].reshape(len(atoms), 4, 2, 3)   # (i, n, c, s)
    r = atoms.get_all_distances()
    for c, lam in enumerate([1.0, 2.0]):
        H = np.where((r < 3.0) & (r > 0), h(np.where(r > 0, r, 1), decay=lam),
                     0.0)
        for n in range(2, 6):
            np.testing.assert_allclose(G[:, n - 2, c, :].sum(axis=1),
                                       np.diag(np.linalg.matrix_power(H, n)),
                                       rtol=1e-12, atol=1e-300)


def test_periodic_equals_cut_out_cluster():
    """Periodic images are distinct nodes: an atom of a periodic crystal has
    the same features as the same atom in a big enough finite piece of it."""
    atoms = perovskite()
    per = ref.compute(atoms, DESCRIPTOR, ELEMENTS, jacobian=False)["features"]
    big = atoms.repeat((7, 7, 7))
    big.pbc = False
    # original atom i sits at index 171*5 + i, in the middle copy (3,3,3)
    centre = 171 * len(atoms)
    # every atom of the middle copy is within 4 A of its first atom and
    # sees 6 A (= floor(5/2) * 3.0) around itself
    reach = 6.0 + 4.0 + 0.5
    d = np.linalg.norm(big.positions - big.positions[centre], axis=1)
    piece = big[d < reach]
    order = np.flatnonzero(d < reach)
    fin = ref.compute(piece, DESCRIPTOR, ELEMENTS, jacobian=False)["features"]
    for i in range(len(atoms)):
        k = int(np.flatnonzero(order == centre + i)[0])
        np.testing.assert_allclose(fin[k], per[i], rtol=1e-12, atol=1e-300)


def test_unknown_element_is_named():
    atoms = Atoms("SrCu", positions=[[0, 0, 0], [0, 0, 2]])
    with pytest.raises(ValueError, match="Cu"):
        ref.compute(atoms, DESCRIPTOR, ELEMENTS)


# ---------------------------------------------------------------------------
# derivatives vs finite differences
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("make", [perovskite, cluster])
def test_position_jacobian_vs_finite_differences(make):
    atoms = make()
    d = ref.compute(atoms, DESCRIPTOR, ELEMENTS)
    N = len(atoms)
    # pair list structure
    pairs = list(zip(d["pair_center"], d["pair_atom"]))
    assert len(pairs) == len(set(pairs))
    assert all((i, i) in pairs for i in range(N))
    J = jacobian_dense(d, N)
    # translation invariance: sum over atoms of dG_i/dr_j = 0
    assert np.abs(J.sum(axis=2)).max() < 1e-12 * np.abs(J).max()
    step = 1e-5
    J_fd = np.zeros_like(J)
    for j in range(N):
        for x in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[j, x] += step
            minus.positions[j, x] -= step
            Gp = ref.compute(plus, DESCRIPTOR, ELEMENTS, jacobian=False)
            Gm = ref.compute(minus, DESCRIPTOR, ELEMENTS, jacobian=False)
            J_fd[:, :, j, x] = (Gp["features"] - Gm["features"]) / (2 * step)
    # compare per feature column, relative to that column's scale
    scale = np.abs(J).max(axis=(0, 2, 3)) + 1e-300
    err = np.abs(J - J_fd).max(axis=(0, 2, 3)) / scale
    assert err.max() < 1e-6, err


@pytest.mark.parametrize("make", [perovskite,
                                  lambda: Atoms("Ti", cell=np.eye(3) * 2.5,
                                                pbc=True)])
def test_strain_derivative_vs_finite_strain(make):
    atoms = make()
    d = ref.compute(atoms, DESCRIPTOR, ELEMENTS)
    step = 1e-6
    fd = np.zeros_like(d["dG_dstrain"])
    for a in range(3):
        for b in range(3):
            eps = np.zeros((3, 3))
            eps[a, b] = step
            Gp = ref.compute(strained(atoms, eps), DESCRIPTOR, ELEMENTS,
                             jacobian=False)["features"]
            Gm = ref.compute(strained(atoms, -eps), DESCRIPTOR, ELEMENTS,
                             jacobian=False)["features"]
            fd[:, :, a, b] = (Gp - Gm) / (2 * step)
    scale = np.abs(fd).max(axis=(0, 2, 3)) + 1e-300
    err = np.abs(d["dG_dstrain"] - fd).max(axis=(0, 2, 3)) / scale
    assert err.max() < 1e-6, err
    # rotational invariance makes the strain derivative symmetric
    np.testing.assert_allclose(d["dG_dstrain"],
                               d["dG_dstrain"].transpose(0, 1, 3, 2),
                               atol=1e-12 * np.abs(fd).max())


def test_energy_forces_stress_vs_finite_differences():
    atoms = perovskite()
    pot = random_potential(ELEMENTS, DESCRIPTOR, seed=3, e0={"Sr": -1.0,
                           "Ti": -2.0, "O": -3.0},
                           feature_scale={"feature_std": 0.05})
    E, F, S = ref.energy_forces_stress(atoms, pot)
    step = 1e-5
    F_fd = np.zeros_like(F)
    for j in range(len(atoms)):
        for x in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[j, x] += step
            minus.positions[j, x] -= step
            F_fd[j, x] = -(ref.energy_forces_stress(plus, pot)[0]
                           - ref.energy_forces_stress(minus, pot)[0]) / (2 * step)
    assert np.abs(F).max() > 1e-3          # non-trivial test
    assert np.abs(F - F_fd).max() < 1e-6 * np.abs(F).max()
    assert np.abs(F.sum(axis=0)).max() < 1e-10 * np.abs(F).max()
    S_fd = np.zeros((3, 3))
    step = 1e-6
    for a in range(3):
        for b in range(3):
            eps = np.zeros((3, 3))
            eps[a, b] = step
            S_fd[a, b] = (ref.energy_forces_stress(strained(atoms, eps), pot)[0]
                          - ref.energy_forces_stress(strained(atoms, -eps), pot)[0]
                          ) / (2 * step) / atoms.get_volume()
    assert np.abs(S - S_fd).max() < 1e-6 * np.abs(S).max()
    # a finite cluster has no stress
    assert ref.energy_forces_stress(cluster(), pot)[2] is None


# ---------------------------------------------------------------------------
# invariances
# ---------------------------------------------------------------------------

def _rotation(seed=5):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


@pytest.mark.parametrize("make", [perovskite, cluster])
def test_translation_rotation_permutation_invariance(make):
    atoms = make()
    G = ref.compute(atoms, DESCRIPTOR, ELEMENTS, jacobian=False)["features"]
    # translation
    moved = atoms.copy()
    moved.positions += [0.3, -1.7, 2.9]
    G_t = ref.compute(moved, DESCRIPTOR, ELEMENTS, jacobian=False)["features"]
    np.testing.assert_allclose(G_t, G, rtol=1e-11, atol=1e-14)
    # rotation of everything, cell included
    R = _rotation()
    rot = atoms.copy()
    rot.set_cell(atoms.cell.array @ R.T, scale_atoms=False)
    rot.positions = atoms.positions @ R.T
    G_r = ref.compute(rot, DESCRIPTOR, ELEMENTS, jacobian=False)["features"]
    np.testing.assert_allclose(G_r, G, rtol=1e-11, atol=1e-14)
    # permutation of the atoms
    perm = np.random.default_rng(7).permutation(len(atoms))
    G_p = ref.compute(atoms[perm], DESCRIPTOR, ELEMENTS,
                      jacobian=False)["features"]
    np.testing.assert_allclose(G_p, G[perm], rtol=1e-11, atol=1e-14)


def test_wrapping_atoms_into_cell_changes_nothing():
    atoms = perovskite()
    G = ref.compute(atoms, DESCRIPTOR, ELEMENTS)
    shifted = atoms.copy()
    shifted.positions[2] += atoms.cell[0] - 2 * atoms.cell[2]
    G2 = ref.compute(shifted, DESCRIPTOR, ELEMENTS)
    np.testing.assert_allclose(G2["features"], G["features"], rtol=1e-11,
                               atol=1e-14)
    np.testing.assert_allclose(G2["dG_dr"], G["dG_dr"], rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(G2["dG_dstrain"], G["dG_dstrain"], rtol=1e-9,
                               atol=1e-13)
