#include "block_registry.h"

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
