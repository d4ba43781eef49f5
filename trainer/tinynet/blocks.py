"""Descriptor block types: their parameters, checks, range and feature count.

One class per block type, selected by the block's ``"type"`` (the same names
as the C++ core's block classes in ``core/src/blocks/``).  Both the potential
file reader and the training configuration use these checks, so a block is
described in exactly one place on the Python side.

A block spec knows, for one block dict:
    check(src, field, block, elements)
                               raise PotentialFileError naming file and field
                               (elements None: a training configuration,
                               before the data fix the elements)
    range(block)               interaction range from the centre atom (A)
    bond_cutoff(block)         > 0 for blocks that walk the bond graph
    size(block, n_species)     number of features
    describe(block)            one line for ``tinynet info``
"""

from tinynet.validation import (PotentialFileError, _integer, _list, _number,
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


def _r0(src, field, value):
    r0 = _number(src, field, value)
    if abs(r0) > MAX_CUTOFF:
        raise PotentialFileError(src, field, f"must be within +-{MAX_CUTOFF:g} Angstrom")
    return r0


def _pair_cutoff(src, field, value):
    """One pair's bond cutoff: 0 marks a pair that is never bonded."""
    x = _number(src, field, value)
    if x == 0.0:
        return 0.0
    if not x > 0.0:
        raise PotentialFileError(src, field, "must be > 0 (or 0: never bonded)")
    return _cutoff(src, field, value)


def _pair_slots(elements):
    """Pair name "A-B" (either order) -> unordered species pair (s, t), s <= t;
    None if two pairs share a name (element symbols containing '-')."""
    slots = {}
    for s, a in enumerate(elements):
        for t, b in enumerate(elements):
            slot = (min(s, t), max(s, t))
            if slots.setdefault(f"{a}-{b}", slot) != slot:
                return None
    return slots


def _pair_values(src, field, value, elements, read):
    """A parameter per element pair: one number for every pair, or an object
    {"A-B": number} naming each unordered pair of `elements` once, in either
    order; `read` checks one number. Returns the values. Keys are checked in
    sorted order, as the C++ reader (read_pair_table in
    core/src/block_registry.cpp) meets them. With elements None the elements
    are those the keys name."""
    if not isinstance(value, dict):
        return [read(src, field, value)]
    keys = sorted(value, key=str)
    known = ""
    if elements is None:
        elements = []
        for key in keys:
            if "-" in str(key):
                a, _, b = str(key).partition("-")
                elements += [el for el in dict.fromkeys((a, b)) if el not in elements]
    else:
        known = f" (elements: {', '.join(elements)})"
    slots = _pair_slots(elements)
    if slots is None:
        raise PotentialFileError(src, field, "pair names are ambiguous (element symbols containing '-')")
    given, values = {}, []
    for key in keys:
        key_field = f"{field}.{key}"
        slot = slots.get(key)
        if slot is None:
            if "-" in str(key):
                for part in str(key).partition("-")[::2]:
                    if part not in elements:
                        raise PotentialFileError(src, key_field, f"unknown element '{part}'{known}")
            raise PotentialFileError(src, key_field, f"expected an element pair 'A-B'{known}")
        if slot in given:
            raise PotentialFileError(src, key_field, f"duplicate pair (the same as '{given[slot]}')")
        given[slot] = key
        values.append(read(src, key_field, value[key]))
    for s, t in species_pairs(len(elements)):
        if (s, t) not in given:
            raise PotentialFileError(src, f"{field}.{elements[s]}-{elements[t]}",
                                     "missing (every pair of elements needs a value)")
    return values


def pair_max(value):
    """The largest value of a per-pair parameter (a number: itself)."""
    return float(max(value.values())) if isinstance(value, dict) else float(value)


def pair_table(value, elements):
    """A checked per-pair parameter as an S x S nested list over the species
    of `elements` (symmetric; a number: the same for every pair)."""
    n = len(elements)
    if not isinstance(value, dict):
        return [[float(value)] * n for _ in range(n)]
    table = [[0.0] * n for _ in range(n)]
    slots = _pair_slots(elements)
    for key, x in value.items():
        s, t = slots[key]
        table[s][t] = table[t][s] = float(x)
    return table


def _describe_pairs(value):
    if not isinstance(value, dict):
        return f"{value} A"
    return f"{min(value.values())}-{max(value.values())} A (per element pair)"


def _walk_parameters(src, field, block, elements):
    """bond_cutoff and r0 (per element pair) and decay_lengths of the blocks
    that walk the bond graph. One number bonds every pair; per pair, a bond
    cutoff 0 marks a pair that is never bonded (C++: read_hopping)."""
    cut = block["bond_cutoff"]
    cuts = _pair_values(src, f"{field}.bond_cutoff", cut, elements,
                        _pair_cutoff if isinstance(cut, dict) else _cutoff)
    if not max(cuts, default=0.0) > 0.0:
        raise PotentialFileError(src, f"{field}.bond_cutoff", "no pair is bonded (every value is 0)")
    r0 = max(_pair_values(src, f"{field}.r0", block["r0"], elements, _r0), default=0.0)
    decay = _number_list(src, f"{field}.decay_lengths", block["decay_lengths"], positive=True, nonempty=True)
    for c, lam in enumerate(decay):
        # the largest hopping is exp((r0 - MIN_BOND) / lambda); a path multiplies n_max of them
        if block["n_max"] * (r0 - MIN_BOND) / lam > MAX_HOPPING_EXPONENT:
            raise PotentialFileError(
                src, f"{field}.decay_lengths[{c}]",
                "too short for r0 and n_max: n_max * (r0 - 0.1) / decay_length must be <= 300 "
                "(r0: its largest value), or path products overflow")


class BlockSpec:
    type = ""
    required = ()          # besides "type"
    optional = {}          # key -> default

    def check(self, src, field, block, elements=None):
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

    def check(self, src, field, block, elements=None):
        super().check(src, field, block, elements)
        _bounded_int(src, f"{field}.n_max", block["n_max"], 2, 32)
        _walk_parameters(src, field, block, elements)
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
        return pair_max(block["bond_cutoff"])

    def range(self, block):
        # the largest pair's bond cutoff bounds every bond of a path
        return (block["n_max"] // 2) * pair_max(block["bond_cutoff"])

    def size(self, block, n_species):
        per_orbital = 2 if self.get(block, "orbitals") == "sp" else 1
        return (block["n_max"] - 1) * len(block["decay_lengths"]) * n_species * per_orbital

    def describe(self, block):
        orb = self.get(block, "orbitals")
        return (f"moments ({orb}) n_max {block['n_max']}, {len(block['decay_lengths'])} channel(s), "
                f"bond cutoff {_describe_pairs(block['bond_cutoff'])}")


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

    def check(self, src, field, block, elements=None):
        super().check(src, field, block, elements)
        _bounded_int(src, f"{field}.n_max", block["n_max"], 3, self.N_MAX_LIMIT,
                     " (the cycle search grows as coordination^(n_max-1))")
        _walk_parameters(src, field, block, elements)

    def bond_cutoff(self, block):
        return pair_max(block["bond_cutoff"])

    def range(self, block):
        # the largest pair's bond cutoff bounds every bond of a path
        return (block["n_max"] // 2) * pair_max(block["bond_cutoff"])

    def size(self, block, n_species):
        return (block["n_max"] - 2) * len(block["decay_lengths"]) * n_species

    def describe(self, block):
        return (f"simple_cycles n_max {block['n_max']}, {len(block['decay_lengths'])} channel(s), "
                f"bond cutoff {_describe_pairs(block['bond_cutoff'])}")


class Radial(BlockSpec):
    """Gaussians exp(-alpha (r - c_k)^2) fc(r / cutoff) summed per neighbour species."""
    type = "radial"
    required = ("cutoff", "centers", "alpha")

    def check(self, src, field, block, elements=None):
        super().check(src, field, block, elements)
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

    def check(self, src, field, block, elements=None):
        super().check(src, field, block, elements)
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

    def check(self, src, field, block, elements=None):
        super().check(src, field, block, elements)
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


def check_block(src, field, block, elements=None):
    """Check one block dict; `elements` (the file's) for per-pair parameters."""
    if not isinstance(block, dict):
        raise PotentialFileError(src, field, f"expected an object, got {_type_name(block)}")
    if "type" not in block:
        raise PotentialFileError(src, f"{field}.type", "missing field")
    btype = block["type"]
    if not isinstance(btype, str) or btype not in BLOCK_TYPES:
        raise PotentialFileError(
            src, f"{field}.type",
            f"unknown block type {btype!r} (known: {', '.join(BLOCK_TYPES)})")
    BLOCK_TYPES[btype].check(src, field, block, elements)


def check_descriptor(src, field, descriptor, elements=None):
    """A descriptor section {"blocks": [...]} of a potential or LDOS file."""
    _object(src, field, descriptor, ("blocks",))
    blocks = _list(src, f"{field}.blocks", descriptor["blocks"], nonempty=True)
    for b, block in enumerate(blocks):
        check_block(src, f"{field}.blocks[{b}]", block, elements)
