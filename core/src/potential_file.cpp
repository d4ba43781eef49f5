// Reader of the tinynet potential file (JSON; format in docs/potential_file.md).
// Every check names the file and the field, so users can fix their file.
#include "tinynet/potential.h"

#include "block_registry.h"
#include "json_field.h"
#include "network_reader.h"

#include <cmath>
#include <memory>
#include <set>

namespace tinynet {

namespace {

constexpr const char *FORMAT_NAME = "tinynet-potential";
constexpr int FORMAT_VERSION = 1;

// Bounds that keep every accepted file finite (docs/potential_file.md,
// "Bounds"; the Python reader: tinynet.potential_file); the network's are in
// network_reader.h.
constexpr int MAX_ATOMIC_NUMBER = 118;
constexpr double MIN_SWITCH_WIDTH = 0.1;       // outer - inner of the repulsion (Angstrom)

void read_model(const Field &m, int n_features, ElementModel &model)
{
  m.only_keys({"e0", "feature_mean", "feature_std", "feature_min", "feature_max", "layers"});
  model.e0 = m["e0"].bounded(MAX_PARAMETER);
  read_normalisation(m, n_features, model.mean, model.inv_std);
  model.feature_min = m["feature_min"].numbers(n_features);
  model.feature_max = m["feature_max"].numbers(n_features);
  for (int f = 0; f < n_features; ++f)
    if (model.feature_min[f] > model.feature_max[f])
      m["feature_min"][f].fail("greater than feature_max[" + std::to_string(f) + "]");
  model.layers = read_layers(m["layers"], n_features, 1, "1 output");
  model.finalize();
}

// "core_repulsion": ZBL per element pair, switched off between inner and outer.
void read_repulsion(const Field &rep, const std::vector<std::string> &elements, double cutoff,
                    CoreRepulsion &out)
{
  rep.only_keys({"type", "atomic_numbers", "pairs"});
  if (rep["type"].str() != "zbl") rep["type"].fail("expected 'zbl'");
  const int n = (int) elements.size();
  out.reset(n);

  const Field z = rep["atomic_numbers"];
  z.only_keys(std::set<std::string>(elements.begin(), elements.end()));
  for (int s = 0; s < n; ++s) out.set_atomic_number(s, (int) z[elements[s]].integer_in(1, MAX_ATOMIC_NUMBER));

  // One entry per unordered pair, named "A-B" with A not after B in `elements`.
  std::set<std::string> names;
  for (int s = 0; s < n; ++s)
    for (int t = s; t < n; ++t)
      if (!names.insert(elements[s] + "-" + elements[t]).second)
        rep["pairs"].fail("pair name '" + elements[s] + "-" + elements[t] +
                          "' is ambiguous (element symbols containing '-')");
  const Field pairs = rep["pairs"];
  pairs.only_keys(names);
  for (int s = 0; s < n; ++s)
    for (int t = s; t < n; ++t) {
      const Field p = pairs[elements[s] + "-" + elements[t]];
      p.only_keys({"inner", "outer"});
      const double inner = p["inner"].number(), outer = p["outer"].number();
      if (!(inner >= 0.0)) p["inner"].fail("must be >= 0");
      if (!(outer - inner >= MIN_SWITCH_WIDTH))
        p["outer"].fail("must exceed inner by at least " + json(MIN_SWITCH_WIDTH).dump() + " Angstrom");
      if (!(outer <= cutoff))
        p["outer"].fail("exceeds the potential's cutoff (" + json(cutoff).dump() + ")");
      out.set_pair(s, t, inner, outer);
    }
}

}    // namespace

Descriptor parse_descriptor(const std::string &json_text, const std::vector<std::string> &elements,
                            const std::string &source)
{
  const json doc = parse_json(json_text, source);
  return read_descriptor(Field(source, doc, "descriptor"), elements);
}

CoreRepulsion parse_core_repulsion(const std::string &json_text, const std::vector<std::string> &elements,
                                   double cutoff, const std::string &source)
{
  const json doc = parse_json(json_text, source);
  CoreRepulsion out;
  read_repulsion(Field(source, doc, "core_repulsion"), elements, cutoff, out);
  return out;
}

Potential read_potential(const std::string &path)
{
  const json doc = read_json_file(path, "potential file");
  const Field root(path, doc, "");
  root.only_keys({"format", "version", "units", "elements", "descriptor", "cutoff", "models",
                  "core_repulsion", "provenance"});

  Potential pot;
  pot.path = path;
  pot.version = read_header(root, FORMAT_NAME, FORMAT_VERSION);
  pot.units = "metal";
  pot.elements = read_elements(root["elements"]);
  const int n_species = (int) pot.elements.size();

  pot.descriptor = read_descriptor(root["descriptor"], pot.elements);

  pot.cutoff = root["cutoff"].cutoff();
  if (std::fabs(pot.cutoff - pot.descriptor.cutoff()) > 1e-12 * std::max(1.0, pot.descriptor.cutoff()))
    root["cutoff"].fail("does not match the range of the descriptor blocks (" +
                        std::to_string(pot.descriptor.cutoff()) + ")");

  const Field models = root["models"];
  models.only_keys(std::set<std::string>(pot.elements.begin(), pot.elements.end()));
  pot.models.resize(n_species);
  for (int t = 0; t < n_species; ++t)
    read_model(models[pot.elements[t]], pot.descriptor.n_features(), pot.models[t]);

  pot.repulsion.reset(n_species);
  if (root.has("core_repulsion")) read_repulsion(root["core_repulsion"], pot.elements, pot.cutoff, pot.repulsion);
  if (root.has("provenance") && !root["provenance"].is_object()) root["provenance"].fail("expected an object");
  return pot;
}

}    // namespace tinynet
