// A tinynet LDOS model: descriptor + one network per element whose linear
// output layer gives the atom's local density of states on a fixed energy
// grid relative to the Fermi level (file format "tinynet-ldos", docs/ldos.md).
// No forces: only Descriptor::compute per centre. No LAMMPS types.
#pragma once

#include "tinynet/descriptor.h"
#include "tinynet/potential.h"    // FileError, DenseLayer

#include <string>
#include <vector>

namespace tinynet {

struct LdosGrid {
  double energy_start = 0.0;    // eV relative to the Fermi level
  double energy_step = 0.0;     // eV
  int n_points = 0;
  double broadening = 0.0;      // Gaussian sigma of the reference data, eV
  std::string units;            // "states/eV/atom"
  double energy(int p) const { return energy_start + energy_step * p; }
};

class LdosElementModel {
 public:
  std::vector<double> mean, inv_std;
  std::vector<DenseLayer> layers;    // last: linear, n_points outputs

  void finalize();    // scratch buffers, after the layers are set
  // LDOS of one atom (n_points values) from its raw features G.
  void evaluate(const double *G, double *ldos);

 private:
  std::vector<double> a_, b_;    // scratch
};

class LdosModel {
 public:
  std::string path;
  int version = 0;
  std::string units;
  std::vector<std::string> elements;
  Descriptor descriptor{0};
  LdosGrid grid;
  std::vector<LdosElementModel> models;    // per element index

  int n_points() const { return grid.n_points; }
  int element_index(const std::string &symbol) const;    // -1 if absent
  // LDOS of each centre into ldos[c * n_points + p]; centres of species -1
  // (not modelled) get zeros.
  void compute(const NeighborGraph &graph, const int *centers, int n_centers, double *ldos);
};

// Read and fully validate an LDOS model file; FileError names file and field.
LdosModel read_ldos_model(const std::string &path);

}    // namespace tinynet
