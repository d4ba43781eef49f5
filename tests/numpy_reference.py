"""Slow, readable NumPy reference of the tinynet descriptors.

This is the executable form of the descriptor specification (DESIGN.md
section 2); it is used only by tests, to check the fast implementation.
Speed is irrelevant: everything is done with dense matrices, one centre atom
at a time.

    compute(atoms, descriptor, elements, jacobian=True) -> dict
    energy_forces_stress(atoms, potential) -> (energy, forces, stress)

Geometry convention: for centre atom i we build the list of "nodes" of its
real-space neighbourhood: node 0 is atom i itself, the others are all atoms
and periodic images (j, shift S) with |r_j + S.cell - r_i| < range.  Periodic
images are distinct nodes; a node's position is r_j + S.cell.  Gradients are
first taken with respect to node positions, then summed over the nodes that
belong to the same atom (dG_dr) or contracted with the node positions
(dG_dstrain).
"""

import numpy as np
from ase.neighborlist import neighbor_list

from tinynet.blocks import pair_table, spec_of
from tinynet.potential_file import evaluate_network


# ---------------------------------------------------------------------------
# radial functions and their derivatives
# ---------------------------------------------------------------------------

def fc(x):
    """C2-smooth cutoff 1 - 10x^3 + 15x^4 - 6x^5 for x < 1, else 0."""
    x = np.asarray(x, dtype=float)
    return np.where(x < 1.0, 1.0 - 10 * x**3 + 15 * x**4 - 6 * x**5, 0.0)


def dfc(x):
    """d fc / dx."""
    x = np.asarray(x, dtype=float)
    return np.where(x < 1.0, -30 * x**2 + 60 * x**3 - 30 * x**4, 0.0)


def hopping(r, r0, decay, bond_cutoff):
    """h(r) = exp(-(r - r0)/decay) * fc(r/bond_cutoff) and dh/dr."""
    e = np.exp(-(r - r0) / decay)
    f = fc(r / bond_cutoff)
    h = e * f
    dh = -h / decay + e * dfc(r / bond_cutoff) / bond_cutoff
    return h, dh


# ---------------------------------------------------------------------------
# neighbourhoods
# ---------------------------------------------------------------------------

def with_pair_tables(block, elements):
    """The block with bond_cutoff and r0 (blocks that walk the bond graph) as
    (S, S) arrays over species pairs, whether the file gives one number or one
    per element pair; other blocks unchanged."""
    if "bond_cutoff" not in block:
        return block
    return dict(block, **{key: np.array(pair_table(block[key], elements)) for key in ("bond_cutoff", "r0")})


def node_pair_values(table, node_species):
    """(K, K) values of a species-pair table for every pair of nodes."""
    return table[np.ix_(node_species, node_species)]


def node_bond_cutoffs(block, node_species, r):
    """(K, K) bond cutoffs of every pair of nodes and which pairs are bonded
    (closer than their cutoff; a pair whose cutoff is 0 never is). Where a
    cutoff is 0 it is returned as 1, to keep r / cutoff finite."""
    rb = node_pair_values(block["bond_cutoff"], node_species)
    bonded = (r.real < rb) & ~np.eye(len(rb), dtype=bool)
    return np.where(rb > 0, rb, 1.0), bonded


def bond_geometry(pos, block, node_species):
    """Dense bond data of one centre's nodes: (K, K) distances r (1 where not
    bonded), unit vectors d r_kl / d r_k, bond cutoffs and r0 of each node
    pair, and which pairs are bonded."""
    diff = pos[:, None, :] - pos[None, :, :]          # r_k - r_l
    r = np.linalg.norm(diff, axis=-1)
    rb, bonded = node_bond_cutoffs(block, node_species, r)
    r_safe = np.where(bonded, r, 1.0)
    unit = diff / r_safe[..., None]
    return r_safe, unit, rb, node_pair_values(block["r0"], node_species), bonded


def block_range(block):
    return spec_of(block).range(block)


def block_size(block, n_species):
    return spec_of(block).size(block, n_species)


def neighbourhoods(atoms, cutoff):
    """For each atom i: (atom index of each node, node positions relative to
    atom i).  Node 0 is atom i itself."""
    n = len(atoms)
    ii, jj, dd = neighbor_list("ijD", atoms, cutoff, self_interaction=False)
    result = []
    for i in range(n):
        mine = ii == i
        node_atom = np.concatenate([[i], jj[mine]]).astype(np.int64)
        node_pos = np.vstack([np.zeros((1, 3)), dd[mine]])
        result.append((node_atom, node_pos))
    return result


# ---------------------------------------------------------------------------
# moments block for one centre atom
# ---------------------------------------------------------------------------

def moments_block(node_species, pos, block, n_species):
    """Features of the moments block for the centre node 0, and their
    gradient with respect to every node position.

    node_species: (K,) species of each node; pos: (K,3) node positions.
    Returns feats (F_b,), grad (F_b, K, 3).
    """
    if block.get("orbitals", "s") == "sp":
        return sp_moments_block(node_species, pos, block, n_species)
    n_max = block["n_max"]
    K = len(pos)
    r_safe, unit, rb, r0, bonded = bond_geometry(pos, block, node_species)
    masks = [np.diag((node_species == s).astype(float))
             for s in range(n_species)]

    feats, grads = [], []
    per_n = {}
    for c, decay in enumerate(block["decay_lengths"]):
        h, dh = hopping(r_safe, r0, decay, rb)
        H = np.where(bonded, h, 0.0)
        dH = np.where(bonded, dh, 0.0)
        # forward sweep: v[a] = H^a e_0
        v = [np.eye(K)[0]]
        for a in range(1, n_max // 2 + 1):
            v.append(H @ v[-1])
        for n in range(2, n_max + 1):
            a = n // 2
            for s in range(n_species):
                D = masks[s]
                # value and gradient dF/dH (dense K x K), dF/dv_a
                if n % 2 == 0:
                    value = v[a] @ D @ v[a]
                    G_H = np.zeros((K, K))
                    g_v = 2.0 * D @ v[a]
                else:
                    w = H @ v[a]
                    value = v[a] @ D @ w
                    G_H = np.outer(D @ v[a], v[a])
                    g_v = D @ w + H.T @ (D @ v[a])
                # reverse sweep through v_b = H v_(b-1)
                for b in range(a, 0, -1):
                    G_H += np.outer(g_v, v[b - 1])
                    g_v = H.T @ g_v
                # H_kl = h(|r_k - r_l|): dF/dr_m = sum_l (G_ml + G_lm) h' u_ml
                Gs = (G_H + G_H.T) * dH
                grad = np.einsum("ml,mlx->mx", Gs, unit)
                per_n[(n, c, s)] = (value, grad)
    # feature order: n outer, channel c, species s inner
    for n in range(2, n_max + 1):
        for c in range(len(block["decay_lengths"])):
            for s in range(n_species):
                value, grad = per_n[(n, c, s)]
                feats.append(value)
                grads.append(grad)
    return np.array(feats), np.array(grads)


# ---------------------------------------------------------------------------
# orbital (s + p) moments block for one centre atom
# ---------------------------------------------------------------------------

# Harrison's ratios for ss-sigma, sp-sigma, pp-sigma, pp-pi (fixed in the format).
SK_RATIOS = (-1.40, 1.84, 3.24, -0.81)


def sp_hamiltonian(node_species, pos, block, decay):
    """Dense 4K x 4K Slater-Koster Hamiltonian, orbitals {s, px, py, pz} per
    node.  Written without abs/norm so that it also works for complex
    positions (complex-step derivatives below)."""
    ss, sp, pps, ppp = SK_RATIOS
    K = len(pos)
    r0 = node_pair_values(block["r0"], node_species)
    d = pos[None, :, :] - pos[:, None, :]                 # d[k, m] = x_m - x_k
    r = np.sqrt(np.sum(d * d, axis=-1) + np.eye(K))       # (diagonal padded)
    rb, bonded = node_bond_cutoffs(block, node_species, r)
    l = d / r[..., None]
    x = r / rb
    h = np.where(bonded, np.exp(-(r - r0) / decay) * (1 - 10 * x**3 + 15 * x**4 - 6 * x**5), 0)
    B = np.zeros((K, K, 4, 4), dtype=pos.dtype)
    B[:, :, 0, 0] = ss * h
    B[:, :, 0, 1:] = sp * l * h[..., None]
    B[:, :, 1:, 0] = -sp * l * h[..., None]
    B[:, :, 1:, 1:] = (ppp * np.eye(3) + (pps - ppp) * l[..., :, None] * l[..., None, :]) * h[..., None, None]
    B[np.arange(K), np.arange(K)] = np.diag([0.0] + [block.get("sp_splitting", 0.0)] * 3)
    return B.transpose(0, 2, 1, 3).reshape(4 * K, 4 * K)


def sp_moment_values(node_species, pos, block, n_species):
    """Features in file order: n, channel, (s diagonal, p trace), species.
    [H^n]_(io,io) split by the middle node k: sum over k of species s of
    (H^a e_io)_k . (H^(n-a) e_io)_k with a = n // 2 (H is symmetric)."""
    n_max = block["n_max"]
    values = {}
    for c, decay in enumerate(block["decay_lengths"]):
        H = sp_hamiltonian(node_species, pos, block, decay)
        for o in range(4):
            u = [np.eye(len(H), dtype=H.dtype)[o]]
            for _ in range(n_max - n_max // 2):
                u.append(H @ u[-1])
            for n in range(2, n_max + 1):
                a = n // 2
                per_node = (u[a] * u[n - a]).reshape(-1, 4).sum(axis=1)
                for s in range(n_species):
                    key = (n, c, 0 if o == 0 else 1, s)
                    values[key] = values.get(key, 0) + per_node[node_species == s].sum()
    return np.array([values[key] for key in sorted(values)])


def sp_moments_block(node_species, pos, block, n_species, step=1e-30):
    """Values, and gradients by complex-step differentiation (exact to round-off)."""
    feats = sp_moment_values(node_species, pos.astype(float), block, n_species).real
    K = len(pos)
    grad = np.zeros((len(feats), K, 3))
    for k in range(K):
        for d in range(3):
            z = pos.astype(complex)
            z[k, d] += 1j * step
            grad[:, k, d] = sp_moment_values(node_species, z, block, n_species).imag / step
    return feats, grad


# ---------------------------------------------------------------------------
# radial block for one centre atom
# ---------------------------------------------------------------------------

def radial_block(node_species, pos, block, n_species):
    """g[k, s] = sum_j exp(-alpha (r_ij - c_k)^2) fc(r_ij / cutoff); node 0
    is the centre.  Returns feats (F_b,), grad (F_b, K, 3)."""
    rc = block["cutoff"]
    alpha = block["alpha"]
    centers = np.asarray(block["centers"], dtype=float)
    K = len(pos)
    feats = np.zeros((len(centers), n_species))
    grad = np.zeros((len(centers), n_species, K, 3))
    for j in range(1, K):
        r = np.linalg.norm(pos[j] - pos[0])
        if r >= rc:
            continue
        u = (pos[j] - pos[0]) / r
        s = node_species[j]
        gauss = np.exp(-alpha * (r - centers) ** 2)
        value = gauss * fc(r / rc)
        dvalue = (-2 * alpha * (r - centers) * gauss * fc(r / rc)
                  + gauss * dfc(r / rc) / rc)
        feats[:, s] += value
        grad[:, s, j, :] += dvalue[:, None] * u
        grad[:, s, 0, :] -= dvalue[:, None] * u
    return feats.reshape(-1), grad.reshape(-1, K, 3)


def block_function(block_type):
    """The reference of one block type: f(node_species, pos, block, n_species)
    -> (features (F_b,), gradient (F_b, K, 3)) for the centre node 0.  Each
    new block type's reference lives in its own module reference_<type>.py."""
    import importlib

    builtin = {"moments": moments_block, "radial": radial_block}
    if block_type in builtin:
        return builtin[block_type]
    module = importlib.import_module(f"reference_{block_type}")
    return getattr(module, f"{block_type}_block")


# ---------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------

def species_indices(atoms, elements):
    elements = list(elements)
    species = []
    for symbol in atoms.get_chemical_symbols():
        if symbol not in elements:
            raise ValueError(f"element {symbol!r} is not in the potential's "
                             f"elements {elements}")
        species.append(elements.index(symbol))
    return np.array(species, dtype=np.int64)


def compute(atoms, descriptor, elements, jacobian=True):
    """Descriptors of every atom (see module docstring and DESIGN.md)."""
    species = species_indices(atoms, elements)
    n_species = len(elements)
    blocks = descriptor["blocks"]
    N = len(atoms)
    F = sum(block_size(b, n_species) for b in blocks)
    features = np.zeros((N, F))
    dG_dstrain = np.zeros((N, F, 3, 3))
    pairs = {}                                  # (i, j) -> (F, 3)
    hoods = [neighbourhoods(atoms, block_range(b)) for b in blocks]

    for i in range(N):
        pairs[(i, i)] = np.zeros((F, 3))
        start = 0
        for b, block in enumerate(blocks):
            block = with_pair_tables(block, elements)
            node_atom, pos = hoods[b][i]
            node_species = species[node_atom]
            f, g = block_function(block["type"])(node_species, pos, block, n_species)
            stop = start + len(f)
            features[i, start:stop] = f
            if jacobian:
                # sum node gradients over the images of each atom
                for k, j in enumerate(node_atom):
                    pairs.setdefault((i, int(j)), np.zeros((F, 3)))
                    pairs[(i, int(j))][start:stop] += g[:, k, :]
                # homogeneous strain: sum_k dG/dr_k[a] * r_k[b]
                dG_dstrain[i, start:stop] = np.einsum("fka,kb->fab", g, pos)
            start = stop

    result = {"features": features, "species": species}
    if jacobian:
        keys = sorted(pairs)
        result["pair_center"] = np.array([k[0] for k in keys], dtype=np.int64)
        result["pair_atom"] = np.array([k[1] for k in keys], dtype=np.int64)
        result["dG_dr"] = (np.array([pairs[k] for k in keys])
                           if keys else np.zeros((0, F, 3)))
        result["dG_dstrain"] = dG_dstrain
    return result


def energy_forces_stress(atoms, potential):
    """Energy (eV), forces (N,3) = -dE/dr, and stress (3,3) = (1/V) dE/deps
    (ASE sign convention, eV/A^3), or None unless the cell is 3D periodic."""
    elements = potential["elements"]
    d = compute(atoms, potential["descriptor"], elements, jacobian=True)
    G, species = d["features"], d["species"]
    N, F = G.shape
    energies = np.zeros(N)
    dE_dG = np.zeros((N, F))
    for s, element in enumerate(elements):
        mine = species == s
        if mine.any():
            energies[mine], dE_dG[mine] = evaluate_network(
                potential["models"][element], G[mine])
    forces = np.zeros((N, 3))
    for i, j, dg in zip(d["pair_center"], d["pair_atom"], d["dG_dr"]):
        forces[j] -= dE_dG[i] @ dg
    stress = None
    if np.all(atoms.pbc):
        dE_deps = np.einsum("if,ifab->ab", dE_dG, d["dG_dstrain"])
        stress = dE_deps / atoms.get_volume()
    return float(energies.sum()), forces, stress
