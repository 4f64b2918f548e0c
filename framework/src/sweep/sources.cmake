# Sources of framework/src/sweep (included by framework/CMakeLists.txt).
list(APPEND MIKE_FRAMEWORK_SOURCES ${CMAKE_CURRENT_LIST_DIR}/sweep_plan.cpp)
list(APPEND MIKE_FRAMEWORK_NO_PCH_SOURCES ${CMAKE_CURRENT_LIST_DIR}/sweep_plan.cpp)
