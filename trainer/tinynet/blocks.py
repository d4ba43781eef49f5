"""Descriptor block types: their parameters, checks, range and feature count.

One class per block type, selected by the block's ``"type"`` (the same names
as the C++ core's block classes in ``core/src/blocks/``).  Both the potential
file reader and the training configuration use these checks, so a block is
described in exactly one place on the Python side.

A block spec knows, for one block dict:
    check(src, field, block)   raise PotentialFileError naming file and field
    range(block)               interaction range from the centre atom (A)
    bond_cutoff(block)         > 0 for blocks that walk the bond graph
    size(block, n_species)     number of features
    describe(block)            one line for ``tinynet info``
"""

from tinynet.validation import (PotentialFileError, _integer, _number,
                                _number_list, _object, _string, _type_name)

# Bounds that keep every accepted file finite and communicable by LAMMPS
# (docs/potential_file.md; the C++ readers: core/src/block_registry.h).
MAX_CUTOFF = 20.0               # any cutoff, and |r0| (A)
MAX_CENTER = 2 * MAX_CUTOFF     # Gaussian centres (A)
MAX_ALPHA = 1.0e4               # Gaussian exponents (1/A^2)
MIN_BOND = 0.1                  # the hosts stop on atoms closer than this (A)
MAX_HOPPING_EXPONENT = 300.0    # n_max (r0 - MIN_BOND) / decay length: path products < e^300
MAX_SP_SPLITTING = 10.0


def species_pairs(n_species):
    """Unordered species pairs (s, s') with s <= s', in feature order."""
    return [(s, t) for s in range(n_species) for t in range(s, n_species)]


def _cutoff(src, field, value):
    x = _number(src, field, value, positive=True)
    if x > MAX_CUTOFF:
        raise PotentialFileError(src, field,
                                 f"{value!r} exceeds the maximum of {MAX_CUTOFF} A")
    return x


def _bounded_int(src, field, value, lo, hi, why=""):
    v = _integer(src, field, value, minimum=lo)
    if v > hi:
        raise PotentialFileError(src, field, f"must be <= {hi}, got {v}{why}")
    return v


def _centers(src, field, value):
    centers = _number_list(src, field, value, nonempty=True)
    for k, c in enumerate(centers):
        if abs(c) > MAX_CENTER:
            raise PotentialFileError(src, f"{field}[{k}]", f"must be within +-{MAX_CENTER:g} Angstrom")
    return centers


def _alpha(src, field, value):
    alpha = _number(src, field, value, positive=True)
    if alpha > MAX_ALPHA:
        raise PotentialFileError(src, field, "must be <= 1e4 (1/Angstrom^2)")
    return alpha


def _walk_parameters(src, field, block):
    """bond_cutoff, r0 and decay_lengths of the blocks that walk the bond graph."""
    _cutoff(src, f"{field}.bond_cutoff", block["bond_cutoff"])
    r0 = _number(src, f"{field}.r0", block["r0"])
    if abs(r0) > MAX_CUTOFF:
        raise PotentialFileError(src, f"{field}.r0", f"must be within +-{MAX_CUTOFF:g} Angstrom")
    decay = _number_list(src, f"{field}.decay_lengths", block["decay_lengths"], positive=True, nonempty=True)
    for c, lam in enumerate(decay):
        # the largest hopping is exp((r0 - MIN_BOND) / lambda); a path multiplies n_max of them
        if block["n_max"] * (r0 - MIN_BOND) / lam > MAX_HOPPING_EXPONENT:
            raise PotentialFileError(
                src, f"{field}.decay_lengths[{c}]",
                "too short for r0 and n_max: n_max * (r0 - 0.1) / decay_length must be <= 300, "
                "or path products overflow")


class BlockSpec:
    type = ""
    required = ()          # besides "type"
    optional = {}          # key -> default

    def check(self, src, field, block):
        _object(src, field, block, ("type",) + self.required, tuple(self.optional))

    def get(self, block, key):
        return block.get(key, self.optional.get(key))

    def bond_cutoff(self, block):
        return 0.0

    def range(self, block):
        return float(block["cutoff"])

    def size(self, block, n_species):
        raise NotImplementedError

    def describe(self, block):
        return self.type


class Moments(BlockSpec):
    """Species-resolved moments [H_c^n]_ii, n = 2..n_max, of the bond graph;
    with orbitals "sp" the s diagonal and the p trace of an s+p Slater-Koster
    Hamiltonian (two features per n, channel and species)."""
    type = "moments"
    required = ("n_max", "bond_cutoff", "r0", "decay_lengths")
    optional = {"orbitals": "s", "sp_splitting": 0.0}
    ORBITALS = ("s", "sp")

    def check(self, src, field, block):
        super().check(src, field, block)
        _bounded_int(src, f"{field}.n_max", block["n_max"], 2, 32)
        _walk_parameters(src, field, block)
        orbitals = _string(src, f"{field}.orbitals", self.get(block, "orbitals"))
        if orbitals not in self.ORBITALS:
            raise PotentialFileError(src, f"{field}.orbitals",
                                     f"expected one of {', '.join(map(repr, self.ORBITALS))}, got {orbitals!r}")
        if abs(_number(src, f"{field}.sp_splitting", self.get(block, "sp_splitting"))) > MAX_SP_SPLITTING:
            raise PotentialFileError(src, f"{field}.sp_splitting", f"must be within +-{MAX_SP_SPLITTING:g}")
        if orbitals == "s" and "sp_splitting" in block:
            raise PotentialFileError(src, f"{field}.sp_splitting",
                                     "only meaningful with orbitals 'sp'")

    def bond_cutoff(self, block):
        return float(block["bond_cutoff"])

    def range(self, block):
        return (block["n_max"] // 2) * float(block["bond_cutoff"])

    def size(self, block, n_species):
        per_orbital = 2 if self.get(block, "orbitals") == "sp" else 1
        return (block["n_max"] - 1) * len(block["decay_lengths"]) * n_species * per_orbital

    def describe(self, block):
        orb = self.get(block, "orbitals")
        return (f"moments ({orb}) n_max {block['n_max']}, {len(block['decay_lengths'])} channel(s), "
                f"bond cutoff {block['bond_cutoff']} A")


class SimpleCycles(BlockSpec):
    """Sums over simple cycles (no repeated atom) through the centre, of length
    3..n_max, of the product of hoppings, split by the species of the cycle's
    middle node."""
    type = "simple_cycles"
    required = ("n_max", "bond_cutoff", "r0", "decay_lengths")
    # Beyond 8 the depth-limited search grows as coordination^(n_max - 1)
    # per centre: in a close-packed solid (12 neighbours) n_max 8 already
    # visits ~10^6 paths per atom.
    N_MAX_LIMIT = 8

    def check(self, src, field, block):
        super().check(src, field, block)
        _bounded_int(src, f"{field}.n_max", block["n_max"], 3, self.N_MAX_LIMIT,
                     " (the cycle search grows as coordination^(n_max-1))")
        _walk_parameters(src, field, block)

    def bond_cutoff(self, block):
        return float(block["bond_cutoff"])

    def range(self, block):
        return (block["n_max"] // 2) * float(block["bond_cutoff"])

    def size(self, block, n_species):
        return (block["n_max"] - 2) * len(block["decay_lengths"]) * n_species

    def describe(self, block):
        return (f"simple_cycles n_max {block['n_max']}, {len(block['decay_lengths'])} channel(s), "
                f"bond cutoff {block['bond_cutoff']} A")


class Radial(BlockSpec):
    """Gaussians exp(-alpha (r - c_k)^2) fc(r / cutoff) summed per neighbour species."""
    type = "radial"
    required = ("cutoff", "centers", "alpha")

    def check(self, src, field, block):
        super().check(src, field, block)
        _cutoff(src, f"{field}.cutoff", block["cutoff"])
        _centers(src, f"{field}.centers", block["centers"])
        _alpha(src, f"{field}.alpha", block["alpha"])

    def size(self, block, n_species):
        return len(block["centers"]) * n_species

    def describe(self, block):
        return f"radial {len(block['centers'])} centres to {block['cutoff']} A"


class EANN(BlockSpec):
    """Embedded-atom density rho_(L,k) of Zhang, Hu and Jiang, L = 0..l_max,
    Gaussian radial functions, resolved by unordered species pairs."""
    type = "eann"
    required = ("cutoff", "centers", "alpha", "l_max")

    def check(self, src, field, block):
        super().check(src, field, block)
        _cutoff(src, f"{field}.cutoff", block["cutoff"])
        _centers(src, f"{field}.centers", block["centers"])
        _alpha(src, f"{field}.alpha", block["alpha"])
        _bounded_int(src, f"{field}.l_max", block["l_max"], 0, 8)

    def size(self, block, n_species):
        return (block["l_max"] + 1) * len(block["centers"]) * len(species_pairs(n_species))

    def describe(self, block):
        return f"eann l_max {block['l_max']}, {len(block['centers'])} Gaussians to {block['cutoff']} A"


class Bessel(BlockSpec):
    """Power spectrum p_(n,l) of orthonormal spherical-Bessel radial functions
    g_n (n = 0..n_max) times spherical harmonics (l = 0..l_max), resolved by
    unordered species pairs (Kocer, Mason and Erturk)."""
    type = "bessel"
    required = ("cutoff", "n_max", "l_max")

    def check(self, src, field, block):
        super().check(src, field, block)
        _cutoff(src, f"{field}.cutoff", block["cutoff"])
        _bounded_int(src, f"{field}.n_max", block["n_max"], 0, 24)
        _bounded_int(src, f"{field}.l_max", block["l_max"], 0, 12)

    def size(self, block, n_species):
        return (block["n_max"] + 1) * (block["l_max"] + 1) * len(species_pairs(n_species))

    def describe(self, block):
        return f"bessel n_max {block['n_max']}, l_max {block['l_max']} to {block['cutoff']} A"


BLOCK_TYPES = {spec.type: spec for spec in (Moments(), SimpleCycles(), Radial(), EANN(), Bessel())}


def spec_of(block):
    """The BlockSpec of an already checked block dict."""
    return BLOCK_TYPES[block["type"]]


def check_block(src, field, block):
    if not isinstance(block, dict):
        raise PotentialFileError(src, field, f"expected an object, got {_type_name(block)}")
    if "type" not in block:
        raise PotentialFileError(src, f"{field}.type", "missing field")
    btype = block["type"]
    if not isinstance(btype, str) or btype not in BLOCK_TYPES:
        raise PotentialFileError(
            src, f"{field}.type",
            f"unknown block type {btype!r} (known: {', '.join(BLOCK_TYPES)})")
    BLOCK_TYPES[btype].check(src, field, block)
