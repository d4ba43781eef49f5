// Descriptor blocks selected by their "type" in the potential file. Each block
// type lives in its own file under core/src/blocks/ and provides a reader that
// checks its parameters (naming file and field) and builds the block.
#pragma once

#include "json_field.h"
#include "tinynet/descriptor.h"

#include <memory>

namespace tinynet {

using BlockReader = std::unique_ptr<DescriptorBlock> (*)(const Field &block, int n_species);

std::unique_ptr<DescriptorBlock> read_moments_block(const Field &block, int n_species);
std::unique_ptr<DescriptorBlock> read_simple_cycles_block(const Field &block, int n_species);
std::unique_ptr<DescriptorBlock> read_radial_block(const Field &block, int n_species);
std::unique_ptr<DescriptorBlock> read_eann_block(const Field &block, int n_species);
std::unique_ptr<DescriptorBlock> read_bessel_block(const Field &block, int n_species);

// The block described by `block`, or FileError naming the field.
std::unique_ptr<DescriptorBlock> read_block(const Field &block, int n_species);

}    // namespace tinynet
