# Sources of framework/src/model_io (included by framework/CMakeLists.txt):
# the SDK's checkpoint (safetensors) and tokenizer (SentencePiece) I/O.
list(APPEND MIKE_FRAMEWORK_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/safetensors.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tokenizer.cpp)
list(APPEND MIKE_FRAMEWORK_NO_PCH_SOURCES ${CMAKE_CURRENT_LIST_DIR}/tokenizer.cpp)

# libsentencepiece bundles protobuf-lite 3.14 whose exported symbols clash with
# LibTorch's libprotobuf 3.21; it lives in its own library, which
# tokenizer.cpp dlopen()s with RTLD_DEEPBIND (see sentencepiece_backend.h).
add_library(mike_sentencepiece MODULE ${CMAKE_CURRENT_LIST_DIR}/sentencepiece_backend.cpp)
set_target_properties(mike_sentencepiece PROPERTIES PREFIX "lib" OUTPUT_NAME mike_sentencepiece
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib CXX_VISIBILITY_PRESET hidden)
target_include_directories(mike_sentencepiece PRIVATE ${CMAKE_CURRENT_LIST_DIR}/..)
target_link_libraries(mike_sentencepiece PRIVATE mike_warnings sentencepiece sentencepiece_train)
install(TARGETS mike_sentencepiece LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
list(APPEND MIKE_FRAMEWORK_PRIVATE_LIBS ${CMAKE_DL_LIBS})
list(APPEND MIKE_FRAMEWORK_DEPENDENCIES mike_sentencepiece)
