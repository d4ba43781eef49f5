// ZBL repulsion with a C2 switch (see core_repulsion.h).
#include "tinynet/core_repulsion.h"

#include "tinynet/descriptor.h"    // cutoff_fn: the C2 switch polynomial

#include <algorithm>
#include <cmath>

namespace tinynet {

namespace {

// Ziegler-Biersack-Littmark universal screening function: amplitudes and
// decay rates of phi(x) = sum_k A_k exp(-b_k x), x = r / a.
constexpr double ZBL_A[4] = {0.18175, 0.50986, 0.28022, 0.02817};
constexpr double ZBL_B[4] = {3.19980, 0.94229, 0.40290, 0.20162};
// Screening length a = 0.8854 a_Bohr / (Z1^0.23 + Z2^0.23).
constexpr double ZBL_LENGTH = 0.8854 * 0.529177210903;

}    // namespace

double zbl_energy(int z1, int z2, double r, double &dE_dr)
{
  const double a = ZBL_LENGTH / (std::pow((double) z1, 0.23) + std::pow((double) z2, 0.23));
  const double x = r / a;
  double phi = 0.0, dphi_dx = 0.0;
  for (int k = 0; k < 4; ++k) {
    const double term = ZBL_A[k] * std::exp(-ZBL_B[k] * x);
    phi += term;
    dphi_dx -= ZBL_B[k] * term;
  }
  const double coulomb = COULOMB_EV_ANGSTROM * z1 * z2 / r;    // bare nuclei
  dE_dr = -coulomb / r * phi + coulomb * dphi_dx / a;
  return coulomb * phi;
}

void CoreRepulsion::reset(int n_species)
{
  enabled_ = false;
  n_ = n_species;
  max_outer_ = 0.0;
  z_.assign(n_species, 0);
  radii_.assign((size_t) n_species * n_species, PairRadii{});
  outer_sq_.assign((size_t) n_species * n_species, 0.0);
}

void CoreRepulsion::set_atomic_number(int species, int z) { z_[species] = z; }

void CoreRepulsion::set_pair(int s, int t, double inner, double outer)
{
  enabled_ = true;
  for (const auto &[a, b] : {std::pair<int, int>{s, t}, std::pair<int, int>{t, s}}) {
    radii_[a * n_ + b] = PairRadii{inner, outer};
    outer_sq_[a * n_ + b] = outer * outer;
  }
  max_outer_ = std::max(max_outer_, outer);
}

double CoreRepulsion::energy(int s, int t, double r, double &dE_dr) const
{
  const PairRadii &p = radii_[s * n_ + t];
  dE_dr = 0.0;
  if (r >= p.outer) return 0.0;
  double dzbl = 0.0;
  const double e = zbl_energy(z_[s], z_[t], r, dzbl);
  if (r <= p.inner) {
    dE_dr = dzbl;
    return e;
  }
  const double width = p.outer - p.inner, x = (r - p.inner) / width;
  const double sw = cutoff_fn(x), dsw = cutoff_fn_deriv(x) / width;
  dE_dr = dzbl * sw + e * dsw;
  return e * sw;
}

}    // namespace tinynet
