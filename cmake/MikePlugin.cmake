# mike_add_plugin(<kind> <name> SOURCES src... [DEFAULT_CONFIG file.yaml]
#                 [OUTPUT_DIR dir] [NO_INSTALL])
#
# Builds libmike_<kind>_<name>.so (a MODULE library) into the plugin directory
# the host searches: <build>/lib/mike/plugins by default, or OUTPUT_DIR.
# <kind> is model, editor or metric. DEFAULT_CONFIG embeds a YAML file as the
# plugin's default config: include "mike_plugin_default_config.h" and pass
# kMikePluginDefaultConfig to MIKE_*_PLUGIN(...).
#
# After linking, mike-plugin-seal appends a seal (a 256-byte footer: ABI,
# LibTorch version, kind, name, length and checksum of the file) that the host
# checks before dlopen, so a damaged copy is refused by name instead of
# crashing the host. Copy plugin files as they are: `strip` or any other
# rewrite after the build breaks the seal.
#
# The same function is installed with the SDK, so an out-of-tree plugin is
#   find_package(mike REQUIRED)
#   mike_add_plugin(editor my_editor SOURCES my_editor.cpp)
include_guard(GLOBAL)

set(_MIKE_PLUGIN_CMAKE_DIR "${CMAKE_CURRENT_LIST_DIR}")

# One precompiled <torch/torch.h> per project, reused by every plugin: torch
# headers cost ~25 s per translation unit otherwise.
function(_mike_plugin_pch_target out_var)
  if(NOT TARGET mike_plugin_pch)
    set(_src "${CMAKE_BINARY_DIR}/mike_plugin_pch.cpp")
    if(NOT EXISTS "${_src}")
      file(WRITE "${_src}" "// precompiled-header carrier for mike plugins\n")
    endif()
    add_library(mike_plugin_pch OBJECT "${_src}")
    set_target_properties(mike_plugin_pch PROPERTIES POSITION_INDEPENDENT_CODE ON)
    target_link_libraries(mike_plugin_pch PRIVATE mike::sdk)
    target_precompile_headers(mike_plugin_pch PRIVATE <torch/torch.h>)
  endif()
  set(${out_var} mike_plugin_pch PARENT_SCOPE)
endfunction()

# Gives `target` (a plugin or a static library linked into plugins) the
# shared precompiled <torch/torch.h>.
function(mike_plugin_precompile_headers target)
  _mike_plugin_pch_target(_pch)
  target_precompile_headers(${target} REUSE_FROM ${_pch})
endfunction()

# Seals `target` after every link (in-tree: the mike_plugin_seal target, built
# first; out of tree: the installed mike::plugin_seal).
function(_mike_plugin_seal target kind name)
  if(TARGET mike_plugin_seal)
    set(_seal mike_plugin_seal)
    add_dependencies(${target} mike_plugin_seal)
  elseif(TARGET mike::plugin_seal)
    set(_seal mike::plugin_seal)
  else()
    message(FATAL_ERROR "mike_add_plugin(${kind} ${name}): mike-plugin-seal is missing; "
      "use the mike_add_plugin of find_package(mike), which imports mike::plugin_seal")
  endif()
  set(_MIKE_PLUGIN_SEALER ${_seal} PARENT_SCOPE)
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND $<TARGET_FILE:${_seal}> $<TARGET_FILE:${target}> ${kind} ${name}
    COMMENT "Sealing libmike_${kind}_${name}.so" VERBATIM)
endfunction()

function(mike_add_plugin kind name)
  cmake_parse_arguments(ARG "NO_INSTALL;NO_PCH" "DEFAULT_CONFIG;OUTPUT_DIR" "SOURCES" ${ARGN})
  if(NOT kind MATCHES "^(model|editor|metric)$")
    message(FATAL_ERROR "mike_add_plugin: kind '${kind}' is not one of model, editor, metric")
  endif()
  if(NOT name MATCHES "^[a-z0-9_]+$")
    message(FATAL_ERROR "mike_add_plugin: name '${name}' must be lower-case letters, digits and '_'")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "mike_add_plugin(${kind} ${name}): SOURCES is empty")
  endif()
  set(target mike_${kind}_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  # The SDK is the only mike library a plugin links; an undefined symbol (a
  # host function, a missing source file) fails here, at build time, instead
  # of as a load refusal when the host dlopens the plugin.
  target_link_libraries(${target} PRIVATE mike::sdk)
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  if(TARGET mike_warnings)
    target_link_libraries(${target} PRIVATE mike_warnings)
  endif()
  if(NOT ARG_OUTPUT_DIR)
    if(DEFINED MIKE_PLUGIN_OUTPUT_DIR)
      set(ARG_OUTPUT_DIR "${MIKE_PLUGIN_OUTPUT_DIR}")
    else()
      set(ARG_OUTPUT_DIR "${CMAKE_BINARY_DIR}/lib/mike/plugins")
    endif()
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX "lib" OUTPUT_NAME "mike_${kind}_${name}"
    LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIR}"
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  set(_gen "${CMAKE_CURRENT_BINARY_DIR}/${target}_gen")
  if(ARG_DEFAULT_CONFIG)
    get_filename_component(_cfg "${ARG_DEFAULT_CONFIG}" ABSOLUTE)
    file(READ "${_cfg}" _yaml)
    file(WRITE "${_gen}/mike_plugin_default_config.h.tmp"
      "// Generated from ${_cfg} by mike_add_plugin; edit that file instead.\n#pragma once\n"
      "static const char kMikePluginDefaultConfig[] = R\"mike_yaml(${_yaml})mike_yaml\";\n")
    file(COPY_FILE "${_gen}/mike_plugin_default_config.h.tmp" "${_gen}/mike_plugin_default_config.h" ONLY_IF_DIFFERENT)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_cfg}")
    target_include_directories(${target} PRIVATE "${_gen}")
  endif()
  if(NOT ARG_NO_PCH)
    mike_plugin_precompile_headers(${target})
  endif()
  _mike_plugin_seal(${target} ${kind} ${name})
  if(NOT ARG_NO_INSTALL AND DEFINED MIKE_INSTALL_PLUGIN_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION "${MIKE_INSTALL_PLUGIN_DIR}")
    # Installing rewrites the RPATH in place (and --strip drops the seal):
    # the installed copy is sealed again.
    if(IS_ABSOLUTE "${MIKE_INSTALL_PLUGIN_DIR}")
      set(_installed "\$ENV{DESTDIR}${MIKE_INSTALL_PLUGIN_DIR}")
    else()
      set(_installed "\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${MIKE_INSTALL_PLUGIN_DIR}")
    endif()
    install(CODE "execute_process(COMMAND \"$<TARGET_FILE:${_MIKE_PLUGIN_SEALER}>\"
      \"${_installed}/$<TARGET_FILE_NAME:${target}>\" ${kind} ${name}
      COMMAND_ERROR_IS_FATAL ANY)")
  endif()
endfunction()
