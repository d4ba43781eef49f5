// Checked access to the JSON of a potential file (internal to the core):
// every failure throws FileError naming the file and the field path.
#pragma once

#include "tinynet/potential.h"

// nlohmann/json, as vendored (namespace nlohmann_lmp) in the LAMMPS headers.
#include "nlohmann/json.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <set>
#include <string>
#include <vector>

namespace tinynet {

using json = nlohmann_lmp::json;

// JSON has no NaN/Infinity, but Python's json module writes them. Turn such
// bare tokens into marked strings, so the field they sit in can be named.
inline const std::string NONFINITE_MARK = "~tinynet-nonfinite~";

inline std::string mark_nonfinite(const std::string &text)
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

// Largest cutoff any block accepts, and the largest interaction range of a
// potential (the Python reader: tinynet.blocks.MAX_CUTOFF).
constexpr double MAX_CUTOFF = 20.0;

constexpr int MAX_DEPTH = 64;    // nesting of JSON arrays and objects

// Strict JSON (json_field.cpp; Python: tinynet.json_file): no byte-order
// mark, no NUL, no duplicate keys, nesting at most MAX_DEPTH; bare
// NaN/Infinity become marked strings, so the field holding them is named.
// Any failure is a FileError naming `source`.
json parse_json(const std::string &text, const std::string &source);
// The document of a potential or LDOS file; `kind` names it in "cannot open".
json read_json_file(const std::string &path, const std::string &kind);

// Checked access to a JSON value, remembering its field path for messages.
class Field {
 public:
  Field(const std::string &file, const json &value, std::string path) :
      file_(file), value_(value), path_(std::move(path))
  {
  }

  [[noreturn]] void fail(const std::string &what) const { throw FileError(file_, path_, what); }
  // A failure naming the member `key` of this object, present or not.
  [[noreturn]] void fail_at(const std::string &key, const std::string &what) const
  {
    throw FileError(file_, join(key), what);
  }

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
  // The keys of an object, in byte order (as Python's sorted() orders them).
  std::vector<std::string> keys() const
  {
    if (!value_.is_object()) fail("expected an object");
    std::vector<std::string> out;
    for (auto it = value_.begin(); it != value_.end(); ++it) out.push_back(it.key());
    std::sort(out.begin(), out.end());
    return out;
  }
  bool is_object() const { return value_.is_object(); }

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
    const std::string v = value_.get<std::string>();
    if (v.rfind(NONFINITE_MARK, 0) == 0) fail("expected a string, got " + v.substr(NONFINITE_MARK.size()));
    return v;
  }
  // An exact JSON integer that fits a long (never wrapped or cast).
  long integer() const
  {
    if (!value_.is_number_integer()) fail("expected an integer");
    if (value_.is_number_unsigned() && value_.get<unsigned long long>() > (unsigned long long) LONG_MAX)
      fail("integer out of range (" + value_.dump() + ")");
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
  // A number with |v| <= limit: parameters whose use must not overflow.
  double bounded(double limit) const
  {
    const double v = number();
    if (!(std::fabs(v) <= limit)) fail("magnitude exceeds the maximum of " + json(limit).dump());
    return v;
  }
  // An integer in [lo, hi].
  long integer_in(long lo, long hi) const
  {
    const long v = integer();
    if (v < lo || v > hi)
      fail("must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
           std::to_string(v));
    return v;
  }
  // A distance that LAMMPS can communicate and that keeps every sum finite.
  double cutoff() const
  {
    const double v = positive();
    if (v > MAX_CUTOFF)
      fail("exceeds the maximum of " + std::to_string((int) MAX_CUTOFF) + " Angstrom");
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

// The header every tinynet file starts with: its format name, a version this
// build reads, and metal units. Returns the version.
inline int read_header(const Field &root, const char *format, int version)
{
  if (root["format"].str() != format) root["format"].fail(std::string("expected '") + format + "'");
  const long v = root["version"].integer();
  if (v != version)
    root["version"].fail("unsupported version " + std::to_string(v) + " (this build reads version " +
                         std::to_string(version) + ")");
  if (root["units"].str() != "metal") root["units"].fail("only 'metal' units are supported");
  return (int) v;
}

// A non-empty list of distinct, non-empty element symbols.
inline std::vector<std::string> read_elements(const Field &elements)
{
  std::vector<std::string> out;
  if (elements.array_size() == 0) elements.fail("must not be empty");
  for (size_t e = 0; e < elements.array_size(); ++e) {
    const std::string el = elements[e].str();
    if (el.empty()) elements[e].fail("empty string");
    for (const std::string &seen : out)
      if (seen == el) elements[e].fail("duplicate element '" + el + "'");
    out.push_back(el);
  }
  return out;
}

}    // namespace tinynet
