#include "tinynet/blocks/simple_cycles.h"

#include "../block_registry.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace tinynet {

// ---------------------------------------------------------------------------
// Simple-cycles block
// ---------------------------------------------------------------------------

SimpleCyclesBlock::SimpleCyclesBlock(int n_max, Hopping hopping) :
    n_max_(n_max), n_species_(hopping.n_species()), hopping_(std::move(hopping))
{
  if (n_max_ < 3 || n_max_ > N_MAX_LIMIT)
    throw std::invalid_argument("simple_cycles block: n_max must be between 3 and 8");
  nc_ = hopping_.n_channels();
  if (nc_ == 0) throw std::invalid_argument("simple_cycles block: no hopping channels");
  nf_ = n_features();
  prefix_.resize((size_t) (n_max_ + 1) * nc_);
  suffix_.resize(nc_);
}

void SimpleCyclesBlock::prepare(const NeighborGraph &graph)
{
  graph_ = &graph;
  bonds_.begin_step(graph, hopping_.n_channels());
}

double SimpleCyclesBlock::memory_bytes() const
{
  const size_t ints = walk_env.capacity() + walk_species.capacity() + walk_dist.capacity() +
      env_walk.capacity() + edge_p.capacity() + edge_q.capacity() + edge_bond.capacity() + adj_start.capacity() +
      adj_node.capacity() + adj_edge.capacity() + adj_fill.capacity() + centre_edge.capacity();
  const size_t doubles = edge_unit.capacity() + edge_h.capacity() + edge_dh.capacity() +
      prefix_.capacity() + suffix_.capacity() + dG_dr.capacity();
  return bonds_.memory_bytes() + (double) ints * sizeof(int) + (double) doubles * sizeof(double) +
      (double) on_path.capacity();
}

// Breadth-first walk over bonds out to depth floor(n_max/2): no node of a
// cycle of at most n_max bonds is further from the centre. Records each edge
// once (to the next shell, or within a shell); edges within the outermost
// shell only close cycles of 2*depth+1 bonds, so they are walked only for an
// odd n_max. Nodes beyond the centre's list are added to the environment as
// they are reached.
void SimpleCyclesBlock::walk_bonds(Environment &env)
{
  // (the ring of bond rows may be too small for one centre's rows: it grows
  // and the walk starts again)
  bonds_.walk([&] { return walk_edges(env); });

  // The edges' bond data, contiguous for the search.
  const int nw = (int) walk_env.size(), ne = (int) edge_p.size();
  edge_unit.resize(3 * (size_t) ne);
  edge_h.resize((size_t) ne * nc_);
  edge_dh.resize((size_t) ne * nc_);
  for (int e = 0; e < ne; ++e) {
    const size_t b = edge_bond[e];
    for (int d = 0; d < 3; ++d) edge_unit[3 * (size_t) e + d] = bonds_.unit[3 * b + d];
    for (int c = 0; c < nc_; ++c) {
      edge_h[(size_t) e * nc_ + c] = bonds_.hop[b * nc_ + c];
      edge_dh[(size_t) e * nc_ + c] = bonds_.dhop[b * nc_ + c];
    }
  }

  // Neighbours of each walk node, nearest to the centre first (walk order is
  // depth order), so the search can stop at the first one too far to return.
  adj_start.assign(nw + 1, 0);
  for (int e = 0; e < ne; ++e) {
    ++adj_start[edge_p[e] + 1];
    ++adj_start[edge_q[e] + 1];
  }
  for (int k = 0; k < nw; ++k) adj_start[k + 1] += adj_start[k];
  adj_node.resize(2 * (size_t) ne);
  adj_edge.resize(2 * (size_t) ne);
  centre_edge.assign(nw, -1);
  adj_fill.assign(nw, 0);
  for (int e = 0; e < ne; ++e) {
    const int ends[2][2] = {{edge_p[e], edge_q[e]}, {edge_q[e], edge_p[e]}};
    for (const auto &uv : ends) {
      // insertion into the sorted row of uv[0]
      int k = adj_start[uv[0]] + adj_fill[uv[0]]++;
      while (k > adj_start[uv[0]] && adj_node[k - 1] > uv[1]) {
        adj_node[k] = adj_node[k - 1];
        adj_edge[k] = adj_edge[k - 1];
        --k;
      }
      adj_node[k] = uv[1];
      adj_edge[k] = e;
    }
    if (edge_p[e] == 0) centre_edge[edge_q[e]] = e;
  }
}

bool SimpleCyclesBlock::walk_edges(Environment &env)
{
  const int depth = n_max_ / 2;
  const bool odd_top = (n_max_ % 2) == 1;
  env_walk.assign(env.size(), -1);
  env_walk[0] = 0;
  walk_env.assign(1, 0);
  walk_species.assign(1, env.species[0]);
  walk_dist.assign(1, 0);
  edge_p.clear();
  edge_q.clear();
  edge_bond.clear();
  for (int p = 0; p < (int) walk_env.size(); ++p) {
    const int d = walk_dist[p];
    if (d == depth && !odd_top) break;    // the walk is in depth order
    const int node = env.node[walk_env[p]];
    int begin = 0, count = 0;
    if (!bonds_.row(*graph_, hopping_, node, begin, count)) return false;
    const int end = begin + count;
    for (int b = begin; b < end; ++b) {
      int qe = env.index_of(bonds_.partner[b]);
      int q = qe < 0 ? -1 : env_walk[qe];
      if (q < 0) {
        if (d == depth) continue;    // beyond the deepest shell
        if (qe < 0) {
          qe = env.find_or_add(bonds_.partner[b]);
          env_walk.resize(env.size(), -1);
        }
        q = env_walk[qe] = (int) walk_env.size();
        walk_env.push_back(qe);
        walk_species.push_back(env.species[qe]);
        walk_dist.push_back(d + 1);
      }
      const int dq = walk_dist[q];
      if (dq == d + 1 || (dq == d && p < q)) {
        edge_p.push_back(p);
        edge_q.push_back(q);
        edge_bond.push_back(b);
      }
    }
  }
  return true;
}

void SimpleCyclesBlock::compute(Environment &env, double *features)
{
  std::fill(features, features + nf_, 0.0);
  walk_bonds(env);

  features_ = features;
  env_ = &env;
  paths_ = 0;
  dG_dr.assign(edge_p.size() * (size_t) nf_, 0.0);
  on_path.assign(walk_env.size(), 0);
  on_path[0] = 1;
  path_[0] = 0;
  std::fill(prefix_.begin(), prefix_.begin() + nc_, 1.0);
  search(0, 0);
  features_ = nullptr;
}

// The path p_0 = centre, ..., p_t = u is on the stack (path_, path_edge_,
// prefix_ products); close it if u is bonded to the centre, then extend it to
// every neighbour not on it from which the centre is still reachable within
// n_max bonds in total.
//
// A cycle and its reverse have the same product, so each undirected cycle is
// closed once, in the direction whose last node p_(n-1) comes after p_1 in
// walk order, and counted for both directions there. The centre's
// neighbours are walk nodes 1..z: a path starting with p_1 = z could never
// close, and the last hop before closing only goes to nodes after p_1.
void SimpleCyclesBlock::search(int u, int t)
{
  if (t >= 2 && centre_edge[u] >= 0 && u > path_[1]) close_cycle(t, centre_edge[u]);
  const int reach = n_max_ - t - 1;    // a next node must be at most this far from the centre
  if (reach < 1) return;
  const double *pre = &prefix_[(size_t) t * nc_];
  double *next = &prefix_[(size_t) (t + 1) * nc_];
  const int last_start = t == 0 ? adj_start[1] - adj_start[0] : -1;
  for (int k = adj_start[u]; k < adj_start[u + 1]; ++k) {
    const int v = adj_node[k];
    if (walk_dist[v] > reach) break;
    if (on_path[v] || v == last_start || (reach == 1 && v < path_[1])) continue;
    if (++paths_ > MAX_PATHS) too_many_paths(*env_);
    const int e = adj_edge[k];
    const double *h = &edge_h[(size_t) e * nc_];
    for (int c = 0; c < nc_; ++c) next[c] = pre[c] * h[c];
    path_[t + 1] = v;
    path_edge_[t] = e;
    if (reach == 1) {    // v is bonded to the centre and can only close
      close_cycle(t + 1, centre_edge[v]);
      continue;
    }
    on_path[v] = 1;
    search(v, t + 1);
    on_path[v] = 0;
  }
}

// Cycle of n = t+1 bonds closed through `last_edge`, and its reverse: add the
// product to the features of both directions' middle-node species, and its
// derivative with respect to each bond length (prefix * dh * suffix, no
// division by h) to the same two columns of dG_dr.
void SimpleCyclesBlock::close_cycle(int t, int last_edge)
{
  const int n = t + 1;
  path_edge_[t] = last_edge;
  const int first = (n - 3) * nc_ * n_species_;
  const int fwd = first + walk_species[path_[n / 2]];          // middle p_(n/2)
  const int rev = first + walk_species[path_[n - n / 2]];      // the reverse's middle
  // one column with weight 2 where both directions land in the same feature
  const int cols = fwd == rev ? 1 : 2;
  const double weight = fwd == rev ? 2.0 : 1.0;
  const int col[2] = {fwd, rev};
  const double *pre = &prefix_[(size_t) t * nc_], *h_last = &edge_h[(size_t) last_edge * nc_];
  for (int c = 0; c < nc_; ++c) {
    const double product = weight * pre[c] * h_last[c];
    for (int m = 0; m < cols; ++m) features_[col[m] + c * n_species_] += product;
    suffix_[c] = weight;
  }
  for (int k = t; k >= 0; --k) {
    const int e = path_edge_[k];
    const double *h = &edge_h[(size_t) e * nc_], *dh = &edge_dh[(size_t) e * nc_];
    const double *pk = &prefix_[(size_t) k * nc_];
    double *g = &dG_dr[(size_t) e * nf_];
    for (int c = 0; c < nc_; ++c) {
      const double d = pk[c] * dh[c] * suffix_[c];
      for (int m = 0; m < cols; ++m) g[col[m] + c * n_species_] += d;
      suffix_[c] *= h[c];
    }
  }
}

void SimpleCyclesBlock::too_many_paths(const Environment &env) const
{
  const double *x = graph_->x + 3 * env.center;
  char msg[512];
  std::snprintf(msg, sizeof msg,
                "simple_cycles block: the cycle search around centre node %d (at %.4g %.4g %.4g) "
                "visited more than %ld paths (n_max %d, largest bond_cutoff %g A, %d bonds at the centre); "
                "use a smaller n_max or bond_cutoff",
                env.center, x[0], x[1], x[2], MAX_PATHS, n_max_, hopping_.max_rb(),
                adj_start.size() > 1 ? adj_start[1] : 0);
  throw std::runtime_error(msg);
}

void SimpleCyclesBlock::backprop(Environment &env, const double *dE_dG)
{
  // dE/d(bond length), then onto the bond's two end nodes.
  const int ne = (int) edge_p.size();
  for (int e = 0; e < ne; ++e) {
    const double *J = &dG_dr[(size_t) e * nf_];
    double g = 0.0;
    for (int f = 0; f < nf_; ++f) g += dE_dG[f] * J[f];
    if (g == 0.0) continue;
    const double *u = &edge_unit[3 * (size_t) e];    // from p towards q
    double *gp = &env.grad[3 * (size_t) walk_env[edge_p[e]]];
    double *gq = &env.grad[3 * (size_t) walk_env[edge_q[e]]];
    for (int d = 0; d < 3; ++d) {
      gq[d] += g * u[d];
      gp[d] -= g * u[d];
    }
  }
}

std::unique_ptr<DescriptorBlock> read_simple_cycles_block(const Field &b, const Elements &elements)
{
  b.only_keys({"type", "n_max", "bond_cutoff", "r0", "decay_lengths"});
  const long n_max = b["n_max"].integer_in(3, SimpleCyclesBlock::N_MAX_LIMIT);
  return std::make_unique<SimpleCyclesBlock>((int) n_max, read_hopping(b, n_max, elements));
}

}    // namespace tinynet
