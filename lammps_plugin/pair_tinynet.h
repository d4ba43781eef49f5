// pair_style tinynet: thin LAMMPS glue around the tinynet core (core/).
// The descriptor and networks know nothing of LAMMPS; this class turns
// LAMMPS neighbour lists into a tinynet::NeighborGraph and tallies results.
#ifndef LMP_PAIR_TINYNET_H
#define LMP_PAIR_TINYNET_H

#include "pair.h"

#include "lammps_graph.h"
#include "tinynet/potential.h"

#include <memory>
#include <string>
#include <vector>

namespace LAMMPS_NS {

class PairTinyNet : public Pair {
 public:
  PairTinyNet(class LAMMPS *);
  ~PairTinyNet() override;

  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  void finish() override;
  double memory_usage() override;

 private:
  enum class Extrapolation { WARN, ERROR, IGNORE };

  void allocate();
  void report_extrapolation(const char *when);
  void stop_if_failed(const std::string &failure);    // collective; "" = no failure here

  std::unique_ptr<tinynet::Potential> potential;
  std::vector<int> element_of_type;    // LAMMPS type -> element index, -1 for NULL
  tinynet::NeighborGraph graph;
  tinynet_lammps::BondLists bond_lists;    // the locals' rows: bond partners first
  std::vector<int> node_species;

  Extrapolation extrapolation = Extrapolation::WARN;
  int report_every = 0;            // 0: report only at the end of a run
  bigint extrapolating_local = 0;  // atom-steps outside the training range since the last report
  bigint steps_local = 0;
};

}    // namespace LAMMPS_NS

#endif
