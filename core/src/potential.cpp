#include "tinynet/potential.h"

#include <algorithm>
#include <cmath>

namespace tinynet {

void ElementModel::finalize()
{
  size_t widest = mean.size();
  offsets_.assign(1, 0);
  for (DenseLayer &L : layers) {
    L.weights_t.resize(L.weights.size());
    for (int i = 0; i < L.n_in; ++i)
      for (int o = 0; o < L.n_out; ++o)
        L.weights_t[(size_t) o * L.n_in + i] = L.weights[(size_t) i * L.n_out + o];
    offsets_.push_back(offsets_.back() + L.n_out);
    widest = std::max(widest, (size_t) L.n_out);
  }
  input_.resize(mean.size());
  outputs_.resize(offsets_.back());
  grad_a_.resize(widest);
  grad_b_.resize(widest);
}

double ElementModel::evaluate(const double *G, double *dE_dG)
{
  // Plain loops over restrict pointers, inner loop contiguous: the compiler
  // vectorises them (the network is a large part of the cost per atom).
  const int nl = (int) layers.size(), nf = (int) mean.size();
  double *__restrict x0 = input_.data();
  for (int f = 0; f < nf; ++f) x0[f] = (G[f] - mean[f]) * inv_std[f];

  // Forward: y = act(x W + b), W row-major [n_in][n_out].
  const double *x = x0;
  for (int l = 0; l < nl; ++l) {
    const DenseLayer &L = layers[l];
    double *__restrict y = outputs_.data() + offsets_[l];
    const double *__restrict b = L.bias.data();
    for (int o = 0; o < L.n_out; ++o) y[o] = b[o];
    for (int i = 0; i < L.n_in; ++i) {
      const double xi = x[i];
      const double *__restrict wi = L.weights.data() + (size_t) i * L.n_out;
      for (int o = 0; o < L.n_out; ++o) y[o] += xi * wi[o];
    }
    if (L.tanh)
      for (int o = 0; o < L.n_out; ++o) y[o] = std::tanh(y[o]);
    x = y;
  }
  const double energy = x[0] + e0;

  // Backward: g = dE/d(layer output) -> dE/d(pre-activation) -> dE/d(input),
  // using the transposed weights so the inner loop is contiguous too.
  double *__restrict g = grad_a_.data();
  double *__restrict gin = grad_b_.data();
  g[0] = 1.0;
  for (int l = nl - 1; l >= 0; --l) {
    const DenseLayer &L = layers[l];
    const double *__restrict y = outputs_.data() + offsets_[l];
    if (L.tanh)
      for (int o = 0; o < L.n_out; ++o) g[o] *= 1.0 - y[o] * y[o];
    for (int i = 0; i < L.n_in; ++i) gin[i] = 0.0;
    for (int o = 0; o < L.n_out; ++o) {
      const double go = g[o];
      const double *__restrict wo = L.weights_t.data() + (size_t) o * L.n_in;
      for (int i = 0; i < L.n_in; ++i) gin[i] += go * wo[i];
    }
    std::swap(g, gin);
  }
  for (int f = 0; f < nf; ++f) dE_dG[f] = g[f] * inv_std[f];
  return energy;
}

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
