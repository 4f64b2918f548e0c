# Sources of framework/src/system (included by framework/CMakeLists.txt).
list(APPEND MIKE_FRAMEWORK_SOURCES ${CMAKE_CURRENT_LIST_DIR}/build_info.cpp ${CMAKE_CURRENT_LIST_DIR}/install_layout.cpp
  ${CMAKE_CURRENT_LIST_DIR}/text_file.cpp ${CMAKE_CURRENT_LIST_DIR}/memory_use.cpp
  ${CMAKE_CURRENT_LIST_DIR}/allocator_tuning.cpp ${CMAKE_CURRENT_LIST_DIR}/progress_bar.cpp)
list(APPEND MIKE_FRAMEWORK_NO_PCH_SOURCES ${CMAKE_CURRENT_LIST_DIR}/install_layout.cpp ${CMAKE_CURRENT_LIST_DIR}/text_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/allocator_tuning.cpp ${CMAKE_CURRENT_LIST_DIR}/progress_bar.cpp)
