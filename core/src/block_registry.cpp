#include "block_registry.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>

namespace tinynet {

namespace {

// Type name in the file -> reader. Adding a block type: one file in blocks/,
// one line here, one spec in trainer/tinynet/blocks.py.
const std::pair<const char *, BlockReader> BLOCK_TYPES[] = {
    {"moments", read_moments_block},
    {"simple_cycles", read_simple_cycles_block},
    {"radial", read_radial_block},
    {"eann", read_eann_block},
    {"bessel", read_bessel_block},
};

}    // namespace

std::vector<double> read_centers(const Field &centers)
{
  std::vector<double> out = centers.numbers();
  if (out.empty()) centers.fail("must not be empty");
  for (size_t k = 0; k < out.size(); ++k)
    if (std::fabs(out[k]) > MAX_CENTER)
      centers[k].fail("must be within +-" + std::to_string((int) MAX_CENTER) + " Angstrom");
  return out;
}

double read_alpha(const Field &alpha)
{
  const double v = alpha.positive();
  if (v > MAX_ALPHA) alpha.fail("must be <= 1e4 (1/Angstrom^2)");
  return v;
}

namespace {

std::string element_list(const Elements &elements)
{
  std::string out;
  for (const std::string &el : elements) out += (out.empty() ? "" : ", ") + el;
  return out;
}

}    // namespace

std::vector<double> read_pair_table(const Field &value, const Elements &elements,
                                    double (*read)(const Field &))
{
  const int n = (int) elements.size();
  std::vector<double> table((size_t) n * n);
  if (!value.is_object()) {
    std::fill(table.begin(), table.end(), read(value));
    return table;
  }
  // "A-B" and "B-A" -> the unordered pair's slot s * n + t, s <= t.
  std::map<std::string, int> slot_of;
  for (int s = 0; s < n; ++s)
    for (int t = 0; t < n; ++t) {
      const int slot = std::min(s, t) * n + std::max(s, t);
      const auto added = slot_of.emplace(elements[s] + "-" + elements[t], slot);
      if (!added.second && added.first->second != slot)
        value.fail("pair names are ambiguous (element symbols containing '-')");
    }
  const std::string known = " (elements: " + element_list(elements) + ")";
  std::vector<std::string> given(table.size());    // the key that gave each slot
  for (const std::string &key : value.keys()) {
    const auto it = slot_of.find(key);
    if (it == slot_of.end()) {
      const size_t dash = key.find('-');
      if (dash != std::string::npos)
        for (const std::string &part : {key.substr(0, dash), key.substr(dash + 1)})
          if (std::find(elements.begin(), elements.end(), part) == elements.end())
            value.fail_at(key, "unknown element '" + part + "'" + known);
      value.fail_at(key, "expected an element pair 'A-B'" + known);
    }
    const int slot = it->second;
    if (!given[slot].empty()) value.fail_at(key, "duplicate pair (the same as '" + given[slot] + "')");
    given[slot] = key;
    table[slot] = read(value[key]);
  }
  for (int s = 0; s < n; ++s)
    for (int t = s; t < n; ++t) {
      if (given[s * n + t].empty())
        value.fail_at(elements[s] + "-" + elements[t], "missing (every pair of elements needs a value)");
      table[t * n + s] = table[s * n + t];
    }
  return table;
}

Hopping read_hopping(const Field &b, long n_max, const Elements &elements)
{
  // One number bonds every pair; per pair, 0 marks a pair that is never bonded.
  const Field cut = b["bond_cutoff"];
  std::vector<double> rb = cut.is_object() ? read_pair_table(cut, elements, [](const Field &f) {
    const double v = f.number();
    if (v == 0.0) return 0.0;
    if (!(v > 0.0)) f.fail("must be > 0 (or 0: never bonded)");
    return f.cutoff();
  }) : read_pair_table(cut, elements, [](const Field &f) { return f.cutoff(); });
  if (!(*std::max_element(rb.begin(), rb.end()) > 0.0)) cut.fail("no pair is bonded (every value is 0)");
  std::vector<double> r0 = read_pair_table(b["r0"], elements, [](const Field &f) {
    const double v = f.number();
    if (std::fabs(v) > MAX_CUTOFF) f.fail("must be within +-" + std::to_string((int) MAX_CUTOFF) + " Angstrom");
    return v;
  });
  const double r0_max = *std::max_element(r0.begin(), r0.end());
  const Field decay = b["decay_lengths"];
  std::vector<double> decay_lengths = decay.numbers();
  if (decay_lengths.empty()) decay.fail("must not be empty");
  for (size_t c = 0; c < decay_lengths.size(); ++c) {
    const double lambda = decay[c].positive();
    // The largest hopping is exp((r0 - MIN_BOND) / lambda); a path multiplies n_max of them.
    if (n_max * (r0_max - MIN_BOND) / lambda > MAX_HOPPING_EXPONENT)
      decay[c].fail("too short for r0 and n_max: n_max * (r0 - 0.1) / decay_length must be <= 300 "
                    "(r0: its largest value), or path products overflow");
  }
  return Hopping((int) elements.size(), std::move(rb), std::move(r0), std::move(decay_lengths));
}

Descriptor read_descriptor(const Field &descriptor, const Elements &elements)
{
  descriptor.only_keys({"blocks"});
  const Field blocks = descriptor["blocks"];
  if (blocks.array_size() == 0) blocks.fail("must not be empty");
  Descriptor out((int) elements.size());
  for (size_t b = 0; b < blocks.array_size(); ++b) out.add_block(read_block(blocks[b], elements));
  return out;
}

std::unique_ptr<DescriptorBlock> read_block(const Field &block, const Elements &elements)
{
  const std::string type = block["type"].str();
  std::string known;
  for (const auto &entry : BLOCK_TYPES) {
    if (type == entry.first) return entry.second(block, elements);
    known += (known.empty() ? "" : ", ") + std::string(entry.first);
  }
  block["type"].fail("unknown descriptor block type '" + type + "' (known: " + known + ")");
}

}    // namespace tinynet
