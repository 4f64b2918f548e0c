# Sources of framework/src/human (included by framework/CMakeLists.txt):
# `mike human export|import`, the human evaluation of ELC captions.
list(APPEND MIKE_FRAMEWORK_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/rater_agreement.cpp
  ${CMAKE_CURRENT_LIST_DIR}/rating_sheet.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sheet_text.cpp
  ${CMAKE_CURRENT_LIST_DIR}/csv_table.cpp
  ${CMAKE_CURRENT_LIST_DIR}/human_scores.cpp)
list(APPEND MIKE_FRAMEWORK_NO_PCH_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/rater_agreement.cpp
  ${CMAKE_CURRENT_LIST_DIR}/rating_sheet.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sheet_text.cpp
  ${CMAKE_CURRENT_LIST_DIR}/csv_table.cpp
  ${CMAKE_CURRENT_LIST_DIR}/human_scores.cpp)
