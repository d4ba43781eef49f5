#include "block_registry.h"

#include <cmath>
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

WalkParameters read_walk_parameters(const Field &b, long n_max)
{
  WalkParameters p;
  p.bond_cutoff = b["bond_cutoff"].cutoff();
  p.r0 = b["r0"].number();
  if (std::fabs(p.r0) > MAX_CUTOFF) b["r0"].fail("must be within +-" + std::to_string((int) MAX_CUTOFF) + " Angstrom");
  p.decay_lengths = b["decay_lengths"].numbers();
  const Field decay = b["decay_lengths"];
  if (p.decay_lengths.empty()) decay.fail("must not be empty");
  for (size_t c = 0; c < p.decay_lengths.size(); ++c) {
    const double lambda = decay[c].positive();
    // The largest hopping is exp((r0 - MIN_BOND) / lambda); a path multiplies n_max of them.
    if (n_max * (p.r0 - MIN_BOND) / lambda > MAX_HOPPING_EXPONENT)
      decay[c].fail("too short for r0 and n_max: n_max * (r0 - 0.1) / decay_length must be <= 300, "
                    "or path products overflow");
  }
  return p;
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

std::unique_ptr<DescriptorBlock> read_block(const Field &block, int n_species)
{
  const std::string type = block["type"].str();
  std::string known;
  for (const auto &entry : BLOCK_TYPES) {
    if (type == entry.first) return entry.second(block, n_species);
    known += (known.empty() ? "" : ", ") + std::string(entry.first);
  }
  block["type"].fail("unknown descriptor block type '" + type + "' (known: " + known + ")");
}

}    // namespace tinynet
