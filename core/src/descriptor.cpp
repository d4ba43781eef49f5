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

void Descriptor::compute(const NeighborGraph &graph, int center, double *features)
{
  Environment &env = env_;
  env.begin(graph, center);
  const double *xi = graph.x + 3 * center;
  const double cutsq = list_cutoff_ * list_cutoff_;
  // The flag from the smallest distance and the sum of all: NaN and inf
  // carry through a sum of squares (two instructions a neighbour).
  double min_sq = DBL_MAX, sum_sq = 0.0;
  env.reserve_more(graph.count[center]);
  for (int k = 0; k < graph.count[center]; ++k) {
    const int j = graph.neighbor(center, k);
    if (j == center || graph.species[j] < 0 || env.index_of(j) >= 0) continue;
    const double *xj = graph.x + 3 * j;
    const double dx = xj[0] - xi[0], dy = xj[1] - xi[1], dz = xj[2] - xi[2];
    const double rsq = dx * dx + dy * dy + dz * dz;
    min_sq = std::min(min_sq, rsq);
    sum_sq += rsq;
    if (rsq < cutsq) env.add(j, dx, dy, dz, std::sqrt(rsq));
  }
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
