# Sources of framework/src/report (included by framework/CMakeLists.txt).
list(APPEND MIKE_FRAMEWORK_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/report.cpp
  ${CMAKE_CURRENT_LIST_DIR}/paired_comparison.cpp
  ${CMAKE_CURRENT_LIST_DIR}/record_totals.cpp
  ${CMAKE_CURRENT_LIST_DIR}/comparison_table.cpp
  ${CMAKE_CURRENT_LIST_DIR}/job_dirs.cpp)
list(APPEND MIKE_FRAMEWORK_NO_PCH_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/report.cpp
  ${CMAKE_CURRENT_LIST_DIR}/paired_comparison.cpp
  ${CMAKE_CURRENT_LIST_DIR}/record_totals.cpp
  ${CMAKE_CURRENT_LIST_DIR}/comparison_table.cpp
  ${CMAKE_CURRENT_LIST_DIR}/job_dirs.cpp)
