// Short-range repulsion: the ZBL screened nuclear repulsion per element pair,
// switched off smoothly (C2) between an inner and an outer radius.
//   E_pair(r) = ZBL(r) * S(r),  S = 1 below inner, fc((r - inner) / (outer - inner))
//   between, 0 beyond outer (fc as the descriptor's cutoff function).
// A fixed baseline under the network: it keeps atoms apart where training
// data never go (see docs/potential_file.md, "core_repulsion").
#pragma once

#include <vector>

namespace tinynet {

// e^2 / (4 pi eps0) in eV Angstrom.
constexpr double COULOMB_EV_ANGSTROM = 14.399645;

// ZBL universal screened Coulomb energy of nuclei z1, z2 at distance r (> 0);
// writes dE/dr.
double zbl_energy(int z1, int z2, double r, double &dE_dr);

class CoreRepulsion {
 public:
  struct PairRadii {
    double inner = 0.0, outer = 0.0;
  };

  // No repulsion until set_pair is called for every pair.
  void reset(int n_species);
  void set_atomic_number(int species, int z);
  void set_pair(int s, int t, double inner, double outer);    // symmetric

  bool enabled() const { return enabled_; }
  double max_outer() const { return max_outer_; }
  double outer_sq(int s, int t) const { return outer_sq_[s * n_ + t]; }
  const PairRadii &radii(int s, int t) const { return radii_[s * n_ + t]; }
  int atomic_number(int s) const { return z_[s]; }

  // Pair energy at distance r between species s and t (0 beyond outer); writes dE/dr.
  double energy(int s, int t, double r, double &dE_dr) const;

 private:
  bool enabled_ = false;
  int n_ = 0;
  double max_outer_ = 0.0;
  std::vector<int> z_;
  std::vector<PairRadii> radii_;
  std::vector<double> outer_sq_;
};

}    // namespace tinynet
