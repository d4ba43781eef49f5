"""Descriptors of ASE structures through the C++ core (the same code LAMMPS runs).

The core sees a graph of nodes (atoms and the periodic images they need) with
neighbour lists; this module builds it with ASE's neighbour list, so that a
bond that wraps around a small periodic cell joins two *distinct* nodes, as in
real space.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
from ase.neighborlist import neighbor_list

from tinynet import _core


def species_indices(atoms, elements) -> np.ndarray:
    """Index of each atom's element in `elements`; ValueError names any stranger."""
    index = {el: k for k, el in enumerate(elements)}
    symbols = atoms.get_chemical_symbols()
    unknown = sorted(set(symbols) - set(index))
    if unknown:
        raise ValueError(
            f"element(s) {', '.join(unknown)} not in the model's elements ({', '.join(elements)})"
        )
    return np.array([index[s] for s in symbols], dtype=np.int64)


@lru_cache(maxsize=16)
def _descriptor(descriptor_json: str, elements: tuple) -> _core.Descriptor:
    return _core.Descriptor(descriptor_json, list(elements))


def core_descriptor(descriptor: dict, elements) -> _core.Descriptor:
    """The C++ descriptor for `elements` (species s is elements[s]; blocks
    with per-element-pair parameters name them)."""
    return _descriptor(json.dumps(descriptor, sort_keys=True), tuple(str(e) for e in elements))


def _encode(atom, shift, n_atoms, k):
    """One integer per (atom, lattice shift) with |shift components| <= k."""
    base = 2 * k + 1
    s = shift + k
    return atom + n_atoms * ((s[:, 0] * base + s[:, 1]) * base + s[:, 2])


def build_graph(atoms, species, cutoff: float, bond_cutoff: float):
    """Nodes = atoms (0..N-1) then the periodic images within `cutoff` of an atom.

    Atoms list every node within `cutoff`; images list their bonded partners
    (within `bond_cutoff`) that are themselves nodes. Returns (graph, owner),
    owner[node] being the atom a node is an image of.
    """
    n = len(atoms)
    positions = atoms.get_positions()
    cell = np.asarray(atoms.cell.array)
    ci, cj, cs = neighbor_list("ijS", atoms, cutoff)
    if bond_cutoff > 0:
        bi, bj, bs = neighbor_list("ijS", atoms, bond_cutoff)
    else:
        bi = bj = np.zeros(0, dtype=np.int64)
        bs = np.zeros((0, 3), dtype=np.int64)
    k = int(np.abs(cs).max(initial=0) + np.abs(bs).max(initial=0) + 1)

    # Image nodes, numbered after the atoms.
    is_image = np.any(cs != 0, axis=1)
    image_keys, first = np.unique(_encode(cj[is_image], cs[is_image], n, k), return_index=True)
    image_owner = cj[is_image][first]
    image_shift = cs[is_image][first]
    n_nodes = n + len(image_keys)

    def node_of(atom, shift):
        """Node index of (atom, shift), -1 where that image is not a node."""
        node = atom.astype(np.int64).copy()
        img = np.any(shift != 0, axis=1)
        node[img] = -1
        if img.any() and len(image_keys):
            keys = _encode(atom[img], shift[img], n, k)
            pos = np.clip(np.searchsorted(image_keys, keys), 0, len(image_keys) - 1)
            node[img] = np.where(image_keys[pos] == keys, n + pos, -1)
        return node

    # Lists of atoms: everything within the cutoff (neighbor_list sorts by i).
    order = np.argsort(ci, kind="stable")
    atom_lists = node_of(cj[order], cs[order])
    atom_count = np.bincount(ci, minlength=n)

    # Lists of images: the bonds of their owner atom, shifted.
    border = np.argsort(bi, kind="stable")
    bj, bs = bj[border], bs[border]
    bond_count = np.bincount(bi, minlength=n)
    bond_start = np.concatenate([[0], np.cumsum(bond_count)[:-1]])
    per_image = bond_count[image_owner]
    rep = np.repeat(np.arange(len(image_owner)), per_image)
    within = np.arange(per_image.sum()) - np.repeat(np.cumsum(per_image) - per_image, per_image)
    bond_idx = bond_start[image_owner][rep] + within
    partner = node_of(bj[bond_idx], image_shift[rep] + bs[bond_idx])
    keep = partner >= 0
    image_lists = partner[keep]
    image_count = np.bincount(rep[keep], minlength=len(image_owner))

    count = np.concatenate([atom_count, image_count]).astype(np.int32)
    start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int32)
    neighbors = np.concatenate([atom_lists, image_lists]).astype(np.int32)
    node_positions = np.concatenate([positions, positions[image_owner] + image_shift @ cell])
    owner = np.concatenate([np.arange(n), image_owner]).astype(np.int32)
    node_species = np.asarray(species, dtype=np.int32)[owner]
    assert len(node_positions) == n_nodes
    graph = _core.Graph(node_positions, node_species, start, count, neighbors)
    return graph, owner


def compute(atoms, descriptor: dict, elements, jacobian: bool = True) -> dict:
    """Features of every atom and, with `jacobian`, their derivatives.

    Returns features (N,F), species (N,), and with `jacobian`:
    pair_center, pair_atom (P,), dG_dr (P,F,3) = d features[pair_center] /
    d position[pair_atom] (images folded onto their atom), and
    dG_dstrain (N,F,3,3) = d features[i] / d strain[a,b].
    """
    species = species_indices(atoms, elements)
    desc = core_descriptor(descriptor, elements)
    graph, owner = build_graph(atoms, species, desc.cutoff, desc.bond_cutoff)
    result = desc.compute(graph, owner, len(atoms), jacobian)
    result["species"] = species
    return result
