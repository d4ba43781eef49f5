#include "tinynet/blocks/eann.h"

#include "../block_registry.h"
#include "tinynet/fast_exp.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace tinynet {

namespace {

// CHUNK neighbours as one value (GCC/Clang vector extension, one AVX2 register).
using Vec = Vec4d;
static_assert(EannBlock::CHUNK == 4, "Vec holds CHUNK doubles");

inline Vec load(const double *p)
{
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store(double *p, Vec v) { std::memcpy(p, &v, sizeof v); }

// (not Vec{} + a: adding +0.0 is no identity for -0.0, so that costs an add)
inline Vec splat(double a) { return Vec{a, a, a, a}; }

// The sums of the lanes of a, b, c and d, as one vector.
inline Vec hsum4(Vec a, Vec b, Vec c, Vec d)
{
  const Vec ab = __builtin_shuffle(a, b, Vec4i{0, 4, 2, 6}) + __builtin_shuffle(a, b, Vec4i{1, 5, 3, 7});
  const Vec cd = __builtin_shuffle(c, d, Vec4i{0, 4, 2, 6}) + __builtin_shuffle(c, d, Vec4i{1, 5, 3, 7});
  return __builtin_shuffle(ab, cd, Vec4i{0, 1, 4, 5}) + __builtin_shuffle(ab, cd, Vec4i{2, 3, 6, 7});
}

// The monomials of degree <= LMAX in the block's order (degree ascending,
// then lx descending, then ly descending) as compile-time tables: the kernels
// are instantiated for l_max 1..3 so that their loops over monomials unroll
// into straight-line code; LMAX = -1 is the general path on the block's own
// (run-time) tables.
template <int LMAX>
struct MonomialTable {
  static constexpr int N = (LMAX + 1) * (LMAX + 2) * (LMAX + 3) / 6;
  int l[3][N] = {};        // exponents lx, ly, lz
  int degree[N] = {};
  double weight[N] = {};   // L!/(lx! ly! lz!)
  int parent[N] = {};      // m >= 1: monomial parent[m] times coordinate axis[m] is m
  int axis[N] = {};
  int down[3][N] = {};     // the monomial with l[a] lowered by one (where l[a][m] > 0)

  constexpr int index(int a, int b, int c) const
  {
    for (int m = 0; m < N; ++m)
      if (l[0][m] == a && l[1][m] == b && l[2][m] == c) return m;
    return -1;
  }
  constexpr MonomialTable()
  {
    double factorial[LMAX + 1] = {};
    factorial[0] = 1.0;
    for (int a = 1; a <= LMAX; ++a) factorial[a] = factorial[a - 1] * a;
    int n = 0;
    for (int L = 0; L <= LMAX; ++L)
      for (int a = L; a >= 0; --a)
        for (int b = L - a; b >= 0; --b) {
          l[0][n] = a;
          l[1][n] = b;
          l[2][n] = L - a - b;
          degree[n] = L;
          weight[n] = factorial[L] / (factorial[a] * factorial[b] * factorial[L - a - b]);
          ++n;
        }
    for (int m = 1; m < N; ++m) {
      const int a = l[0][m], b = l[1][m], c = l[2][m];
      if (a > 0) down[0][m] = index(a - 1, b, c);
      if (b > 0) down[1][m] = index(a, b - 1, c);
      if (c > 0) down[2][m] = index(a, b, c - 1);
      axis[m] = a > 0 ? 0 : (b > 0 ? 1 : 2);
      parent[m] = down[axis[m]][m];
    }
  }
};

// The accumulators of T per Gaussian: at most this many monomials at once
// (16 vector registers).
constexpr int T_GROUP = 12;

}    // namespace

// ---------------------------------------------------------------------------
// Set-up: monomial tables, species pairs, the Gaussian recurrence
// ---------------------------------------------------------------------------

EannBlock::EannBlock(double cutoff, std::vector<double> centers, double alpha, int l_max,
                     int n_species) :
    rc_(cutoff), alpha_(alpha), centers_(std::move(centers)), l_max_(l_max), n_species_(n_species)
{
  if (!(rc_ > 0.0)) throw std::invalid_argument("eann block: cutoff must be > 0");
  if (!(alpha_ > 0.0)) throw std::invalid_argument("eann block: alpha must be > 0");
  if (centers_.empty()) throw std::invalid_argument("eann block: centers is empty");
  if (l_max_ < 0 || l_max_ > 8) throw std::invalid_argument("eann block: l_max must be in 0..8");
  if (n_species_ < 1) throw std::invalid_argument("eann block: need at least one species");
  n_centers_ = (int) centers_.size();

  // Monomials of degree L, lx descending then ly descending; index_of[lx][ly][lz].
  const int nl = l_max_ + 1;
  std::vector<int> index_of(nl * nl * nl, -1);
  auto at = [nl](int a, int b, int c) { return (a * nl + b) * nl + c; };
  std::vector<double> factorial(nl, 1.0);
  for (int a = 1; a < nl; ++a) factorial[a] = factorial[a - 1] * a;
  for (int L = 0; L <= l_max_; ++L) {
    mono_start_.push_back((int) lx_.size());
    for (int a = L; a >= 0; --a)
      for (int b = L - a; b >= 0; --b) {
        const int c = L - a - b;
        index_of[at(a, b, c)] = (int) lx_.size();
        lx_.push_back(a);
        ly_.push_back(b);
        lz_.push_back(c);
        degree_.push_back(L);
        weight_.push_back(factorial[L] / (factorial[a] * factorial[b] * factorial[c]));
      }
  }
  n_mono_ = (int) lx_.size();
  mono_start_.push_back(n_mono_);
  stride_ = (n_mono_ + 3) / 4 * 4;
  // Each monomial of degree >= 1 is a lower one times x, y or z; and its
  // derivative along an axis it contains is l_axis times the lowered monomial.
  parent_.assign(n_mono_, 0);
  parent_axis_.assign(n_mono_, 0);
  for (int m = 1; m < n_mono_; ++m) {
    const int a = lx_[m], b = ly_[m], c = lz_[m];
    if (a > 0) deriv_[0].push_back({m, index_of[at(a - 1, b, c)], (double) a});
    if (b > 0) deriv_[1].push_back({m, index_of[at(a, b - 1, c)], (double) b});
    if (c > 0) deriv_[2].push_back({m, index_of[at(a, b, c - 1)], (double) c});
    parent_axis_[m] = a > 0 ? 0 : (b > 0 ? 1 : 2);
    parent_[m] = deriv_[parent_axis_[m]].back().down;
  }

  // Unordered species pairs in the order of tinynet.blocks.species_pairs.
  for (int s = 0; s < n_species_; ++s)
    for (int t = s; t < n_species_; ++t) {
      pair_first_.push_back(s);
      pair_second_.push_back(t);
    }
  n_pairs_ = (int) pair_first_.size();

  // Evenly spaced centres u_k = c_0 + k delta give the recurrence
  // phi_(k+1) = phi_k ratio_k; centres off that grid by e_k (such as centres
  // rounded to a few decimals) get the factor
  //   exp(-alpha (r - c_k)^2) / exp(-alpha (r - u_k)^2) = exp(t),
  //   t = 2 alpha e_k (r - u_k) - alpha e_k^2,
  // by its Taylor series to t^4, exact to round-off (< 1e-17) while |t| <= 1e-3
  // for every r in [0, cutoff]. Otherwise one exp per Gaussian. Also not where
  // an exp() argument along the recurrence could under- or overflow.
  if (n_centers_ > 1) {
    delta_ = (centers_.back() - centers_.front()) / (n_centers_ - 1);
    recurrence_ = delta_ > 0.0;
    const double far = std::max(std::fabs(centers_[0]), std::fabs(rc_ - centers_[0]));
    if (alpha_ * far * far > 300.0 || 2.0 * alpha_ * delta_ * far > 300.0) recurrence_ = false;
    ratio_step_ = std::exp(-2.0 * alpha_ * delta_ * delta_);
    for (int k = 0; k < n_centers_ && recurrence_; ++k) {
      const double u = centers_[0] + k * delta_, e = centers_[k] - u;
      const double t_max = 2.0 * alpha_ * std::fabs(e) * std::max(std::fabs(u), std::fabs(rc_ - u)) +
          alpha_ * e * e;
      if (!(t_max <= 1e-3)) recurrence_ = false;
      off_grid_slope_.push_back(2.0 * alpha_ * e);
      off_grid_offset_.push_back(-2.0 * alpha_ * e * u - alpha_ * e * e);
      off_grid_ |= e != 0.0;
    }
  }

  block_ = (F_BASIS + 2 * n_centers_ + n_mono_ + 3) * CHUNK;
  T.assign((size_t) n_species_ * n_centers_ * stride_, 0.0);
  dE_dT.assign(T.size(), 0.0);
  seg_begin_.assign(n_species_, 0);
  seg_count_.assign(n_species_, 0);
  cursor_.assign(n_species_, 0);
  cvec_.assign((size_t) n_mono_ * CHUNK, 0.0);
}

double EannBlock::memory_bytes() const
{
  return (double) (in_range_.capacity() + env_index_.capacity()) * sizeof(int) +
      (double) (T.capacity() + dE_dT.capacity() + cols_.capacity() + cvec_.capacity()) *
      sizeof(double);
}

// ---------------------------------------------------------------------------
// Columns: one per neighbour within the cutoff, grouped by species
// ---------------------------------------------------------------------------

void EannBlock::gather(const Environment &env)
{
  const int n_env = env.size();
  // Room for every environment entry, each species padded (the columns only grow).
  const int most = n_env + n_species_ * CHUNK;
  if (cap_ < most) {
    cap_ = most + 4 * CHUNK;
    env_index_.resize(cap_);
    cols_.resize((size_t) cap_ / CHUNK * block_);
  }
  const double *dist = env.dist.data(), *rel = env.rel.data();
  const int *species = env.species.data();
  const double rc = rc_;
  int *__restrict index = env_index_.data();
  double *__restrict cols = cols_.data();
  const int block = block_;
  auto at = [cols, block](unsigned c, int field) {
    return cols + (size_t) (c / CHUNK) * block + field * CHUNK + c % CHUNK;
  };
  // Environment entry j into lane `lane` of the chunk at col.
  auto fields = [&](double *__restrict col, int lane, int j) {
    col[F_R * CHUNK + lane] = dist[j];
    col[F_X * CHUNK + lane] = rel[3 * j];
    col[F_Y * CHUNK + lane] = rel[3 * j + 1];
    col[F_Z * CHUNK + lane] = rel[3 * j + 2];
  };
  if (n_species_ == 1) {    // columns in environment order
    // The entries within the cutoff (kept or overwritten: no branch), then
    // their fields chunk by chunk (a column's address once per chunk).
    int n = 0;
    for (int j = 1; j < n_env; ++j) {
      index[n] = j;
      n += dist[j] < rc;
    }
    int c0 = 0;
    for (double *__restrict col = cols; c0 + CHUNK <= n; c0 += CHUNK, col += block) {
#pragma GCC unroll 4
      for (int lane = 0; lane < CHUNK; ++lane) fields(col, lane, index[c0 + lane]);
    }
    for (int c = c0; c < n; ++c) fields(cols + (size_t) (c0 / CHUNK) * block, c - c0, index[c]);
    seg_begin_[0] = 0;
    seg_count_[0] = cursor_[0] = n;
  } else {    // the neighbours counted by species first, for the segments
    if ((int) in_range_.size() < n_env) in_range_.resize(n_env);
    int *in_range = in_range_.data();
    int n = 0;
    std::fill(seg_count_.begin(), seg_count_.end(), 0);
    for (int j = 1; j < n_env; ++j)
      if (dist[j] < rc) {
        in_range[n++] = j;
        ++seg_count_[species[j]];
      }
    for (int s = 0, columns = 0; s < n_species_; ++s) {
      seg_begin_[s] = cursor_[s] = columns;
      columns += (seg_count_[s] + CHUNK - 1) / CHUNK * CHUNK;
    }
    for (int t = 0; t < n; ++t) {
      const int j = in_range[t], c = cursor_[species[j]]++;
      index[c] = j;
      fields(cols + (size_t) (c / CHUNK) * block, c % CHUNK, j);
    }
  }
  const int last = n_species_ - 1;
  columns_ = seg_begin_[last] + (seg_count_[last] + CHUNK - 1) / CHUNK * CHUNK;
  // Padding: at the cutoff, where fc, dfc and so every basis function are 0.
  for (int s = 0; s < n_species_; ++s)
    for (int c = cursor_[s]; c % CHUNK != 0; ++c) {
      index[c] = -1;
      *at(c, F_R) = rc;
      *at(c, F_X) = *at(c, F_Y) = *at(c, F_Z) = 0.0;
    }
}

template <int NK, bool OFF_GRID>
void EannBlock::radial_rows()
{
  // NK > 0: the number of centres at compile time (the Gaussian loop
  // unrolled). Centres on the even grid get the off-grid factor too when any
  // centre is off it: t = 0 there, a factor of exactly 1 (no test per centre).
  const int nk = NK > 0 ? NK : n_centers_, block = block_, n_chunks = columns_ / CHUNK;
  const double *centre = centers_.data();
  const Vec one = splat(1.0), zero = {};
  const double inv_rc = 1.0 / rc_, alpha = alpha_, minus_alpha = -alpha_, two_alpha = 2.0 * alpha_;
  const double delta = delta_, step = ratio_step_;
  const double *slope = off_grid_slope_.data(), *offset = off_grid_offset_.data();
  for (int q = 0; q < n_chunks; ++q) {
    double *__restrict col = &cols_[(size_t) q * block];
    double *__restrict basis = col + F_BASIS * CHUNK, *__restrict dbasis = basis + nk * CHUNK;
    const Vec r = load(col + F_R * CHUNK), x = r * inv_rc;
    const Vec x2 = x * x, x3 = x2 * x;
    Vec fc = 1.0 + x3 * (-10.0 + x * (15.0 - 6.0 * x));
    Vec dfc = x2 * (-30.0 + x * (60.0 - 30.0 * x)) * inv_rc;
    fc = x < one ? fc : zero;
    dfc = x < one ? dfc : zero;
    if (recurrence_) {
      const Vec dr0 = r - centre[0];
      Vec phi = fast_exp(minus_alpha * dr0 * dr0);
      Vec ratio = fast_exp(alpha * delta * (2.0 * dr0 - delta));
#pragma GCC unroll 16
      for (int k = 0; k < nk; ++k) {
        if (k > 0) {
          phi *= ratio;
          ratio *= step;
        }
        Vec p = phi;
        if constexpr (OFF_GRID) {    // off the even grid: times exp(t), |t| <= 1e-3
          const Vec t = slope[k] * r + offset[k];
          p *= 1.0 + t * (1.0 + t * (0.5 + t * (1.0 / 6.0 + t * (1.0 / 24.0))));
        }
        const Vec dr = r - centre[k];
        store(basis + k * CHUNK, p * fc);
        store(dbasis + k * CHUNK, p * (dfc - two_alpha * dr * fc));
      }
    } else {
      for (int k = 0; k < nk; ++k) {
        const Vec dr = r - centre[k];
        const Vec phi = fast_exp(minus_alpha * dr * dr);
        store(basis + k * CHUNK, phi * fc);
        store(dbasis + k * CHUNK, phi * (dfc - two_alpha * dr * fc));
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Forward: monomials of the columns, T per species as products of the basis
// and monomial rows, then the species-pair contractions
// ---------------------------------------------------------------------------

void EannBlock::compute(Environment &env, double *features)
{
  gather(env);
  with_centres([this](auto nk) {
    if (off_grid_) radial_rows<decltype(nk)::value, true>();
    else radial_rows<decltype(nk)::value, false>();
  });
  switch (l_max_) {
    case 1: compute_lmax<1>(features); break;
    case 2: compute_lmax<2>(features); break;
    case 3: compute_lmax<3>(features); break;
    default: compute_lmax<-1>(features); break;
  }
}

template <int LMAX>
void EannBlock::compute_lmax(double *features)
{
  using Tab = MonomialTable<LMAX < 0 ? 0 : LMAX>;
  static constexpr Tab tab;
  const int nk = n_centers_, nm = LMAX >= 0 ? (Tab::N + 3) / 4 * 4 : stride_, block = block_;
  const int n_mono = LMAX >= 0 ? Tab::N : n_mono_, n_chunks = columns_ / CHUNK;
  const int f_mono = F_BASIS + 2 * nk;

  // Monomials of every column.
  for (int q = 0; q < n_chunks; ++q) {
    double *__restrict col = &cols_[(size_t) q * block];
    double *__restrict mono = col + f_mono * CHUNK;
    if constexpr (LMAX >= 0) {
      const Vec xyz[3] = {load(col + F_X * CHUNK), load(col + F_Y * CHUNK), load(col + F_Z * CHUNK)};
      Vec M[Tab::N];
      M[0] = splat(1.0);
#pragma GCC unroll 64
      for (int m = 1; m < Tab::N; ++m) M[m] = M[tab.parent[m]] * xyz[tab.axis[m]];
#pragma GCC unroll 64
      for (int m = 0; m < Tab::N; ++m) store(mono + m * CHUNK, M[m]);
    } else {
      store(mono, splat(1.0));
      for (int m = 1; m < n_mono; ++m)
        store(mono + m * CHUNK,
              load(mono + parent_[m] * CHUNK) * load(col + (F_X + parent_axis_[m]) * CHUNK));
    }
  }

  // T[s][k][m] = sum over the columns of species s of basis_k monomial_m, for
  // up to T_GROUP monomials at once (the entries m >= n_mono stay 0).
  for (int s = 0; s < n_species_; ++s) {
    const int q0 = seg_begin_[s] / CHUNK, q1 = q0 + (seg_count_[s] + CHUNK - 1) / CHUNK;
    for (int k = 0; k < nk; ++k) {
      double *Tk = &T[((size_t) s * nk + k) * nm];
      for (int m0 = 0; m0 < n_mono; m0 += T_GROUP) {
        Vec acc[T_GROUP] = {};
        const int n_here = std::min(T_GROUP, n_mono - m0);
        const double *b = &cols_[(size_t) q0 * block + (F_BASIS + k) * CHUNK];
        const double *mrow = &cols_[(size_t) q0 * block + (f_mono + m0) * CHUNK];
        for (int q = q0; q < q1; ++q, b += block, mrow += block) {
          const Vec bq = load(b);
          if constexpr (LMAX >= 0) {
#pragma GCC unroll 64
            for (int t = 0; t < T_GROUP; ++t)
              if (t < n_here) acc[t] += bq * load(mrow + t * CHUNK);
          } else {
            for (int t = 0; t < n_here; ++t) acc[t] += bq * load(mrow + t * CHUNK);
          }
        }
#pragma GCC unroll 4
        for (int t = 0; t < T_GROUP; t += 4)
          if (t < n_here) store(Tk + m0 + t, hsum4(acc[t], acc[t + 1], acc[t + 2], acc[t + 3]));
      }
    }
  }

  // rho[L][k][pair] = sum_(m of degree L) weight_m T[s][k][m] T[s'][k][m].
  for (int k = 0; k < nk; ++k)
    for (int p = 0; p < n_pairs_; ++p) {
      const double *Ta = &T[((size_t) pair_first_[p] * nk + k) * nm];
      const double *Tb = &T[((size_t) pair_second_[p] * nk + k) * nm];
      double *f = features + (size_t) k * n_pairs_ + p;
      const size_t per_degree = (size_t) nk * n_pairs_;
      if constexpr (LMAX >= 0) {
        double rho[LMAX + 1] = {};
#pragma GCC unroll 64
        for (int m = 0; m < Tab::N; ++m) rho[tab.degree[m]] += tab.weight[m] * Ta[m] * Tb[m];
#pragma GCC unroll 8
        for (int L = 0; L <= LMAX; ++L) f[L * per_degree] = rho[L];
      } else {
        for (int L = 0; L <= l_max_; ++L) {
          double rho = 0.0;
          for (int m = mono_start_[L]; m < mono_start_[L + 1]; ++m) rho += weight_[m] * Ta[m] * Tb[m];
          f[L * per_degree] = rho;
        }
      }
    }
}

// ---------------------------------------------------------------------------
// Backward: dE/dT from the contractions, then the columns CHUNK at a time
// ---------------------------------------------------------------------------

void EannBlock::backprop(Environment &env, const double *dE_dG)
{
  switch (l_max_) {
    case 1: backprop_lmax<1>(env, dE_dG); break;
    case 2: backprop_lmax<2>(env, dE_dG); break;
    case 3: backprop_lmax<3>(env, dE_dG); break;
    default: backprop_lmax<-1>(env, dE_dG); break;
  }
}

template <int LMAX>
void EannBlock::backprop_lmax(Environment &env, const double *dE_dG)
{
  using Tab = MonomialTable<LMAX < 0 ? 0 : LMAX>;
  static constexpr Tab tab;
  const int nk = n_centers_, nm = LMAX >= 0 ? (Tab::N + 3) / 4 * 4 : stride_;

  // dE/dT[s][k][m] = sum over pairs (s, s') of dE/drho weight_m T[s'][k][m]
  // (twice that for s = s', which the two updates below give).
  std::fill(dE_dT.begin(), dE_dT.end(), 0.0);
  const size_t per_degree = (size_t) nk * n_pairs_;
  for (int k = 0; k < nk; ++k)
    for (int p = 0; p < n_pairs_; ++p) {
      const double *g = dE_dG + (size_t) k * n_pairs_ + p;    // g[L * per_degree]
      double *Da = &dE_dT[((size_t) pair_first_[p] * nk + k) * nm];
      double *Db = &dE_dT[((size_t) pair_second_[p] * nk + k) * nm];
      const double *Ta = &T[((size_t) pair_first_[p] * nk + k) * nm];
      const double *Tb = &T[((size_t) pair_second_[p] * nk + k) * nm];
      if constexpr (LMAX >= 0) {
        // gw_m = dE/drho[L(m)] weight_m in whole vectors (0 in the padding,
        // where T is 0 too): the updates below CHUNK monomials at a time.
        constexpr int NM = (Tab::N + 3) / 4 * 4;
        double gL[LMAX + 1];
#pragma GCC unroll 8
        for (int L = 0; L <= LMAX; ++L) gL[L] = g[L * per_degree];
        alignas(32) double gw[NM];
#pragma GCC unroll 64
        for (int m = 0; m < NM; ++m) gw[m] = m < Tab::N ? gL[tab.degree[m]] * tab.weight[m] : 0.0;
        if (Da == Db) {    // a species with itself: the two updates in one
#pragma GCC unroll 16
          for (int m = 0; m < NM; m += CHUNK) store(Da + m, load(Da + m) + 2.0 * load(gw + m) * load(Ta + m));
        } else {
#pragma GCC unroll 16
          for (int m = 0; m < NM; m += CHUNK) {
            const Vec gwm = load(gw + m);
            store(Da + m, load(Da + m) + gwm * load(Tb + m));
            store(Db + m, load(Db + m) + gwm * load(Ta + m));
          }
        }
      } else {
        for (int m = 0; m < n_mono_; ++m) {
          const double gw = g[degree_[m] * per_degree] * weight_[m];
          Da[m] += gw * Tb[m];
          Db[m] += gw * Ta[m];
        }
      }
    }

  with_centres([this, &env](auto nk_fixed) { backprop_columns<decltype(nk_fixed)::value, LMAX>(env); });
}

template <int NK, int LMAX>
void EannBlock::backprop_columns(Environment &env)
{
  // Per column (neighbour j of species s, basis b_k, monomials M_m):
  //   c_m = sum_k b_k dE/dT[s][k][m],  d_m = sum_k (db_k/dr) dE/dT[s][k][m],
  //   dE/dr_j = (sum_m d_m M_m) r_j / |r_j| + sum_m c_m grad M_m,
  // with d(x^lx y^ly z^lz)/dx = lx x^(lx-1) y^ly z^lz. NK > 0 and LMAX >= 0:
  // the number of centres and l_max known at compile time (loops unrolled,
  // offsets in the column blocks constant).
  using Tab = MonomialTable<LMAX < 0 ? 0 : LMAX>;
  static constexpr Tab tab;
  const int nk = NK > 0 ? NK : n_centers_, nm = LMAX >= 0 ? (Tab::N + 3) / 4 * 4 : stride_;
  const int f_dbasis = F_BASIS + nk, f_mono = F_BASIS + 2 * nk;
  const int f_grad = f_mono + (LMAX >= 0 ? Tab::N : n_mono_);
  const int block = NK > 0 && LMAX >= 0 ? (f_grad + 3) * CHUNK : block_;
  double *__restrict grad = env.grad.data();
  double *__restrict cols = cols_.data();
  // dE/dT of the species in a local copy: no store below can alias it, so
  // the compiler addresses it at constant offsets instead of keeping 60
  // pointers (measured: twice the instructions).
  constexpr int A_SIZE = NK > 0 && LMAX >= 0 ? NK * ((Tab::N + 3) / 4 * 4) : 1;
  alignas(32) double A_local[A_SIZE];
  double centre[3] = {0.0, 0.0, 0.0};    // the centre's share: minus the neighbours'
  for (int s = 0; s < n_species_; ++s) {
    const double *A = &dE_dT[(size_t) s * nk * nm];
    if constexpr (A_SIZE > 1) {
      std::memcpy(A_local, A, sizeof A_local);
      A = A_local;
    }
    const int q0 = seg_begin_[s] / CHUNK, q1 = q0 + (seg_count_[s] + CHUNK - 1) / CHUNK;
    for (int q = q0; q < q1; ++q) {
      double *__restrict col = cols + (size_t) q * block;
      const double *b = col + F_BASIS * CHUNK, *db = col + f_dbasis * CHUNK, *M = col + f_mono * CHUNK;
      Vec rad = {}, g[3] = {{}, {}, {}};
      if constexpr (LMAX >= 0) {
#pragma GCC unroll 64
        for (int m = 0; m < Tab::N; ++m) {
          Vec cm = {}, dm = {};
#pragma GCC unroll 16
          for (int k = 0; k < nk; ++k) {
            const Vec a = splat(A[k * nm + m]);
            cm += a * load(b + k * CHUNK);
            dm += a * load(db + k * CHUNK);
          }
          rad += dm * load(M + m * CHUNK);
#pragma GCC unroll 3
          for (int ax = 0; ax < 3; ++ax)
            if (tab.l[ax][m] > 0) g[ax] += (double) tab.l[ax][m] * cm * load(M + tab.down[ax][m] * CHUNK);
        }
      } else {
        double *cv = cvec_.data();
        for (int m = 0; m < n_mono_; ++m) {
          Vec cm = {}, dm = {};
          for (int k = 0; k < nk; ++k) {
            const Vec a = splat(A[k * nm + m]);
            cm += a * load(b + k * CHUNK);
            dm += a * load(db + k * CHUNK);
          }
          store(cv + CHUNK * m, cm);
          rad += dm * load(M + m * CHUNK);
        }
        for (int ax = 0; ax < 3; ++ax)
          for (const DerivTerm &t : deriv_[ax])
            g[ax] += t.factor * load(cv + CHUNK * t.m) * load(M + t.down * CHUNK);
      }
      const Vec scale = rad / load(col + F_R * CHUNK);
      double *out = col + f_grad * CHUNK;
      for (int ax = 0; ax < 3; ++ax) {
        const Vec ga = g[ax] + scale * load(col + (F_X + ax) * CHUNK);
        store(out + ax * CHUNK, ga);
      }
    }
    const int *index = &env_index_[seg_begin_[s]];
    for (int q = q0, left = seg_count_[s]; left > 0; ++q, left -= CHUNK, index += CHUNK) {
      const double *out = cols + (size_t) q * block + f_grad * CHUNK;
      for (int lane = 0; lane < std::min(left, (int) CHUNK); ++lane) {
        double *gj = grad + 3 * (size_t) index[lane];
        gj[0] += out[lane];
        gj[1] += out[CHUNK + lane];
        gj[2] += out[2 * CHUNK + lane];
        centre[0] -= out[lane];
        centre[1] -= out[CHUNK + lane];
        centre[2] -= out[2 * CHUNK + lane];
      }
    }
  }
  grad[0] += centre[0];
  grad[1] += centre[1];
  grad[2] += centre[2];
}

std::unique_ptr<DescriptorBlock> read_eann_block(const Field &b, const Elements &elements)
{
  b.only_keys({"type", "cutoff", "centers", "alpha", "l_max"});
  const double rc = b["cutoff"].cutoff();
  std::vector<double> centers = read_centers(b["centers"]);
  const double alpha = read_alpha(b["alpha"]);
  const int l_max = (int) b["l_max"].integer_in(0, 8);
  return std::make_unique<EannBlock>(rc, std::move(centers), alpha, l_max, (int) elements.size());
}

}    // namespace tinynet
