# Sources of framework/src/editing (included by framework/CMakeLists.txt):
# machinery shared by editor plugins (mike/edit_training.h, mike/layer_stats.h,
# mike/locate_edit.h).
list(APPEND MIKE_FRAMEWORK_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/edit_training.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layer_stats.cpp
  ${CMAKE_CURRENT_LIST_DIR}/locate_edit.cpp)
