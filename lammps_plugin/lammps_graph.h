// Glue from LAMMPS data to the core's NeighborGraph, shared by pair_style
// tinynet and compute tinynet/ldos: nodes are the local atoms, then the ghosts.
#pragma once

#include "atom.h"
#include "error.h"
#include "neigh_list.h"

#include "tinynet/graph.h"

#include <algorithm>
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
  graph.distinct_lists = true;    // a full list never holds i itself or j twice
  const int nlists = list->inum + list->gnum;
  for (int ii = 0; ii < nlists; ++ii) {
    const int i = list->ilist[ii];
    graph.set_list(i, list->firstneigh[i], list->numneigh[i]);
  }
}

// The bond walk's rows (NeighborGraph::bond_count): at each neighbour-list
// build, every local atom's row of the full list is reordered in place so
// that the neighbours within `cutoff` (bond cutoff + skin) come first, and the
// walk reads that prefix; the ghosts' rows as they are (LAMMPS builds them to
// that cutoff already). No copy: the order within a row means nothing to any
// other user of the list. Valid between builds exactly as LAMMPS's own lists
// are: atoms move less than half the skin each, so no pair closer than the
// bond cutoff now was farther than bond cutoff + skin at the build.
class BondLists {
 public:
  // `built`: LAMMPS built its lists this step (Neighbor::ago == 0; the
  // positions are the build's). Not Neighbor::ncalls: a run's setup rebuilds
  // the lists after re-sorting and re-ghosting the atoms and then zeroes that
  // counter, so it can repeat across runs.
  void attach(tinynet::NeighborGraph &graph, const LAMMPS_NS::Atom *atom, const LAMMPS_NS::NeighList *list,
              bool built, double cutoff)
  {
    const int inum = list->inum;
    if (built || (int) bonded_.size() != inum) partition(atom, list, cutoff);
    graph.use_bond_counts();
    for (int ii = 0; ii < inum; ++ii) graph.set_bond_count(list->ilist[ii], bonded_[ii]);
  }
  double memory_bytes() const { return (double) (bonded_.capacity() + far_.capacity()) * sizeof(int); }

 private:
  void partition(const LAMMPS_NS::Atom *atom, const LAMMPS_NS::NeighList *list, double cutoff)
  {
    const double cutsq = cutoff * cutoff;
    double **x = atom->x;
    bonded_.resize(list->inum);
    for (int ii = 0; ii < list->inum; ++ii) {
      const int i = list->ilist[ii];
      // (stable: both parts keep LAMMPS's order, which follows the bins and
      // so the atoms' order in memory; a swapping partition measured 4 % slower)
      int *row = list->firstneigh[i];
      const int n = list->numneigh[i];
      int front = 0;
      far_.clear();
      for (int k = 0; k < n; ++k) {
        const int j = row[k] & NEIGHMASK;
        const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
        if (dx * dx + dy * dy + dz * dz < cutsq) row[front++] = row[k];
        else far_.push_back(row[k]);
      }
      std::copy(far_.begin(), far_.end(), row + front);
      bonded_[ii] = front;
    }
  }
  std::vector<int> bonded_;    // [local list index] entries of the row within the cutoff
  std::vector<int> far_;       // scratch: one row's entries beyond it
};

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
