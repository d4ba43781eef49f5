"""One descriptor per block type for the shared block battery (test_block_battery.py).

Every block type in tinynet.blocks must appear here; the battery checks the
C++ core against the NumPy reference, invariances, and LAMMPS physics for
each entry. Parameters are chosen for a Si/Ge diamond-like cell (bonds
2.35 A, second shell 3.84 A) so that each block's features are non-trivial.

The "_pairs" cases give bond_cutoff and r0 per element pair, for every
element of the battery's cells (Si, Ge; Sr, Ti, O); block_for() keeps the
pairs of one cell's elements. The values differ from pair to pair (in the
moments cases Ge-Ge bonds reach the second shell, Si-Si and Si-Ge bonds
only the first, with different weights; Ti-O, Sr-O, O-O and Sr-Ti bonds at
their own lengths; a bond cutoff 0 marks a pair that is never bonded: Ti-Ti,
and Ge-Ge in the simple-cycles case, whose cell has Ge-Ge first neighbours),
so a walk that used another pair's value would disagree with the reference.
"""

BLOCK_CASES = {
    "moments_s": {"type": "moments", "n_max": 5, "bond_cutoff": 3.0, "r0": 0.5, "decay_lengths": [1.0, 2.0]},
    # n_max <= 4 takes the core's shallow kernel (bonds i-j and j-k only), n_max 5 the general walk
    "moments_s4": {"type": "moments", "n_max": 4, "bond_cutoff": 3.0, "r0": 0.5, "decay_lengths": [1.0, 2.0]},
    "simple_cycles": {"type": "simple_cycles", "n_max": 6, "bond_cutoff": 3.0, "r0": 2.35, "decay_lengths": [0.8, 1.6]},
    "moments_sp": {"type": "moments", "orbitals": "sp", "n_max": 4, "bond_cutoff": 2.9, "r0": 2.35,
                   "decay_lengths": [0.7], "sp_splitting": 0.4},
    "radial": {"type": "radial", "cutoff": 4.5, "centers": [2.0, 2.5, 3.0, 3.5, 4.0], "alpha": 0.8},
    "eann": {"type": "eann", "cutoff": 4.5, "centers": [2.0, 2.5, 3.0, 3.5, 4.0], "alpha": 0.8, "l_max": 3},
    "bessel": {"type": "bessel", "cutoff": 4.5, "n_max": 4, "l_max": 4},
}

# reference lengths: Si/Ge bonds, and the SrTiO3 neighbour distances
PAIR_R0 = {"Si-Si": 2.35, "Ge-Si": 2.45, "Ge-Ge": 2.6,
           "O-Ti": 1.95, "O-Sr": 2.76, "O-O": 2.76, "Sr-Ti": 3.38, "Sr-Sr": 3.9, "Ti-Ti": 3.9}

BLOCK_CASES.update({
    "moments_s_pairs": {
        "type": "moments", "n_max": 5, "decay_lengths": [1.0, 2.0], "r0": PAIR_R0,
        "bond_cutoff": {"Si-Si": 3.0, "Ge-Si": 3.3, "Ge-Ge": 5.0,
                        "O-Ti": 2.5, "O-Sr": 3.3, "O-O": 3.3, "Sr-Ti": 3.9, "Sr-Sr": 4.4, "Ti-Ti": 0.0}},
    "moments_s4_quad_pairs": {    # three channels: the shallow kernel's four-lane groups with a padding lane
        "type": "moments", "n_max": 4, "decay_lengths": [1.0, 2.0, 0.7], "r0": PAIR_R0,
        "bond_cutoff": {"Si-Si": 3.0, "Ge-Si": 3.3, "Ge-Ge": 5.0,
                        "O-Ti": 2.5, "O-Sr": 3.3, "O-O": 3.3, "Sr-Ti": 3.9, "Sr-Sr": 4.4, "Ti-Ti": 0.0}},
    "moments_s4_pairs": {
        "type": "moments", "n_max": 4, "decay_lengths": [1.0, 2.0], "r0": PAIR_R0,
        "bond_cutoff": {"Si-Si": 3.0, "Ge-Si": 3.3, "Ge-Ge": 5.0,
                        "O-Ti": 2.5, "O-Sr": 3.3, "O-O": 3.3, "Sr-Ti": 3.9, "Sr-Sr": 4.4, "Ti-Ti": 0.0}},
    "moments_sp_pairs": {
        "type": "moments", "orbitals": "sp", "n_max": 4, "decay_lengths": [0.7], "sp_splitting": 0.4,
        "r0": PAIR_R0,
        "bond_cutoff": {"Si-Si": 2.8, "Si-Ge": 3.0, "Ge-Ge": 3.2,
                        "Ti-O": 2.4, "Sr-O": 3.1, "O-O": 2.9, "Ti-Sr": 0.0, "Sr-Sr": 3.0, "Ti-Ti": 3.0}},
    "simple_cycles_pairs": {    # first-shell bonds only: the diamond's rings have six
        "type": "simple_cycles", "n_max": 6, "decay_lengths": [0.8, 1.6], "r0": PAIR_R0,
        "bond_cutoff": {"Si-Si": 2.9, "Ge-Si": 3.1, "Ge-Ge": 0.0,
                        "O-Ti": 2.5, "O-Sr": 3.1, "O-O": 2.9, "Sr-Ti": 0.0, "Sr-Sr": 3.0, "Ti-Ti": 3.0}},
})


def block_for(case, elements):
    """The case's block for a file with `elements`: per-pair parameters keep
    the pairs of those elements (a file names exactly its own pairs)."""
    block = dict(BLOCK_CASES[case])
    for key, value in block.items():
        if isinstance(value, dict):
            block[key] = {pair: x for pair, x in value.items()
                          if all(el in elements for el in pair.split("-"))}
    return block
