// A tinynet potential: descriptor + one small network per element, plus an
// optional short-range repulsion (core_repulsion.h):
//   E = sum_i [ NN_t(i)((G_i - mean_t) / std_t) + e0_t(i) + 1/2 sum_j E_rep(r_ij) ]
// No LAMMPS types; hosts pass a NeighborGraph and receive forces/energies.
#pragma once

#include "tinynet/core_repulsion.h"
#include "tinynet/descriptor.h"

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tinynet {

// Any problem with a potential file; the message names the file and the field.
class FileError : public std::runtime_error {
 public:
  std::string file, field, detail;
  FileError(const std::string &file_, const std::string &field_, const std::string &what) :
      std::runtime_error(file_ + ": " + (field_.empty() ? "" : field_ + ": ") + what), file(file_),
      field(field_), detail(what)
  {
  }
};

// Atoms closer than this (Angstrom) stop the evaluation: coincident atoms give
// NaN descriptors, and no physical configuration has them.
constexpr double MIN_DISTANCE = 0.1;

// A configuration the potential cannot evaluate: two atoms closer than
// MIN_DISTANCE, or a non-finite energy or force at an atom. Nodes are graph
// indices; hosts name them with describe() (LAMMPS: atom IDs).
class EvaluationError : public std::runtime_error {
 public:
  enum class Kind { CLOSE_ATOMS, NON_FINITE };
  Kind kind;
  int node_a, node_b;    // node_b = -1 for NON_FINITE
  double distance;

  EvaluationError(Kind k, int a, int b, double r) :
      std::runtime_error(message(k, "node " + std::to_string(a), "node " + std::to_string(b), r)),
      kind(k), node_a(a), node_b(b), distance(r)
  {
  }
  std::string describe(const std::function<std::string(int)> &name_of_node) const
  {
    return message(kind, name_of_node(node_a), node_b >= 0 ? name_of_node(node_b) : "", distance);
  }

 private:
  static std::string message(Kind k, const std::string &a, const std::string &b, double r);
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
  std::vector<double> zeros_;                 // zero bias of the backward pass
};

struct EvalOutput {
  double *force = nullptr;          // [node][3], accumulated (required)
  double *atom_energy = nullptr;    // [node], written at each centre (optional)
  double *atom_virial = nullptr;    // [node][6] xx yy zz xy xz yz, accumulated at each centre (optional)
  bool want_virial = false;         // total virial by explicit sum into `virial`
  bool check_range = true;          // count centres outside the training range
  // Also check the lists of the nodes that are no centres (ghosts, images).
  // A host whose every such node is an image of some centre of its own (or
  // of another MPI rank's) may turn it off: the image pair's counterpart is
  // in that centre's list, and so the pair is found there (LAMMPS: ~1k
  // instructions an atom-step at 1000 atoms, the ghosts' lists).
  bool check_other_nodes = true;
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
  CoreRepulsion repulsion;             // enabled() only if the file has "core_repulsion"

  // Neighbours a centre's own list must hold: the descriptor's and the repulsion's.
  double list_cutoff() const { return std::max(descriptor.list_cutoff(), repulsion.max_outer()); }

  // Evaluate the energy of the given centres and accumulate forces on every node.
  // Throws EvaluationError for any listed pair of nodes closer than MIN_DISTANCE
  // (or with a non-finite position; with out.check_other_nodes off, any pair
  // in a centre's list) and for a non-finite energy or force contribution of
  // a centre.
  void compute(const NeighborGraph &graph, const int *centers, int n_centers, EvalOutput &out);
  int element_index(const std::string &symbol) const;    // -1 if absent

 private:
  std::vector<char> centre_mark_;    // per node: a centre of the current compute()
};

// Read and fully validate a potential file (JSON, see docs/potential_file.md).
// Throws FileError naming the file and the offending field.
Potential read_potential(const std::string &path);

// The repulsion alone (the trainer's baseline): energies, forces and virial of
// the pairs of the given centres, with the same closeness check as compute().
void compute_repulsion(const CoreRepulsion &repulsion, const NeighborGraph &graph, const int *centers,
                       int n_centers, EvalOutput &out);

// Build a repulsion from the JSON text of a "core_repulsion" section, checked
// as in a potential file with the given elements and cutoff.
CoreRepulsion parse_core_repulsion(const std::string &json_text, const std::vector<std::string> &elements,
                                   double cutoff, const std::string &source);

// Build a descriptor from the JSON text of a potential file's "descriptor"
// section, for the given elements (species s is elements[s]).
Descriptor parse_descriptor(const std::string &json_text, const std::vector<std::string> &elements,
                            const std::string &source);

}    // namespace tinynet
