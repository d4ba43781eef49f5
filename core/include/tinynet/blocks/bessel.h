// Bessel block: species-pair-resolved power spectrum of orthonormal
// spherical-Bessel radial functions times real spherical harmonics
// (Kocer, Mason and Erturk, J. Chem. Phys. 150, 154102 (2019)).
#pragma once

#include "tinynet/descriptor.h"

#include <string>
#include <vector>

namespace tinynet {

// Radial functions g_n(r), n = 0..n_max, orthonormal on [0, rc] with weight
// r^2 and vanishing with their first two derivatives at rc:
//   f_n(r) = a_n [sinc((n+1) pi r / rc) + sinc((n+2) pi r / rc)],
//   a_n    = (-1)^n sqrt(2) pi / rc^(3/2) (n+1)(n+2) / sqrt((n+1)^2 + (n+2)^2)
// (each f_n has unit norm; only neighbours f_n, f_(n+1) overlap), then
//   e_n = n^2 (n+2)^2 / (4 (n+1)^4 + 1),  d_0 = 1,  d_n = 1 - e_n / d_(n-1),
//   g_0 = f_0,  g_n = (f_n + sqrt(e_n / d_(n-1)) g_(n-1)) / sqrt(d_n).
class BesselRadial {
 public:
  BesselRadial(double cutoff, int n_max);
  int size() const { return (int) scale_.size(); }
  // g_n(r) and dg_n/dr for 0 < r < cutoff.
  void evaluate(double r, double *g, double *dg);

 private:
  double rc_;
  std::vector<double> scale_;       // a_n
  std::vector<double> mix_;         // sqrt(e_n / d_(n-1)), n >= 1
  std::vector<double> inv_sqrt_d_;  // 1 / sqrt(d_n)
  std::vector<double> inv_k_;         // [k] 1/k, k = 1..n_max+2 (index k-1)
  std::vector<double> sinc_, dsinc_;  // [k] scratch
};

// Real spherical harmonics Y_lm (orthonormal on the unit sphere, no
// Condon-Shortley phase), index lm = l^2 + l + m:
//   Y_lm = N_lm Q_lm(z) Re (x + i y)^m        (m >= 0)
//   Y_lm = N_l|m| Q_l|m|(z) Im (x + i y)^|m|  (m < 0)
// with Q_lm = d^m P_l / dz^m (Legendre P_l) by the standard recurrence in l.
// The gradient returned is that of the polynomial F_lm(x, y, z) given by the
// same formula, which equals Y_lm on the sphere; the gradient of Y_lm(b/|b|)
// with respect to the bond vector b is its tangential part,
// (grad F - u (u . grad F)) / |b|, which the caller forms after summing.
class RealHarmonics {
 public:
  explicit RealHarmonics(int l_max);
  int size() const { return (l_max_ + 1) * (l_max_ + 1); }
  // u: unit vector. y[lm] = Y_lm(u); fx/fy/fz[lm] = grad F_lm(u).
  void evaluate(const double *u, double *y, double *fx, double *fy, double *fz);

 private:
  int l_max_;
  std::vector<double> norm_;          // [lm], N_lm, times sqrt(2) for m != 0
  std::vector<double> rec_a_, rec_b_; // [l][m]: Q_lm = a z Q_(l-1)m - b Q_(l-2)m
  std::vector<double> q_;             // [l][m] scratch, Q_lm
  std::vector<double> cm_, sm_;       // Re, Im (x + i y)^m scratch
};

class BesselBlock : public DescriptorBlock {
 public:
  BesselBlock(double cutoff, int n_max, int l_max, int n_species);
  std::string type() const override { return "bessel"; }
  int n_features() const override { return n_radial_ * (l_max_ + 1) * n_pairs_; }
  double range() const override { return rc_; }
  double list_cutoff() const override { return rc_; }
  void compute(Environment &env, double *features) override;
  void backprop(Environment &env, const double *dE_dG) override;
  double memory_bytes() const override;

 private:
  double rc_;
  int n_radial_, l_max_, n_lm_, n_species_, n_pairs_;
  std::vector<int> pair_first_, pair_second_;    // [pair] species s <= s'
  BesselRadial radial_;
  RealHarmonics harmonics_;

  // Scratch kept between compute and backprop, reused from centre to centre.
  std::vector<int> in_range_;      // environment indices with r < cutoff
  std::vector<double> g_, dg_;     // [neighbour][n]
  std::vector<double> y_;          // [neighbour][lm]
  std::vector<double> dy_;         // [neighbour][3][lm] grad F_lm (see RealHarmonics)
  std::vector<double> c_, dc_;     // [s][n][lm] expansion coefficients, dE/dc
  std::vector<char> dc_live_;      // [s] any nonzero dE/dc for species s
  std::vector<double> acc_a_, acc_b_;    // [lm] sum_n dE/dc g_n, sum_n dE/dc g_n'
};

}    // namespace tinynet
