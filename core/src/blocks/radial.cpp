#include "tinynet/blocks/radial.h"

#include "../block_registry.h"

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
  std::fill(features, features + n_features(), 0.0);
  in_range.clear();
  dbasis.clear();
  for (int j = 1; j < env.size(); ++j) {
    const double r = env.dist[j];
    if (r >= rc_) continue;
    const double fc = cutoff_fn(r / rc_), dfc = cutoff_fn_deriv(r / rc_) / rc_;
    in_range.push_back(j);
    const int s = env.species[j];
    const size_t first = dbasis.size();
    dbasis.resize(first + nk);
    double *db = &dbasis[first];
    double phi = 0.0, ratio = 0.0;
    if (recurrence_) {
      const double dr0 = r - centers_[0];
      phi = std::exp(-alpha_ * dr0 * dr0);
      ratio = std::exp(alpha_ * delta_ * (2.0 * dr0 - delta_));
    }
    for (int k = 0; k < nk; ++k) {
      const double dr = r - centers_[k];
      if (recurrence_) {
        if (k > 0) {
          phi *= ratio;
          ratio *= ratio_step_;
        }
      } else {
        phi = std::exp(-alpha_ * dr * dr);
      }
      features[k * n_species_ + s] += phi * fc;
      db[k] = phi * (dfc - 2.0 * alpha_ * dr * fc);
    }
  }
}

void RadialBlock::backprop(Environment &env, const double *dE_dG)
{
  const int nk = (int) centers_.size();
  double *g0 = &env.grad[0];
  for (size_t m = 0; m < in_range.size(); ++m) {
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


std::unique_ptr<DescriptorBlock> read_radial_block(const Field &b, int n_species)
{
  b.only_keys({"type", "cutoff", "centers", "alpha"});
  const double rc = b["cutoff"].cutoff();
  std::vector<double> centers = read_centers(b["centers"]);
  return std::make_unique<RadialBlock>(rc, centers, read_alpha(b["alpha"]), n_species);
}

}    // namespace tinynet
