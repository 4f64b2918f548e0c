# Sources of framework/src/report (included by framework/CMakeLists.txt).
list(APPEND MIKE_FRAMEWORK_SOURCES ${CMAKE_CURRENT_LIST_DIR}/report.cpp)
list(APPEND MIKE_FRAMEWORK_NO_PCH_SOURCES ${CMAKE_CURRENT_LIST_DIR}/report.cpp)
