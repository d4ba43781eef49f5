"""NumPy reference of the "bessel" block (tests only; slow and plain).

Power spectrum of orthonormal spherical-Bessel radial functions g_n times real
spherical harmonics (Kocer, Mason, Erturk, J. Chem. Phys. 150, 154102 (2019)):

    c[s, n, lm]        = sum over neighbours j of species s, r_ij < cutoff,
                         of g_n(r_ij) Y_lm(r_ij / |r_ij|)
    p[n, l, (s, s')]   = sum_m c[s, n, lm] c[s', n, lm]      (s <= s')

Feature index (n * (l_max + 1) + l) * n_pairs + pair.  Radial functions: see
`radial_functions`; harmonics: see `real_harmonics`.

The gradient is taken by complex-step differentiation of the very same
function (f'(x) = Im f(x + i h) / h with h = 1e-30: no subtraction, so exact to
round-off), which needs every step to be analytic in the positions; hence the
polynomial form of the harmonics below.
"""

from functools import lru_cache
from math import comb, factorial

import numpy as np
from numpy.polynomial import legendre

from tinynet.blocks import species_pairs

COMPLEX_STEP = 1e-30


def radial_functions(r, cutoff, n_max):
    """g_n(r), n = 0..n_max, shape (n_max + 1,) + r.shape; r may be complex.

    f_n(r) = a_n [sinc((n+1) pi r / rc) + sinc((n+2) pi r / rc)], sinc(x) =
    sin(x)/x: it vanishes at rc with its first two derivatives (consecutive
    zeros of sin), a_n gives it unit norm with weight r^2 on [0, rc].  Only
    f_n and f_(n+1) overlap, so Gram-Schmidt is the short recursion
    e_n = n^2 (n+2)^2 / (4 (n+1)^4 + 1), d_0 = 1, d_n = 1 - e_n / d_(n-1),
    g_0 = f_0, g_n = (f_n + sqrt(e_n / d_(n-1)) g_(n-1)) / sqrt(d_n).
    """
    r = np.asarray(r)
    rc = float(cutoff)

    def sinc(k):
        x = k * np.pi * r / rc
        return np.sin(x) / x

    f = []
    for n in range(n_max + 1):
        p, q = n + 1.0, n + 2.0
        a = (-1) ** n * np.sqrt(2.0) * np.pi / rc**1.5 * p * q / np.sqrt(p * p + q * q)
        f.append(a * (sinc(p) + sinc(q)))
    g = [f[0]]
    d_prev = 1.0
    for n in range(1, n_max + 1):
        e = n**2 * (n + 2) ** 2 / (4.0 * (n + 1) ** 4 + 1.0)
        d = 1.0 - e / d_prev
        g.append((f[n] + np.sqrt(e / d_prev) * g[n - 1]) / np.sqrt(d))
        d_prev = d
    return np.array(g)


@lru_cache(maxsize=None)
def _legendre_derivative(l, m):
    """Coefficients of d^m P_l / dz^m in the Legendre basis."""
    return legendre.legder(np.eye(l + 1)[l], m) if m else np.eye(l + 1)[l]


def real_harmonics(u, l_max):
    """Real Y_lm at unit vectors u (..., 3): shape ((l_max+1)^2,) + u.shape[:-1],
    index l^2 + l + m; orthonormal on the sphere, no Condon-Shortley phase.

    Y_lm = N_l|m| (d^|m| P_l/dz^|m|)(z) * Re or Im of (x + i y)^|m|
    (Re for m > 0, Im for m < 0), N_lm = sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!),
    times sqrt(2) for m != 0.  Re and Im are expanded binomially into real
    polynomials in x and y (an explicit i would mix with the complex step).
    """
    u = np.asarray(u)
    x, y, z = u[..., 0], u[..., 1], u[..., 2]
    out = []
    for l in range(l_max + 1):
        for m in range(-l, l + 1):
            k = abs(m)
            norm = np.sqrt((2 * l + 1) / (4 * np.pi) * factorial(l - k) / factorial(l + k))
            if m:
                norm *= np.sqrt(2.0)
            # (x + iy)^k = sum_q binom(k, q) x^(k-q) (iy)^q: even q real, odd q imaginary
            parity = 0 if m >= 0 else 1
            azimuthal = sum(comb(k, q) * (-1) ** (q // 2) * x ** (k - q) * y**q
                            for q in range(parity, k + 1, 2))
            out.append(norm * legendre.legval(z, _legendre_derivative(l, k)) * azimuthal)
    return np.array(out)


def _features(node_species, pos, block, n_species, neighbours):
    """Features for a batch of node positions pos (B, K, 3) -> (B, F)."""
    n_max, l_max = block["n_max"], block["l_max"]
    rel = pos[:, neighbours, :] - pos[:, :1, :]                  # (B, J, 3)
    r = np.sqrt(np.sum(rel * rel, axis=-1))                      # complex-safe norm
    g = radial_functions(r, block["cutoff"], n_max)              # (N, B, J)
    Y = real_harmonics(rel / r[..., None], l_max)                # (LM, B, J)
    onehot = np.eye(n_species)[node_species[neighbours]]         # (J, S)
    c = np.einsum("nbj,qbj,js->bsnq", g, Y, onehot)              # (B, S, N, LM)
    pairs = species_pairs(n_species)
    feats = np.zeros((pos.shape[0], n_max + 1, l_max + 1, len(pairs)), dtype=c.dtype)
    for l in range(l_max + 1):
        block_l = slice(l * l, (l + 1) ** 2)
        for p, (s, t) in enumerate(pairs):
            feats[:, :, l, p] = np.sum(c[:, s, :, block_l] * c[:, t, :, block_l], axis=-1)
    return feats.reshape(pos.shape[0], -1)


def bessel_block(node_species, pos, block, n_species):
    """Features of the bessel block for centre node 0 and their gradient with
    respect to every node position: (F,), (F, K, 3)."""
    pos = np.asarray(pos, dtype=float)
    K = len(pos)
    dist = np.linalg.norm(pos - pos[0], axis=1)
    neighbours = np.nonzero((dist < block["cutoff"]) & (np.arange(K) > 0))[0]
    feats = _features(node_species, pos[None].astype(complex), block, n_species, neighbours)[0].real
    # one complex-step copy per (node, direction)
    steps = np.repeat(pos[None].astype(complex), 3 * K, axis=0)
    steps.reshape(K, 3, K, 3)[np.arange(K)[:, None], np.arange(3)[None, :],
                              np.arange(K)[:, None], np.arange(3)[None, :]] += 1j * COMPLEX_STEP
    grad = _features(node_species, steps, block, n_species, neighbours).imag / COMPLEX_STEP
    return feats, grad.T.reshape(-1, K, 3)
