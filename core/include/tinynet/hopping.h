// Bond hoppings shared by the blocks that walk the bond graph (DESIGN.md
// section 2): h_c(r) = exp(-(r - r0)/lambda_c) fc(r/r_b), one per decay
// channel c, and the lazily filled bond table that holds them.
#pragma once

#include "tinynet/descriptor.h"

#include <cmath>
#include <vector>

namespace tinynet {

struct Hopping {
  double rb = 0.0, r0 = 0.0;      // bond cutoff, reference length
  std::vector<double> decay;      // lambda_c per channel

  int n_channels() const { return (int) decay.size(); }

  // h_c(r) and dh_c/dr of every channel at distance r < rb.
  void operator()(double r, double *h, double *dh) const
  {
    const double fc = cutoff_fn(r / rb), dfc = cutoff_fn_deriv(r / rb) / rb;
    for (size_t c = 0; c < decay.size(); ++c) {
      const double e = std::exp(-(r - r0) / decay[c]);
      h[c] = e * fc;
      dh[c] = e * (dfc - fc / decay[c]);
    }
  }
};

// Forget last step's rows (capacity is kept).
inline void reset_bond_table(BondTable &t, const NeighborGraph &graph)
{
  t.row_start.assign(graph.n_nodes, -1);
  t.row_count.resize(graph.n_nodes);
  t.partner.clear();
  t.unit.clear();
  t.length.clear();
  t.hop.clear();
  t.dhop.clear();
}

// The bonds of node u (partners closer than rb with a species this model
// handles), appended to the table the first time u is reached in a step.
inline void ensure_bond_row(BondTable &t, const NeighborGraph &graph, const Hopping &hopping, int u)
{
  if (t.row_start[u] >= 0) return;
  const int nc = hopping.n_channels();
  const double rbsq = hopping.rb * hopping.rb;
  const double *xu = graph.x + 3 * u;
  const int first = (int) t.partner.size();
  for (int k = 0; k < graph.count[u]; ++k) {
    const int v = graph.neighbor(u, k);
    if (v == u || graph.species[v] < 0) continue;
    const double *xv = graph.x + 3 * v;
    const double dx = xv[0] - xu[0], dy = xv[1] - xu[1], dz = xv[2] - xu[2];
    const double rsq = dx * dx + dy * dy + dz * dz;
    if (rsq >= rbsq) continue;
    const double r = std::sqrt(rsq);
    t.partner.push_back(v);
    t.unit.push_back(dx / r);
    t.unit.push_back(dy / r);
    t.unit.push_back(dz / r);
    t.length.push_back(r);
    // push_back, not resize: resize is an out-of-line call per bond (~0.5k
    // instructions an atom-step in the moments walk, measured with callgrind).
    const size_t h = t.hop.size();
    for (int c = 0; c < nc; ++c) {
      t.hop.push_back(0.0);
      t.dhop.push_back(0.0);
    }
    hopping(r, &t.hop[h], &t.dhop[h]);
  }
  t.row_start[u] = first;
  t.row_count[u] = (int) t.partner.size() - first;
}

inline double bond_table_bytes(const BondTable &t)
{
  return (double) (t.row_start.capacity() + t.row_count.capacity() + t.partner.capacity()) * sizeof(int) +
      (double) (t.unit.capacity() + t.length.capacity() + t.hop.capacity() + t.dhop.capacity()) * sizeof(double);
}

}    // namespace tinynet
