// Bond hoppings shared by the blocks that walk the bond graph (DESIGN.md
// section 2): h_c(r) = exp(-(r - r0)/lambda_c) fc(r/r_b), one per decay
// channel c, with r_b and r0 per species pair, and the lazily filled bond
// table that holds them.
#pragma once

#include "tinynet/descriptor.h"
#include "tinynet/fast_exp.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace tinynet {

class Hopping {
 public:
  Hopping() = default;
  // rb, r0: S x S species-pair tables (pair (s, t) at s * S + t), symmetric;
  // rb 0: the pair is never bonded.
  Hopping(int n_species, std::vector<double> rb, std::vector<double> r0, std::vector<double> decay) :
      n_species_(n_species), rb_(std::move(rb)), r0_(std::move(r0)), decay_(std::move(decay))
  {
    const size_t n_pairs = (size_t) n_species * n_species;
    if (n_species < 1 || rb_.size() != n_pairs || r0_.size() != n_pairs)
      throw std::invalid_argument("hopping: bond_cutoff and r0 need one value per species pair");
    if (decay_.empty()) throw std::invalid_argument("hopping: decay_lengths is empty");
    for (double l : decay_)
      if (!(l > 0.0)) throw std::invalid_argument("hopping: decay lengths must be > 0");
    for (int s = 0; s < n_species; ++s)
      for (int t = 0; t < n_species; ++t) {
        const size_t st = pair(s, t), ts = pair(t, s);
        if (!(rb_[st] >= 0.0)) throw std::invalid_argument("hopping: bond_cutoff must be >= 0");
        if (rb_[st] != rb_[ts] || r0_[st] != r0_[ts])
          throw std::invalid_argument("hopping: species-pair tables must be symmetric");
      }
    rbsq_.resize(n_pairs);
    for (size_t p = 0; p < n_pairs; ++p) rbsq_[p] = rb_[p] * rb_[p];
    max_rb_ = *std::max_element(rb_.begin(), rb_.end());
    if (!(max_rb_ > 0.0)) throw std::invalid_argument("hopping: no species pair is bonded");
  }

  int n_species() const { return n_species_; }
  int n_channels() const { return (int) decay_.size(); }
  int pair(int s, int t) const { return s * n_species_ + t; }
  double max_rb() const { return max_rb_; }    // the walk's bond and list cutoff
  const double *rbsq_row(int s) const { return &rbsq_[(size_t) s * n_species_]; }

  // Four bonds at once (one exp per channel for all four): species pairs
  // p[lane] = pair(s, t) at distances r[lane] < rb(s, t).
  struct Four {
    Vec4d r, r0, fc, dfc;    // distance, r0, cutoff function and its r-derivative
  };
  Four four(const int p[4], const double r[4]) const
  {
    Four b;
    Vec4d rb;
    for (int lane = 0; lane < 4; ++lane) {
      b.r[lane] = r[lane];
      b.r0[lane] = r0_[p[lane]];
      rb[lane] = rb_[p[lane]];
    }
    // cutoff_fn and cutoff_fn_deriv of r / rb, four at a time
    const Vec4d x = b.r / rb, x2 = x * x, x3 = x2 * x, zero = {};
    const Vec4d fc = 1.0 + x3 * (-10.0 + x * (15.0 - 6.0 * x)), dfc = x2 * (-30.0 + x * (60.0 - 30.0 * x));
    b.fc = x >= 1.0 ? zero : fc;
    b.dfc = x >= 1.0 ? zero : dfc / rb;
    return b;
  }
  // h_c(r) and dh_c/dr of channel c for the four bonds.
  void channel(const Four &b, int c, Vec4d &h, Vec4d &dh) const
  {
    const Vec4d e = fast_exp(-(b.r - b.r0) / decay_[c]);    // (libm's exp: 3x the instructions)
    h = e * b.fc;
    dh = e * (b.dfc - b.fc / decay_[c]);
  }

 private:
  int n_species_ = 0;
  std::vector<double> rb_, r0_, rbsq_;
  std::vector<double> decay_;    // lambda_c per channel
  double max_rb_ = 0.0;
};

// Forget last step's rows (capacity is kept).
inline void reset_bond_table(BondTable &t, const NeighborGraph &graph)
{
  t.row_start.assign(graph.n_nodes, -1);
  t.row_count.resize(graph.n_nodes);
  t.n_slots = 0;
}

// The bonds of node u (partners with a species this model handles, closer
// than the bond cutoff of their species pair, which is 0 for a pair that is
// never bonded), appended to the table.
inline void fill_bond_row(BondTable &t, const NeighborGraph &graph, const Hopping &hopping, int u)
{
  const int nc = hopping.n_channels();
  const int first = t.n_slots;
  const int su = graph.species[u];
  t.row_start[u] = first;
  t.row_count[u] = 0;
  if (su < 0) return;
  // The bond list where the host gives one (a centre's full list is ~3x longer).
  int n_listed = 0;
  const int *listed = graph.bond_row(u, n_listed);
  // Room for every listed neighbour, then plain stores (a push_back per value
  // was an out-of-line call: ~0.9k instructions an atom-step, callgrind).
  const size_t need = (size_t) first + n_listed;
  if (t.partner.size() < need) {
    const size_t slots = 2 * need;
    t.partner.resize(slots);
    t.unit.resize(3 * slots);
    t.length.resize(slots);
    t.hop.resize(slots * nc);
    t.dhop.resize(slots * nc);
  }
  int *__restrict partner = t.partner.data();
  double *__restrict unit = t.unit.data(), *__restrict length = t.length.data();
  double *__restrict hop = t.hop.data(), *__restrict dhop = t.dhop.data();
  const double *rbsq = hopping.rbsq_row(su);    // by the partner's species
  const int pair_row = hopping.pair(su, 0);
  const double *xu = graph.x + 3 * u;
  int n = first;
  for (int k = 0; k < n_listed; ++k) {
    const int v = listed[k] & graph.mask;
    const int sv = graph.species[v];
    if (v == u || sv < 0) continue;
    const double *xv = graph.x + 3 * v;
    const double dx = xv[0] - xu[0], dy = xv[1] - xu[1], dz = xv[2] - xu[2];
    const double rsq = dx * dx + dy * dy + dz * dz;
    // Written always, kept if bonded: which of the ~16 listed are the bonds
    // is unpredictable in list order (a branch here mispredicted ~5 times a row).
    partner[n] = v;
    unit[3 * (size_t) n] = dx;
    unit[3 * (size_t) n + 1] = dy;
    unit[3 * (size_t) n + 2] = dz;
    length[n] = rsq;
    n += rsq < rbsq[sv];
  }
  for (int b = first; b < n; ++b) {
    const double r = std::sqrt(length[b]), inv = 1.0 / r;
    length[b] = r;
    unit[3 * (size_t) b] *= inv;
    unit[3 * (size_t) b + 1] *= inv;
    unit[3 * (size_t) b + 2] *= inv;
  }
  // The hoppings four bonds at a time (a short group repeats its last bond).
  for (int b0 = first; b0 < n; b0 += 4) {
    const int m = std::min(4, n - b0);
    int p[4];
    double r[4];
    for (int lane = 0; lane < 4; ++lane) {
      const int b = b0 + std::min(lane, m - 1);
      p[lane] = pair_row + graph.species[partner[b]];
      r[lane] = length[b];
    }
    const Hopping::Four bonds = hopping.four(p, r);
    for (int c = 0; c < nc; ++c) {
      Vec4d h, dh;
      hopping.channel(bonds, c, h, dh);
      for (int lane = 0; lane < m; ++lane) {
        hop[(size_t) (b0 + lane) * nc + c] = h[lane];
        dhop[(size_t) (b0 + lane) * nc + c] = dh[lane];
      }
    }
  }
  t.row_count[u] = n - first;
  t.n_slots = n;
}

// u's bond row, filled the first time u is reached in a step (the test
// inline: most calls find the row there, and a call cost ~90 instructions).
inline void ensure_bond_row(BondTable &t, const NeighborGraph &graph, const Hopping &hopping, int u)
{
  if (t.row_start[u] < 0) fill_bond_row(t, graph, hopping, u);
}

inline double bond_table_bytes(const BondTable &t)
{
  return (double) (t.row_start.capacity() + t.row_count.capacity() + t.partner.capacity()) * sizeof(int) +
      (double) (t.unit.capacity() + t.length.capacity() + t.hop.capacity() + t.dhop.capacity()) * sizeof(double);
}

}    // namespace tinynet
