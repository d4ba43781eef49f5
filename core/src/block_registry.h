// Descriptor blocks selected by their "type" in the potential file. Each block
// type lives in its own file under core/src/blocks/ and provides a reader that
// checks its parameters (naming file and field) and builds the block.
#pragma once

#include "json_field.h"
#include "tinynet/descriptor.h"
#include "tinynet/hopping.h"

#include <memory>
#include <string>
#include <vector>

namespace tinynet {

// `elements`: the file's element symbols; species s is elements[s].
using Elements = std::vector<std::string>;
using BlockReader = std::unique_ptr<DescriptorBlock> (*)(const Field &block, const Elements &elements);

std::unique_ptr<DescriptorBlock> read_moments_block(const Field &block, const Elements &elements);
std::unique_ptr<DescriptorBlock> read_simple_cycles_block(const Field &block, const Elements &elements);
std::unique_ptr<DescriptorBlock> read_radial_block(const Field &block, const Elements &elements);
std::unique_ptr<DescriptorBlock> read_eann_block(const Field &block, const Elements &elements);
std::unique_ptr<DescriptorBlock> read_bessel_block(const Field &block, const Elements &elements);

// Parameter bounds shared by the block readers, so that every accepted file
// gives finite features (docs/potential_file.md; Python: tinynet.blocks).
constexpr double MAX_CENTER = 2.0 * MAX_CUTOFF;      // Gaussian centres (A)
constexpr double MAX_ALPHA = 1.0e4;                  // Gaussian exponents (1/A^2)
constexpr double MIN_BOND = 0.1;                     // hosts stop on atoms closer than this (A)
constexpr double MAX_HOPPING_EXPONENT = 300.0;       // n_max (r0 - MIN_BOND) / lambda: path products < e^300

// Non-empty Gaussian centres, each within +-MAX_CENTER.
std::vector<double> read_centers(const Field &centers);
double read_alpha(const Field &alpha);

// A parameter given per species pair: one number for every pair, or an
// object {"A-B": number} naming each unordered pair of `elements` once, in
// either order. `read` checks one number. Returns the symmetric S x S table
// (pair (s, t) at s * S + t).
std::vector<double> read_pair_table(const Field &value, const Elements &elements,
                                    double (*read)(const Field &));

// Bond-walk parameters of the moments and simple-cycles blocks: bond_cutoff
// and r0 (per species pair; a pair's bond cutoff 0: never bonded) and
// decay_lengths.
Hopping read_hopping(const Field &block, long n_max, const Elements &elements);

// A file's "descriptor" section: {"blocks": [...]} (potential and LDOS files).
Descriptor read_descriptor(const Field &descriptor, const Elements &elements);

// The block described by `block`, or FileError naming the field.
std::unique_ptr<DescriptorBlock> read_block(const Field &block, const Elements &elements);

}    // namespace tinynet
