"""ASE calculator for tinynet potentials, through the same C++ core as LAMMPS."""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from tinynet import _core
from tinynet.descriptors import build_graph, species_indices
from tinynet.ldos_file import is_ldos_file


class TinyNetCalculator(Calculator):
    """Energy, forces, stress (and per-atom energies) from a .tinynet file.

    >>> atoms.calc = TinyNetCalculator("potentials/Si.tinynet")

    With an LDOS model ("tinynet-ldos" file), as `path` (LDOS only) or as
    `ldos=` beside a potential, it also gives the property "ldos": per-atom
    LDOS, shape (atoms, grid points), on the energies `calc.ldos_energies`.

    >>> atoms.calc = TinyNetCalculator("potentials/Si-ldos.tinynet")
    >>> atoms.calc.get_property("ldos", atoms)
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, path, ldos=None, **kwargs):
        super().__init__(**kwargs)
        self.path = str(path)
        self.potential = self.ldos_model = None
        try:
            ldos_only = is_ldos_file(self.path)
        except RecursionError:  # hostile nesting: let the potential reader name the problem
            ldos_only = False
        if ldos_only:
            self.ldos_model = _core.LdosModel(self.path)  # validates the file
            self.implemented_properties = ["ldos"]
        else:
            self.potential = _core.Potential(self.path)  # validates; PotentialFileError
            if ldos is not None:
                self.ldos_model = _core.LdosModel(str(ldos))
                self.implemented_properties = [*TinyNetCalculator.implemented_properties, "ldos"]
        self.n_extrapolating = 0  # atoms outside the training range, last calculation

    @property
    def elements(self):
        return list((self.potential or self.ldos_model).elements)

    @property
    def ldos_energies(self):
        """Energies of the LDOS grid (eV relative to the Fermi level)."""
        m = self.ldos_model
        return m.energy_start + m.energy_step * np.arange(m.n_points)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        if self.ldos_model is not None and "ldos" in properties:
            species = species_indices(atoms, self.ldos_model.elements)
            graph, _ = build_graph(atoms, species, self.ldos_model.cutoff, self.ldos_model.bond_cutoff)
            self.results["ldos"] = np.array(self.ldos_model.evaluate(graph, len(atoms)))
        if self.potential is None:
            return
        species = species_indices(atoms, self.potential.elements)
        graph, owner = build_graph(atoms, species, self.potential.cutoff, self.potential.bond_cutoff)
        # Atoms closer than the core's minimum distance raise ValueError, a
        # non-finite energy or force RuntimeError, naming the atoms (indices).
        out = self.potential.evaluate(graph, len(atoms), owner)

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
