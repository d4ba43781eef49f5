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

// Parameter bounds shared by the block readers, so that every accepted file
// gives finite features (docs/potential_file.md; Python: tinynet.blocks).
constexpr double MAX_CENTER = 2.0 * MAX_CUTOFF;      // Gaussian centres (A)
constexpr double MAX_ALPHA = 1.0e4;                  // Gaussian exponents (1/A^2)
constexpr double MIN_BOND = 0.1;                     // hosts stop on atoms closer than this (A)
constexpr double MAX_HOPPING_EXPONENT = 300.0;       // n_max (r0 - MIN_BOND) / lambda: path products < e^300

// Non-empty Gaussian centres, each within +-MAX_CENTER.
std::vector<double> read_centers(const Field &centers);
double read_alpha(const Field &alpha);

// Bond-walk parameters of the moments and simple-cycles blocks.
struct WalkParameters {
  double bond_cutoff = 0.0, r0 = 0.0;
  std::vector<double> decay_lengths;
};
WalkParameters read_walk_parameters(const Field &block, long n_max);

// A file's "descriptor" section: {"blocks": [...]} (potential and LDOS files).
Descriptor read_descriptor(const Field &descriptor, int n_species);

// The block described by `block`, or FileError naming the field.
std::unique_ptr<DescriptorBlock> read_block(const Field &block, int n_species);

}    // namespace tinynet
