# client unit tests: parsing into request protos, every output format, the exit-code table, error
# sentences, the runner against a real in-process gRPC server on a temp Unix socket, and the built
# `berth` executable (static when BERTH_STATIC_CLIENT is on) run as a child process.
add_executable(client_unit_tests
  ${CMAKE_CURRENT_LIST_DIR}/client/berth_binary_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/client/command_line_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/client/config_command_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/client/console_escape_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/client/errors_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/client/monitor_command_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/client/output_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/client/runner_test.cc)
target_link_libraries(client_unit_tests PRIVATE
  berth_client_lib berth_grpc_absl nlohmann_json::nlohmann_json yaml-cpp GTest::gmock GTest::gtest_main)
target_compile_definitions(client_unit_tests PRIVATE BERTH_CLI_PATH="$<TARGET_FILE:berth>")
add_dependencies(client_unit_tests berth)
gtest_discover_tests(client_unit_tests DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)
