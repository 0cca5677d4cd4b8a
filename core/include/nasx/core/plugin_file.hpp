#pragma once
/// A plugin file is checked before the host maps it: a truncated or damaged file would
/// otherwise crash the dynamic loader inside dlopen, taking the host with it. The
/// check reads the ELF structure against the file's size (as DuckDB reads an
/// extension's footer before loading it), then opens the library once in a short-lived
/// child process, where a crash costs nothing.

#include <string>

namespace nasx::core {

/// Throws PluginError saying what is wrong when `path` is not an intact ELF shared
/// library for this machine: header, program and section tables and the dynamic
/// symbol table within the file, and `entry_symbol` defined in it.
void check_plugin_elf(const std::string& path, const std::string& entry_symbol);

/// Opens `path` with dlopen in a child process and calls `entry_symbol` there. Throws
/// PluginError when that child dies of a signal (the library crashes the loader or its
/// own initialisation). A child that fails cleanly or hangs says nothing here: the
/// host's own load reports the reason. A file probed before and unchanged since (device,
/// inode, size, modification time; recorded in $XDG_CACHE_HOME/nasx/probed-plugins) is
/// not probed again.
void probe_plugin_in_child(const std::string& path, const std::string& entry_symbol);

}  // namespace nasx::core
