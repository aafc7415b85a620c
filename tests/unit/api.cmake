# api unit tests: proto <-> domain converters, status mapping, the authorization table.
add_executable(api_unit_tests ${CMAKE_CURRENT_LIST_DIR}/api/converters_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/api/authorization_test.cc)
# Every generated file's objects, not only those the code under test pulls out of the archive: the
# authorization test reads every proto/berth/v1 file from the descriptor pool.
target_sources(api_unit_tests PRIVATE $<TARGET_OBJECTS:berth_proto_objects>)
target_compile_definitions(api_unit_tests PRIVATE BERTH_PROTO_DIR="${PROJECT_SOURCE_DIR}/proto")
target_link_libraries(api_unit_tests PRIVATE berth_api GTest::gtest_main GTest::gmock)
gtest_discover_tests(api_unit_tests PROPERTIES LABELS unit)
