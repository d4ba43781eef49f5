// The per-element network: forward pass and backward pass for dE/dG.
// Written as plain loops over restrict pointers so the compiler vectorises
// them; this is a large part of the cost of an atom.
#include "tinynet/potential.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace tinynet {

namespace {

// exp(x) for x <= 0, vectorisable: x = n ln2 + r, |r| <= ln2/2, exp(r) by its
// Taylor series to r^13 (error < 1e-17 relative), times 2^n built in the
// exponent bits. Below -700 it returns ~1e-304 instead of underflowing.
inline double exp_nonpositive(double x)
{
  x = x < -700.0 ? -700.0 : x;
  const double n = std::nearbyint(x * 1.4426950408889634);    // x / ln2
  const double r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
  double p = 1.0 / 6227020800.0;    // 1/13!
  static constexpr double inv_fact[13] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                                          1.0 / 362880.0,    1.0 / 40320.0,    1.0 / 5040.0,
                                          1.0 / 720.0,       1.0 / 120.0,      1.0 / 24.0,
                                          1.0 / 6.0,         0.5,              1.0,
                                          1.0};
  for (double c : inv_fact) p = p * r + c;
  const int64_t bits = (int64_t) (n + 1023.0) << 52;
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// tanh through one exp, in a loop the compiler vectorises (libm's tanh is
// scalar and took a tenth of the MD step). Absolute error ~1e-16.
void tanh_inplace(double *__restrict y, int n)
{
  for (int o = 0; o < n; ++o) {
    const double t = exp_nonpositive(-2.0 * std::fabs(y[o]));
    const double magnitude = (1.0 - t) / (1.0 + t);
    y[o] = std::copysign(magnitude, y[o]);
  }
}

}    // namespace

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
    if (L.tanh) tanh_inplace(y, L.n_out);
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

}    // namespace tinynet
