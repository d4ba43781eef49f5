"""NumPy reference of the EANN density block (Zhang, Hu, Jiang 2019).

For the centre node 0, Gaussian k, neighbour species s and Cartesian
monomial (lx, ly, lz) of degree L:

    T[L][k][s][(lx,ly,lz)] = sum over neighbours j of species s of
        x^lx y^ly z^lz exp(-alpha (r - c_k)^2) fc(r / cutoff)

with (x, y, z) = pos_j - pos_0, and per unordered species pair (s, t), s <= t:

    rho[L, k, (s,t)] = sum over lx+ly+lz = L of L!/(lx! ly! lz!) T[..s..] T[..t..]

Feature order: L outer, then k, then the pair (tinynet.blocks.species_pairs).
Dense and slow on purpose; the gradient is the product rule written out.
"""

from math import factorial

import numpy as np

from numpy_reference import dfc, fc
from tinynet.blocks import species_pairs


def monomial_exponents(L):
    """All (lx, ly, lz) with lx + ly + lz = L."""
    return [(a, b, L - a - b) for a in range(L + 1) for b in range(L + 1 - a)]


def _power_and_derivative(x, n):
    """x^n and d(x^n)/dx (0 for n = 0, without 0**-1)."""
    return x ** n, (n * x ** (n - 1) if n > 0 else 0.0)


def eann_block(node_species, pos, block, n_species):
    """Features (F_b,) and their gradient (F_b, K, 3) for the centre node 0."""
    rc, alpha, l_max = block["cutoff"], block["alpha"], block["l_max"]
    centers = np.asarray(block["centers"], dtype=float)
    nk = len(centers)
    K = len(pos)
    pairs = species_pairs(n_species)

    feats = np.zeros((l_max + 1, nk, len(pairs)))
    grad = np.zeros((l_max + 1, nk, len(pairs), K, 3))
    for L in range(l_max + 1):
        for lx, ly, lz in monomial_exponents(L):
            weight = factorial(L) / (factorial(lx) * factorial(ly) * factorial(lz))
            # T[k, s] for this monomial and its gradient dT[k, s, node, xyz]
            T = np.zeros((nk, n_species))
            dT = np.zeros((nk, n_species, K, 3))
            for j in range(1, K):
                d = pos[j] - pos[0]
                r = np.linalg.norm(d)
                if r >= rc:
                    continue
                s = node_species[j]
                gauss = np.exp(-alpha * (r - centers) ** 2)
                radial = gauss * fc(r / rc)
                dradial = gauss * (dfc(r / rc) / rc - 2 * alpha * (r - centers) * fc(r / rc))
                (px, dpx), (py, dpy), (pz, dpz) = (_power_and_derivative(d[0], lx),
                                                   _power_and_derivative(d[1], ly),
                                                   _power_and_derivative(d[2], lz))
                mono = px * py * pz
                dmono = np.array([dpx * py * pz, px * dpy * pz, px * py * dpz])
                T[:, s] += radial * mono
                dj = dradial[:, None] * mono * (d / r)[None, :] + radial[:, None] * dmono[None, :]
                dT[:, s, j, :] += dj
                dT[:, s, 0, :] -= dj
            for p, (s, t) in enumerate(pairs):
                feats[L, :, p] += weight * T[:, s] * T[:, t]
                grad[L, :, p] += weight * (dT[:, s] * T[:, t, None, None]
                                           + T[:, s, None, None] * dT[:, t])
    return feats.reshape(-1), grad.reshape(-1, K, 3)


def eann_roundoff_scale(node_species, pos, block, n_species):
    """Per feature, sum over j, j' of b_j b_j' (|x||x'| + |y||y'| + |z||z'|)^L:
    a bound on |rho| and the size of the terms whose cancellation sets its
    round-off.  Odd-L features that vanish by symmetry (one-atom and two-atom
    cells) are compared against this instead of against their own zero."""
    centred = np.abs(np.asarray(pos, dtype=float) - pos[0])
    return eann_block(node_species, centred, block, n_species)[0]
