# nasx_add_plugin(NAME KIND SOURCES...)
#
# Builds one plugin as a MODULE library named nasx_<KIND>_<NAME>.so (target
# nasx_<KIND>_<NAME>; names are unique per kind) with hidden
# visibility (only the entry point, marked by NASX_PLUGIN, is exported) against
# the same LibTorch as the host. KIND is strategy, selector, pruner, scorer or space and
# is recorded for documentation; the descriptor the plugin exports is what the
# host trusts.
function(nasx_add_plugin NAME KIND)
  set(sources ${ARGN})
  set(known_kinds strategy selector pruner scorer space)
  if(NOT KIND IN_LIST known_kinds)
    message(FATAL_ERROR "nasx_add_plugin(${NAME}): kind '${KIND}' is not one of ${known_kinds}")
  endif()
  set(target nasx_${KIND}_${NAME})
  set_property(GLOBAL APPEND PROPERTY NASX_PLUGIN_TARGETS ${target})
  add_library(${target} MODULE ${sources})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME nasx_${KIND}_${NAME}
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(TARGET nasx_sdk)
    target_link_libraries(${target} PRIVATE nasx_sdk)
    # Every symbol resolved at link time: a plugin missing a library fails to build,
    # not to load.
    target_link_options(${target} PRIVATE -Wl,--no-undefined)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${NASX_PLUGIN_OUTPUT_DIR})
    if(TARGET nasx_plugin_pch)
      target_precompile_headers(${target} REUSE_FROM nasx_plugin_pch)
    endif()
    nasx_warnings(${target})
  else()
    target_link_libraries(${target} PRIVATE nasx::sdk)
  endif()
endfunction()
