#include "nasx/error.hpp"

namespace nasx {

// Out-of-line destructors give each error type one home for its vtable and
// type_info (in libnasx_sdk.so), so plugins and host catch the same types.
Error::Error(const std::string& message) : std::runtime_error(message) {}
Error::~Error() = default;
ConfigError::~ConfigError() = default;
PluginError::~PluginError() = default;
DataError::~DataError() = default;
GenotypeError::~GenotypeError() = default;
NonFiniteError::~NonFiniteError() = default;
IoError::~IoError() = default;

}  // namespace nasx
