// The per-element network: forward pass and backward pass for dE/dG.
// Register-tiled loops (affine below) and an inline tanh, so the compiler
// vectorises them; this is a large part of the cost of an atom.
#include "tinynet/potential.h"

#include "tinynet/fast_exp.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace tinynet {

namespace {

// tanh through one exp, four units at a time (libm's tanh is scalar and took
// a tenth of the MD step). Absolute error ~1e-16.
void tanh_inplace(double *__restrict y, int n)
{
  int o = 0;
  for (; o + 4 <= n; o += 4) {
    Vec4d v;
    std::memcpy(&v, y + o, sizeof v);
    const Vec4d zero = {};
    const Vec4d t = fast_exp(-2.0 * (v < zero ? -v : v));
    const Vec4d magnitude = (1.0 - t) / (1.0 + t);
    v = v < zero ? -magnitude : magnitude;
    std::memcpy(y + o, &v, sizeof v);
  }
  for (; o < n; ++o) {
    const double t = fast_exp(-2.0 * std::fabs(y[o]));
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
  zeros_.assign(widest, 0.0);
}

namespace {

// Four doubles as one value (GCC/Clang vector extension): one AVX2 register.
// The layer loops below keep up to 32 outputs in registers over the whole input
// sum instead of loading and storing y for every input (measured with
// callgrind: the plain loops took ~3x the instructions; 8-wide values were
// worse still on AVX2, spilled to the stack).
constexpr int CHUNK = 4;
using Vec = double __attribute__((vector_size(CHUNK * sizeof(double))));

inline Vec load(const double *p)
{
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store(double *p, Vec v) { std::memcpy(p, &v, sizeof v); }

// y[o0 .. o0 + 4 NV) = b + sum_i x[i] W[i][o], W row-major [n_in][n_out],
// with the NV output vectors in registers over the whole input sum. SPLIT:
// even and odd inputs in two sets of accumulators, so that a narrow tile
// still has eight independent chains of FMAs (with four, each layer waited on
// the FMA latency: ~4 cycles an input).
template <int NV, bool SPLIT>
inline void affine_tile(const double *__restrict x, const double *__restrict W, const double *__restrict b, int n_in,
                        int n_out, int o0, double *__restrict y)
{
  Vec even[NV], odd[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    even[v] = load(b + o0 + v * CHUNK);
    odd[v] = Vec{};
  }
  int i = 0;
  if constexpr (SPLIT) {
    for (; i + 2 <= n_in; i += 2) {
      const double *wi = W + (size_t) i * n_out + o0, *wj = wi + n_out;
      const double xi = x[i], xj = x[i + 1];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        even[v] += xi * load(wi + v * CHUNK);
        odd[v] += xj * load(wj + v * CHUNK);
      }
    }
  }
  for (; i < n_in; ++i) {
    const double *wi = W + (size_t) i * n_out + o0;
    const double xi = x[i];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) even[v] += xi * load(wi + v * CHUNK);
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) store(y + o0 + v * CHUNK, SPLIT ? even[v] + odd[v] : even[v]);
}

// y[o] = b[o] + sum_i x[i] W[i][o]: tiles of eight output vectors, then one
// narrower tile, then scalar outputs; a single output (the last layer) as a
// dot product in four partial sums.
void affine(const double *__restrict x, const double *__restrict W, const double *__restrict b, int n_in,
            int n_out, double *__restrict y)
{
  if (n_out == 1) {    // the output layer: a dot product, four inputs at a time
    Vec acc = {};
    int i = 0;
    for (; i + CHUNK <= n_in; i += CHUNK) acc += load(x + i) * load(W + i);
    double sum = b[0] + ((acc[0] + acc[2]) + (acc[1] + acc[3]));
    for (; i < n_in; ++i) sum += x[i] * W[i];
    y[0] = sum;
    return;
  }
  int o0 = 0;
  for (; o0 + 8 * CHUNK <= n_out; o0 += 8 * CHUNK) affine_tile<8, false>(x, W, b, n_in, n_out, o0, y);
  switch ((n_out - o0) / CHUNK) {
    case 1: affine_tile<1, true>(x, W, b, n_in, n_out, o0, y); break;
    case 2: affine_tile<2, true>(x, W, b, n_in, n_out, o0, y); break;
    case 3: affine_tile<3, true>(x, W, b, n_in, n_out, o0, y); break;
    case 4: affine_tile<4, true>(x, W, b, n_in, n_out, o0, y); break;
    case 5: affine_tile<5, false>(x, W, b, n_in, n_out, o0, y); break;
    case 6: affine_tile<6, false>(x, W, b, n_in, n_out, o0, y); break;
    case 7: affine_tile<7, false>(x, W, b, n_in, n_out, o0, y); break;
    default: break;
  }
  for (o0 += (n_out - o0) / CHUNK * CHUNK; o0 < n_out; ++o0) {    // the last n_out % 4
    double acc = b[o0];
    for (int i = 0; i < n_in; ++i) acc += x[i] * W[(size_t) i * n_out + o0];
    y[o0] = acc;
  }
}

}    // namespace

double ElementModel::evaluate(const double *G, double *dE_dG)
{
  const int nl = (int) layers.size(), nf = (int) mean.size();
  double *__restrict x0 = input_.data();
  const double *mu = mean.data(), *inv = inv_std.data();
  int f = 0;
  for (; f + CHUNK <= nf; f += CHUNK) store(x0 + f, (load(G + f) - load(mu + f)) * load(inv + f));
  for (; f < nf; ++f) x0[f] = (G[f] - mu[f]) * inv[f];

  // Forward: y = act(x W + b).
  const double *x = x0;
  for (int l = 0; l < nl; ++l) {
    const DenseLayer &L = layers[l];
    double *y = outputs_.data() + offsets_[l];
    affine(x, L.weights.data(), L.bias.data(), L.n_in, L.n_out, y);
    if (L.tanh) tanh_inplace(y, L.n_out);
    x = y;
  }
  const double energy = x[0] + e0;

  // Backward: g = dE/d(layer output) -> dE/d(pre-activation) -> dE/d(input)
  // = W g, i.e. an affine map with the transposed weights and zero bias.
  double *__restrict g = grad_a_.data();
  double *__restrict gin = grad_b_.data();
  g[0] = 1.0;
  for (int l = nl - 1; l >= 0; --l) {
    const DenseLayer &L = layers[l];
    const double *__restrict y = outputs_.data() + offsets_[l];
    if (L.tanh) {
      int o = 0;
      for (; o + CHUNK <= L.n_out; o += CHUNK) {
        const Vec yo = load(y + o);
        store(g + o, load(g + o) * (1.0 - yo * yo));
      }
      for (; o < L.n_out; ++o) g[o] *= 1.0 - y[o] * y[o];
    }
    affine(g, L.weights_t.data(), zeros_.data(), L.n_out, L.n_in, gin);
    std::swap(g, gin);
  }
  for (f = 0; f + CHUNK <= nf; f += CHUNK) store(dE_dG + f, load(g + f) * load(inv + f));
  for (; f < nf; ++f) dE_dG[f] = g[f] * inv[f];
  return energy;
}

}    // namespace tinynet
