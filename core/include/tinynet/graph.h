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

  // Neighbour lists, stored contiguously. A centre node must list every node
  // within the model cutoff; any other node must list at least its bonded
  // partners (r < bond cutoff). Lists may be added in any node order; a node
  // never given a list has none. Buffers are reused between steps.
  std::vector<int> start, count;
  std::vector<int> neighbors;

  void reset(int n, const double *positions, const int *species_of_node)
  {
    n_nodes = n;
    x = positions;
    species = species_of_node;
    start.assign(n, 0);
    count.assign(n, 0);
    neighbors.clear();
  }
  // Append the list of node u; `mask` strips host-specific flag bits.
  void add_list(int u, const int *list, int n, int mask = ~0)
  {
    start[u] = (int) neighbors.size();
    count[u] = n;
    for (int k = 0; k < n; ++k) neighbors.push_back(list[k] & mask);
  }
};

}    // namespace tinynet
