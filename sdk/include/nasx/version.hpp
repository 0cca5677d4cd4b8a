#pragma once

/// The SDK's release version. Informational: compatibility is decided by
/// NASX_ABI_VERSION and the build stamp (see plugin.hpp).
#define NASX_SDK_VERSION "0.4.0"

/// Bumped by every change that breaks an already built plugin: the descriptor's
/// layout, a virtual function of a plugin interface, or a type passed across the
/// host/plugin boundary. The host refuses plugins built for another number.
#define NASX_ABI_VERSION 4
