"""ASE calculator for tinynet potentials, through the same C++ core as LAMMPS."""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from tinynet import _core
from tinynet.descriptors import build_graph, species_indices


class TinyNetCalculator(Calculator):
    """Energy, forces, stress (and per-atom energies) from a .tinynet file.

    >>> atoms.calc = TinyNetCalculator("potentials/Si.tinynet")
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, path, **kwargs):
        super().__init__(**kwargs)
        self.path = str(path)
        self.potential = _core.Potential(self.path)  # validates the file
        self.n_extrapolating = 0  # atoms outside the training range, last calculation

    @property
    def elements(self):
        return list(self.potential.elements)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        species = species_indices(atoms, self.potential.elements)
        graph, owner = build_graph(atoms, species, self.potential.cutoff, self.potential.bond_cutoff)
        out = self.potential.evaluate(graph, len(atoms))

        forces = np.zeros((len(atoms), 3))
        np.add.at(forces, owner, out["node_forces"])
        self.n_extrapolating = int(out["n_extrapolating"])
        self.results["energy"] = self.results["free_energy"] = float(out["energy"])
        self.results["energies"] = np.array(out["atom_energies"])
        self.results["forces"] = forces
        if atoms.cell.rank == 3 and all(atoms.pbc):
            # virial W (xx yy zz xy xz yz, LAMMPS order) -> ASE stress = -W / V (Voigt xx yy zz yz xz xy)
            w = out["virial"]
            self.results["stress"] = -np.array([w[0], w[1], w[2], w[5], w[4], w[3]]) / atoms.get_volume()
