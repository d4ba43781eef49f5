// The descriptor core: per-atom feature vectors and their gradients.
// No LAMMPS types here; see DESIGN.md section 2 for the mathematics.
//
// Per step:   Descriptor::prepare(graph)          e.g. bond hoppings, once per bond
// Per centre: Descriptor::compute(graph, i, G)    features of atom i
//             Descriptor::backprop(dE/dG)         dE/d(node positions) into env().grad
// A Descriptor holds scratch state between compute and backprop: use one per thread.
#pragma once

#include "tinynet/graph.h"

#include <memory>
#include <string>
#include <vector>

namespace tinynet {

// C2-smooth cutoff fc(x) = 1 - 10x^3 + 15x^4 - 6x^5 for x < 1, else 0; and dfc/dx.
inline double cutoff_fn(double x)
{
  if (x >= 1.0) return 0.0;
  const double x3 = x * x * x;
  return 1.0 + x3 * (-10.0 + x * (15.0 - 6.0 * x));
}
inline double cutoff_fn_deriv(double x)
{
  if (x >= 1.0) return 0.0;
  const double x2 = x * x;
  return x2 * (-30.0 + x * (60.0 - 30.0 * x));
}

// Bonds (r < bond cutoff) of the nodes, with the hopping of each decay
// channel and its radial derivative. A node's row is computed the first time
// a walk reaches it in a step, then shared by all centres (each bond lies in
// many neighbourhoods); far ghost atoms that no walk reaches cost nothing.
// Rows are appended compactly; capacity is kept from step to step.
struct BondTable {
  std::vector<int> row_start;     // per node: first slot, -1 until computed this step
  std::vector<int> row_count;     // per node: bonds in the row
  std::vector<int> partner;       // per slot
  std::vector<double> unit;       // [slot][3], from node to partner
  std::vector<double> hop, dhop;  // [slot][channel]
};

// The real-space neighbourhood of one centre: node 0 is the centre itself.
// It holds the centre's neighbours within the list cutoff; blocks that walk
// the bond graph add the further nodes they reach.
class Environment {
 public:
  int center = -1;
  std::vector<int> node;       // graph node index
  std::vector<int> species;
  std::vector<double> rel;     // [n][3] position relative to the centre
  std::vector<double> dist;    // |rel|
  std::vector<double> grad;    // [n][3] dE/d(position), filled by backprop
  int size() const { return (int) node.size(); }

  void begin(const NeighborGraph &graph, int center_node);
  int add(int graph_node, double dx, double dy, double dz, double r);
  int index_of(int graph_node) const { return local_of_[graph_node]; }    // -1: not in it
  int find_or_add(int graph_node);    // position taken from the graph

 private:
  const NeighborGraph *graph_ = nullptr;
  std::vector<int> local_of_;    // graph node -> index here, -1 elsewhere
};

// A block of features. Blocks see only the environment and the bond table;
// adding a block type never touches the hosts (pair style, binding).
class DescriptorBlock {
 public:
  virtual ~DescriptorBlock() = default;
  virtual std::string type() const = 0;
  virtual int n_features() const = 0;
  virtual double range() const = 0;         // interaction range from the centre
  virtual double list_cutoff() const = 0;   // neighbours the centre's own list must hold
  virtual double bond_cutoff() const { return 0.0; }    // >0 if it walks the bond graph
  virtual void prepare(const NeighborGraph & /*graph*/) {}    // once per step
  virtual void compute(Environment &env, double *features) = 0;
  // Accumulate sum_f dE/dG_f * dG_f/dr into env.grad (uses compute's scratch).
  virtual void backprop(Environment &env, const double *dE_dG) = 0;
  virtual double memory_bytes() const { return 0.0; }    // buffers kept between steps
};

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

// Radial block: Gaussians exp(-alpha (r - r_k)^2) * fc(r / r_cut) summed over
// neighbours of each species.
class RadialBlock : public DescriptorBlock {
 public:
  RadialBlock(double cutoff, std::vector<double> centers, double alpha, int n_species);
  std::string type() const override { return "radial"; }
  int n_features() const override { return (int) centers_.size() * n_species_; }
  double range() const override { return rc_; }
  double list_cutoff() const override { return rc_; }
  void compute(Environment &env, double *features) override;
  void backprop(Environment &env, const double *dE_dG) override;

 private:
  double rc_, alpha_;
  std::vector<double> centers_;
  int n_species_;
  // Evenly spaced centres: the Gaussians follow from two exps per neighbour,
  // phi_(k+1) = phi_k * ratio_k, ratio_(k+1) = ratio_k * exp(-2 alpha delta^2).
  bool recurrence_ = false;
  double delta_ = 0.0, ratio_step_ = 0.0;
  std::vector<int> in_range;        // environment indices with r < cutoff
  std::vector<double> dbasis;       // [in_range][k] d(phi_k fc)/dr
};

class Descriptor {
 public:
  explicit Descriptor(int n_species) : n_species_(n_species) {}
  void add_block(std::unique_ptr<DescriptorBlock> block);

  int n_features() const { return n_features_; }
  int n_species() const { return n_species_; }
  double cutoff() const { return cutoff_; }                 // interaction range (max block range)
  double list_cutoff() const { return list_cutoff_; }       // centres' lists must reach this
  double bond_cutoff() const { return bond_cutoff_; }       // other nodes' lists must reach this
  const std::vector<std::unique_ptr<DescriptorBlock>> &blocks() const { return blocks_; }

  void prepare(const NeighborGraph &graph);                 // once per step
  void compute(const NeighborGraph &graph, int center, double *features);
  void backprop(const double *dE_dG);                       // after compute, same centre
  Environment &env() { return env_; }
  double memory_bytes() const;

 private:
  int n_species_;
  int n_features_ = 0;
  double cutoff_ = 0.0, list_cutoff_ = 0.0, bond_cutoff_ = 0.0;
  std::vector<std::unique_ptr<DescriptorBlock>> blocks_;
  std::vector<int> block_offset_;
  Environment env_;
  size_t graph_nodes_seen_ = 0;
};

}    // namespace tinynet
