# Sources of framework/src/pretrain (included by framework/CMakeLists.txt):
# the `mike pretrain` loop and the pretrained-checkpoint cache.
list(APPEND MIKE_FRAMEWORK_SOURCES ${CMAKE_CURRENT_LIST_DIR}/pretrainer.cpp)
