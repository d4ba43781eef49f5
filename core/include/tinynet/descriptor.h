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

// The real-space neighbourhood of one centre: node 0 is the centre itself.
// It holds the centre's neighbours within the list cutoff; blocks that walk
// the bond graph add the further nodes they reach.
class Environment {
 public:
  int center = -1;
  // Entries 0..size()-1 (the vectors may be longer: their capacity is kept
  // from centre to centre and entries are written in place, no push_back).
  std::vector<int> node;       // graph node index
  std::vector<int> species;
  std::vector<double> rel;     // [n][3] position relative to the centre
  std::vector<double> dist;    // |rel|
  std::vector<double> grad;    // [n][3] dE/d(position), filled by backprop
  int size() const { return n_; }

  void begin(const NeighborGraph &graph, int center_node);
  // Room for `more` entries beyond size() (add() assumes it).
  void reserve_more(int more)
  {
    if ((int) node.size() < n_ + more) grow(n_ + more);
  }
  // Inline: called for every neighbour of every centre (as a call it cost
  // ~70 instructions a neighbour). Needs reserve_more() first.
  int add(int graph_node, double dx, double dy, double dz, double r)
  {
    const int k = n_++;
    local_of_[graph_node] = k;
    node[k] = graph_node;
    species[k] = graph_->species[graph_node];
    rel[3 * (size_t) k] = dx;
    rel[3 * (size_t) k + 1] = dy;
    rel[3 * (size_t) k + 2] = dz;
    dist[k] = r;
    return k;
  }
  // The centre's listed neighbours closer than sqrt(cutsq), in list order (a
  // node listed twice once); min_sq and sum_sq take in the squared distances
  // of all the listed pairs, for the closeness check.
  void add_listed(double cutsq, double &min_sq, double &sum_sq);
  int index_of(int graph_node) const { return local_of_[graph_node]; }    // -1: not in it
  int find_or_add(int graph_node);    // position taken from the graph

 private:
  void grow(int n);
  template <bool DISTINCT> void add_listed_rows(double cutsq, double &min_sq, double &sum_sq);
  int n_ = 0;
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
  // A hint that `center` comes a few centres later: start loading what its
  // compute() will read from far memory (no effect on results).
  virtual void prefetch(const NeighborGraph & /*graph*/, int /*center*/) const {}
  virtual void compute(Environment &env, double *features) = 0;
  // Accumulate sum_f dE/dG_f * dG_f/dr into env.grad (uses compute's scratch).
  virtual void backprop(Environment &env, const double *dE_dG) = 0;
  virtual double memory_bytes() const { return 0.0; }    // buffers kept between steps
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
  // Hosts call this before evaluating centres[c]: the blocks' prefetch() for
  // the centre PREFETCH_AHEAD places later, if any (the bond walk's first read
  // of a row is otherwise a cache miss; measured: 16..64 centres ahead all
  // take fill's share of an 8000-atom step from 12 % to 7 %; 128 is too far).
  static constexpr int PREFETCH_AHEAD = 32;
  void prefetch_ahead(const NeighborGraph &graph, const int *centres, int n_centres, int c) const
  {
    if (c + PREFETCH_AHEAD >= n_centres) return;
    for (const auto &block : blocks_) block->prefetch(graph, centres[c + PREFETCH_AHEAD]);
  }
  void compute(const NeighborGraph &graph, int center, double *features);
  // With a distance r > 0 set, compute() flags a centre whose list holds a
  // node closer than r or at a non-finite distance (hosts that check every
  // pair use it instead of a second pass over the centres' lists).
  void set_flag_distance(double r) { flag_sq_ = r * r; }
  bool listed_pair_flagged() const { return flagged_; }
  // The smallest squared distance in the last centre's list (NaN left out).
  double nearest_listed_sq() const { return nearest_sq_; }
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
  double flag_sq_ = 0.0, nearest_sq_ = 0.0;
  bool flagged_ = false;
};

}    // namespace tinynet
