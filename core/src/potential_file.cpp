// Reader of the tinynet potential file (JSON; format in docs/potential_file.md).
// Every check names the file and the field, so users can fix their file.
#include "tinynet/potential.h"

// nlohmann/json, as vendored (namespace nlohmann_lmp) in the LAMMPS headers.
#include "nlohmann/json.hpp"

#include <cmath>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace tinynet {

namespace {

using json = nlohmann_lmp::json;

constexpr const char *FORMAT_NAME = "tinynet-potential";
constexpr int FORMAT_VERSION = 1;

// JSON has no NaN/Infinity, but Python's json module writes them. Turn such
// bare tokens into marked strings, so the field they sit in can be named.
const std::string NONFINITE_MARK = "~tinynet-nonfinite~";

std::string mark_nonfinite(const std::string &text)
{
  static const char *tokens[] = {"-Infinity", "Infinity", "NaN"};
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t k = 0; k < text.size(); ++k) {
    const char ch = text[k];
    if (in_string) {
      out += ch;
      if (ch == '\\' && k + 1 < text.size()) out += text[++k];
      else if (ch == '"') in_string = false;
      continue;
    }
    if (ch == '"') in_string = true;
    bool replaced = false;
    for (const char *tok : tokens) {
      const size_t len = std::char_traits<char>::length(tok);
      if (text.compare(k, len, tok) == 0) {
        out += "\"" + NONFINITE_MARK + tok + "\"";
        k += len - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += ch;
  }
  return out;
}

// Checked access to a JSON value, remembering its field path for messages.
class Field {
 public:
  Field(const std::string &file, const json &value, std::string path) :
      file_(file), value_(value), path_(std::move(path))
  {
  }

  [[noreturn]] void fail(const std::string &what) const { throw FileError(file_, path_, what); }

  Field operator[](const std::string &key) const
  {
    if (!value_.is_object()) fail("expected an object");
    auto it = value_.find(key);
    if (it == value_.end()) throw FileError(file_, join(key), "missing");
    return Field(file_, *it, join(key));
  }
  Field operator[](size_t k) const
  {
    return Field(file_, value_.at(k), path_ + "[" + std::to_string(k) + "]");
  }
  bool has(const std::string &key) const { return value_.is_object() && value_.contains(key); }

  void only_keys(const std::set<std::string> &allowed) const
  {
    if (!value_.is_object()) fail("expected an object");
    for (auto it = value_.begin(); it != value_.end(); ++it)
      if (!allowed.count(it.key())) throw FileError(file_, join(it.key()), "unknown key");
  }
  size_t array_size() const
  {
    if (!value_.is_array()) fail("expected an array");
    return value_.size();
  }
  std::string str() const
  {
    if (!value_.is_string()) fail("expected a string");
    return value_.get<std::string>();
  }
  long integer() const
  {
    if (!value_.is_number_integer()) fail("expected an integer");
    return value_.get<long>();
  }
  double number() const
  {
    if (value_.is_string() && value_.get<std::string>().rfind(NONFINITE_MARK, 0) == 0)
      fail("not a finite number (" + value_.get<std::string>().substr(NONFINITE_MARK.size()) + ")");
    if (!value_.is_number()) fail("expected a number");
    const double v = value_.get<double>();
    if (!std::isfinite(v)) fail("not a finite number");
    return v;
  }
  double positive() const
  {
    const double v = number();
    if (!(v > 0.0)) fail("must be > 0");
    return v;
  }
  std::vector<double> numbers(size_t expected_size = 0) const
  {
    const size_t n = array_size();
    if (expected_size && n != expected_size)
      fail("expected " + std::to_string(expected_size) + " values, got " + std::to_string(n));
    std::vector<double> out(n);
    for (size_t k = 0; k < n; ++k) out[k] = (*this)[k].number();
    return out;
  }

 private:
  std::string join(const std::string &key) const { return path_.empty() ? key : path_ + "." + key; }
  const std::string &file_;
  const json &value_;
  std::string path_;
};

std::unique_ptr<DescriptorBlock> read_block(const Field &b, int n_species)
{
  const std::string type = b["type"].str();
  if (type == "moments") {
    b.only_keys({"type", "n_max", "bond_cutoff", "r0", "decay_lengths"});
    const long n_max = b["n_max"].integer();
    if (n_max < 2 || n_max > 32) b["n_max"].fail("must be between 2 and 32");
    const double rb = b["bond_cutoff"].positive();
    const double r0 = b["r0"].number();
    std::vector<double> decay = b["decay_lengths"].numbers();
    if (decay.empty()) b["decay_lengths"].fail("must not be empty");
    for (size_t c = 0; c < decay.size(); ++c) b["decay_lengths"][c].positive();
    return std::make_unique<MomentsBlock>((int) n_max, rb, r0, decay, n_species);
  }
  if (type == "radial") {
    b.only_keys({"type", "cutoff", "centers", "alpha"});
    const double rc = b["cutoff"].positive();
    std::vector<double> centers = b["centers"].numbers();
    if (centers.empty()) b["centers"].fail("must not be empty");
    return std::make_unique<RadialBlock>(rc, centers, b["alpha"].positive(), n_species);
  }
  b["type"].fail("unknown descriptor block type '" + type + "'");
}

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
