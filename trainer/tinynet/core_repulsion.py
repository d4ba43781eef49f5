"""The short-range repulsion baseline of a potential ("core_repulsion").

A ZBL screened nuclear repulsion per element pair, switched off (C2) between
an inner and an outer radius, is part of every potential the trainer writes
(format: docs/potential_file.md).  It is a fixed baseline: the network learns
the labels minus the repulsion, so where training data exist the fit is
unchanged, and where they do not (atoms pushed closer than any training
structure) the repulsion keeps them apart.

Radii (``choose_radii``): for each element pair, with d the shortest distance
between two such atoms in the training frames (periodic images included),

    outer = OUTER_FRACTION * d          (1.0 d: still zero on every training pair)
    inner = outer - min(SWITCH_WIDTH, outer / 2)     (0.6 A)

Why not 0.9 d: a crystal at half its volume has its nearest neighbours at
0.79 d, which would sit at the very end of the switch and feel almost
nothing (Si, tests/test_core_repulsion.py: 13 GPa with 0.9 d, 260 GPa with 1.0 d).

A pair never seen within the search radius gets d = UNSEEN_FRACTION x the
sum of the two covalent radii (ase.data.covalent_radii).  outer is capped at
the potential's cutoff.

The baseline of a structure (``baseline``) is evaluated by the C++ core
through the binding: the same code LAMMPS and the ASE calculator run.
"""

from __future__ import annotations

import json
import math

import numpy as np
from ase.data import atomic_numbers, covalent_radii
from ase.neighborlist import neighbor_list

from tinynet import _core
from tinynet.descriptors import build_graph, species_indices
from tinynet.potential_file import MIN_SWITCH_WIDTH, repulsion_pair_names

OUTER_FRACTION = 1.0
SWITCH_WIDTH = 0.6        # A, outer - inner
UNSEEN_FRACTION = 0.8     # of the sum of covalent radii, for pairs absent from the data
SEARCH_RADIUS = 6.0       # A, for the shortest distances


def shortest_distances(frames, elements, search=SEARCH_RADIUS):
    """{(s, t): shortest distance} over `frames` (ASE Atoms) for each species
    pair s <= t seen within `search`."""
    index = {el: k for k, el in enumerate(elements)}
    out = {}
    for atoms in frames:
        i, j, d = neighbor_list("ijd", atoms, search)
        if not len(d):
            continue
        sp = np.array([index[s] for s in atoms.get_chemical_symbols()])
        a, b = np.minimum(sp[i], sp[j]), np.maximum(sp[i], sp[j])
        for s, t in set(zip(a.tolist(), b.tolist())):
            m = float(d[(a == s) & (b == t)].min())
            out[(s, t)] = min(out.get((s, t), np.inf), m)
    return out


def choose_radii(frames, elements, cutoff):
    """The "core_repulsion" section for `elements`, radii from `frames`
    (ASE Atoms) as in the module docstring."""
    elements = list(elements)
    seen = shortest_distances(frames, elements, min(SEARCH_RADIUS, cutoff))
    z = {el: int(atomic_numbers[el]) for el in elements}
    pairs = {}
    names = iter(repulsion_pair_names(elements))
    for s, a in enumerate(elements):
        for t in range(s, len(elements)):
            b = elements[t]
            d = seen.get((s, t), UNSEEN_FRACTION * (covalent_radii[z[a]] + covalent_radii[z[b]]))
            outer = min(OUTER_FRACTION * d, cutoff)
            outer = max(outer, 2 * MIN_SWITCH_WIDTH)    # a valid switch even for absurd data
            inner = outer - min(SWITCH_WIDTH, outer / 2)
            # to 1e-6 A, rounded down: the shortest training pair stays outside
            outer = math.floor(outer * 1e6) / 1e6
            pairs[next(names)] = {"inner": round(inner, 6), "outer": outer}
    return {"type": "zbl", "atomic_numbers": z, "pairs": pairs}


def core_object(section, elements, cutoff):
    """The C++ core's CoreRepulsion for a section (checked like a file's)."""
    return _core.CoreRepulsion(json.dumps(section), list(elements), float(cutoff))


def baseline(atoms, section, elements, cutoff):
    """Energy (eV), forces (N, 3) and stress (3x3, eV/A^3, ASE sign; None if
    not periodic in 3D) of the repulsion alone, through the C++ core."""
    rep = core_object(section, elements, cutoff)
    species = species_indices(atoms, elements)
    graph, owner = build_graph(atoms, species, max(rep.max_outer, 1e-3), 0.0)
    out = rep.evaluate(graph, len(atoms), owner)
    forces = np.zeros((len(atoms), 3))
    np.add.at(forces, owner, out["node_forces"])
    stress = None
    if atoms.cell.rank == 3 and all(atoms.pbc):
        xx, yy, zz, xy, xz, yz = out["virial"]
        stress = -np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]]) / atoms.get_volume()
    return float(out["energy"]), forces, stress


def subtract_baseline(frames, section, elements, cutoff):
    """Labels minus the repulsion, in place, for data.Frame objects (each
    distinct frame once).  Returns the number of frames the baseline touched
    (by construction none of the frames the radii came from)."""
    touched = 0
    done = set()
    for f in frames:
        if id(f) in done:
            continue
        done.add(id(f))
        e, forces, stress = baseline(f.atoms, section, elements, cutoff)
        if e == 0.0 and not forces.any():
            continue
        touched += 1
        f.energy = f.energy - e
        f.forces = f.forces - forces
        if f.stress is not None and stress is not None:
            f.stress = f.stress - stress
    return touched


def for_training(split, cutoff, log=print):
    """The trainer's step: radii from the training files' frames, and every
    frame's labels (training files and test files) minus the baseline.
    Returns the section to store in the potential."""
    elements = split.elements
    section = choose_radii([f.atoms for f in split.data.frames], elements, cutoff)
    frames = list(split.data.frames) + (list(split.test.frames) if split.test is not None else [])
    touched = subtract_baseline(frames, section, elements, cutoff)
    radii = ", ".join(f"{k} {v['inner']:.2f}-{v['outer']:.2f}" for k, v in section["pairs"].items())
    log(f"core repulsion (ZBL) switched off between {radii} A; "
        f"{touched} structure(s) closer than that (their labels minus the repulsion)")
    return section
