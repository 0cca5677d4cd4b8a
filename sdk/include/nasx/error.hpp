#pragma once

#include <stdexcept>
#include <string>

#include "nasx/export.hpp"

namespace nasx {

/// Base of every error nasx reports to a person. The message says what is wrong,
/// where (file:line:column, key, path) and what to do; the CLI prints it once and
/// exits non-zero.
class NASX_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message);
  ~Error() override;
};

/// A config file, a --set override or a plugin's parameters are wrong.
class NASX_API ConfigError : public Error {
 public:
  using Error::Error;
  ~ConfigError() override;
};

/// A plugin library could not be loaded, or a plugin misbehaved.
class NASX_API PluginError : public Error {
 public:
  using Error::Error;
  ~PluginError() override;
};

/// A dataset is missing or malformed.
class NASX_API DataError : public Error {
 public:
  using Error::Error;
  ~DataError() override;
};

/// A genotype or architecture string does not parse or is not valid in its space.
class NASX_API GenotypeError : public Error {
 public:
  using Error::Error;
  ~GenotypeError() override;
};

/// Training diverged: a loss or gradient became NaN or infinite.
class NASX_API NonFiniteError : public Error {
 public:
  using Error::Error;
  ~NonFiniteError() override;
};

/// A run folder, checkpoint or output file cannot be read or written.
class NASX_API IoError : public Error {
 public:
  using Error::Error;
  ~IoError() override;
};

}  // namespace nasx
