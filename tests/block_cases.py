"""One descriptor per block type for the shared block battery (test_block_battery.py).

Every block type in tinynet.blocks must appear here; the battery checks the
C++ core against the NumPy reference, invariances, and LAMMPS physics for
each entry. Parameters are chosen for a Si/Ge diamond-like cell (bonds
2.35 A, second shell 3.84 A) so that each block's features are non-trivial.
"""

BLOCK_CASES = {
    "moments_s": {"type": "moments", "n_max": 5, "bond_cutoff": 3.0, "r0": 0.5, "decay_lengths": [1.0, 2.0]},
    "simple_cycles": {"type": "simple_cycles", "n_max": 6, "bond_cutoff": 3.0, "r0": 2.35, "decay_lengths": [0.8, 1.6]},
    "moments_sp": {"type": "moments", "orbitals": "sp", "n_max": 4, "bond_cutoff": 2.9, "r0": 2.35,
                   "decay_lengths": [0.7], "sp_splitting": 0.4},
    "radial": {"type": "radial", "cutoff": 4.5, "centers": [2.0, 2.5, 3.0, 3.5, 4.0], "alpha": 0.8},
    "eann": {"type": "eann", "cutoff": 4.5, "centers": [2.0, 2.5, 3.0, 3.5, 4.0], "alpha": 0.8, "l_max": 3},
    "bessel": {"type": "bessel", "cutoff": 4.5, "n_max": 4, "l_max": 4},
}
