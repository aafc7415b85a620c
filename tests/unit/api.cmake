# api unit tests: proto <-> domain converters and status mapping.
add_executable(api_unit_tests ${CMAKE_CURRENT_LIST_DIR}/api/converters_test.cc)
target_link_libraries(api_unit_tests PRIVATE berth_api GTest::gtest_main GTest::gmock)
gtest_discover_tests(api_unit_tests PROPERTIES LABELS unit)
