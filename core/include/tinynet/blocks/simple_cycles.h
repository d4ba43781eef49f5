// Cycle block, "simple" kind (DESIGN.md section 2): sums over the simple
// cycles through the centre of the product of bond hoppings.
#pragma once

#include "tinynet/descriptor.h"
#include "tinynet/hopping.h"

#include <string>
#include <vector>

namespace tinynet {

// For cycle length n = 3..n_max, channel c, species s: the sum over directed
// simple cycles i = p_0 -> p_1 -> ... -> p_(n-1) -> p_0 (distinct nodes;
// periodic images are distinct nodes) of prod_t h_c(r_(p_t p_(t+1))), counted
// where the middle node p_(n/2) has species s. Each undirected cycle counts
// twice, as in [H^n]_ii.
//
// Cycles are found by a depth-limited search from the centre that extends a
// path only to nodes from which it can still return in time (graph distance
// from a breadth-first walk). Its cost grows roughly as coordination^(n_max-1)
// per centre, so one centre's search is stopped with an error after
// MAX_PATHS extensions (docs/potential_file.md has measured counts).
class SimpleCyclesBlock : public DescriptorBlock {
 public:
  static constexpr int N_MAX_LIMIT = 8;              // also in trainer/tinynet/blocks.py
  static constexpr long MAX_PATHS = 2000000;         // per centre

  SimpleCyclesBlock(int n_max, Hopping hopping);
  std::string type() const override { return "simple_cycles"; }
  int n_features() const override { return (n_max_ - 2) * hopping_.n_channels() * n_species_; }
  // the largest species-pair bond cutoff bounds every bond of a cycle
  double range() const override { return (n_max_ / 2) * hopping_.max_rb(); }
  double list_cutoff() const override { return hopping_.max_rb(); }
  double bond_cutoff() const override { return hopping_.max_rb(); }
  void prepare(const NeighborGraph &graph) override;
  void prefetch(const NeighborGraph &graph, int center) const override { BondTable::prefetch_rows(graph, center); }
  void compute(Environment &env, double *features) override;
  void backprop(Environment &env, const double *dE_dG) override;
  double memory_bytes() const override;

  long paths_visited() const { return paths_; }    // by the last centre's search

 private:
  void walk_bonds(Environment &env);    // breadth-first: nodes, distances, edges
  bool walk_edges(Environment &env);    // its search; false: the bond ring was too small
  void search(int u, int t);            // depth-first from path node p_t = u
  void close_cycle(int t, int last_edge);
  [[noreturn]] void too_many_paths(const Environment &env) const;

  int n_max_, n_species_, nc_, nf_;
  Hopping hopping_;
  BondTable bonds_;
  const NeighborGraph *graph_ = nullptr;

  // scratch of the current centre; "walk nodes" are the nodes within
  // floor(n_max/2) bonds, numbered in breadth-first order (0 = centre)
  std::vector<int> walk_env;                  // walk node -> environment index
  std::vector<int> walk_species, walk_dist;   // species; bonds from the centre
  std::vector<int> env_walk;                  // environment index -> walk node, -1
  std::vector<int> edge_p, edge_q;            // walk nodes of each edge (p < q in walk order)
  std::vector<int> edge_bond;                 // its slot in the bond table
  std::vector<double> edge_unit;              // [edge][3] from p to q
  std::vector<double> edge_h, edge_dh;        // [edge][channel]
  std::vector<int> adj_start, adj_node, adj_edge;    // neighbours of walk nodes, nearest-to-centre first
  std::vector<int> adj_fill;                  // walk node -> entries placed so far
  std::vector<int> centre_edge;               // walk node -> its edge to the centre, -1
  std::vector<char> on_path;
  int path_[N_MAX_LIMIT + 1], path_edge_[N_MAX_LIMIT];
  std::vector<double> prefix_;                // [t][channel]: product of the first t hoppings
  std::vector<double> suffix_;                // [channel]
  std::vector<double> dG_dr;                  // [edge][feature]: d features / d edge length
  double *features_ = nullptr;
  long paths_ = 0;
  const Environment *env_ = nullptr;
};

}    // namespace tinynet
