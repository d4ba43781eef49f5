#include "tinynet/descriptor.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <stdexcept>

namespace tinynet {

// ---------------------------------------------------------------------------
// Descriptor: environment construction and dispatch to the blocks
// ---------------------------------------------------------------------------

void Environment::begin(const NeighborGraph &graph, int center_node)
{
  // Reset the previous centre's entries (cheaper than clearing the whole map).
  if ((int) local_of_.size() < graph.n_nodes) local_of_.resize(graph.n_nodes, -1);
  for (int k = 0; k < n_; ++k) local_of_[node[k]] = -1;
  graph_ = &graph;
  center = center_node;
  n_ = 0;
  reserve_more(1);
  add(center_node, 0.0, 0.0, 0.0, 0.0);
}

void Environment::grow(int n)
{
  const size_t slots = 2 * (size_t) n;
  node.resize(slots);
  species.resize(slots);
  rel.resize(3 * slots);
  dist.resize(slots);
}

int Environment::find_or_add(int graph_node)
{
  const int k = local_of_[graph_node];
  if (k >= 0) return k;
  reserve_more(1);
  const double *xi = graph_->x + 3 * center, *xj = graph_->x + 3 * graph_node;
  const double dx = xj[0] - xi[0], dy = xj[1] - xi[1], dz = xj[2] - xi[2];
  return add(graph_node, dx, dy, dz, std::sqrt(dx * dx + dy * dy + dz * dz));
}

void Descriptor::add_block(std::unique_ptr<DescriptorBlock> block)
{
  block_offset_.push_back(n_features_);
  n_features_ += block->n_features();
  cutoff_ = std::max(cutoff_, block->range());
  list_cutoff_ = std::max(list_cutoff_, block->list_cutoff());
  bond_cutoff_ = std::max(bond_cutoff_, block->bond_cutoff());
  blocks_.push_back(std::move(block));
}

void Descriptor::prepare(const NeighborGraph &graph)
{
  graph_nodes_seen_ = std::max(graph_nodes_seen_, (size_t) graph.n_nodes);
  for (auto &block : blocks_) block->prepare(graph);
}

void Environment::add_listed(double cutsq, double &min_sq, double &sum_sq)
{
  if (graph_->distinct_lists) add_listed_rows<true>(cutsq, min_sq, sum_sq);
  else add_listed_rows<false>(cutsq, min_sq, sum_sq);
}

template <bool DISTINCT>
void Environment::add_listed_rows(double cutsq, double &min_sq, double &sum_sq)
{
  // Local pointers and count: as members, each entry reloaded them (~8
  // instructions an entry).
  const NeighborGraph &graph = *graph_;
  const int i = center, count = graph.count[i], mask = graph.mask;
  const int *__restrict row = graph.list[i], *__restrict graph_species = graph.species;
  const double *__restrict x = graph.x;
  const double xi = x[3 * i], yi = x[3 * i + 1], zi = x[3 * i + 2];
  reserve_more(count);
  int *__restrict local_of = local_of_.data(), *__restrict nodes = node.data(), *__restrict sp = species.data();
  double *__restrict rl = rel.data(), *__restrict ds = dist.data();
  double lo = min_sq, sum = sum_sq;
  int n = n_;
  const int first = n;
  for (int k = 0; k < count; ++k) {
    const int j = row[k] & mask;
    const int sj = graph_species[j];
    if (!DISTINCT && (j == i || local_of[j] >= 0)) continue;
    if (sj < 0) continue;    // (a LAMMPS atom type mapped to NULL)
    const double dx = x[3 * j] - xi, dy = x[3 * j + 1] - yi, dz = x[3 * j + 2] - zi;
    const double rsq = dx * dx + dy * dy + dz * dz;
    lo = std::min(lo, rsq);
    sum += rsq;
    // Written always, kept if inside: LAMMPS lists come in bin order, so a
    // branch on the distance is a coin toss (~40 % of the 5 A + skin list is
    // outside 5 A) and its mispredictions cost more than the stores.
    const bool inside = rsq < cutsq;
    local_of[j] = inside ? n : -1;
    nodes[n] = j;
    sp[n] = sj;
    rl[3 * n] = dx;
    rl[3 * n + 1] = dy;
    rl[3 * n + 2] = dz;
    ds[n] = rsq;
    n += inside;
  }
  for (int k = first; k < n; ++k) ds[k] = std::sqrt(ds[k]);    // one vector pass
  n_ = n;
  min_sq = lo;
  sum_sq = sum;
}

void Descriptor::compute(const NeighborGraph &graph, int center, double *features)
{
  Environment &env = env_;
  env.begin(graph, center);
  // The flag from the smallest distance and the sum of all: NaN and inf
  // carry through a sum of squares (two instructions a neighbour).
  double min_sq = DBL_MAX, sum_sq = 0.0;
  env.add_listed(list_cutoff_ * list_cutoff_, min_sq, sum_sq);
  flagged_ = !(min_sq >= flag_sq_ && sum_sq <= DBL_MAX);
  nearest_sq_ = min_sq;
  for (size_t b = 0; b < blocks_.size(); ++b) blocks_[b]->compute(env, features + block_offset_[b]);
}

void Descriptor::backprop(const double *dE_dG)
{
  const size_t n3 = 3 * (size_t) env_.size();
  if (env_.grad.size() < n3) env_.grad.resize(n3);
  std::fill(env_.grad.begin(), env_.grad.begin() + n3, 0.0);
  for (size_t b = 0; b < blocks_.size(); ++b) blocks_[b]->backprop(env_, dE_dG + block_offset_[b]);
}

double Descriptor::memory_bytes() const
{
  double bytes = (double) env_.node.capacity() * 2 * sizeof(int) +
      (double) (env_.rel.capacity() + env_.dist.capacity() + env_.grad.capacity()) * sizeof(double) +
      (double) graph_nodes_seen_ * sizeof(int);    // environment's node map
  for (const auto &block : blocks_) bytes += block->memory_bytes();
  return bytes;
}

}    // namespace tinynet
