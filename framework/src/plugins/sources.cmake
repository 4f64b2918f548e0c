# Sources of framework/src/plugins (included by framework/CMakeLists.txt).
list(APPEND MIKE_FRAMEWORK_SOURCES ${CMAKE_CURRENT_LIST_DIR}/plugin_registry.cpp)
