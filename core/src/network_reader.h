// The network section shared by potential and LDOS files: the feature
// normalisation and the dense layers of one element's model, with the
// bounds that keep every accepted file finite (docs/potential_file.md,
// "Bounds"; the Python reader: tinynet.network_file).
#pragma once

#include "json_field.h"
#include "tinynet/potential.h"    // DenseLayer

#include <string>
#include <vector>

namespace tinynet {

constexpr double MAX_PARAMETER = 1e6;          // |e0|, |weights|, |biases|
constexpr double STD_RELATIVE_FLOOR = 1e-6;    // feature_std >= floor * max(|feature_mean|, 1)
constexpr size_t MAX_LAYERS = 16;

// "feature_mean" and "feature_std" of `model`, n_features each: the means and
// the inverse spreads.
void read_normalisation(const Field &model, int n_features, std::vector<double> &mean,
                        std::vector<double> &inv_std);

// "layers": n_features inputs; the last layer linear with n_outputs outputs
// (`outputs` says what they are, for the message).
std::vector<DenseLayer> read_layers(const Field &layers, int n_features, int n_outputs,
                                    const std::string &outputs);

}    // namespace tinynet
