// Radial block: two-body neighbour-shell information per species.
#pragma once

#include "tinynet/descriptor.h"

#include <string>
#include <vector>

namespace tinynet {

// Radial block: Gaussians exp(-alpha (r - r_k)^2) * fc(r / r_cut) summed over
// neighbours of each species.
class RadialBlock : public DescriptorBlock {
 public:
  RadialBlock(double cutoff, std::vector<double> centers, double alpha, int n_species);
  std::string type() const override { return "radial"; }
  int n_features() const override { return (int) centers_.size() * n_species_; }
  double range() const override { return rc_; }
  double list_cutoff() const override { return rc_; }
  void compute(Environment &env, double *features) override;
  void backprop(Environment &env, const double *dE_dG) override;

 private:
  double rc_, alpha_;
  std::vector<double> centers_;
  int n_species_;
  // Evenly spaced centres: the Gaussians follow from two exps per neighbour,
  // phi_(k+1) = phi_k * ratio_k, ratio_(k+1) = ratio_k * exp(-2 alpha delta^2).
  bool recurrence_ = false;
  double delta_ = 0.0, ratio_step_ = 0.0;
  // Scratch, grown as needed and kept between centres:
  std::vector<int> in_range;        // environment indices with r < cutoff (first n_in_range_)
  size_t n_in_range_ = 0;
  std::vector<double> dbasis;       // [in_range][k] d(phi_k fc)/dr
  std::vector<double> phi_;         // [k] Gaussians of the current neighbour
  std::vector<double> per_neighbour_;    // [5][neighbour]: r, fc, dfc/dr, two exps
};

}    // namespace tinynet
