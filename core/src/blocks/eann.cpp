#include "tinynet/blocks/eann.h"

#include "../block_registry.h"
#include "../fast_exp.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace tinynet {

namespace {

// CHUNK doubles as one value (GCC/Clang vector extension). Both passes work
// on chunks of monomials; left to itself, the compiler vectorised the backward
// loops across Gaussians instead, with long serial sums.
using Vec = double __attribute__((vector_size(EannBlock::CHUNK * sizeof(double))));

inline Vec load(const double *p)
{
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store(double *p, Vec v) { std::memcpy(p, &v, sizeof v); }

inline Vec gather(const double *p, const int *index)
{
  Vec v;
  for (int t = 0; t < EannBlock::CHUNK; ++t) v[t] = p[index[t]];
  return v;
}

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
        weight_.push_back(factorial[L] / (factorial[a] * factorial[b] * factorial[c]));
      }
  }
  n_mono_ = (int) lx_.size();
  mono_start_.push_back(n_mono_);
  // Per-monomial rows are padded to a multiple of CHUNK with zero entries
  // (monomial 0, derivative factors 0), so both passes run in whole chunks.
  stride_ = (n_mono_ + CHUNK - 1) / CHUNK * CHUNK;
  for (int m = 0; m < stride_; ++m) {
    const bool real = m < n_mono_;
    const int a = real ? lx_[m] : 0, b = real ? ly_[m] : 0, c = real ? lz_[m] : 0;
    down_x_.push_back(a > 0 ? index_of[at(a - 1, b, c)] : 0);
    down_y_.push_back(b > 0 ? index_of[at(a, b - 1, c)] : 0);
    down_z_.push_back(c > 0 ? index_of[at(a, b, c - 1)] : 0);
    dlx_.push_back(a);
    dly_.push_back(b);
    dlz_.push_back(c);
  }

  // Unordered species pairs in the order of tinynet.blocks.species_pairs.
  for (int s = 0; s < n_species_; ++s)
    for (int t = s; t < n_species_; ++t) {
      pair_first_.push_back(s);
      pair_second_.push_back(t);
    }
  n_pairs_ = (int) pair_first_.size();

  // The recurrence only where it is exact to round-off: evenly spaced centres
  // and no exp() argument large enough to under- or overflow.
  if (n_centers_ > 1) {
    delta_ = (centers_.back() - centers_.front()) / (n_centers_ - 1);
    recurrence_ = delta_ > 0.0;
    for (int k = 0; k < n_centers_; ++k)
      if (std::fabs(centers_[k] - (centers_[0] + k * delta_)) > 1e-12 * (1.0 + std::fabs(centers_[k])))
        recurrence_ = false;
    const double far = std::max(std::fabs(centers_[0]), std::fabs(rc_ - centers_[0]));
    if (alpha_ * far * far > 300.0 || 2.0 * alpha_ * delta_ * far > 300.0) recurrence_ = false;
    ratio_step_ = std::exp(-2.0 * alpha_ * delta_ * delta_);
  }

  T.assign((size_t) n_species_ * n_centers_ * stride_, 0.0);
  dE_dT.assign(T.size(), 0.0);
  powers.assign(3 * (size_t) nl, 0.0);
}

double EannBlock::memory_bytes() const
{
  return (double) in_range.capacity() * sizeof(int) +
      (double) (T.capacity() + dE_dT.capacity() + basis.capacity() + dbasis.capacity() +
                mono.capacity() + powers.capacity()) *
      sizeof(double);
}

void EannBlock::radial(double r, double *__restrict b, double *__restrict db) const
{
  const double fc = cutoff_fn(r / rc_), dfc = cutoff_fn_deriv(r / rc_) / rc_;
  const double *centre = centers_.data();
  if (!recurrence_) {
    // One exp per Gaussian, four at a time (libm's exp took two thirds of
    // this function with uneven centres); b holds the arguments meanwhile.
    for (int k = 0; k < n_centers_; ++k) b[k] = -alpha_ * (r - centre[k]) * (r - centre[k]);
    fast_exp_array(b, b, n_centers_);
    for (int k = 0; k < n_centers_; ++k) {
      const double dr = r - centre[k], phi = b[k];
      b[k] = phi * fc;
      db[k] = phi * (dfc - 2.0 * alpha_ * dr * fc);
    }
    return;
  }
  const double dr0 = r - centre[0];
  double phi = std::exp(-alpha_ * dr0 * dr0);
  double ratio = std::exp(alpha_ * delta_ * (2.0 * dr0 - delta_));
  for (int k = 0; k < n_centers_; ++k) {
    const double dr = r - centre[k];
    if (k > 0) {
      phi *= ratio;
      ratio *= ratio_step_;
    }
    b[k] = phi * fc;
    db[k] = phi * (dfc - 2.0 * alpha_ * dr * fc);
  }
}

void EannBlock::monomials(double x, double y, double z, double *out)
{
  const int nl = l_max_ + 1;
  double *px = &powers[0];
  double *py = px + nl, *pz = py + nl;
  px[0] = py[0] = pz[0] = 1.0;
  for (int a = 1; a < nl; ++a) {
    px[a] = px[a - 1] * x;
    py[a] = py[a - 1] * y;
    pz[a] = pz[a - 1] * z;
  }
  for (int m = 0; m < n_mono_; ++m) out[m] = px[lx_[m]] * py[ly_[m]] * pz[lz_[m]];
  for (int m = n_mono_; m < stride_; ++m) out[m] = 0.0;
}

// ---------------------------------------------------------------------------
// Forward: T per neighbour, then the species-pair contractions
// ---------------------------------------------------------------------------

void EannBlock::compute(Environment &env, double *features)
{
  const int nk = n_centers_, nm = stride_;
  std::fill(T.begin(), T.end(), 0.0);
  // Scratch only grows (no clearing, no zero fill): one slot per neighbour.
  const size_t most = (size_t) env.size();
  if (in_range.size() < most) {
    in_range.resize(most);
    basis.resize(most * nk);
    dbasis.resize(most * nk);
    mono.resize(most * nm);
  }
  n_in_range = 0;

  // Stage 1: T[s][k][m] += basis_k(r) * monomial_m(r_j - r_i).
  for (int j = 1; j < env.size(); ++j) {
    const double r = env.dist[j];
    if (r >= rc_) continue;
    const size_t n = n_in_range++;
    in_range[n] = j;
    double *b = &basis[n * nk];
    double *mj = &mono[n * nm];
    radial(r, b, &dbasis[n * nk]);
    monomials(env.rel[3 * j], env.rel[3 * j + 1], env.rel[3 * j + 2], mj);
    double *Ts = &T[(size_t) env.species[j] * nk * nm];
    for (int m = 0; m < nm; m += CHUNK) {
      const Vec mono_m = load(mj + m);
      for (int k = 0; k < nk; ++k) {
        double *Tkm = Ts + (size_t) k * nm + m;
        store(Tkm, load(Tkm) + b[k] * mono_m);
      }
    }
  }

  // Stage 2: rho[L][k][pair] = sum_(m of degree L) weight_m T[s][k][m] T[s'][k][m].
  for (int L = 0; L <= l_max_; ++L) {
    const int m0 = mono_start_[L], m1 = mono_start_[L + 1];
    for (int k = 0; k < nk; ++k)
      for (int p = 0; p < n_pairs_; ++p) {
        const double *Ta = &T[((size_t) pair_first_[p] * nk + k) * nm];
        const double *Tb = &T[((size_t) pair_second_[p] * nk + k) * nm];
        double rho = 0.0;
        for (int m = m0; m < m1; ++m) rho += weight_[m] * Ta[m] * Tb[m];
        features[(L * nk + k) * n_pairs_ + p] = rho;
      }
  }
}

// ---------------------------------------------------------------------------
// Backward: dE/dT from the contractions, then one pass over the neighbours
// ---------------------------------------------------------------------------

void EannBlock::backprop(Environment &env, const double *dE_dG)
{
  const int nk = n_centers_, nm = stride_;

  // Stage 1: dE/dT[s][k][m] = sum over pairs (s, s') of dE/drho weight_m T[s'][k][m]
  // (twice that for s = s', which the two updates below give).
  std::fill(dE_dT.begin(), dE_dT.end(), 0.0);
  for (int L = 0; L <= l_max_; ++L) {
    const int m0 = mono_start_[L], m1 = mono_start_[L + 1];
    for (int k = 0; k < nk; ++k)
      for (int p = 0; p < n_pairs_; ++p) {
        const double g = dE_dG[(L * nk + k) * n_pairs_ + p];
        if (g == 0.0) continue;
        const size_t a = ((size_t) pair_first_[p] * nk + k) * nm;
        const size_t b = ((size_t) pair_second_[p] * nk + k) * nm;
        for (int m = m0; m < m1; ++m) {
          const double gw = g * weight_[m];
          dE_dT[a + m] += gw * T[b + m];
          dE_dT[b + m] += gw * T[a + m];
        }
      }
  }

  // Stage 2: per neighbour, d(basis_k monomial_m)/dr_j through the radial
  // part (along r_j - r_i) and through the monomial's own gradient,
  //   d(x^lx y^ly z^lz)/dx = lx x^(lx-1) y^ly z^lz   (monomial down_x_[m]).
  // Chunks of monomials keep c_m = sum_k basis_k dE/dT[k][m] and
  // d_m = sum_k dbasis_k dE/dT[k][m] in registers, and split every sum over
  // m into CHUNK independent partial sums (no long dependency chains).
  double *g0 = &env.grad[0];
  for (size_t n = 0; n < n_in_range; ++n) {
    const int j = in_range[n];
    const double *A = &dE_dT[(size_t) env.species[j] * nk * nm];
    const double *b = &basis[n * nk];
    const double *db = &dbasis[n * nk];
    const double *mj = &mono[n * nm];
    Vec radial_sum = {}, gx = {}, gy = {}, gz = {};
    for (int m = 0; m < nm; m += CHUNK) {
      Vec c = {}, d = {};
      for (int k = 0; k < nk; ++k) {
        const Vec a = load(A + (size_t) k * nm + m);
        c += b[k] * a;
        d += db[k] * a;
      }
      radial_sum += d * load(mj + m);
      gx += c * load(&dlx_[m]) * gather(mj, &down_x_[m]);
      gy += c * load(&dly_[m]) * gather(mj, &down_y_[m]);
      gz += c * load(&dlz_[m]) * gather(mj, &down_z_[m]);
    }
    double dE_dr = 0.0, g[3] = {0.0, 0.0, 0.0};
    for (int t = 0; t < CHUNK; ++t) {
      dE_dr += radial_sum[t];
      g[0] += gx[t];
      g[1] += gy[t];
      g[2] += gz[t];
    }
    const double scale = dE_dr / env.dist[j];
    for (int d = 0; d < 3; ++d) {
      const double gd = g[d] + scale * env.rel[3 * j + d];
      env.grad[3 * j + d] += gd;
      g0[d] -= gd;
    }
  }
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
