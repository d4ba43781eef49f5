#include "tinynet/blocks/radial.h"

#include "../block_registry.h"
#include "tinynet/fast_exp.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tinynet {

// ---------------------------------------------------------------------------
// Radial block
// ---------------------------------------------------------------------------

RadialBlock::RadialBlock(double cutoff, std::vector<double> centers, double alpha, int n_species) :
    rc_(cutoff), alpha_(alpha), centers_(std::move(centers)), n_species_(n_species)
{
  if (!(rc_ > 0.0)) throw std::invalid_argument("radial block: cutoff must be > 0");
  if (!(alpha_ > 0.0)) throw std::invalid_argument("radial block: alpha must be > 0");
  if (centers_.empty()) throw std::invalid_argument("radial block: centers is empty");
  // Use the recurrence only where it is exact to round-off: evenly spaced
  // centres, and no exp() that could under- or overflow along the way.
  const int nk = (int) centers_.size();
  if (nk > 1) {
    delta_ = (centers_.back() - centers_.front()) / (nk - 1);
    recurrence_ = delta_ > 0.0;
    for (int k = 0; k < nk; ++k)
      if (std::fabs(centers_[k] - (centers_[0] + k * delta_)) > 1e-12 * (1.0 + std::fabs(centers_[k])))
        recurrence_ = false;
    const double far = std::max(std::fabs(centers_[0]), std::fabs(rc_ - centers_[0]));
    if (alpha_ * far * far > 300.0 || 2.0 * alpha_ * delta_ * far > 300.0) recurrence_ = false;
    ratio_step_ = std::exp(-2.0 * alpha_ * delta_ * delta_);
  }
}

void RadialBlock::compute(Environment &env, double *features)
{
  const int nk = (int) centers_.size();
  const double *centre = centers_.data();
  std::fill(features, features + n_features(), 0.0);
  // Scratch only grows (one row per neighbour): no allocation per neighbour.
  const size_t most = (size_t) env.size();
  if (in_range.size() < most) {
    in_range.resize(most);
    dbasis.resize(most * nk);
    per_neighbour_.resize(5 * most);
  }
  phi_.resize(nk);

  // Stage 1: the neighbours within the cutoff.
  size_t n = 0;
  for (int j = 1; j < env.size(); ++j)
    if (env.dist[j] < rc_) in_range[n++] = j;
  n_in_range_ = n;

  // Stage 2: per neighbour the cutoff function and, for the recurrence, its
  // two exps, four neighbours at a time (libm's exp took a third of the block).
  double *__restrict rr = &per_neighbour_[0], *__restrict fc = rr + most, *__restrict dfc = fc + most;
  double *__restrict first = dfc + most, *__restrict ratio0 = first + most;
  for (size_t m = 0; m < n; ++m) rr[m] = env.dist[in_range[m]];
  for (size_t m = 0; m < n; ++m) {
    fc[m] = cutoff_fn(rr[m] / rc_);
    dfc[m] = cutoff_fn_deriv(rr[m] / rc_) / rc_;
  }
  if (recurrence_) {
    for (size_t m = 0; m < n; ++m) {
      const double dr0 = rr[m] - centre[0];
      first[m] = -alpha_ * dr0 * dr0;
      ratio0[m] = alpha_ * delta_ * (2.0 * dr0 - delta_);
    }
    fast_exp_array(first, first, (int) n);
    fast_exp_array(ratio0, ratio0, (int) n);
  }

  // Stage 3: per neighbour the Gaussians, the features and d(phi_k fc)/dr.
  const double alpha = alpha_, step = ratio_step_;    // locals: no reloads through this
  const int ns = n_species_;
  double *__restrict phi = phi_.data();
  for (size_t m = 0; m < n; ++m) {
    const double r = rr[m], fcm = fc[m], dfcm = dfc[m];
    if (recurrence_) {    // a serial recurrence over k
      double p = first[m], ratio = ratio0[m];
      phi[0] = p;
      for (int k = 1; k < nk; ++k) {
        p *= ratio;
        ratio *= step;
        phi[k] = p;
      }
    } else {
      for (int k = 0; k < nk; ++k) phi[k] = -alpha * (r - centre[k]) * (r - centre[k]);
      fast_exp_array(phi, phi, nk);
    }
    double *__restrict db = &dbasis[m * nk];
    for (int k = 0; k < nk; ++k) db[k] = phi[k] * (dfcm - 2.0 * alpha * (r - centre[k]) * fcm);
    double *__restrict f = features + env.species[in_range[m]];
    for (int k = 0; k < nk; ++k) f[k * ns] += phi[k] * fcm;
  }
}

void RadialBlock::backprop(Environment &env, const double *dE_dG)
{
  const int nk = (int) centers_.size();
  double *g0 = &env.grad[0];
  for (size_t m = 0; m < n_in_range_; ++m) {
    const int j = in_range[m], s = env.species[j];
    double dE_dr = 0.0;
    for (int k = 0; k < nk; ++k) dE_dr += dE_dG[k * n_species_ + s] * dbasis[m * nk + k];
    const double scale = dE_dr / env.dist[j];
    for (int d = 0; d < 3; ++d) {
      const double g = scale * env.rel[3 * j + d];
      env.grad[3 * j + d] += g;
      g0[d] -= g;
    }
  }
}


std::unique_ptr<DescriptorBlock> read_radial_block(const Field &b, const Elements &elements)
{
  b.only_keys({"type", "cutoff", "centers", "alpha"});
  const double rc = b["cutoff"].cutoff();
  std::vector<double> centers = read_centers(b["centers"]);
  return std::make_unique<RadialBlock>(rc, centers, read_alpha(b["alpha"]), (int) elements.size());
}

}    // namespace tinynet
