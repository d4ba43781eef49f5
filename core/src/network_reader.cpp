#include "network_reader.h"

#include <algorithm>
#include <cmath>

namespace tinynet {

void read_normalisation(const Field &model, int n_features, std::vector<double> &mean,
                        std::vector<double> &inv_std)
{
  mean = model["feature_mean"].numbers(n_features);
  const Field std_field = model["feature_std"];
  std_field.numbers(n_features);    // shape and finiteness
  inv_std.resize(n_features);
  for (int f = 0; f < n_features; ++f) {
    const Field std_f = std_field[f];
    const double sd = std_f.positive(), floor = STD_RELATIVE_FLOOR * std::max(std::fabs(mean[f]), 1.0);
    if (!(sd >= floor))
      std_f.fail("below the floor of 1e-6 * max(|feature_mean|, 1) = " + json(floor).dump() +
                 " (a near-zero spread gives an unbounded gain)");
    inv_std[f] = 1.0 / sd;
  }
}

std::vector<DenseLayer> read_layers(const Field &layers, int n_features, int n_outputs,
                                    const std::string &outputs)
{
  const size_t nl = layers.array_size();
  if (nl == 0) layers.fail("must not be empty");
  if (nl > MAX_LAYERS) layers.fail("more than " + std::to_string(MAX_LAYERS) + " layers");
  std::vector<DenseLayer> out;
  int n_in = n_features;
  for (size_t l = 0; l < nl; ++l) {
    const Field L = layers[l];
    L.only_keys({"weights", "bias", "activation"});
    DenseLayer layer;
    layer.n_in = n_in;
    const Field W = L["weights"], bias = L["bias"];
    if (W.array_size() != (size_t) n_in)
      W.fail("expected " + std::to_string(n_in) + " rows, got " + std::to_string(W.array_size()));
    layer.n_out = (int) bias.array_size();
    if (layer.n_out == 0) bias.fail("must not be empty");
    for (int i = 0; i < n_in; ++i) {
      const Field row = W[i];
      row.numbers(layer.n_out);    // shape
      for (int o = 0; o < layer.n_out; ++o) layer.weights.push_back(row[o].bounded(MAX_PARAMETER));
    }
    for (int o = 0; o < layer.n_out; ++o) layer.bias.push_back(bias[o].bounded(MAX_PARAMETER));
    const std::string act = L["activation"].str();
    if (act != "tanh" && act != "linear") L["activation"].fail("must be 'tanh' or 'linear'");
    layer.tanh = act == "tanh";
    n_in = layer.n_out;
    out.push_back(std::move(layer));
  }
  const Field last = layers[nl - 1];
  if (out.back().n_out != n_outputs)
    last["bias"].fail("the last layer must have " + outputs + ", got " + std::to_string(out.back().n_out));
  if (out.back().tanh) last["activation"].fail("the last layer must be linear");
  return out;
}

}    // namespace tinynet
