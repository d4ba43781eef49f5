// The moments block's kernel for n_max <= 4 (s orbitals, up to four decay
// channels): the fast preset's case. Closed walks of at most four hops never
// leave the second shell, so instead of the general walk graph with its depth
// levels and sweeps (moments.cpp) the centre's moments follow from
//   v1_j = h_ij (j bonded to i),  v2_k = (H v1)_k = sum_j h_ij h_jk,
//   [H^2]_ii = sum_j v1_j^2,  [H^3]_ii = sum_j v1_j v2_j,  [H^4]_ii = sum_k v2_k^2,
// each split by the species of the middle node (j or k, as the general path
// does). The walk records only the bonds i-j ("first hops") and j-k ("second
// hops"); k runs over every bond of j, the centre and i's other partners
// included. Same features and gradients as the general path to round-off
// (the block battery runs both).
#include "tinynet/blocks/moments.h"

#include <algorithm>

namespace tinynet {

namespace {

// dE/dx_q = s (x_q - x_p) for the bond p -> q (s: dE/dr over the bond's
// length), with the positions relative to the centre (env.rel): into the
// gradients of p and q.
inline void project(double *grad, const double *rel, int p, int q, double s)
{
  const double *xp = rel + 3 * (size_t) p, *xq = rel + 3 * (size_t) q;
  const double g[3] = {s * (xq[0] - xp[0]), s * (xq[1] - xp[1]), s * (xq[2] - xp[2])};
  add_bond_gradient(grad, p, q, g);
}

}    // namespace

bool MomentsBlock::shallow() const { return use_shallow_kernel && n_max_ <= 4 && hopping_.n_channels() <= 4; }

bool MomentsBlock::walk_shallow_once(Environment &env)
{
  // Env index of a partner node, added to the environment if the centre's
  // list does not hold it (v2 lives on the env indices).
  auto env_index = [&](int node) {
    const int e = env.index_of(node);
    return e >= 0 ? e : env.find_or_add(node);
  };
  n_first_ = n_second_ = 0;
  int begin = 0, count = 0;
  if (!bonds_.row(*graph_, hopping_, env.node[0], begin, count)) return false;
  if ((int) first_env_.size() < count) {
    first_env_.resize(2 * count);
    first_bond_.resize(2 * count);
  }
  for (int b = begin; b < begin + count; ++b) {
    const int j = env_index(bonds_.partner[b]);
    first_env_[n_first_] = j;
    first_bond_[n_first_] = b;
    ++n_first_;
  }
  if (n_max_ < 3) return true;
  for (int t = 0; t < n_first_; ++t) {
    if (!bonds_.row(*graph_, hopping_, env.node[first_env_[t]], begin, count)) return false;
    if ((int) second_env_.size() < n_second_ + count) {
      second_from_.resize(2 * (n_second_ + count));
      second_env_.resize(2 * (n_second_ + count));
      second_bond_.resize(2 * (n_second_ + count));
    }
    for (int b = begin; b < begin + count; ++b) {
      second_from_[n_second_] = t;
      second_env_[n_second_] = env_index(bonds_.partner[b]);
      second_bond_[n_second_] = b;
      ++n_second_;
    }
  }
  return true;
}

template <class G>
void MomentsBlock::compute_shallow(Environment &env, double *features)
{
  const int nc = hopping_.n_channels(), n_env = env.size();
  G *v1 = lanes_of<G>(shallow_v1_, n_first_), *v2 = lanes_of<G>(shallow_v2_, n_env);
  // v2 over the whole environment (zero where no walk ends): whole-array
  // sweeps instead of a list of the touched entries and its marks.
  std::fill_n(v2, n_env, G{});
  for (int t = 0; t < n_first_; ++t) v1[t] = hop_group<G>(bonds_.hop, first_bond_[t]);
  for (int u = 0; u < n_second_; ++u) v2[second_env_[u]] += v1[second_from_[u]] * hop_group<G>(bonds_.hop, second_bond_[u]);

  // Per species of the middle node, then into the features.
  G *sum = lanes_of<G>(species_sum_, 3 * (size_t) n_species_);    // [moment 2, 3, 4][species]
  std::fill_n(sum, 3 * n_species_, G{});
  const int *species = env.species.data();
  for (int t = 0; t < n_first_; ++t) {
    const int j = first_env_[t], s = species[j];
    sum[s] += v1[t] * v1[t];
    sum[n_species_ + s] += v1[t] * v2[j];
  }
  if (n_max_ >= 4 && n_species_ == 1) {    // (a register sum, not a store-to-load chain through sum)
    G sum4 = {};
    for (int e = 0; e < n_env; ++e) sum4 += v2[e] * v2[e];
    sum[2] += sum4;
  } else if (n_max_ >= 4) {
    for (int e = 0; e < n_env; ++e) sum[2 * n_species_ + species[e]] += v2[e] * v2[e];
  }
  for (int n = 2; n <= n_max_; ++n)
    for (int s = 0; s < n_species_; ++s)
      for (int c = 0; c < nc; ++c) features[feature_index(n, c, s)] = sum[(n - 2) * n_species_ + s][c];
}

template <class G>
void MomentsBlock::backprop_shallow(Environment &env, const double *dE_dG)
{
  // With a_n[s] = dE/d[H^n]_ii of middle species s:
  //   dE/dv2_k = 2 a4 v2_k (+ a3 v1_k for k bonded to i),
  //   dE/dv1_j = 2 a2 v1_j + a3 v2_j,
  //   dE/dh_jk = dE/dv2_k v1_j (second hop),  dE/dh_ij = dE/dv1_j + sum_k dE/dv2_k h_jk.
  const int n_env = env.size();
  const G *v1 = lanes_of<G>(shallow_v1_, n_first_), *v2 = lanes_of<G>(shallow_v2_, n_env);
  G *g2 = lanes_of<G>(shallow_g2_, n_env), *via = lanes_of<G>(shallow_via_, n_first_);
  G *a = lanes_of<G>(species_sum_, 3 * (size_t) n_species_);    // [moment 2, 3, 4][species]
  for (int n = 2; n <= 4; ++n)
    for (int s = 0; s < n_species_; ++s) a[(n - 2) * n_species_ + s] = n <= n_max_ ? feature_group<G>(dE_dG, n, 0, s) : G{};
  const G *a2 = a, *a3 = a + n_species_, *a4 = a + 2 * n_species_;
  const int *species = env.species.data();
  if (n_species_ == 1) {
    const G two_a4 = 2.0 * a4[0];
    for (int e = 0; e < n_env; ++e) g2[e] = two_a4 * v2[e];
  } else {
    for (int e = 0; e < n_env; ++e) g2[e] = 2.0 * a4[species[e]] * v2[e];
  }
  for (int t = 0; t < n_first_; ++t) {
    const int j = first_env_[t];
    g2[j] += a3[species[j]] * v1[t];
    via[t] = 2.0 * a2[species[j]] * v1[t] + a3[species[j]] * v2[j];
  }
  // (compact bond rows: dhop is (dh/dr) / r)
  double *grad = env.grad.data();
  const double *rel = env.rel.data();
  for (int u = 0; u < n_second_; ++u) {
    const int t = second_from_[u], k = second_env_[u], b = second_bond_[u];
    const G dh = hop_group<G>(bonds_.dhop, b);
    project(grad, rel, first_env_[t], k, lane_sum(g2[k] * v1[t] * dh));
    via[t] += g2[k] * hop_group<G>(bonds_.hop, b);
  }
  for (int t = 0; t < n_first_; ++t) {
    const int b = first_bond_[t];
    project(grad, rel, 0, first_env_[t], lane_sum(via[t] * hop_group<G>(bonds_.dhop, b)));
  }
}

void MomentsBlock::compute_shallow_path(Environment &env, double *features)
{
  bonds_.walk([&] { return walk_shallow_once(env); });
  if (hopping_.n_channels() > 2) compute_shallow<ChannelQuad>(env, features);
  else compute_shallow<ChannelPair>(env, features);
}

void MomentsBlock::backprop_shallow_path(Environment &env, const double *dE_dG)
{
  if (hopping_.n_channels() > 2) backprop_shallow<ChannelQuad>(env, dE_dG);
  else backprop_shallow<ChannelPair>(env, dE_dG);
}

}    // namespace tinynet
