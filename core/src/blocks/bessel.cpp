#include "tinynet/blocks/bessel.h"

#include "../block_registry.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tinynet {

namespace {
constexpr double PI = 3.14159265358979323846;
}

// ---------------------------------------------------------------------------
// Radial functions g_n (see bessel.h for the construction)
// ---------------------------------------------------------------------------

BesselRadial::BesselRadial(double cutoff, int n_max) :
    rc_(cutoff), scale_(n_max + 1), mix_(n_max + 1, 0.0), inv_sqrt_d_(n_max + 1),
    inv_k_(n_max + 2), sinc_(n_max + 2), dsinc_(n_max + 2)
{
  for (int k = 1; k <= n_max + 2; ++k) inv_k_[k - 1] = 1.0 / k;
  double d_prev = 1.0;
  for (int n = 0; n <= n_max; ++n) {
    const double p = n + 1.0, q = n + 2.0;
    scale_[n] = (n % 2 ? -1.0 : 1.0) * std::sqrt(2.0) * PI / std::pow(rc_, 1.5) * p * q /
        std::sqrt(p * p + q * q);
    // Gram-Schmidt on the tridiagonal overlap of the f_n: d_n > 0 for every
    // n (d_n decreases towards 1/2), so the recursion is well conditioned.
    const double e = n * n * q * q / (4.0 * p * p * p * p + 1.0);
    const double d = n == 0 ? 1.0 : 1.0 - e / d_prev;
    if (n > 0) mix_[n] = std::sqrt(e / d_prev);
    inv_sqrt_d_[n] = 1.0 / std::sqrt(d);
    d_prev = d;
  }
}

void BesselRadial::evaluate(double r, double *g, double *dg)
{
  const int n_funcs = size(), n_k = n_funcs + 1;
  const double x = PI * r / rc_, dx_dr = PI / rc_;
  // sin(kx), cos(kx) by rotating e^(ikx) one step of e^(ix) at a time: the
  // error grows only linearly in k, also where sin x is small.
  const double c1 = std::cos(x), s1 = std::sin(x), inv_x = 1.0 / x;
  double ck = 1.0, sk = 0.0;
  for (int k = 1; k <= n_k; ++k) {
    const double c = ck * c1 - sk * s1;
    sk = sk * c1 + ck * s1;
    ck = c;
    const double sinc = sk * inv_x * inv_k_[k - 1];
    sinc_[k - 1] = sinc;
    dsinc_[k - 1] = dx_dr * (ck - sinc) * inv_x;    // d/dr of sin(kx)/(kx)
  }
  for (int n = 0; n < n_funcs; ++n) {
    const double f = scale_[n] * (sinc_[n] + sinc_[n + 1]);
    const double df = scale_[n] * (dsinc_[n] + dsinc_[n + 1]);
    g[n] = n == 0 ? f : (f + mix_[n] * g[n - 1]) * inv_sqrt_d_[n];
    dg[n] = n == 0 ? df : (df + mix_[n] * dg[n - 1]) * inv_sqrt_d_[n];
  }
}

// ---------------------------------------------------------------------------
// Real spherical harmonics and their gradients
// ---------------------------------------------------------------------------

RealHarmonics::RealHarmonics(int l_max) :
    l_max_(l_max), norm_((l_max + 1) * (l_max + 1)), rec_a_((l_max + 1) * (l_max + 2), 0.0),
    rec_b_((l_max + 1) * (l_max + 2), 0.0), q_((l_max + 1) * (l_max + 2), 0.0),
    cm_(l_max + 1), sm_(l_max + 1)
{
  const int w = l_max_ + 2;    // row stride of [l][m]; column l+1 holds Q_l(l+1) = 0
  for (int l = 0; l <= l_max_; ++l)
    for (int m = 0; m <= l; ++m) {
      // N_lm^2 = (2l+1)/(4 pi) (l-m)!/(l+m)!, the factorial ratio as a product
      double ratio = 1.0;
      for (int k = l - m + 1; k <= l + m; ++k) ratio /= k;
      const double n = std::sqrt((2 * l + 1) / (4.0 * PI) * ratio) * (m ? std::sqrt(2.0) : 1.0);
      norm_[l * l + l + m] = n;
      norm_[l * l + l - m] = n;
      if (l >= m + 2) {
        rec_a_[l * w + m] = (2.0 * l - 1.0) / (l - m);
        rec_b_[l * w + m] = (l + m - 1.0) / (l - m);
      }
    }
}

void RealHarmonics::evaluate(const double *u, double *y, double *fx, double *fy, double *fz)
{
  const int L = l_max_, w = L + 2;
  const double x = u[0], yy = u[1], z = u[2];
  // (x + i y)^m
  cm_[0] = 1.0;
  sm_[0] = 0.0;
  for (int m = 1; m <= L; ++m) {
    cm_[m] = x * cm_[m - 1] - yy * sm_[m - 1];
    sm_[m] = x * sm_[m - 1] + yy * cm_[m - 1];
  }
  // Q_lm = d^m P_l / dz^m: Q_mm = (2m-1)!!, Q_(m+1)m = (2m+1) z Q_mm, then the
  // three-term recurrence in l; and dQ_lm/dz = Q_l(m+1).
  double qmm = 1.0;
  for (int m = 0; m <= L; ++m) {
    if (m > 0) qmm *= 2.0 * m - 1.0;
    q_[m * w + m] = qmm;
    q_[m * w + m + 1] = 0.0;
    if (m + 1 <= L) q_[(m + 1) * w + m] = (2.0 * m + 1.0) * z * qmm;
    for (int l = m + 2; l <= L; ++l)
      q_[l * w + m] = rec_a_[l * w + m] * z * q_[(l - 1) * w + m] - rec_b_[l * w + m] * q_[(l - 2) * w + m];
  }
  // Y and the gradient of its polynomial extension F(x, y, z) = N Q(z) (x+iy)^m;
  // d(x+iy)^m/dx = m (x+iy)^(m-1), d/dy = i m (x+iy)^(m-1).
  for (int l = 0; l <= L; ++l) {
    const double *q = &q_[l * w];
    const int c = l * l + l;
    y[c] = norm_[c] * q[0];
    fx[c] = fy[c] = 0.0;
    fz[c] = norm_[c] * q[1];
    for (int m = 1; m <= l; ++m) {
      const double nq = norm_[c + m] * q[m], nqm = nq * m, ndq = norm_[c + m] * q[m + 1];
      y[c + m] = nq * cm_[m];
      fx[c + m] = nqm * cm_[m - 1];
      fy[c + m] = -nqm * sm_[m - 1];
      fz[c + m] = ndq * cm_[m];
      y[c - m] = nq * sm_[m];
      fx[c - m] = nqm * sm_[m - 1];
      fy[c - m] = nqm * cm_[m - 1];
      fz[c - m] = ndq * sm_[m];
    }
  }
}

// ---------------------------------------------------------------------------
// Bessel block
// ---------------------------------------------------------------------------

BesselBlock::BesselBlock(double cutoff, int n_max, int l_max, int n_species) :
    rc_(cutoff), n_radial_(n_max + 1), l_max_(l_max), n_lm_((l_max + 1) * (l_max + 1)),
    n_species_(n_species), n_pairs_(n_species * (n_species + 1) / 2), radial_(cutoff, n_max),
    harmonics_(l_max)
{
  if (!(rc_ > 0.0)) throw std::invalid_argument("bessel block: cutoff must be > 0");
  if (n_max < 0 || l_max < 0) throw std::invalid_argument("bessel block: n_max and l_max must be >= 0");
  if (n_species < 1) throw std::invalid_argument("bessel block: no species");
  for (int s = 0; s < n_species; ++s)
    for (int t = s; t < n_species; ++t) {
      pair_first_.push_back(s);
      pair_second_.push_back(t);
    }
  c_.assign((size_t) n_species * n_radial_ * n_lm_, 0.0);
  dc_.assign(c_.size(), 0.0);
  dc_live_.assign(n_species, 0);
  acc_a_.assign(n_lm_, 0.0);
  acc_b_.assign(n_lm_, 0.0);
}

void BesselBlock::compute(Environment &env, double *features)
{
  const int nr = n_radial_, nlm = n_lm_;
  // Stage 1: radial functions and harmonics of every neighbour inside the cutoff.
  in_range_.clear();
  for (int j = 1; j < env.size(); ++j)
    if (env.dist[j] < rc_) in_range_.push_back(j);
  const size_t nn = in_range_.size();
  g_.resize(nn * nr);
  dg_.resize(nn * nr);
  y_.resize(nn * nlm);
  dy_.resize(nn * 3 * nlm);

  // Stage 2: c_(s,n,lm) = sum over neighbours of species s of g_n Y_lm.
  std::fill(c_.begin(), c_.end(), 0.0);
  for (size_t k = 0; k < nn; ++k) {
    const int j = in_range_[k];
    const double r = env.dist[j];
    const double u[3] = {env.rel[3 * j] / r, env.rel[3 * j + 1] / r, env.rel[3 * j + 2] / r};
    double *g = &g_[k * nr], *y = &y_[k * nlm], *dy = &dy_[k * 3 * nlm];
    radial_.evaluate(r, g, &dg_[k * nr]);
    harmonics_.evaluate(u, y, dy, dy + nlm, dy + 2 * nlm);
    double *c = &c_[(size_t) env.species[j] * nr * nlm];
    const double *__restrict yk = y;
    for (int n = 0; n < nr; ++n) {
      double *__restrict cn = c + n * nlm;
      const double gn = g[n];
      for (int lm = 0; lm < nlm; ++lm) cn[lm] += gn * yk[lm];
    }
  }

  // Stage 3: p_(n,l,(s,s')) = sum_m c_(s,n,lm) c_(s',n,lm).
  int f = 0;
  for (int n = 0; n < nr; ++n)
    for (int l = 0; l <= l_max_; ++l)
      for (int p = 0; p < n_pairs_; ++p, ++f) {
        const double *a = &c_[((size_t) pair_first_[p] * nr + n) * nlm + l * l];
        const double *b = &c_[((size_t) pair_second_[p] * nr + n) * nlm + l * l];
        double sum = 0.0;
        for (int m = 0; m < 2 * l + 1; ++m) sum += a[m] * b[m];
        features[f] = sum;
      }
}

void BesselBlock::backprop(Environment &env, const double *dE_dG)
{
  const int nr = n_radial_, nlm = n_lm_;
  // Stage 1: dE/dc_(s,n,lm) = sum over pairs of dE/dp times the partner's c.
  std::fill(dc_.begin(), dc_.end(), 0.0);
  std::fill(dc_live_.begin(), dc_live_.end(), 0);
  int f = 0;
  for (int n = 0; n < nr; ++n)
    for (int l = 0; l <= l_max_; ++l)
      for (int p = 0; p < n_pairs_; ++p, ++f) {
        const double w = dE_dG[f];
        if (w == 0.0) continue;
        const int s = pair_first_[p], t = pair_second_[p];
        const size_t off_s = ((size_t) s * nr + n) * nlm + l * l;
        const size_t off_t = ((size_t) t * nr + n) * nlm + l * l;
        for (int m = 0; m < 2 * l + 1; ++m) {
          dc_[off_s + m] += w * c_[off_t + m];
          dc_[off_t + m] += w * c_[off_s + m];    // s == t: the square's factor 2
        }
        dc_live_[s] = dc_live_[t] = 1;
      }

  // Stage 2: one pass over neighbours, d(g_n Y_lm)/d(bond) = g_n' u Y_lm + g_n dY_lm,
  // with dY_lm = (grad F_lm - u (u . grad F_lm)) / r projected once per neighbour.
  double *g0 = &env.grad[0];
  for (size_t k = 0; k < in_range_.size(); ++k) {
    const int j = in_range_[k], s = env.species[j];
    if (!dc_live_[s]) continue;
    const double *dc = &dc_[(size_t) s * nr * nlm];
    const double *g = &g_[k * nr], *dg = &dg_[k * nr];
    const double *y = &y_[k * nlm], *dy = &dy_[k * 3 * nlm];
    double *__restrict a = acc_a_.data(), *__restrict b = acc_b_.data();
    std::fill(a, a + nlm, 0.0);
    std::fill(b, b + nlm, 0.0);
    for (int n = 0; n < nr; ++n) {
      const double *__restrict dcn = dc + n * nlm;
      const double gn = g[n], dgn = dg[n];
      for (int lm = 0; lm < nlm; ++lm) {
        a[lm] += gn * dcn[lm];
        b[lm] += dgn * dcn[lm];
      }
    }
    double radial = 0.0, ax = 0.0, ay = 0.0, az = 0.0;
    for (int lm = 0; lm < nlm; ++lm) {
      radial += b[lm] * y[lm];
      ax += a[lm] * dy[lm];
      ay += a[lm] * dy[nlm + lm];
      az += a[lm] * dy[2 * nlm + lm];
    }
    const double inv_r = 1.0 / env.dist[j];
    const double u[3] = {env.rel[3 * j] * inv_r, env.rel[3 * j + 1] * inv_r, env.rel[3 * j + 2] * inv_r};
    const double normal = u[0] * ax + u[1] * ay + u[2] * az;
    const double grad[3] = {radial * u[0] + (ax - normal * u[0]) * inv_r,
                            radial * u[1] + (ay - normal * u[1]) * inv_r,
                            radial * u[2] + (az - normal * u[2]) * inv_r};
    for (int d = 0; d < 3; ++d) {
      env.grad[3 * j + d] += grad[d];
      g0[d] -= grad[d];
    }
  }
}

double BesselBlock::memory_bytes() const
{
  return (double) in_range_.capacity() * sizeof(int) +
      (double) (g_.capacity() + dg_.capacity() + y_.capacity() + dy_.capacity() + c_.capacity() +
                dc_.capacity() + acc_a_.capacity() + acc_b_.capacity()) *
      sizeof(double);
}

std::unique_ptr<DescriptorBlock> read_bessel_block(const Field &b, const Elements &elements)
{
  b.only_keys({"type", "cutoff", "n_max", "l_max"});
  const double rc = b["cutoff"].cutoff();
  const int n_max = (int) b["n_max"].integer_in(0, 24);
  const int l_max = (int) b["l_max"].integer_in(0, 12);
  return std::make_unique<BesselBlock>(rc, n_max, l_max, (int) elements.size());
}

}    // namespace tinynet
