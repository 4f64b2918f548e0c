# Sources of framework/src/sdk (included by framework/CMakeLists.txt).
list(APPEND MIKE_FRAMEWORK_SOURCES ${CMAKE_CURRENT_LIST_DIR}/component.cpp)
list(APPEND MIKE_FRAMEWORK_SOURCES ${CMAKE_CURRENT_LIST_DIR}/model.cpp)
