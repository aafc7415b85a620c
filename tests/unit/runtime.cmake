# runtime unit tests: FakeRuntimeDriver semantics, LXC config parsing/filtering/rendering, name,
# template and argument validation, the /proc/<pid>/net parsers, LXC log error extraction, the
# helper's exit-code mapping, the helper spawner (against shell scripts) and the pidfd exit
# monitor (against child processes). No liblxc, no containers.
add_executable(runtime_unit_tests
  ${CMAKE_CURRENT_LIST_DIR}/runtime/exit_monitor_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime/exit_status_feed_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime/fake_runtime_driver_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime/helper_client_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime/helper_protocol_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime/log_errors_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime/lxc_config_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime/proc_net_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime/settings_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime/validation_test.cc)
# berth_runtime_lxc_common: the runtime's liblxc-free internals ("lxc/*.h") these tests use.
target_link_libraries(runtime_unit_tests PRIVATE
  berth_runtime_fake berth_runtime_lxc_common GTest::gtest_main GTest::gmock)
gtest_discover_tests(runtime_unit_tests PROPERTIES LABELS unit)
