# Sources of framework/src/pretrain (included by framework/CMakeLists.txt):
# the `mike pretrain` loop, its length-grouped loss, and the
# pretrained-checkpoint cache.
list(APPEND MIKE_FRAMEWORK_SOURCES ${CMAKE_CURRENT_LIST_DIR}/pretrainer.cpp
     ${CMAKE_CURRENT_LIST_DIR}/grouped_loss.cpp)
