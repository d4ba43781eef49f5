#include "tinynet/blocks/moments.h"

#include "../block_registry.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tinynet {

// ---------------------------------------------------------------------------
// Moments block
// ---------------------------------------------------------------------------

MomentsBlock::MomentsBlock(int n_max, Hopping hopping) :
    n_max_(n_max), depth_(n_max / 2), n_species_(hopping.n_species()), hopping_(std::move(hopping))
{
  if (n_max_ < 2) throw std::invalid_argument("moments block: n_max must be >= 2");
  if (hopping_.n_channels() == 0) throw std::invalid_argument("moments block: no hopping channels");
  edge_end_.resize(depth_ + 1);
  node_end_.resize(depth_ + 1);
}

void MomentsBlock::prepare(const NeighborGraph &graph)
{
  graph_ = &graph;
  bonds_.begin_step(graph, hopping_.n_channels(), shallow());    // (the shallow kernel reads compact rows)
}

double MomentsBlock::memory_bytes() const { return bonds_.memory_bytes(); }

// (the ring of bond rows may be too small for one centre's rows: it grows and the walk starts again)
void MomentsBlock::walk(Environment &env)
{
  bonds_.walk([&] { return walk_once(env); });
}

bool MomentsBlock::walk_once(Environment &env)
{
  // Breadth-first walk over bonds from the centre, out to depth floor(n_max/2):
  // a returning path of n hops never gets further than that. Record each edge
  // once: to the next shell, and within a shell (which closes odd cycles).
  // Edges within the outermost shell only matter for an odd n_max.
  // Nodes beyond the centre's list are added to the environment as reached.
  // Scratch only grows; counts n_walk_, n_edge_ (no push_back: measured,
  // its capacity checks through the members cost ~0.5k instructions an atom-step).
  const int n_env = env.size();
  if ((int) depth_of_env.size() < n_env) {
    depth_of_env.resize(2 * n_env);
    walk_of_env.resize(2 * n_env);
  }
  for (int k = 0; k < n_env; ++k) depth_of_env[k] = walk_of_env[k] = -1;
  if (walk_env.empty()) {
    walk_env.resize(16);
    walk_species.resize(16);
  }
  walk_env[0] = 0;
  walk_species[0] = env.species[0];
  depth_of_env[0] = 0;
  walk_of_env[0] = 0;
  int n_walk = 1, n_edge = 0;
  const bool odd_top = (n_max_ % 2) == 1;
  for (int d = 0; d <= depth_; ++d) {    // (sized in the constructor: assign() cost ~70 instructions)
    edge_end_[d] = 0;
    node_end_[d] = 1;
  }
  for (int p = 0; p < n_walk; ++p) {
    const int pe = walk_env[p], d = depth_of_env[pe];
    if (d == depth_ && !odd_top) break;    // the walk is in depth order
    const int node = env.node[pe];
    int begin = 0, count = 0;
    if (!bonds_.row(*graph_, hopping_, node, begin, count)) return false;
    const int end = begin + count;
    // room for every bond of the row as a new node and an edge
    const size_t most_walk = (size_t) n_walk + (end - begin), most_edge = (size_t) n_edge + (end - begin);
    if (walk_env.size() < most_walk) {
      walk_env.resize(2 * most_walk);
      walk_species.resize(2 * most_walk);
    }
    if (edge_p.size() < most_edge) {
      edge_p.resize(2 * most_edge);
      edge_q.resize(2 * most_edge);
      edge_bond.resize(2 * most_edge);
    }
    for (int b = begin; b < end; ++b) {
      int qe = env.index_of(bonds_.partner[b]);
      int dq = qe < 0 ? -1 : depth_of_env[qe];
      if (dq < 0) {
        if (d == depth_) continue;    // beyond the deepest shell
        if (qe < 0) {
          qe = env.find_or_add(bonds_.partner[b]);
          if ((int) depth_of_env.size() < env.size()) {
            depth_of_env.resize(2 * env.size());
            walk_of_env.resize(2 * env.size());
          }
        }
        dq = depth_of_env[qe] = d + 1;
        walk_of_env[qe] = n_walk;
        walk_env[n_walk] = qe;
        walk_species[n_walk] = env.species[qe];
        node_end_[d + 1] = ++n_walk;
      }
      const int q = walk_of_env[qe];
      if (dq == d + 1 || (dq == d && p < q)) {
        edge_p[n_edge] = p;
        edge_q[n_edge] = q;
        edge_bond[n_edge] = b;
        ++n_edge;
      }
    }
    edge_end_[d] = n_edge;
  }
  n_walk_ = n_walk;
  n_edge_ = n_edge;
  // Edges are in the depth order of their first node p: edge_end_[d] edges
  // start at depth <= d (a depth without nodes ends where the one before
  // does); likewise the nodes.
  for (int d = 1; d <= depth_; ++d) {
    edge_end_[d] = std::max(edge_end_[d], edge_end_[d - 1]);
    node_end_[d] = std::max(node_end_[d], node_end_[d - 1]);
  }
  return true;
}

void MomentsBlock::project_edge_gradients(Environment &env, const double *dE_dr,
                                          const double *dE_dunit) const
{
  // r_pq = |x_q - x_p|, l = (x_q - x_p)/r: dr/dx_q = l, dl/dx_q = (1 - l l^T)/r.
  // (local restrict pointers: the stores into grad do not reload the rest)
  const int ne = n_edge_;
  double *__restrict grad = env.grad.data();
  const double *__restrict unit = bonds_.unit.data(), *__restrict length = bonds_.length.data();
  const int *__restrict ep = edge_p.data(), *__restrict eq = edge_q.data(), *__restrict eb = edge_bond.data();
  const int *__restrict we = walk_env.data();
  for (int e = 0; e < ne; ++e) {
    const double *u = unit + 3 * (size_t) eb[e];    // from p towards q
    double g[3] = {dE_dr[e] * u[0], dE_dr[e] * u[1], dE_dr[e] * u[2]};
    if (dE_dunit) {
      const double *gl = dE_dunit + 3 * (size_t) e;
      const double along = gl[0] * u[0] + gl[1] * u[1] + gl[2] * u[2];
      const double inv_r = 1.0 / length[eb[e]];
      for (int d = 0; d < 3; ++d) g[d] += (gl[d] - along * u[d]) * inv_r;
    }
    add_bond_gradient(grad, we[ep[e]], we[eq[e]], g);
  }
}


template <class G>
int MomentsBlock::channel_groups() const
{
  return (hopping_.n_channels() + lanes_in<G> - 1) / lanes_in<G>;
}

template <class G>
void MomentsBlock::gather_edge_hops()
{
  // Per channel group, the hoppings of each walk edge in edge order: the
  // sweeps below read them three times per level, contiguously instead of
  // through edge_bond into the bond table.
  const int ne = n_edge_, n_groups = channel_groups<G>();
  G *h_all = lanes_of<G>(edge_h, (size_t) n_groups * ne), *dh_all = lanes_of<G>(edge_dh, (size_t) n_groups * ne);
  for (int cg = 0; cg < n_groups; ++cg) {
    G *__restrict h = h_all + (size_t) cg * ne, *__restrict dh = dh_all + (size_t) cg * ne;
    for (int e = 0; e < ne; ++e) {
      h[e] = hop_group<G>(bonds_.hop, edge_bond[e], cg);
      dh[e] = hop_group<G>(bonds_.dhop, edge_bond[e], cg);
    }
  }
}


template <class G>
void MomentsBlock::add_moment(const G *x, const G *y, int nw, int n, int cg, double *features)
{
  constexpr int W = lanes_in<G>;
  const int c = W * cg, lanes = std::min(W, hopping_.n_channels() - c);
  if (n_species_ == 1) {
    G sum = {};
    for (int k = 0; k < nw; ++k) sum += x[k] * y[k];
    for (int lane = 0; lane < lanes; ++lane) features[feature_index(n, c + lane, 0)] += sum[lane];
  } else {    // per-species sums first (a scatter per node and lane cost twice as much)
    G *sum = lanes_of<G>(species_sum_, n_species_);
    std::fill_n(sum, n_species_, G{});
    for (int k = 0; k < nw; ++k) sum[walk_species[k]] += x[k] * y[k];
    for (int s = 0; s < n_species_; ++s)
      for (int lane = 0; lane < lanes; ++lane) features[feature_index(n, c + lane, s)] += sum[s][lane];
  }
}

template <class G>
const G *MomentsBlock::species_features(const double *dE_dG, int n, int cg, double scale)
{
  G *by_species = lanes_of<G>(species_sum_, n_species_);
  for (int s = 0; s < n_species_; ++s) by_species[s] = scale * feature_group<G>(dE_dG, n, cg, s);
  return by_species;
}

void MomentsBlock::compute(Environment &env, double *features)
{
  if (bonds_.compact()) {    // n_max <= 4: moments_shallow.cpp (chosen at prepare)
    compute_shallow_path(env, features);
    return;
  }
  std::fill(features, features + n_features(), 0.0);
  walk(env);
  if (hopping_.n_channels() > 2) compute_groups<ChannelQuad>(features);
  else compute_groups<ChannelPair>(features);
}

template <class G>
void MomentsBlock::compute_groups(double *features)
{
  gather_edge_hops<G>();

  // Forward recursion per channel group: v_a = H v_(a-1); w_a = H v_a where
  // odd n needs it. v_a lives on the nodes of depth <= a, so H v_a needs only
  // the edges that start there (edge_end_[a]).
  const int nw = n_walk_, ne = n_edge_, levels = depth_ + 1, n_groups = channel_groups<G>();
  const int *ep = edge_p.data(), *eq = edge_q.data();
  const size_t n_vec = (size_t) n_groups * levels * nw;
  G *v_all = lanes_of<G>(v, n_vec), *w_all = lanes_of<G>(w, n_vec);
  const G *h_all = lanes_of<G>(edge_h, (size_t) n_groups * ne);
  // Only the entries a level can touch are zeroed, level by level: H v_a
  // lives on depth <= a+1 and the sweep of level a reads v_a there. (One
  // fill of all of w per centre was a tenth of the step with n_max 6.)
  for (int cg = 0; cg < n_groups; ++cg) {
    G *vc = v_all + (size_t) cg * levels * nw;
    G *wc = w_all + (size_t) cg * levels * nw;
    const G *hc = h_all + (size_t) cg * ne;
    vc[0] = G{} + 1.0;
    std::fill(vc + 1, vc + reach(1), G{});
    for (int a = 0; a <= depth_; ++a) {
      const G *va = vc + a * nw;
      // H v_a: the next level if there is one, else only for the odd moment.
      const bool need_next = a < depth_, need_odd = 2 * a + 1 <= n_max_;
      if (need_next || need_odd) {
        G *hv = wc + a * nw;
        const int n_out = reach(a + 1);
        std::fill(hv, hv + n_out, G{});
        for (int e = 0, end = edge_end_[a]; e < end; ++e) {
          hv[ep[e]] += hc[e] * va[eq[e]];
          hv[eq[e]] += hc[e] * va[ep[e]];
        }
        if (need_next) {
          G *next = vc + (a + 1) * nw;
          std::copy(hv, hv + n_out, next);
          std::fill(next + n_out, next + reach(a + 2), G{});
        }
      }
      if (a == 0) continue;
      // (v_a is 0 beyond depth a)
      if (2 * a <= n_max_) add_moment<G>(va, va, node_end_[a], 2 * a, cg, features);
      if (need_odd) add_moment<G>(va, wc + a * nw, node_end_[a], 2 * a + 1, cg, features);
    }
  }
}

void MomentsBlock::backprop(Environment &env, const double *dE_dG)
{
  if (bonds_.compact()) {
    backprop_shallow_path(env, dE_dG);
    return;
  }
  if (hopping_.n_channels() > 2) backprop_groups<ChannelQuad>(env, dE_dG);
  else backprop_groups<ChannelPair>(env, dE_dG);
}

template <class G>
void MomentsBlock::backprop_groups(Environment &env, const double *dE_dG)
{
  const int nw = n_walk_, ne = n_edge_, levels = depth_ + 1, n_groups = channel_groups<G>();
  const int *ep = edge_p.data(), *eq = edge_q.data();
  if ((int) dE_dr_edge.size() < ne) dE_dr_edge.resize(2 * ne);
  // (local pointers: the compiler need not reload the vectors' data)
  G *__restrict dr = lanes_of<G>(dE_dr_lanes, ne);
  G *__restrict g = lanes_of<G>(gbar, nw), *__restrict gn = lanes_of<G>(gnext, nw), *__restrict bt = lanes_of<G>(beta, nw);
  const G *v_all = lanes_of<G>(v, 0), *w_all = lanes_of<G>(w, 0);
  const G *h_all = lanes_of<G>(edge_h, 0), *dh_all = lanes_of<G>(edge_dh, 0);
  std::fill_n(dr, ne, G{});
  const bool one_species = n_species_ == 1;

  for (int cg = 0; cg < n_groups; ++cg) {
    const G *vc = v_all + (size_t) cg * levels * nw;
    const G *wc = w_all + (size_t) cg * levels * nw;
    const G *hc = h_all + (size_t) cg * ne, *dhc = dh_all + (size_t) cg * ne;
    // gbar = dE/dv_a, swept from the deepest level down to level 1.
    std::fill_n(g, nw, G{});
    for (int a = depth_; a >= 1; --a) {
      const G *va = vc + a * nw, *vprev = vc + (a - 1) * nw;
      const int na = node_end_[a];    // v_a lives on depth <= a
      if (2 * a <= n_max_) {
        if (one_species) {
          const G g2 = 2.0 * feature_group<G>(dE_dG, 2 * a, cg, 0);
          for (int k = 0; k < na; ++k) g[k] += g2 * va[k];
        } else {
          const G *by_species = species_features<G>(dE_dG, 2 * a, cg, 2.0);
          for (int k = 0; k < na; ++k) g[k] += by_species[walk_species[k]] * va[k];
        }
      }
      if (2 * a + 1 <= n_max_) {
        // mu = v^T D_beta H v: dv = beta*(Hv) + H(beta*v); dh_pq = beta_p v_p v_q + beta_q v_q v_p
        // (v_a lives on depth <= a: the edges that start there; H v_a, and
        // the nodes those edges reach, on depth <= a+1)
        const G *wa = wc + a * nw;
        const int n = 2 * a + 1, end = edge_end_[a], n_reach = reach(a + 1);
        if (one_species) {
          const G b = feature_group<G>(dE_dG, n, cg, 0);
          for (int k = 0; k < n_reach; ++k) g[k] += b * wa[k];
          for (int e = 0; e < end; ++e) {
            const int p = ep[e], q = eq[e];
            g[p] += hc[e] * b * va[q];
            g[q] += hc[e] * b * va[p];
            dr[e] += (b + b) * va[p] * va[q] * dhc[e];
          }
        } else {
          const G *by_species = species_features<G>(dE_dG, n, cg, 1.0);
          for (int k = 0; k < n_reach; ++k) {
            bt[k] = by_species[walk_species[k]];    // per node, read once
            g[k] += bt[k] * wa[k];
          }
          for (int e = 0; e < end; ++e) {
            const int p = ep[e], q = eq[e];
            const G bp = bt[p], bq = bt[q];
            g[p] += hc[e] * bq * va[q];
            g[q] += hc[e] * bp * va[p];
            dr[e] += (bp + bq) * va[p] * va[q] * dhc[e];
          }
        }
      }
      // Through v_a = H v_(a-1): dh_pq += gbar_p v_q + gbar_q v_p; gnext = H gbar.
      // v_(a-1) lives on depth <= a-1, so only the edges that start there
      // count; and dE/dv_(a-1) matters only there (for a = 1 not at all):
      // gnext is complete on those nodes, partial elsewhere (never read).
      const int end = edge_end_[a - 1];
      if (a == 1) {
        for (int e = 0; e < end; ++e) {
          const int p = ep[e], q = eq[e];
          dr[e] += (g[p] * vprev[q] + g[q] * vprev[p]) * dhc[e];
        }
        break;
      }
      std::fill_n(gn, reach(a), G{});    // (the nodes these edges touch)
      for (int e = 0; e < end; ++e) {
        const int p = ep[e], q = eq[e];
        dr[e] += (g[p] * vprev[q] + g[q] * vprev[p]) * dhc[e];
        gn[p] += hc[e] * g[q];
        gn[q] += hc[e] * g[p];
      }
      std::swap(g, gn);
    }
  }
  for (int e = 0; e < ne; ++e) dE_dr_edge[e] = lane_sum(dr[e]);    // the lanes' channels
  project_edge_gradients(env, dE_dr_edge.data(), nullptr);
}


// ---------------------------------------------------------------------------
// Orbital (s + p) moments
// ---------------------------------------------------------------------------
//
// Vectors carry 4 orbitals per walk node: [node][s, px, py, pz]. For the
// bond p -> q (unit l from p to q, hopping h) the block B = H_(p,q) acts as
//   (B y)_s = h (ss ys + sp l.yp)
//   (B y)_m = h (-sp l_m ys + ppp yp_m + (pps - ppp) l_m l.yp)
// and H_(q,p) = B^T (H is symmetric).

namespace {
constexpr int NORB = 4;
}

SpMomentsBlock::SpMomentsBlock(int n_max, Hopping hopping, double sp_splitting) :
    MomentsBlock(n_max, std::move(hopping)), sp_splitting_(sp_splitting)
{
}

void SpMomentsBlock::apply_h(int c, const double *v, double *out) const
{
  const int nc = hopping_.n_channels(), ne = n_edge_, nw = n_walk_;
  constexpr double ss = ETA_SSS, sp = ETA_SPS, ppp = ETA_PPP, dpp = ETA_PPS - ETA_PPP;
  for (int e = 0; e < ne; ++e) {
    const int b = edge_bond[e];
    const double h = bonds_.hop[(size_t) b * nc + c];
    const double *l = &bonds_.unit[3 * (size_t) b];
    const double *x = v + NORB * edge_q[e];    // B x into p
    const double *y = v + NORB * edge_p[e];    // B^T y into q
    double *op = out + NORB * edge_p[e], *oq = out + NORB * edge_q[e];
    const double lx = l[0] * x[1] + l[1] * x[2] + l[2] * x[3];
    const double ly = l[0] * y[1] + l[1] * y[2] + l[2] * y[3];
    op[0] += h * (ss * x[0] + sp * lx);
    oq[0] += h * (ss * y[0] - sp * ly);
    for (int m = 0; m < 3; ++m) {
      op[1 + m] += h * (-sp * l[m] * x[0] + ppp * x[1 + m] + dpp * l[m] * lx);
      oq[1 + m] += h * (sp * l[m] * y[0] + ppp * y[1 + m] + dpp * l[m] * ly);
    }
  }
  if (sp_splitting_ != 0.0)
    for (int k = 0; k < nw; ++k)
      for (int m = 1; m < NORB; ++m) out[NORB * k + m] += sp_splitting_ * v[NORB * k + m];
}

void SpMomentsBlock::accumulate_bilinear(int c, const double *x, const double *y, double scale)
{
  // d(x^T H y) per edge = X^T B Y with (X, Y) = (x_p, y_q) and (y_p, x_q).
  const int nc = hopping_.n_channels(), ne = n_edge_;
  constexpr double ss = ETA_SSS, sp = ETA_SPS, ppp = ETA_PPP, dpp = ETA_PPS - ETA_PPP;
  for (int e = 0; e < ne; ++e) {
    const int b = edge_bond[e];
    const double h = bonds_.hop[(size_t) b * nc + c], dh = bonds_.dhop[(size_t) b * nc + c];
    const double *l = &bonds_.unit[3 * (size_t) b];
    double bracket = 0.0, dl[3] = {0.0, 0.0, 0.0};
    for (int side = 0; side < 2; ++side) {
      const double *X = side == 0 ? x + NORB * edge_p[e] : y + NORB * edge_p[e];
      const double *Y = side == 0 ? y + NORB * edge_q[e] : x + NORB * edge_q[e];
      const double lX = l[0] * X[1] + l[1] * X[2] + l[2] * X[3];
      const double lY = l[0] * Y[1] + l[1] * Y[2] + l[2] * Y[3];
      const double XY = X[1] * Y[1] + X[2] * Y[2] + X[3] * Y[3];
      bracket += ss * X[0] * Y[0] + sp * (X[0] * lY - Y[0] * lX) + ppp * XY + dpp * lX * lY;
      for (int m = 0; m < 3; ++m)
        dl[m] += sp * (X[0] * Y[1 + m] - Y[0] * X[1 + m]) + dpp * (lY * X[1 + m] + lX * Y[1 + m]);
    }
    dE_dr_edge[e] += scale * bracket * dh;
    for (int m = 0; m < 3; ++m) dE_dl_edge[3 * (size_t) e + m] += scale * h * dl[m];
  }
}

void SpMomentsBlock::compute(Environment &env, double *features)
{
  const int nc = hopping_.n_channels();
  std::fill(features, features + n_features(), 0.0);
  walk(env);

  const int nw = n_walk_, levels = depth_ + 1;
  const size_t level_size = (size_t) nw * NORB, start_size = level_size * levels;
  sv.assign((size_t) nc * NORB * start_size, 0.0);
  sw.assign(sv.size(), 0.0);
  for (int c = 0; c < nc; ++c) {
    for (int o0 = 0; o0 < NORB; ++o0) {
      const int cls = o0 == 0 ? 0 : 1;    // s diagonal, or a term of the p trace
      double *vc = &sv[((size_t) c * NORB + o0) * start_size];
      double *wc = &sw[((size_t) c * NORB + o0) * start_size];
      vc[o0] = 1.0;    // the centre (walk node 0), orbital o0
      for (int a = 0; a <= depth_; ++a) {
        const double *va = vc + a * level_size;
        const bool need_next = a < depth_, need_odd = 2 * a + 1 <= n_max_;
        if (need_next || need_odd) {
          double *hv = wc + a * level_size;
          apply_h(c, va, hv);
          if (need_next) std::copy(hv, hv + level_size, vc + (a + 1) * level_size);
        }
        if (a == 0) continue;
        for (int k = 0; k < nw; ++k) {
          const double *vk = va + NORB * k;
          if (2 * a <= n_max_)
            features[sp_index(2 * a, c, cls, walk_species[k])] +=
                vk[0] * vk[0] + vk[1] * vk[1] + vk[2] * vk[2] + vk[3] * vk[3];
          if (need_odd) {
            const double *wk = wc + a * level_size + NORB * k;
            features[sp_index(2 * a + 1, c, cls, walk_species[k])] +=
                vk[0] * wk[0] + vk[1] * wk[1] + vk[2] * wk[2] + vk[3] * wk[3];
          }
        }
      }
    }
  }
}

void SpMomentsBlock::backprop(Environment &env, const double *dE_dG)
{
  const int nc = hopping_.n_channels();
  const int nw = n_walk_, ne = n_edge_, levels = depth_ + 1;
  const size_t level_size = (size_t) nw * NORB, start_size = level_size * levels;
  dE_dr_edge.assign(ne, 0.0);
  dE_dl_edge.assign(3 * (size_t) ne, 0.0);
  sgbar.resize(level_size);
  sgnext.resize(level_size);
  sx.resize(level_size);

  for (int c = 0; c < nc; ++c) {
    for (int o0 = 0; o0 < NORB; ++o0) {
      const int cls = o0 == 0 ? 0 : 1;
      const double *vc = &sv[((size_t) c * NORB + o0) * start_size];
      const double *wc = &sw[((size_t) c * NORB + o0) * start_size];
      // sgbar = dE/dv_a, swept from the deepest level down to level 1.
      std::fill(sgbar.begin(), sgbar.end(), 0.0);
      for (int a = depth_; a >= 1; --a) {
        const double *va = vc + a * level_size, *vprev = vc + (a - 1) * level_size;
        if (2 * a <= n_max_)
          for (int k = 0; k < nw; ++k) {
            const double beta = 2.0 * dE_dG[sp_index(2 * a, c, cls, walk_species[k])];
            for (int o = 0; o < NORB; ++o) sgbar[NORB * k + o] += beta * va[NORB * k + o];
          }
        if (2 * a + 1 <= n_max_) {
          // mu = v^T D H v: dv = D (H v) + H (D v); dH from (D v)^T H v.
          const double *wa = wc + a * level_size;
          for (int k = 0; k < nw; ++k) {
            const double beta = dE_dG[sp_index(2 * a + 1, c, cls, walk_species[k])];
            for (int o = 0; o < NORB; ++o) {
              sx[NORB * k + o] = beta * va[NORB * k + o];
              sgbar[NORB * k + o] += beta * wa[NORB * k + o];
            }
          }
          apply_h(c, sx.data(), sgbar.data());
          accumulate_bilinear(c, sx.data(), va, 1.0);
        }
        // Through v_a = H v_(a-1): dH from gbar^T H v_(a-1); gnext = H gbar.
        accumulate_bilinear(c, sgbar.data(), vprev, 1.0);
        std::fill(sgnext.begin(), sgnext.end(), 0.0);
        apply_h(c, sgbar.data(), sgnext.data());
        sgbar.swap(sgnext);
      }
    }
  }
  project_edge_gradients(env, dE_dr_edge.data(), dE_dl_edge.data());
}

std::unique_ptr<DescriptorBlock> read_moments_block(const Field &b, const Elements &elements)
{
  b.only_keys({"type", "n_max", "bond_cutoff", "r0", "decay_lengths", "orbitals", "sp_splitting"});
  const long n_max = b["n_max"].integer_in(2, 32);
  Hopping hopping = read_hopping(b, n_max, elements);
  const std::string orbitals = b.has("orbitals") ? b["orbitals"].str() : "s";
  if (orbitals != "s" && orbitals != "sp") b["orbitals"].fail("expected 's' or 'sp', got '" + orbitals + "'");
  double sp_splitting = 0.0;
  if (b.has("sp_splitting")) {
    if (orbitals == "s") b["sp_splitting"].fail("only meaningful with orbitals 'sp'");
    sp_splitting = b["sp_splitting"].number();
    if (std::fabs(sp_splitting) > 10.0) b["sp_splitting"].fail("must be within +-10");
  }
  if (orbitals == "s") return std::make_unique<MomentsBlock>((int) n_max, std::move(hopping));
  return std::make_unique<SpMomentsBlock>((int) n_max, std::move(hopping), sp_splitting);
}

}    // namespace tinynet
