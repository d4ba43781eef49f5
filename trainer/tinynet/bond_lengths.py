"""Bond lengths per element pair, read off the training data's pair-distance
distribution.

Presets need two length scales per element pair A-B: where A and B sit when
bonded (the first peak of g_AB(r)) and where that first shell ends (the first
minimum after it).  The bond graph walked by the moments and cycle blocks
joins bonded pairs only; the neighbour-sum blocks (radial, EANN, Bessel) use a
cutoff that covers the second shell of the longest bond and at least 5 A.

A pair counts as bonded when its first peak is no longer than 1.2 times the
nearest-neighbour distance of either of its elements: Ti-O (1.95 A) and Sr-O
(2.76 A) in SrTiO3, O-H but not O...O in water, but not Sr-Ti or O-O.  This is
what makes the presets work beyond covalent solids: one length scaled from a
single nearest-neighbour distance gives a water-like system a 1.8 A cutoff
that sees no neighbouring molecule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BONDED_FACTOR = 1.2        # first peak <= this x an element's nearest-neighbour distance
FALLBACK_SHELL = 1.3       # shell edge / first peak when g(r) shows no minimum
R_MAX = 6.0                # A: range of the distance histogram
BIN = 0.01                 # A
SMOOTHING = 0.06           # A: Gaussian smoothing of g(r)
MIN_DISTANCES = 20         # fewer distances than this: the pair is not characterised


@dataclass(frozen=True)
class PairShell:
    peak: float            # first maximum of g_AB(r), A
    minimum: float         # first minimum after it: the edge of the first shell, A
    bonded: bool


@dataclass
class BondScales:
    """First-shell geometry of every element pair of a training set."""
    elements: list
    pairs: dict = field(default_factory=dict)     # "A-B" (elements order) -> PairShell

    @classmethod
    def uniform(cls, d1: float, elements=("X",)):
        """Every pair bonded at d1 with its shell ending at 1.3 d1 (one length scale)."""
        shell = PairShell(float(d1), round(FALLBACK_SHELL * float(d1), 3), True)
        els = list(elements)
        return cls(els, {pair_key(a, b, els): shell for i, a in enumerate(els) for b in els[i:]})

    def bonded(self):
        return {k: s for k, s in self.pairs.items() if s.bonded}

    def longest_bond(self) -> float:
        """The bonding length scale: the longest first-peak distance of a bonded pair."""
        return max(s.peak for s in self.bonded().values())

    def shortest_bond(self) -> float:
        return min(s.peak for s in self.bonded().values())


def pair_key(a: str, b: str, elements) -> str:
    """"A-B" with A before B in the element order (the potential file's order)."""
    ia, ib = elements.index(a), elements.index(b)
    return f"{a}-{b}" if ia <= ib else f"{b}-{a}"


def _smoothed_rdf(distances):
    """g(r) up to R_MAX (arbitrary normalisation), Gaussian-smoothed."""
    edges = np.arange(0.0, R_MAX + BIN, BIN)
    counts, _ = np.histogram(distances, bins=edges)
    r = 0.5 * (edges[1:] + edges[:-1])
    g = counts / (r * r)
    width = int(round(3 * SMOOTHING / BIN))
    kernel = np.exp(-0.5 * (np.arange(-width, width + 1) * BIN / SMOOTHING) ** 2)
    return r, np.convolve(g, kernel / kernel.sum(), mode="same")


def first_shell(distances) -> tuple[float, float] | None:
    """(first peak, first minimum after it) of the distance distribution, or
    None when there are too few distances to tell."""
    distances = np.asarray(distances, dtype=float)
    if distances.size < MIN_DISTANCES:
        return None
    r, g = _smoothed_rdf(distances)
    top = g.max()
    # first local maximum that is a real peak (not a rattled outlier)
    peaks = [i for i in range(1, len(g) - 1) if g[i] >= g[i - 1] and g[i] > g[i + 1] and g[i] >= 0.25 * top]
    if not peaks:
        return None
    p = peaks[0]
    later = [i for i in peaks[1:] if r[i] > r[p] + 3 * SMOOTHING]
    end = later[0] if later else len(g) - 1
    if end - p < 3:
        return float(r[p]), round(FALLBACK_SHELL * float(r[p]), 3)
    m = p + int(np.argmin(g[p:end + 1]))
    # in a crystal g is ~0 over a whole gap between shells: take its middle
    flat = set((np.nonzero(g[p:end + 1] <= g[m] + 0.02 * g[p])[0] + p).tolist())
    lo = hi = m
    while lo - 1 in flat:
        lo -= 1
    while hi + 1 in flat:
        hi += 1
    if not later and hi >= len(g) - 2:       # no minimum inside the histogram
        return float(r[p]), round(FALLBACK_SHELL * float(r[p]), 3)
    return float(r[p]), float(r[(lo + hi) // 2])


def pair_distance_shells(frames, elements=None, max_frames=50) -> BondScales:
    """BondScales of (a sample of) the training frames (ase.Atoms or objects with .atoms)."""
    from ase.neighborlist import neighbor_list

    atoms_list = [f.atoms if hasattr(f, "atoms") else f for f in frames]
    step = max(1, len(atoms_list) // max_frames)
    if elements is None:
        elements = sorted({s for a in atoms_list for s in a.get_chemical_symbols()})
    elements = list(elements)
    by_pair = {}
    nearest = {el: [] for el in elements}
    for atoms in atoms_list[::step]:
        i, j, d = neighbor_list("ijd", atoms, R_MAX)
        if len(i) == 0:
            continue
        sym = np.array(atoms.get_chemical_symbols())
        nn = np.full(len(atoms), np.inf)
        np.minimum.at(nn, i, d)
        for s, r in zip(sym, nn):
            if np.isfinite(r) and s in nearest:
                nearest[s].append(r)
        keep = i < j                      # each unordered pair once
        for a, b, r in zip(sym[i[keep]], sym[j[keep]], d[keep]):
            if a in nearest and b in nearest:
                by_pair.setdefault(pair_key(a, b, elements), []).append(r)
    nn_median = {el: float(np.median(v)) for el, v in nearest.items() if v}
    scales = BondScales(elements)
    for ia, a in enumerate(elements):
        for b in elements[ia:]:
            key = pair_key(a, b, elements)
            shell = first_shell(by_pair.get(key, []))
            if shell is None:
                scales.pairs[key] = PairShell(float("nan"), float("nan"), False)
                continue
            peak, minimum = shell
            nn = max(nn_median.get(a, 0.0), nn_median.get(b, 0.0))
            scales.pairs[key] = PairShell(round(peak, 3), round(minimum, 3), peak <= BONDED_FACTOR * nn)
    if not scales.bonded():
        raise ValueError("training data: no element pair has a clear first neighbour shell within "
                         f"{R_MAX:g} A; give an explicit descriptor")
    return scales
