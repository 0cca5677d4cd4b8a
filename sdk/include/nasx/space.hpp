#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nasx/data.hpp"
#include "nasx/export.hpp"
#include "nasx/genotype.hpp"

namespace nasx {

class Supernet;

/// How the space's networks are sized and laid out ([space] in a config).
struct SpaceOptions {
  std::string name = "darts";
  int64_t channels = 16;                        ///< C: channels of the first cells
  int64_t layers = 8;                           ///< number of cells
  int64_t stem_multiplier = 3;                  ///< the stem outputs stem_multiplier * C channels
  std::string memory_format = "channels_last";  ///< or "contiguous"
};

/// A cell search space: its operations, its genotypes and the networks built from them.
class NASX_API SearchSpace {
 public:
  virtual ~SearchSpace();

  virtual std::string name() const = 0;
  /// Candidate operations of an edge, in alpha-column order.
  virtual const std::vector<std::string>& operations() const = 0;
  virtual int64_t edges_per_cell() const = 0;

  /// A new supernet for data of `shape`, alphas initialised from the global
  /// LibTorch generator (seed it first).
  virtual std::shared_ptr<Supernet> build_supernet(const DataShape& shape) const = 0;

  /// Genotype from text, and back to the canonical text.
  virtual Genotype parse_genotype(std::string_view text) const = 0;
  virtual std::string format_genotype(const Genotype& genotype) const = 0;

  const SpaceOptions& options() const { return options_; }

 protected:
  explicit SearchSpace(SpaceOptions options) : options_(std::move(options)) {}

 private:
  SpaceOptions options_;
};

/// The names of the spaces this SDK provides.
NASX_API std::vector<std::string> search_space_names();

/// The space named in `options`; throws ConfigError for an unknown name.
NASX_API std::unique_ptr<SearchSpace> make_search_space(const SpaceOptions& options);

}  // namespace nasx
