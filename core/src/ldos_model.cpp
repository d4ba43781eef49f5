// Reader and evaluator of tinynet LDOS model files ("format": "tinynet-ldos").
// The descriptor section uses the same block readers as potential files.
#include "tinynet/ldos_model.h"

#include "block_registry.h"
#include "json_field.h"
#include "network_reader.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace tinynet {

namespace {

constexpr const char *FORMAT_NAME = "tinynet-ldos";
constexpr int FORMAT_VERSION = 1;
constexpr int MAX_POINTS = 100000;

LdosGrid read_grid(const Field &g)
{
  g.only_keys({"energy_start", "energy_step", "n_points", "reference", "broadening", "units"});
  LdosGrid grid;
  grid.energy_start = g["energy_start"].number();
  grid.energy_step = g["energy_step"].positive();
  grid.n_points = (int) g["n_points"].integer_in(2, MAX_POINTS);
  if (g["reference"].str() != "fermi_level") g["reference"].fail("expected 'fermi_level'");
  grid.broadening = g["broadening"].positive();
  grid.units = g["units"].str();
  if (grid.units != "states/eV/atom") g["units"].fail("expected 'states/eV/atom'");
  return grid;
}

void read_element(const Field &m, int n_features, int n_points, LdosElementModel &model)
{
  m.only_keys({"feature_mean", "feature_std", "layers"});
  read_normalisation(m, n_features, model.mean, model.inv_std);
  model.layers = read_layers(m["layers"], n_features, n_points,
                             "one output per grid point (ldos.n_points = " + std::to_string(n_points) + ")");
  model.finalize();
}

}    // namespace

void LdosElementModel::finalize()
{
  size_t widest = mean.size();
  for (const DenseLayer &L : layers) widest = std::max(widest, (size_t) L.n_out);
  a_.resize(widest);
  b_.resize(widest);
}

void LdosElementModel::evaluate(const double *G, double *ldos)
{
  const int nf = (int) mean.size(), nl = (int) layers.size();
  double *x = a_.data(), *y = b_.data();
  for (int f = 0; f < nf; ++f) x[f] = (G[f] - mean[f]) * inv_std[f];
  for (int l = 0; l < nl; ++l) {
    const DenseLayer &L = layers[l];
    double *__restrict out = l == nl - 1 ? ldos : y;
    for (int o = 0; o < L.n_out; ++o) out[o] = L.bias[o];
    for (int i = 0; i < L.n_in; ++i) {
      const double xi = x[i];
      const double *__restrict wi = L.weights.data() + (size_t) i * L.n_out;
      for (int o = 0; o < L.n_out; ++o) out[o] += xi * wi[o];
    }
    if (L.tanh)
      for (int o = 0; o < L.n_out; ++o) out[o] = std::tanh(out[o]);
    std::swap(x, y);
  }
}

int LdosModel::element_index(const std::string &symbol) const
{
  auto it = std::find(elements.begin(), elements.end(), symbol);
  return it == elements.end() ? -1 : (int) (it - elements.begin());
}

void LdosModel::compute(const NeighborGraph &graph, const int *centers, int n_centers, double *ldos)
{
  std::vector<double> G(descriptor.n_features());
  descriptor.prepare(graph);
  for (int c = 0; c < n_centers; ++c) {
    double *out = ldos + (size_t) c * grid.n_points;
    const int i = centers[c];
    const int t = graph.species[i];
    if (t < 0) {
      std::fill(out, out + grid.n_points, 0.0);
      continue;
    }
    descriptor.prefetch_ahead(graph, centers, n_centers, c);
    descriptor.compute(graph, i, G.data());
    models[t].evaluate(G.data(), out);
  }
}

LdosModel read_ldos_model(const std::string &path)
{
  const json doc = read_json_file(path, "LDOS model file");
  const Field root(path, doc, "");
  root.only_keys({"format", "version", "units", "elements", "descriptor", "ldos", "models", "provenance"});

  LdosModel model;
  model.path = path;
  model.version = read_header(root, FORMAT_NAME, FORMAT_VERSION);
  model.units = "metal";
  model.elements = read_elements(root["elements"]);
  const int n_species = (int) model.elements.size();
  model.descriptor = read_descriptor(root["descriptor"], model.elements);

  model.grid = read_grid(root["ldos"]);

  const Field models = root["models"];
  models.only_keys(std::set<std::string>(model.elements.begin(), model.elements.end()));
  model.models.resize(n_species);
  for (int t = 0; t < n_species; ++t)
    read_element(models[model.elements[t]], model.descriptor.n_features(), model.grid.n_points,
                 model.models[t]);
  if (root.has("provenance") && !doc["provenance"].is_object())
    root["provenance"].fail("expected an object");
  return model;
}

}    // namespace tinynet
