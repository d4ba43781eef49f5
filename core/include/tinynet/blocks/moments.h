// Cycle block, "moments" kind (DESIGN: moments theorem), s or s+p orbitals.
#pragma once

#include "tinynet/descriptor.h"

#include <string>
#include <vector>

namespace tinynet {

// Cycle block, "moments" kind: [H_c^n]_ii split by the species of the path's
// middle node, by forward recursion v_a = H v_(a-1) over the sparse bond graph
// and one reverse sweep. Paths are never enumerated.
class MomentsBlock : public DescriptorBlock {
 public:
  MomentsBlock(int n_max, double bond_cutoff, double r0, std::vector<double> decay_lengths,
               int n_species);
  std::string type() const override { return "moments"; }
  int n_features() const override { return (n_max_ - 1) * (int) decay_.size() * n_species_; }
  double range() const override { return (n_max_ / 2) * rb_; }
  double list_cutoff() const override { return rb_; }
  double bond_cutoff() const override { return rb_; }
  void prepare(const NeighborGraph &graph) override;
  void compute(Environment &env, double *features) override;
  void backprop(Environment &env, const double *dE_dG) override;
  double memory_bytes() const override;

  // Hopping of every channel and its r-derivative at distance r (r < bond cutoff).
  void hoppings(double r, double *h, double *dh) const;

 private:
  void ensure_row(int node);    // bonds of `node` into the table
  int feature_index(int n, int c, int s) const
  {
    return ((n - 2) * (int) decay_.size() + c) * n_species_ + s;
  }
  int n_max_, depth_, n_species_;
  double rb_, r0_;
  std::vector<double> decay_;
  BondTable bonds_;
  const NeighborGraph *graph_ = nullptr;

  // scratch of the current centre
  std::vector<int> walk_env;          // walk node -> environment index
  std::vector<int> walk_species;
  std::vector<int> depth_of_env;      // environment index -> depth (-1: not reached)
  std::vector<int> walk_of_env;       // environment index -> walk node (-1: not reached)
  std::vector<int> edge_p, edge_q, edge_bond;    // walk-node pairs and their bond
  std::vector<double> v;              // [channel][level 0..depth][walk node]
  std::vector<double> w;              // [channel][level][walk node]: H v (odd moments)
  std::vector<double> gbar, gnext, dE_dr_edge;
};

}    // namespace tinynet
