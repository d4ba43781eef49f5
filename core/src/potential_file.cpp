// Reader of the tinynet potential file (JSON; format in docs/potential_file.md).
// Every check names the file and the field, so users can fix their file.
#include "tinynet/potential.h"

#include "block_registry.h"
#include "json_field.h"

#include <cmath>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace tinynet {

namespace {

constexpr const char *FORMAT_NAME = "tinynet-potential";
constexpr int FORMAT_VERSION = 1;

Descriptor read_descriptor(const Field &descriptor, int n_species)
{
  descriptor.only_keys({"blocks"});
  const Field blocks = descriptor["blocks"];
  if (blocks.array_size() == 0) blocks.fail("must not be empty");
  Descriptor out(n_species);
  for (size_t b = 0; b < blocks.array_size(); ++b) out.add_block(read_block(blocks[b], n_species));
  return out;
}

void read_model(const Field &m, int n_features, ElementModel &model)
{
  m.only_keys({"e0", "feature_mean", "feature_std", "feature_min", "feature_max", "layers"});
  model.e0 = m["e0"].number();
  model.mean = m["feature_mean"].numbers(n_features);
  m["feature_std"].numbers(n_features);    // shape and finiteness
  model.inv_std.resize(n_features);
  for (int f = 0; f < n_features; ++f) model.inv_std[f] = 1.0 / m["feature_std"][f].positive();
  model.feature_min = m["feature_min"].numbers(n_features);
  model.feature_max = m["feature_max"].numbers(n_features);

  const Field layers = m["layers"];
  const size_t nl = layers.array_size();
  if (nl == 0) layers.fail("must not be empty");
  int n_in = n_features;
  model.layers.clear();
  for (size_t l = 0; l < nl; ++l) {
    const Field L = layers[l];
    L.only_keys({"weights", "bias", "activation"});
    DenseLayer layer;
    layer.n_in = n_in;
    const Field W = L["weights"];
    if (W.array_size() != (size_t) n_in)
      W.fail("expected " + std::to_string(n_in) + " rows, got " + std::to_string(W.array_size()));
    layer.n_out = (int) W[0].array_size();
    if (layer.n_out == 0) W.fail("rows must not be empty");
    for (int i = 0; i < n_in; ++i) {
      std::vector<double> row = W[i].numbers(layer.n_out);
      layer.weights.insert(layer.weights.end(), row.begin(), row.end());
    }
    layer.bias = L["bias"].numbers(layer.n_out);
    const std::string act = L["activation"].str();
    if (act != "tanh" && act != "linear") L["activation"].fail("must be 'tanh' or 'linear'");
    layer.tanh = act == "tanh";
    n_in = layer.n_out;
    model.layers.push_back(std::move(layer));
  }
  const Field last = layers[nl - 1];
  if (model.layers.back().n_out != 1) last["weights"].fail("the last layer must have 1 output");
  if (model.layers.back().tanh) last["activation"].fail("the last layer must be linear");
  model.finalize();
}

json parse(const std::string &text, const std::string &source)
{
  try {
    return json::parse(mark_nonfinite(text));
  } catch (const std::exception &e) {
    throw FileError(source, "", std::string("not valid JSON (truncated or corrupt?): ") + e.what());
  }
}

}    // namespace

Descriptor parse_descriptor(const std::string &json_text, int n_species, const std::string &source)
{
  const json doc = parse(json_text, source);
  return read_descriptor(Field(source, doc, "descriptor"), n_species);
}

Potential read_potential(const std::string &path)
{
  std::ifstream in(path);
  if (!in) throw FileError(path, "", "cannot open potential file");
  std::stringstream text;
  text << in.rdbuf();
  const json doc = parse(text.str(), path);
  const Field root(path, doc, "");
  root.only_keys({"format", "version", "units", "elements", "descriptor", "cutoff", "models",
                  "provenance"});

  Potential pot;
  pot.path = path;
  if (root["format"].str() != FORMAT_NAME)
    root["format"].fail(std::string("expected '") + FORMAT_NAME + "'");
  pot.version = (int) root["version"].integer();
  if (pot.version != FORMAT_VERSION)
    root["version"].fail("unsupported version " + std::to_string(pot.version) +
                         " (this build reads version " + std::to_string(FORMAT_VERSION) + ")");
  pot.units = root["units"].str();
  if (pot.units != "metal") root["units"].fail("only 'metal' units are supported");

  const Field elements = root["elements"];
  if (elements.array_size() == 0) elements.fail("must not be empty");
  for (size_t e = 0; e < elements.array_size(); ++e) {
    const std::string el = elements[e].str();
    if (pot.element_index(el) >= 0) elements[e].fail("duplicate element '" + el + "'");
    pot.elements.push_back(el);
  }
  const int n_species = (int) pot.elements.size();

  pot.descriptor = read_descriptor(root["descriptor"], n_species);

  pot.cutoff = root["cutoff"].positive();
  if (std::fabs(pot.cutoff - pot.descriptor.cutoff()) > 1e-12 * pot.cutoff)
    root["cutoff"].fail("does not match the range of the descriptor blocks (" +
                        std::to_string(pot.descriptor.cutoff()) + ")");

  const Field models = root["models"];
  models.only_keys(std::set<std::string>(pot.elements.begin(), pot.elements.end()));
  pot.models.resize(n_species);
  for (int t = 0; t < n_species; ++t)
    read_model(models[pot.elements[t]], pot.descriptor.n_features(), pot.models[t]);
  return pot;
}

}    // namespace tinynet
