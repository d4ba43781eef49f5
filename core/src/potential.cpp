#include "tinynet/potential.h"

#include <algorithm>
#include <cmath>

namespace tinynet {

bool ElementModel::outside_training_range(const double *G) const
{
  for (size_t f = 0; f < feature_min.size(); ++f)
    if (G[f] < feature_min[f] || G[f] > feature_max[f]) return true;
  return false;
}

int Potential::element_index(const std::string &symbol) const
{
  auto it = std::find(elements.begin(), elements.end(), symbol);
  return it == elements.end() ? -1 : (int) (it - elements.begin());
}

void Potential::compute(const NeighborGraph &graph, const int *centers, int n_centers,
                        EvalOutput &out)
{
  const int nf = descriptor.n_features();
  std::vector<double> G(nf), dE_dG(nf);
  descriptor.prepare(graph);
  for (int c = 0; c < n_centers; ++c) {
    const int i = centers[c];
    const int t = graph.species[i];
    if (t < 0) continue;
    descriptor.compute(graph, i, G.data());
    ElementModel &model = models[t];
    const double ei = model.evaluate(G.data(), dE_dG.data());
    if (out.check_range && model.outside_training_range(G.data())) ++out.n_extrapolating;
    descriptor.backprop(dE_dG.data());

    out.energy += ei;
    if (out.atom_energy) out.atom_energy[i] = ei;
    // Forces on every node of the neighbourhood; virial of this centre's energy
    // W = -sum_k (r_k - r_i) (x) dE_i/dr_k, which is translation invariant.
    const Environment &env = descriptor.env();
    double w[6] = {0, 0, 0, 0, 0, 0};
    for (int k = 0; k < env.size(); ++k) {
      const double *g = &env.grad[3 * k], *r = &env.rel[3 * k];
      double *f = out.force + 3 * (size_t) env.node[k];
      f[0] -= g[0];
      f[1] -= g[1];
      f[2] -= g[2];
      w[0] -= r[0] * g[0];
      w[1] -= r[1] * g[1];
      w[2] -= r[2] * g[2];
      w[3] -= r[0] * g[1];
      w[4] -= r[0] * g[2];
      w[5] -= r[1] * g[2];
    }
    if (out.want_virial)
      for (int m = 0; m < 6; ++m) out.virial[m] += w[m];
    if (out.atom_virial)
      for (int m = 0; m < 6; ++m) out.atom_virial[6 * (size_t) i + m] += w[m];
  }
}

}    // namespace tinynet
