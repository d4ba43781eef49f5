// Neighbour graph: the only input the descriptor core needs from its host
// (LAMMPS, or the Python binding). Nodes are atoms *or periodic images*; every
// node is a distinct point in real space, so a "self-returning path" is one
// that comes back to the centre node itself, never to an image of it.
#pragma once

#include <vector>

namespace tinynet {

struct NeighborGraph {
  int n_nodes = 0;
  const double *x = nullptr;    // positions, [n_nodes][3], borrowed
  const int *species = nullptr; // element index per node, -1 = not handled by this model

  // Neighbour lists, borrowed from the host (no copy): list[u][0..count[u]),
  // entries masked with `mask` (LAMMPS keeps flag bits in the high bits).
  // A centre node must list every node within the list cutoff; any other node
  // must list at least its bonded partners (r < bond cutoff). A node never
  // given a list has none.
  std::vector<const int *> list;
  std::vector<int> count;
  int mask = ~0;
  // Optional shorter rows for the bond walk: the first bond_count[u] entries
  // of list[u] must hold at least u's bonded partners. Hosts whose centres'
  // lists reach far beyond the bond cutoff set them (LAMMPS: the centres'
  // rows reordered with bond cutoff + skin first); where they are not set the
  // walk reads all of `list`.
  std::vector<int> bond_count;
  // True if every list holds distinct nodes other than its owner (LAMMPS's
  // full lists): the environment then skips its test for repeats.
  bool distinct_lists = false;

  void reset(int n, const double *positions, const int *species_of_node, int list_mask = ~0)
  {
    n_nodes = n;
    x = positions;
    species = species_of_node;
    mask = list_mask;
    list.assign(n, nullptr);
    count.assign(n, 0);
    bond_count.clear();
    distinct_lists = false;
  }
  void set_list(int u, const int *neighbors_of_u, int n)
  {
    list[u] = neighbors_of_u;
    count[u] = n;
  }
  int neighbor(int u, int k) const { return list[u][k] & mask; }
  // Bond rows: every node starts with all of its `list`; then set_bond_count
  // for some.
  void use_bond_counts() { bond_count = count; }
  void set_bond_count(int u, int n) { bond_count[u] = n; }
  // The row the bond walk reads for u (masked entries), and its length.
  const int *bond_row(int u, int &n) const
  {
    n = bond_count.empty() ? count[u] : bond_count[u];
    return list[u];
  }
};

}    // namespace tinynet
