"""NumPy reference of the "simple_cycles" block (DESIGN.md section 2, "simple" kind).

Brute force on the dense bond matrix of one centre's nodes: every directed
simple cycle 0 -> p_1 -> ... -> p_(n-1) -> 0 with n <= n_max is enumerated by
plain recursion (no pruning beyond the length), and its product of hoppings
and that product's gradient are formed directly.
"""

import numpy as np

from numpy_reference import bond_geometry, hopping


def simple_cycles(bonded, n_max):
    """All directed simple cycles through node 0 of 3..n_max bonds, as a dict
    n -> int array (cycles, n) of node sequences (0, p_1, ..., p_(n-1))."""
    partners = [np.flatnonzero(row).tolist() for row in bonded]
    cycles = {n: [] for n in range(3, n_max + 1)}

    def extend(path):
        for v in partners[path[-1]]:
            if v == 0 and len(path) >= 3:
                cycles[len(path)].append(list(path))
            elif v not in path and len(path) < n_max:
                extend(path + [v])

    extend([0])
    return {n: np.array(c, dtype=np.int64).reshape(-1, n) for n, c in cycles.items()}


def simple_cycles_block(node_species, pos, block, n_species):
    """Features of the simple-cycles block for centre node 0 and their
    gradient with respect to every node position: (F_b,), (F_b, K, 3)."""
    n_max = block["n_max"]
    decays = block["decay_lengths"]
    nc = len(decays)
    K = len(pos)
    r_safe, unit, rb, r0, bonded = bond_geometry(pos, block, node_species)    # rb, r0: per node pair

    feats = np.zeros((n_max - 2, nc, n_species))
    grad = np.zeros((n_max - 2, nc, n_species, K, 3))
    for n, cycles in simple_cycles(bonded, n_max).items():
        a = cycles                                     # bond t of a cycle joins a[:, t] -> b[:, t]
        b = np.roll(a, -1, axis=1)
        middle = node_species[a[:, n // 2]]
        others = ~np.eye(n, dtype=bool)                # others[t, u]: bond u is not bond t
        for c, decay in enumerate(decays):
            h, dh = hopping(r_safe[a, b], r0[a, b], decay, rb[a, b])       # (cycles, n)
            product = np.prod(h, axis=1)
            # d(product)/d(r_t) = dh_t * product of the other hoppings
            rest = np.prod(np.where(others[None], h[:, None, :], 1.0), axis=2)
            d = (dh * rest)[..., None]
            for s in range(n_species):
                mine = middle == s
                feats[n - 3, c, s] = product[mine].sum()
                np.add.at(grad[n - 3, c, s], a[mine], d[mine] * unit[a[mine], b[mine]])
                np.add.at(grad[n - 3, c, s], b[mine], d[mine] * unit[b[mine], a[mine]])
    # feature order: n outer, channel c, species s inner
    return feats.reshape(-1), grad.reshape(-1, K, 3)
