# Sources of framework/src/config (included by framework/CMakeLists.txt).
set(mike_config_sources
  ${CMAKE_CURRENT_LIST_DIR}/override.cpp
  ${CMAKE_CURRENT_LIST_DIR}/interpolation.cpp
  ${CMAKE_CURRENT_LIST_DIR}/composer.cpp)
list(APPEND MIKE_FRAMEWORK_SOURCES ${mike_config_sources})
list(APPEND MIKE_FRAMEWORK_NO_PCH_SOURCES ${mike_config_sources})
