# Sources of framework/src/data (included by framework/CMakeLists.txt).
# Only image_tensor.cpp includes torch; the rest builds without the PCH.
set(mike_data_plain_sources
  ${CMAKE_CURRENT_LIST_DIR}/bmp_pixel_data.cpp
  ${CMAKE_CURRENT_LIST_DIR}/contact_sheet.cpp
  ${CMAKE_CURRENT_LIST_DIR}/dataset.cpp
  ${CMAKE_CURRENT_LIST_DIR}/image.cpp
  ${CMAKE_CURRENT_LIST_DIR}/jpeg_decode.cpp
  ${CMAKE_CURRENT_LIST_DIR}/json_records.cpp
  ${CMAKE_CURRENT_LIST_DIR}/png_chunks.cpp
  ${CMAKE_CURRENT_LIST_DIR}/raster.cpp
  ${CMAKE_CURRENT_LIST_DIR}/shape_families.cpp
  ${CMAKE_CURRENT_LIST_DIR}/synth.cpp
  ${CMAKE_CURRENT_LIST_DIR}/synth_folder.cpp
  ${CMAKE_CURRENT_LIST_DIR}/world.cpp)
list(APPEND MIKE_FRAMEWORK_SOURCES ${mike_data_plain_sources} ${CMAKE_CURRENT_LIST_DIR}/image_tensor.cpp
  ${CMAKE_CURRENT_LIST_DIR}/dataset_corpus.cpp)
list(APPEND MIKE_FRAMEWORK_NO_PCH_SOURCES ${mike_data_plain_sources})
