// EANN density block (Zhang, Hu, Jiang, J. Phys. Chem. Lett. 2019): angular
// (three-body) information at pairwise cost, resolved by species pairs.
#pragma once

#include "tinynet/descriptor.h"

#include <string>
#include <vector>

namespace tinynet {

// For the centre i, Gaussian k, neighbour species s and Cartesian monomial
// m = (lx, ly, lz) of degree L = lx + ly + lz:
//   T[s][k][m] = sum_(j of species s) x^lx y^ly z^lz exp(-alpha (r - c_k)^2) fc(r / cutoff)
// (x, y, z = r_j - r_i), and per unordered species pair s <= s':
//   rho[L][k][(s,s')] = sum_(m of degree L) L!/(lx! ly! lz!) T[s][k][m] T[s'][k][m]
// = sum over j of s, j' of s' of phi_k(r_j) phi_k(r_j') (r_j . r_j')^L: bond angles,
// also between unlike neighbours. One pass over neighbours accumulates T;
// backprop forms dE/dT and makes one more pass.
class EannBlock : public DescriptorBlock {
 public:
  static constexpr int CHUNK = 4;    // monomials per vector chunk
  EannBlock(double cutoff, std::vector<double> centers, double alpha, int l_max, int n_species);
  std::string type() const override { return "eann"; }
  int n_features() const override { return (l_max_ + 1) * n_centers_ * n_pairs_; }
  double range() const override { return rc_; }
  double list_cutoff() const override { return rc_; }
  void compute(Environment &env, double *features) override;
  void backprop(Environment &env, const double *dE_dG) override;
  double memory_bytes() const override;

 private:
  // Gaussians times fc, and their r-derivatives, at distance r < cutoff.
  void radial(double r, double *basis, double *dbasis) const;
  // All monomials x^lx y^ly z^lz of degree <= l_max, in monomial order
  // (uses the `powers` scratch).
  void monomials(double x, double y, double z, double *mono);

  double rc_, alpha_;
  std::vector<double> centers_;
  int l_max_, n_species_, n_centers_, n_pairs_, n_mono_;
  int stride_;    // n_mono_ rounded up to a multiple of CHUNK
  // Evenly spaced centres: phi_(k+1) = phi_k * ratio_k, ratio_(k+1) =
  // ratio_k * exp(-2 alpha delta^2): two exps per neighbour instead of n_centers.
  bool recurrence_ = false;
  double delta_ = 0.0, ratio_step_ = 0.0;

  // Monomial tables (degree L occupies [mono_start_[L], mono_start_[L+1]));
  // the derivative tables are padded to stride_ with zero factors.
  std::vector<int> mono_start_;
  std::vector<int> lx_, ly_, lz_;
  std::vector<double> weight_;                  // L!/(lx! ly! lz!)
  std::vector<int> down_x_, down_y_, down_z_;   // monomial with lx (ly, lz) lowered by one (0 if none)
  std::vector<double> dlx_, dly_, dlz_;         // lx, ly, lz as factors of those derivatives
  std::vector<int> pair_first_, pair_second_;   // species of each unordered pair

  // Scratch of the current centre (capacity reused from centre to centre).
  std::vector<double> T;          // [species][center][stride_ monomials]
  std::vector<double> dE_dT;      // same layout
  size_t n_in_range = 0;
  std::vector<int> in_range;      // [n_in_range] environment indices with r < cutoff
  std::vector<double> basis, dbasis;    // [in_range][center]
  std::vector<double> mono;             // [in_range][stride_ monomials]
  std::vector<double> powers;           // x^a, y^a, z^a for a = 0..l_max
};

}    // namespace tinynet
