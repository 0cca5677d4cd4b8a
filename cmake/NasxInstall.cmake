# `cmake --install build --prefix PREFIX` installs what a plugin author needs:
#   PREFIX/bin/nasx                       the host
#   PREFIX/lib/libnasx_sdk.so*            the SDK library
#   PREFIX/lib/nasx/plugins/*.so          the shipped plugins (the host finds them there)
#   PREFIX/include/nasx/                  the SDK headers
#   PREFIX/lib/cmake/nasx/                find_package(nasx): nasx::sdk, nasx_add_plugin()
#   PREFIX/share/nasx/                    tools/new-plugin and its templates; the NB-201
#                                         training-step baseline of `nasx bench`
include(CMakePackageConfigHelpers)

set(NASX_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/nasx)
set(NASX_INSTALL_PLUGINDIR ${CMAKE_INSTALL_LIBDIR}/nasx/plugins)

set_target_properties(nasx_sdk PROPERTIES EXPORT_NAME sdk)
install(TARGETS nasx_sdk EXPORT nasxTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/sdk/include/nasx
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} PATTERN "*.in" EXCLUDE)
install(FILES ${PROJECT_BINARY_DIR}/sdk/include/nasx/version.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nasx)
install(EXPORT nasxTargets NAMESPACE nasx:: DESTINATION ${NASX_INSTALL_CMAKEDIR})

# The installed host finds the SDK beside it and the plugins in lib/nasx/plugins.
set_target_properties(nasx PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
install(TARGETS nasx RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
get_property(nasx_plugin_targets GLOBAL PROPERTY NASX_PLUGIN_TARGETS)
foreach(plugin IN LISTS nasx_plugin_targets)
  set_target_properties(${plugin} PROPERTIES INSTALL_RPATH "$ORIGIN/../..")
endforeach()
install(TARGETS ${nasx_plugin_targets} LIBRARY DESTINATION ${NASX_INSTALL_PLUGINDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/nasxConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/nasxConfig.cmake
  INSTALL_DESTINATION ${NASX_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/nasxConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/nasxConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/nasxConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/NasxPlugin.cmake
  DESTINATION ${NASX_INSTALL_CMAKEDIR})
install(PROGRAMS ${PROJECT_SOURCE_DIR}/tools/new-plugin DESTINATION ${CMAKE_INSTALL_BINDIR}
  RENAME nasx-new-plugin)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/tools/ref_nb201_train_step.py
  ${PROJECT_SOURCE_DIR}/tools/ref_nb201_search_step.py DESTINATION ${CMAKE_INSTALL_DATADIR}/nasx)
