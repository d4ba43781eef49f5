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
    inv_rb_.resize(n_pairs);
    for (size_t p = 0; p < n_pairs; ++p) {
      rbsq_[p] = rb_[p] * rb_[p];
      inv_rb_[p] = rb_[p] > 0.0 ? 1.0 / rb_[p] : 0.0;    // (never used for an unbonded pair)
    }
    for (double l : decay_) inv_decay_.push_back(1.0 / l);
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
    Vec4d inv_rb;
    for (int lane = 0; lane < 4; ++lane) {
      b.r[lane] = r[lane];
      b.r0[lane] = r0_[p[lane]];
      inv_rb[lane] = inv_rb_[p[lane]];
    }
    // cutoff_fn and cutoff_fn_deriv of r / rb, four at a time (times the
    // reciprocals: a vector division costs ~10 multiplications)
    const Vec4d x = b.r * inv_rb, x2 = x * x, x3 = x2 * x, zero = {};
    const Vec4d fc = 1.0 + x3 * (-10.0 + x * (15.0 - 6.0 * x)), dfc = x2 * (-30.0 + x * (60.0 - 30.0 * x));
    b.fc = x >= 1.0 ? zero : fc;
    b.dfc = x >= 1.0 ? zero : dfc * inv_rb;
    return b;
  }
  // h_c(r) and dh_c/dr of channel c for the four bonds.
  void channel(const Four &b, int c, Vec4d &h, Vec4d &dh) const
  {
    const double inv_decay = inv_decay_[c];
    const Vec4d e = fast_exp((b.r0 - b.r) * inv_decay);    // (libm's exp: 3x the instructions)
    h = e * b.fc;
    dh = e * (b.dfc - b.fc * inv_decay);
  }

 private:
  int n_species_ = 0;
  std::vector<double> rb_, r0_, rbsq_, inv_rb_;
  std::vector<double> decay_, inv_decay_;    // lambda_c per channel, 1 / lambda_c
  double max_rb_ = 0.0;
};

// Bonds (r < bond cutoff) of the nodes, with the hopping of each decay
// channel and its radial derivative. A node's row is computed the first time
// a walk reaches it in a step, then shared by the centres whose walks reach
// it (each bond lies in many neighbourhoods); far ghost atoms that no walk
// reaches cost nothing.
//
// Rows live in a ring of slots, not in one table for the whole step: the
// centres whose walks share a row are close in space, and hosts that keep
// atoms sorted in space (LAMMPS) visit them close together, so a ring that
// holds the rows of a few layers of atoms serves them all (a whole-step table
// was 23 MB of the 60 MB LAMMPS reported at 64 000 Si atoms). A row the ring
// has dropped is computed again, with the same values. The ring doubles at
// the next step when more than 1 row in 20 was computed twice, so an unsorted
// host ends up with a whole-step table, as before.
class BondTable {
 public:
  // Per slot. A row is contiguous; walks keep slot indices of this centre's
  // rows until its backprop, so rows reached by the current centre are never
  // overwritten (row() reports that the ring is too small instead).
  std::vector<int> partner;
  std::vector<double> unit;       // [slot][3], from node to partner (not in compact rows)
  std::vector<double> length;     // [slot] (not in compact rows)
  std::vector<double> hop;        // [slot][channel]
  std::vector<double> dhop;       // [slot][channel] dh/dr; in compact rows (dh/dr) / r
  // Compact rows (set at begin_step): partner, hop and dhop only, dhop
  // divided by the bond length, so that dhop (x_partner - x_node) is the
  // gradient of the hopping by the partner's position. For walks that know
  // the nodes' positions (the shallow moments kernel, from the environment):
  // 36 bytes a slot instead of 68 with two channels, and the ring's rows are
  // re-read from cache by every centre that reaches them.
  bool compact() const { return compact_; }

  // Slots of a new table's ring (tests make it tiny, to drop rows all the time).
  inline static size_t initial_slots = 8192;    // ~0.5 MB with two channels

  // Start loading the graph rows of u's listed neighbours: a walk from u
  // computes theirs (the first touch of a row in a step misses the cache).
  // Not inlined: GCC takes a function that only prefetches for one without
  // effects and deletes the calls (measured: MomentsBlock::prefetch was a bare ret).
#if defined(__GNUC__) && !defined(__clang__)
  __attribute__((noipa))
#endif
  static void prefetch_rows(const NeighborGraph &graph, int u)
  {
    int n_listed = 0;
    const int *listed = graph.bond_row(u, n_listed);
    for (int k = 0; k < n_listed; ++k) __builtin_prefetch(graph.list[listed[k] & graph.mask]);
  }
  // Once per step: forget last step's rows; grow the ring if it dropped too many.
  void begin_step(const NeighborGraph &graph, int n_channels, bool compact = false)
  {
    if (compact != compact_) {
      compact_ = compact;
      partner.clear();    // reallocated below, every old row unreachable
    }
    if (recomputed_ * 20 > computed_ + 20) capacity_ = 2 * capacity_;
    computed_ = recomputed_ = 0;
    if (row_pos_.size() < (size_t) graph.n_nodes) {
      row_pos_.resize(graph.n_nodes, -1);
      row_count_.resize(graph.n_nodes, 0);
    }
    step_begin_ = head_;
    allocate(n_channels);
  }
  // One centre's walk, `walk_once()`, reading rows with row(): run again
  // with a ring twice as large (every row dropped) for as long as the ring
  // cannot hold that centre's rows together.
  template <class Walk> void walk(Walk &&walk_once)
  {
    for (;;) {
      oldest_in_use_ = head_;    // no row in use yet
      if (walk_once()) return;
      capacity_ = 2 * capacity_;
      allocate(n_channels_);
    }
  }
  // Node u's row: its first slot and its length, computed if the ring does not
  // hold it. False if computing it would overwrite a row this centre uses.
  bool row(const NeighborGraph &graph, const Hopping &hopping, int u, int &first, int &count)
  {
    const long long pos = row_pos_[u];
    if (pos >= step_begin_ && pos >= written_ - (long long) capacity_) {
      oldest_in_use_ = std::min(oldest_in_use_, pos);
      first = (int) (pos % (long long) capacity_);
      count = row_count_[u];
      return true;
    }
    if (pos >= step_begin_) ++recomputed_;
    ++computed_;
    // A row never wraps around the end of the ring: skip to its start.
    int n_listed = 0;
    const int *listed = graph.bond_row(u, n_listed);
    if (n_listed > (int) capacity_) return false;
    long long start = head_;
    const long long offset = start % (long long) capacity_;
    if (offset + n_listed > (long long) capacity_) start += (long long) capacity_ - offset;
    if (start + n_listed - (long long) capacity_ > oldest_in_use_) return false;
    first = (int) (start % (long long) capacity_);
    count = compact_ ? fill<true>(graph, hopping, u, listed, n_listed, first)
                     : fill<false>(graph, hopping, u, listed, n_listed, first);
    row_pos_[u] = start;
    row_count_[u] = count;
    head_ = start + count;
    written_ = std::max(written_, start + n_listed);
    oldest_in_use_ = std::min(oldest_in_use_, start);
    return true;
  }
  double memory_bytes() const
  {
    return (double) row_pos_.capacity() * sizeof(long long) + (double) row_count_.capacity() * sizeof(int) +
        (double) partner.capacity() * sizeof(int) +
        (double) (unit.capacity() + length.capacity() + hop.capacity() + dhop.capacity()) * sizeof(double);
  }

 private:
  void allocate(int n_channels)
  {
    if (partner.size() == capacity_ && n_channels == n_channels_) return;
    n_channels_ = n_channels;
    partner.resize(capacity_);
    if (compact_) {
      unit = std::vector<double>();
      length = std::vector<double>();
    } else {
      unit.resize(3 * capacity_);
      length.resize(capacity_);
    }
    hop.resize(capacity_ * n_channels);
    dhop.resize(capacity_ * n_channels);
    head_ = step_begin_ = written_ = (written_ / (long long) capacity_ + 1) * (long long) capacity_;    // old rows unreachable
  }
  template <bool COMPACT>
  int fill(const NeighborGraph &graph, const Hopping &hopping, int u, const int *listed, int n_listed, int first);

  size_t capacity_ = initial_slots;    // slots; doubles as needed
  int n_channels_ = 0;
  bool compact_ = false;
  std::vector<double> row_r_;    // compact rows: one row's squared lengths, then lengths (scratch)
  std::vector<long long> row_pos_;    // per node: ring position of its row (monotone), -1 never
  std::vector<int> row_count_;
  // Ring positions only grow: the next row starts at head_; fill() writes a
  // slot for every listed neighbour, so slots up to written_ (beyond head_)
  // were overwritten too: a row is intact if it starts at or after
  // written_ - capacity_.
  long long head_ = 0, written_ = 0, step_begin_ = 0, oldest_in_use_ = 0;
  long long computed_ = 0, recomputed_ = 0;    // rows computed this step, of them again
};

// The bonds of node u (partners with a species this model handles, closer
// than the bond cutoff of their species pair, which is 0 for a pair that is
// never bonded), from the n_listed entries of its bond row (graph.bond_row:
// a centre's full list is ~3x longer), written from slot `first` on (room for
// every listed neighbour is there); returns their number.
template <bool COMPACT>
inline int BondTable::fill(const NeighborGraph &graph, const Hopping &hopping, int u, const int *listed,
                           int n_listed, int first)
{
  const int nc = hopping.n_channels();
  const int su = graph.species[u];
  if (su < 0) return 0;
  // Full rows: bond vectors and lengths in the slots. Compact rows: the
  // lengths in a scratch row (slot b at entry b - first), no vectors.
  if (COMPACT && row_r_.size() < (size_t) n_listed) row_r_.resize(n_listed);
  const int base = COMPACT ? first : 0;
  int *__restrict partner_ = partner.data();
  double *__restrict unit_ = unit.data();
  double *__restrict length_ = COMPACT ? row_r_.data() : length.data();
  double *__restrict hop_ = hop.data(), *__restrict dhop_ = dhop.data();
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
    partner_[n] = v;
    if constexpr (!COMPACT) {
      unit_[3 * (size_t) n] = dx;
      unit_[3 * (size_t) n + 1] = dy;
      unit_[3 * (size_t) n + 2] = dz;
    }
    length_[n - base] = rsq;
    n += rsq < rbsq[sv];
  }
  for (int b = first; b < n; ++b) length_[b - base] = std::sqrt(length_[b - base]);    // (one vector pass)
  if constexpr (!COMPACT)
    for (int b = first; b < n; ++b) {
      const double inv = 1.0 / length_[b];
      unit_[3 * (size_t) b] *= inv;
      unit_[3 * (size_t) b + 1] *= inv;
      unit_[3 * (size_t) b + 2] *= inv;
    }
  // The hoppings four bonds at a time (a short group repeats its last bond).
  for (int b0 = first; b0 < n; b0 += 4) {
    const int m = std::min(4, n - b0);
    int p[4];
    double r[4];
    for (int lane = 0; lane < 4; ++lane) {
      const int b = b0 + std::min(lane, m - 1);
      p[lane] = pair_row + graph.species[partner_[b]];
      r[lane] = length_[b - base];
    }
    const Hopping::Four bonds = hopping.four(p, r);
    for (int c = 0; c < nc; ++c) {
      Vec4d h, dh;
      hopping.channel(bonds, c, h, dh);
      if constexpr (COMPACT) dh /= bonds.r;    // (dh/dr) / r: see `dhop`
      for (int lane = 0; lane < m; ++lane) {
        hop_[(size_t) (b0 + lane) * nc + c] = h[lane];
        dhop_[(size_t) (b0 + lane) * nc + c] = dh[lane];
      }
    }
  }
  return n - first;
}

}    // namespace tinynet
