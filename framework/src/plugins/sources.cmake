# Sources of framework/src/plugins (included by framework/CMakeLists.txt).
list(APPEND MIKE_FRAMEWORK_SOURCES ${CMAKE_CURRENT_LIST_DIR}/plugin_registry.cpp)
list(APPEND MIKE_FRAMEWORK_SOURCES ${CMAKE_CURRENT_LIST_DIR}/plugin_seal.cpp)
list(APPEND MIKE_FRAMEWORK_NO_PCH_SOURCES ${CMAKE_CURRENT_LIST_DIR}/plugin_seal.cpp)
