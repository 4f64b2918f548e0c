# Sources of framework/src/run (included by framework/CMakeLists.txt).
list(APPEND MIKE_FRAMEWORK_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/experiment.cpp
  ${CMAKE_CURRENT_LIST_DIR}/editor_fit.cpp
  ${CMAKE_CURRENT_LIST_DIR}/aggregate.cpp
  ${CMAKE_CURRENT_LIST_DIR}/probes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/summary.cpp
  ${CMAKE_CURRENT_LIST_DIR}/evaluator.cpp
  ${CMAKE_CURRENT_LIST_DIR}/parameter_hashes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/runner.cpp)
list(APPEND MIKE_FRAMEWORK_NO_PCH_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/aggregate.cpp
  ${CMAKE_CURRENT_LIST_DIR}/probes.cpp
  ${CMAKE_CURRENT_LIST_DIR}/summary.cpp)
