// A tinynet potential: descriptor + one small network per element.
//   E = sum_i [ NN_t(i)((G_i - mean_t) / std_t) + e0_t(i) ]
// No LAMMPS types; hosts pass a NeighborGraph and receive forces/energies.
#pragma once

#include "tinynet/descriptor.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace tinynet {

// Any problem with a potential file; the message names the file and the field.
class FileError : public std::runtime_error {
 public:
  FileError(const std::string &file, const std::string &field, const std::string &what) :
      std::runtime_error(file + ": " + (field.empty() ? "" : field + ": ") + what)
  {
  }
};

struct DenseLayer {
  int n_in = 0, n_out = 0;
  std::vector<double> weights;    // [n_in][n_out], row-major
  std::vector<double> weights_t;  // [n_out][n_in], for the backward pass
  std::vector<double> bias;       // [n_out]
  bool tanh = true;               // else linear
};

// The network of one element, with its feature normalisation and training range.
class ElementModel {
 public:
  double e0 = 0.0;
  std::vector<double> mean, inv_std, feature_min, feature_max;
  std::vector<DenseLayer> layers;

  void finalize();    // after the layers are set: transposes, scratch

  // Energy of one atom from its raw features G; writes dE/dG.
  double evaluate(const double *G, double *dE_dG);
  bool outside_training_range(const double *G) const;

 private:
  std::vector<int> offsets_;                  // of each layer's output in outputs_
  std::vector<double> input_, outputs_, grad_a_, grad_b_;    // scratch
};

struct EvalOutput {
  double *force = nullptr;          // [node][3], accumulated (required)
  double *atom_energy = nullptr;    // [node], written at each centre (optional)
  double *atom_virial = nullptr;    // [node][6] xx yy zz xy xz yz, accumulated at each centre (optional)
  bool want_virial = false;         // total virial by explicit sum into `virial`
  bool check_range = true;          // count centres outside the training range
  double energy = 0.0;
  double virial[6] = {0, 0, 0, 0, 0, 0};
  long n_extrapolating = 0;
};

class Potential {
 public:
  std::string path;
  int version = 0;
  std::string units;
  std::vector<std::string> elements;
  Descriptor descriptor{0};
  std::vector<ElementModel> models;    // per element index
  double cutoff = 0.0;

  // Evaluate the energy of the given centres and accumulate forces on every node.
  void compute(const NeighborGraph &graph, const int *centers, int n_centers, EvalOutput &out);
  int element_index(const std::string &symbol) const;    // -1 if absent
};

// Read and fully validate a potential file (JSON, see docs/potential_file.md).
// Throws FileError naming the file and the offending field.
Potential read_potential(const std::string &path);

// Build a descriptor from the JSON text of a potential file's "descriptor" section.
Descriptor parse_descriptor(const std::string &json_text, int n_species, const std::string &source);

}    // namespace tinynet
