// Glue from LAMMPS data to the core's NeighborGraph, shared by pair_style
// tinynet and compute tinynet/ldos: nodes are the local atoms, then the ghosts.
#pragma once

#include "atom.h"
#include "error.h"
#include "neigh_list.h"

#include "tinynet/graph.h"

#include <string>
#include <vector>

namespace tinynet_lammps {

// Element index of every local and ghost atom from its type (-1: not modelled).
inline void set_node_species(const LAMMPS_NS::Atom *atom, const std::vector<int> &element_of_type,
                             std::vector<int> &species)
{
  const int nall = atom->nlocal + atom->nghost;
  species.resize(nall > 0 ? nall : 1);
  for (int i = 0; i < nall; ++i) species[i] = element_of_type[atom->type[i]];
}

// The graph over local and ghost atoms, borrowing the rows of a LAMMPS list
// (locals, and ghosts if it was requested with REQ_GHOST); no copy.
inline void graph_from_list(tinynet::NeighborGraph &graph, const LAMMPS_NS::Atom *atom,
                            const LAMMPS_NS::NeighList *list, const std::vector<int> &species)
{
  const int nall = atom->nlocal + atom->nghost;
  graph.reset(nall, nall > 0 ? &atom->x[0][0] : nullptr, species.data(), NEIGHMASK);
  const int nlists = list->inum + list->gnum;
  for (int ii = 0; ii < nlists; ++ii) {
    const int i = list->ilist[ii];
    graph.set_list(i, list->firstneigh[i], list->numneigh[i]);
  }
}

// LAMMPS type -> element index from "El1 El2 ..." (one per type, NULL for
// none); stops with an error naming the file when an element is unknown.
template <class Model>
std::vector<int> map_elements(LAMMPS_NS::Error *error, const Model &model, const std::string &file,
                              const std::string &style, int ntypes, char **symbols)
{
  std::vector<int> element_of_type(ntypes + 1, -1);
  for (int t = 1; t <= ntypes; ++t) {
    const std::string symbol = symbols[t - 1];
    if (symbol == "NULL") continue;
    const int e = model.element_index(symbol);
    if (e < 0) {
      std::string have;
      for (const auto &el : model.elements) have += (have.empty() ? "" : " ") + el;
      error->all(FLERR, "{}: {}: elements: element '{}' (atom type {}) is not in the file (it has: {})",
                 style, file, symbol, t, have);
    }
    element_of_type[t] = e;
  }
  return element_of_type;
}

}    // namespace tinynet_lammps
