# Sources of framework/src/launch (included by framework/CMakeLists.txt).
set(mike_launch_sources
  ${CMAKE_CURRENT_LIST_DIR}/job_status.cpp
  ${CMAKE_CURRENT_LIST_DIR}/interrupt.cpp
  ${CMAKE_CURRENT_LIST_DIR}/job_runner.cpp
  ${CMAKE_CURRENT_LIST_DIR}/local_launcher.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sweep_dir.cpp
  ${CMAKE_CURRENT_LIST_DIR}/slurm_launcher.cpp)
list(APPEND MIKE_FRAMEWORK_SOURCES ${mike_launch_sources})
list(APPEND MIKE_FRAMEWORK_NO_PCH_SOURCES ${mike_launch_sources})
