// Reader of the tinynet potential file (JSON; format in docs/potential_file.md).
// Every check names the file and the field, so users can fix their file.
#include "tinynet/potential.h"

#include "block_registry.h"
#include "json_field.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace tinynet {

namespace {

constexpr const char *FORMAT_NAME = "tinynet-potential";
constexpr int FORMAT_VERSION = 1;

// Bounds that keep every accepted file finite (docs/potential_file.md,
// "Bounds"; the Python reader: tinynet.potential_file).
constexpr double MAX_PARAMETER = 1e6;         // |e0|, |weights|, |biases|
constexpr double STD_RELATIVE_FLOOR = 1e-6;   // feature_std >= floor * max(|mean|, 1)
constexpr size_t MAX_LAYERS = 16;
constexpr int MAX_DEPTH = 64;                  // nesting of JSON arrays and objects
constexpr int MAX_ATOMIC_NUMBER = 118;
constexpr double MIN_SWITCH_WIDTH = 0.1;       // outer - inner of the repulsion (Angstrom)

void read_model(const Field &m, int n_features, ElementModel &model)
{
  m.only_keys({"e0", "feature_mean", "feature_std", "feature_min", "feature_max", "layers"});
  model.e0 = m["e0"].bounded(MAX_PARAMETER);
  model.mean = m["feature_mean"].numbers(n_features);
  m["feature_std"].numbers(n_features);    // shape and finiteness
  model.inv_std.resize(n_features);
  for (int f = 0; f < n_features; ++f) {
    const Field std_f = m["feature_std"][f];
    const double sd = std_f.positive(), floor = STD_RELATIVE_FLOOR * std::max(std::fabs(model.mean[f]), 1.0);
    if (!(sd >= floor))
      std_f.fail("below the floor of 1e-6 * max(|feature_mean|, 1) = " + json(floor).dump() +
                 " (a near-zero spread gives an unbounded gain)");
    model.inv_std[f] = 1.0 / sd;
  }
  model.feature_min = m["feature_min"].numbers(n_features);
  model.feature_max = m["feature_max"].numbers(n_features);
  for (int f = 0; f < n_features; ++f)
    if (model.feature_min[f] > model.feature_max[f])
      m["feature_min"][f].fail("greater than feature_max[" + std::to_string(f) + "]");

  const Field layers = m["layers"];
  const size_t nl = layers.array_size();
  if (nl == 0) layers.fail("must not be empty");
  if (nl > MAX_LAYERS) layers.fail("more than " + std::to_string(MAX_LAYERS) + " layers");
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
      const Field row = W[i];
      row.numbers(layer.n_out);    // shape
      for (int o = 0; o < layer.n_out; ++o) layer.weights.push_back(row[o].bounded(MAX_PARAMETER));
    }
    const Field bias = L["bias"];
    bias.numbers(layer.n_out);
    for (int o = 0; o < layer.n_out; ++o) layer.bias.push_back(bias[o].bounded(MAX_PARAMETER));
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

// Strict JSON: no byte-order mark, no NUL (nlohmann would stop reading at
// one), no duplicate keys, bounded nesting. Bare NaN/Infinity are turned into
// marked strings first so that the field holding them can be named.
json parse(const std::string &text, const std::string &source)
{
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0)
    throw FileError(source, "", "starts with a UTF-8 byte-order mark (not allowed in JSON text)");
  const size_t nul = text.find('\0');
  if (nul != std::string::npos)
    throw FileError(source, "", "contains a NUL byte at offset " + std::to_string(nul));

  std::vector<std::set<std::string>> keys_of_open_objects;
  int depth = 0;
  auto strict = [&](int, json::parse_event_t event, json &parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (++depth > MAX_DEPTH)
          throw FileError(source, "", "nested deeper than " + std::to_string(MAX_DEPTH) + " levels");
        if (event == json::parse_event_t::object_start) keys_of_open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        --depth;
        if (event == json::parse_event_t::object_end) keys_of_open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys_of_open_objects.back().insert(parsed.get<std::string>()).second)
          throw FileError(source, "", "duplicate key '" + parsed.get<std::string>() + "'");
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(mark_nonfinite(text), strict);
  } catch (const FileError &) {
    throw;
  } catch (const std::exception &e) {
    // The parser quotes the bytes it stopped at, which may be anything.
    std::string what;
    for (const unsigned char ch : std::string(e.what())) {
      if (ch >= 0x20 && ch < 0x7f) {
        what += (char) ch;
      } else {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02x", ch);
        what += hex;
      }
    }
    throw FileError(source, "", "not valid JSON (truncated or corrupt?): " + what);
  }
}

}    // namespace

Descriptor parse_descriptor(const std::string &json_text, const std::vector<std::string> &elements,
                            const std::string &source)
{
  const json doc = parse(json_text, source);
  return read_descriptor(Field(source, doc, "descriptor"), elements);
}

CoreRepulsion parse_core_repulsion(const std::string &json_text, const std::vector<std::string> &elements,
                                   double cutoff, const std::string &source)
{
  const json doc = parse(json_text, source);
  CoreRepulsion out;
  read_repulsion(Field(source, doc, "core_repulsion"), elements, cutoff, out);
  return out;
}

Potential read_potential(const std::string &path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "", "cannot open potential file");
  std::stringstream text;
  text << in.rdbuf();
  const json doc = parse(text.str(), path);
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
