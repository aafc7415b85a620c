# core unit tests: the domain with the fake driver, the in-memory store, the inline executor and a
# fake clock; plus the daemon's config file parser.
add_executable(core_unit_tests
  ${CMAKE_CURRENT_LIST_DIR}/core/validation_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/core/config_schema_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/core/concurrency_primitives_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/core/container_manager_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/core/daemon_config_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/core/event_feed_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/core/files_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/core/snapshots_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/core/profiles_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/core/supervisor_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/core/journal_format_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/core/watchdog_test.cc)
target_link_libraries(core_unit_tests PRIVATE berth_core berth_runtime_fake berth_storage
  berth_daemon_config spdlog::spdlog GTest::gtest_main GTest::gmock)
gtest_discover_tests(core_unit_tests PROPERTIES LABELS unit)
