// compute tinynet/ldos: per-atom local density of states from a tinynet LDOS
// model file, beside any pair style.
//
//   compute ID group tinynet/ldos FILE El1 El2 ...   (one element or NULL per atom type)
//
// Per-atom array: one column per grid point (states/eV/atom; zero for atoms
// outside the group or of NULL type). Global vector: the total DOS of the
// group (sum over its atoms on all ranks), same grid.
#ifndef LMP_COMPUTE_TINYNET_LDOS_H
#define LMP_COMPUTE_TINYNET_LDOS_H

#include "compute.h"

#include "tinynet/ldos_model.h"

#include <memory>
#include <vector>

namespace LAMMPS_NS {

class ComputeTinyNetLdos : public Compute {
 public:
  ComputeTinyNetLdos(class LAMMPS *, int, char **);
  ~ComputeTinyNetLdos() override;
  void init() override;
  void compute_vector() override;
  void compute_peratom() override;
  double memory_usage() override;

 private:
  void evaluate();       // per-atom LDOS of this step, once per step
  void build_graph();    // own neighbour lists over local and ghost atoms

  std::unique_ptr<tinynet::LdosModel> model;
  std::vector<int> element_of_type;
  int n_points = 0;

  tinynet::NeighborGraph graph;
  std::vector<int> node_species, bin_head, bin_next, neighbors, list_start, list_count;
  std::vector<int> centers;
  std::vector<double> buffer;    // [centre][n_points]

  double **ldos_atom = nullptr;    // [atom][n_points]
  int nmax = 0;
  bigint evaluated_step = -1;
};

}    // namespace LAMMPS_NS

#endif
