// Cycle block, "moments" kind (DESIGN: moments theorem), s or s+p orbitals.
#pragma once

#include "tinynet/descriptor.h"
#include "tinynet/hopping.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace tinynet {

// Two or four doubles as one value (GCC/Clang vector extension: one SSE or
// AVX register), the decay channels of a group.
using ChannelPair = double __attribute__((vector_size(2 * sizeof(double))));
using ChannelQuad = double __attribute__((vector_size(4 * sizeof(double))));

template <class G> constexpr int lanes_in = sizeof(G) / sizeof(double);

// The first n groups of a scratch buffer kept as quads whatever the group
// (grown if too short, its contents then lost).
template <class G> G *lanes_of(std::vector<ChannelQuad> &buf, size_t n)
{
  const size_t quads = (n * sizeof(G) + sizeof(ChannelQuad) - 1) / sizeof(ChannelQuad);
  if (buf.size() < quads) buf.resize(2 * quads);
  return reinterpret_cast<G *>(buf.data());
}

// The sum of a group's lanes (the channels' shares of one edge's dE/dr).
inline double lane_sum(ChannelPair a) { return a[0] + a[1]; }
inline double lane_sum(ChannelQuad a) { return (a[0] + a[1]) + (a[2] + a[3]); }

// grad[q] += g, grad[p] -= g ([node][3] gradients): g = dE/dx_q of a bond
// p -> q. x and y as one pair, then z (a loop over the three took ~50
// instructions an edge).
inline void add_bond_gradient(double *grad, int p, int q, const double g[3])
{
  double *gp = grad + 3 * (size_t) p, *gq = grad + 3 * (size_t) q;
  ChannelPair gxy, pxy, qxy;
  std::memcpy(&gxy, g, sizeof gxy);
  std::memcpy(&pxy, gp, sizeof pxy);
  std::memcpy(&qxy, gq, sizeof qxy);
  qxy += gxy;
  pxy -= gxy;
  std::memcpy(gq, &qxy, sizeof qxy);
  gq[2] += g[2];
  std::memcpy(gp, &pxy, sizeof pxy);
  gp[2] -= g[2];
}

// Cycle block, "moments" kind: [H_c^n]_ii split by the species of the path's
// middle node, by forward recursion v_a = H v_(a-1) over the sparse bond graph
// and one reverse sweep. Paths are never enumerated.
class MomentsBlock : public DescriptorBlock {
 public:
  MomentsBlock(int n_max, Hopping hopping);
  std::string type() const override { return "moments"; }
  int n_features() const override { return (n_max_ - 1) * hopping_.n_channels() * n_species_; }
  // the largest species-pair bond cutoff bounds every bond of a path
  double range() const override { return (n_max_ / 2) * hopping_.max_rb(); }
  double list_cutoff() const override { return hopping_.max_rb(); }
  double bond_cutoff() const override { return hopping_.max_rb(); }
  void prepare(const NeighborGraph &graph) override;
  void prefetch(const NeighborGraph &graph, int center) const override { BondTable::prefetch_rows(graph, center); }
  void compute(Environment &env, double *features) override;
  void backprop(Environment &env, const double *dE_dG) override;
  double memory_bytes() const override;
  // Off: every n_max takes the general walk (tests compare the two).
  inline static bool use_shallow_kernel = true;


 protected:
  // Whether this step's centres take the shallow kernel (n_max <= 4, s
  // orbitals), which reads compact bond rows (decided at prepare).
  virtual bool shallow() const;
  // Breadth-first walk over bonds from the centre to depth floor(n_max/2),
  // recording each edge once (to the next shell, and within a shell for odd
  // moments); fills walk_env, walk_species, edge_p/q/bond.
  void walk(Environment &env);
  bool walk_once(Environment &env);    // false: the bond ring was too small
  // Each edge's dE/d(bond length) and dE/d(unit vector) into node gradients.
  void project_edge_gradients(Environment &env, const double *dE_dr, const double *dE_dunit) const;
  int feature_index(int n, int c, int s) const
  {
    return ((n - 2) * hopping_.n_channels() + c) * n_species_ + s;
  }
  int n_max_, depth_, n_species_;
  Hopping hopping_;
  BondTable bonds_;
  const NeighborGraph *graph_ = nullptr;

  // scratch of the current centre (vectors may be longer than the counts)
  int n_walk_ = 0, n_edge_ = 0;       // walk nodes, edges
  std::vector<int> walk_env;          // walk node -> environment index
  std::vector<int> walk_species;
  std::vector<int> depth_of_env;      // environment index -> depth (-1: not reached)
  std::vector<int> walk_of_env;       // environment index -> walk node (-1: not reached)
  std::vector<int> edge_p, edge_q, edge_bond;    // walk-node pairs and their bond
  std::vector<int> edge_end_;         // [depth] edges whose first node p has depth <= d
  std::vector<int> node_end_;         // [depth] walk nodes of depth <= d (the walk is in depth order)
  std::vector<double> dE_dr_edge;     // [edge]
  // s orbitals: the channels side by side in groups, pairs (ChannelPair) for
  // one or two channels, quads (ChannelQuad) for three or four, the last
  // group padded with zero hoppings, so that every sweep over the edges and
  // nodes serves a whole group per index load. Kept as quads whatever the
  // group (lanes_of above).
  std::vector<ChannelQuad> v;         // [group][level 0..depth][walk node]
  std::vector<ChannelQuad> w;         // [group][level][walk node]: H v (odd moments)
  std::vector<ChannelQuad> gbar, gnext, beta;    // [walk node] dE/dv_a, next level, dE/dG of an odd moment
  std::vector<ChannelQuad> dE_dr_lanes;          // [edge] dE/dr of each lane
  std::vector<ChannelQuad> edge_h, edge_dh;      // [group][edge] hopping and dh/dr
  std::vector<ChannelQuad> species_sum_;         // [species] scratch of add_moment, species_features

 private:
  // Walk nodes of depth <= d (all of them beyond the deepest level).
  int reach(int d) const { return node_end_[std::min(d, depth_)]; }
  // G: ChannelPair or ChannelQuad, the channel group of the sweeps.
  template <class G> int channel_groups() const;
  template <class G> void compute_groups(double *features);
  template <class G> void backprop_groups(Environment &env, const double *dE_dG);
  template <class G> void gather_edge_hops();    // edge_h, edge_dh of the current walk
  // The channels of group cg of a bond's row in a bond-table array (hop or
  // dhop), 0 in the lanes beyond the last channel.
  template <class G> G hop_group(const std::vector<double> &table, int bond, int cg = 0) const;
  // dE/dG of moment n for the channels of group cg at middle-node species s (0 in a padding lane).
  template <class G> G feature_group(const double *dE_dG, int n, int cg, int s) const;
  // features of moment n, channels of group cg: += sum over walk nodes k < nw of x_k y_k.
  template <class G> void add_moment(const G *x, const G *y, int nw, int n, int cg, double *features);
  // scale * dE/dG of moment n, group cg, per middle-node species (in species_sum_).
  template <class G> const G *species_features(const double *dE_dG, int n, int cg, double scale);

  // n_max <= 4, at most four channels (moments_shallow.cpp): the centre's
  // bonds i-j and their bonds j-k instead of the general walk graph.
  bool walk_shallow_once(Environment &env);
  void compute_shallow_path(Environment &env, double *features);
  void backprop_shallow_path(Environment &env, const double *dE_dG);
  template <class G> void compute_shallow(Environment &env, double *features);
  template <class G> void backprop_shallow(Environment &env, const double *dE_dG);
  int n_first_ = 0, n_second_ = 0;
  std::vector<int> first_env_, first_bond_;                   // [bond i-j] env index of j, bond slot
  std::vector<int> second_from_, second_env_, second_bond_;   // [bond j-k] its i-j, env index of k, bond slot
  std::vector<ChannelQuad> shallow_v1_, shallow_v2_, shallow_g2_, shallow_via_;
};

template <class G>
inline G MomentsBlock::feature_group(const double *dE_dG, int n, int cg, int s) const
{
  constexpr int W = lanes_in<G>;
  const int c = W * cg;
  G f = {};
  for (int lane = 0; lane < W && c + lane < hopping_.n_channels(); ++lane) f[lane] = dE_dG[feature_index(n, c + lane, s)];
  return f;
}

template <class G>
inline G MomentsBlock::hop_group(const std::vector<double> &table, int bond, int cg) const
{
  constexpr int W = lanes_in<G>;
  const int nc = hopping_.n_channels(), c = W * cg, live = std::min(W, nc - c);
  const double *row = &table[(size_t) bond * nc + c];
  G h = {};
  if (live == W) {
    std::memcpy(&h, row, sizeof h);
  } else {
    for (int lane = 0; lane < live; ++lane) h[lane] = row[lane];
  }
  return h;
}

// Orbital moments (orbitals "sp"): every bond carries the 4x4 Slater-Koster
// block between {s, px, py, pz} of its two atoms,
//   H_ss = eta_sss h,  H_s,m = eta_sps l_m h,  H_m,s = -eta_sps l_m h,
//   H_m,n = (eta_ppp delta_mn + (eta_pps - eta_ppp) l_m l_n) h,
// with l the unit vector along the bond and h = h_c(r) the channel's hopping;
// optionally an on-site p level `sp_splitting` above s. Features per n,
// channel and middle-node species: the s diagonal [H^n]_(is,is) and the p
// trace sum_m [H^n]_(ipm,ipm), both rotation invariant; n = 4 p traces
// contain (l_ij . l_ik)^2, i.e. bond angles.
class SpMomentsBlock : public MomentsBlock {
 public:
  // Harrison's universal ratios (Solid State Table), fixed: the decay
  // channels and the network carry the freedom.
  static constexpr double ETA_SSS = -1.40, ETA_SPS = 1.84, ETA_PPS = 3.24, ETA_PPP = -0.81;

  SpMomentsBlock(int n_max, Hopping hopping, double sp_splitting);
  int n_features() const override { return 2 * MomentsBlock::n_features(); }
  void compute(Environment &env, double *features) override;
  void backprop(Environment &env, const double *dE_dG) override;

 protected:
  bool shallow() const override { return false; }    // (its walk reads the bonds' unit vectors)

 private:
  int sp_index(int n, int c, int orbital_class, int s) const
  {
    return (((n - 2) * hopping_.n_channels() + c) * 2 + orbital_class) * n_species_ + s;
  }
  // out[p] += B v[q], out[q] += B^T v[p] over the walk's edges (4 orbitals a node), plus on-site.
  void apply_h(int c, const double *v, double *out) const;
  // Accumulate dE/dh and dE/dl of x^T H y (x, y: 4 orbitals a node) into the edge buffers.
  void accumulate_bilinear(int c, const double *x, const double *y, double scale);

  double sp_splitting_;
  // [channel][start orbital 0..3][level][walk node][4]
  std::vector<double> sv, sw;
  std::vector<double> sgbar, sgnext, sx, dE_dh_edge, dE_dl_edge;
};

}    // namespace tinynet
