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

// The bond walk's lists (NeighborGraph::bond_list): the local atoms' rows of
// a full list cut down to `cutoff` (bond cutoff + skin) at each neighbour-list
// build and kept until the next; the ghosts' rows as they are (LAMMPS builds
// them to that cutoff already). Valid between builds exactly as LAMMPS's own
// lists are: atoms move less than half the skin each, so no pair closer than
// the bond cutoff now was farther than bond cutoff + skin at the build.
class BondLists {
 public:
  // The rows are cut again whenever LAMMPS may have rebuilt its lists: at a
  // run's or minimisation's setup (`setup`: Update::setupflag), which
  // re-sorts and re-ghosts the atoms, rebuilds the lists and then zeroes
  // Neighbor::ncalls, so the build counter alone can repeat across runs; and
  // when the counter (`build`: Neighbor::ncalls) or the step of the last build
  // (`build_step`: Neighbor::lastcall) changed since the last cut.
  void attach(tinynet::NeighborGraph &graph, const LAMMPS_NS::Atom *atom, const LAMMPS_NS::NeighList *list,
              bool setup, LAMMPS_NS::bigint build, LAMMPS_NS::bigint build_step, double cutoff)
  {
    const int inum = list->inum;
    if (setup || build != build_ || build_step != build_step_ || (int) start_.size() != inum + 1)
      cut(atom, list, cutoff);
    build_ = build;
    build_step_ = build_step;
    graph.use_bond_lists();
    for (int ii = 0; ii < inum; ++ii)
      graph.set_bond_list(list->ilist[ii], entries_.data() + start_[ii], start_[ii + 1] - start_[ii]);
  }
  double memory_bytes() const { return (double) (start_.capacity() + entries_.capacity()) * sizeof(int); }

 private:
  void cut(const LAMMPS_NS::Atom *atom, const LAMMPS_NS::NeighList *list, double cutoff)
  {
    const double cutsq = cutoff * cutoff;
    double **x = atom->x;
    start_.resize(list->inum + 1);
    entries_.clear();
    for (int ii = 0; ii < list->inum; ++ii) {
      const int i = list->ilist[ii];
      start_[ii] = (int) entries_.size();
      const int *row = list->firstneigh[i];
      for (int k = 0; k < list->numneigh[i]; ++k) {
        const int j = row[k] & NEIGHMASK;
        const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
        if (dx * dx + dy * dy + dz * dz < cutsq) entries_.push_back(row[k]);
      }
    }
    start_[list->inum] = (int) entries_.size();
  }
  LAMMPS_NS::bigint build_ = -1, build_step_ = -1;
  std::vector<int> start_, entries_;    // [local list index] first entry; masked neighbours
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
