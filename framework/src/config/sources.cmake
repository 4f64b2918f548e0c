# Sources of framework/src/config (included by framework/CMakeLists.txt).
list(APPEND MIKE_FRAMEWORK_SOURCES ${CMAKE_CURRENT_LIST_DIR}/config.cpp)
list(APPEND MIKE_FRAMEWORK_NO_PCH_SOURCES ${CMAKE_CURRENT_LIST_DIR}/config.cpp)
