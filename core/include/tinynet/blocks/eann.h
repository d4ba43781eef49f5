// EANN density block (Zhang, Hu, Jiang, J. Phys. Chem. Lett. 2019): angular
// (three-body) information at pairwise cost, resolved by species pairs.
#pragma once

#include "tinynet/descriptor.h"

#include <string>
#include <type_traits>
#include <vector>

namespace tinynet {

// For the centre i, Gaussian k, neighbour species s and Cartesian monomial
// m = (lx, ly, lz) of degree L = lx + ly + lz:
//   T[s][k][m] = sum_(j of species s) x^lx y^ly z^lz exp(-alpha (r - c_k)^2) fc(r / cutoff)
// (x, y, z = r_j - r_i), and per unordered species pair s <= s':
//   rho[L][k][(s,s')] = sum_(m of degree L) L!/(lx! ly! lz!) T[s][k][m] T[s'][k][m]
// = sum over j of s, j' of s' of phi_k(r_j) phi_k(r_j') (r_j . r_j')^L: bond angles,
// also between unlike neighbours.
//
// Layout: the neighbours within the cutoff are rows of structure-of-arrays
// tables (one row per Gaussian or monomial, one column per neighbour),
// grouped by species and padded to whole vectors of CHUNK neighbours with
// entries at r = cutoff (basis 0), so that every per-neighbour quantity (the
// exps, cutoff function, monomials, the reverse sweep) runs CHUNK neighbours
// at a time. The Gaussians are computed once per neighbour and kept for the
// reverse sweep.
class EannBlock : public DescriptorBlock {
 public:
  static constexpr int CHUNK = 4;    // neighbours per vector
  EannBlock(double cutoff, std::vector<double> centers, double alpha, int l_max, int n_species);
  std::string type() const override { return "eann"; }
  int n_features() const override { return (l_max_ + 1) * n_centers_ * n_pairs_; }
  double range() const override { return rc_; }
  double list_cutoff() const override { return rc_; }
  void compute(Environment &env, double *features) override;
  void backprop(Environment &env, const double *dE_dG) override;
  double memory_bytes() const override;

 private:
  // The neighbours within the cutoff into the columns, grouped by species.
  void gather(const Environment &env);
  // Cutoff function, Gaussians times fc and their r-derivatives of every
  // column (NK = n_centers_ at compile time, or 0; OFF_GRID = off_grid_).
  template <int NK, bool OFF_GRID> void radial_rows();
  // f(std::integral_constant<int, NK>) with NK = n_centers_ where kernels
  // are compiled for it (4, 5, 6, 8 centres: loops unrolled), else NK = 0.
  template <class F> void with_centres(F &&f) const
  {
    switch (n_centers_) {
      case 4: f(std::integral_constant<int, 4>{}); break;
      case 5: f(std::integral_constant<int, 5>{}); break;
      case 6: f(std::integral_constant<int, 6>{}); break;
      case 8: f(std::integral_constant<int, 8>{}); break;
      default: f(std::integral_constant<int, 0>{}); break;
    }
  }
  // Monomial rows, T and the features (LMAX = l_max_ at compile time, or -1:
  // see eann.cpp).
  template <int LMAX> void compute_lmax(double *features);
  // dE/dT, then per column d/dr_j of sum_(k,m) dE/dT[s][k][m] basis_k
  // monomial_m into env.grad (NK = n_centers_ at compile time, or 0).
  template <int LMAX> void backprop_lmax(Environment &env, const double *dE_dG);
  template <int NK, int LMAX> void backprop_columns(Environment &env);

  double rc_, alpha_;
  std::vector<double> centers_;
  int l_max_, n_species_, n_centers_, n_pairs_, n_mono_;
  int stride_;    // n_mono_ rounded up to a multiple of 4 (the rows of T)
  // Evenly spaced centres: phi_(k+1) = phi_k * ratio_k, ratio_(k+1) =
  // ratio_k * exp(-2 alpha delta^2): two exps per neighbour instead of n_centers;
  // centres slightly off that grid get a factor exp(slope r + offset) by its
  // Taylor series (see the constructor).
  bool recurrence_ = false, off_grid_ = false;    // off_grid_: some centre is off the even grid
  double delta_ = 0.0, ratio_step_ = 0.0;
  std::vector<double> off_grid_slope_, off_grid_offset_;    // per centre

  // Monomial tables (degree L occupies [mono_start_[L], mono_start_[L+1])).
  std::vector<int> mono_start_;
  std::vector<int> lx_, ly_, lz_;
  std::vector<double> weight_;                  // L!/(lx! ly! lz!)
  std::vector<int> degree_;                     // L of each monomial
  std::vector<int> parent_, parent_axis_;       // m >= 1: monomial parent_ times coordinate parent_axis_
  // d(monomial m)/d(axis) = factor * monomial down, for the m containing that axis.
  struct DerivTerm {
    int m, down;
    double factor;
  };
  std::vector<DerivTerm> deriv_[3];
  std::vector<int> pair_first_, pair_second_;   // species of each unordered pair

  // Scratch of the current centre (capacity reused from centre to centre).
  std::vector<double> T;          // [species][center][stride_ monomials]
  std::vector<double> dE_dT;      // same layout
  std::vector<int> in_range_;     // environment indices with r < cutoff, in environment order
  std::vector<int> seg_begin_, seg_count_, cursor_;    // per species: first column, neighbours
  int columns_ = 0;               // columns in use (species segments padded to CHUNK)
  int cap_ = 0;                   // columns allocated
  std::vector<int> env_index_;    // [column] environment index, -1 for padding
  // The columns in blocks of CHUNK ("array of structures of arrays": every
  // field of a chunk is CHUNK doubles, at a fixed offset in the chunk's block):
  // r, x, y, z, then basis_k (k < n_centers), dbasis_k/dr, monomials, and dE/dr_j (x, y, z).
  enum { F_R = 0, F_X = 1, F_Y = 2, F_Z = 3, F_BASIS = 4 };
  int block_ = 0;                 // doubles per chunk
  std::vector<double> cols_;
  std::vector<double> cvec_;              // [monomial][CHUNK] sum_k basis_k dE/dT[k][m]
};

}    // namespace tinynet
