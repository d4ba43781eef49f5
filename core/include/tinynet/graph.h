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
  // Optional shorter lists for the bond walk, same masking: bond_list[u]
  // must hold at least u's bonded partners. Hosts whose centres' lists reach
  // far beyond the bond cutoff set them (LAMMPS: the centres' rows cut down
  // to bond cutoff + skin); where they are not set the walk reads `list`.
  std::vector<const int *> bond_list;
  std::vector<int> bond_count;

  void reset(int n, const double *positions, const int *species_of_node, int list_mask = ~0)
  {
    n_nodes = n;
    x = positions;
    species = species_of_node;
    mask = list_mask;
    list.assign(n, nullptr);
    count.assign(n, 0);
    bond_list.clear();
    bond_count.clear();
  }
  void set_list(int u, const int *neighbors_of_u, int n)
  {
    list[u] = neighbors_of_u;
    count[u] = n;
  }
  int neighbor(int u, int k) const { return list[u][k] & mask; }
  // Bond lists: every node starts with its `list`; then set_bond_list for some.
  void use_bond_lists()
  {
    bond_list = list;
    bond_count = count;
  }
  void set_bond_list(int u, const int *partners_of_u, int n)
  {
    bond_list[u] = partners_of_u;
    bond_count[u] = n;
  }
  // The list the bond walk reads for u (masked entries), and its length.
  const int *bond_row(int u, int &n) const
  {
    if (bond_list.empty()) {
      n = count[u];
      return list[u];
    }
    n = bond_count[u];
    return bond_list[u];
  }
};

}    // namespace tinynet
