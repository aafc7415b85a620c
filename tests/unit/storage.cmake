# storage unit tests: the ContainerStore contract suite (SqliteStore and InMemoryStore), the SQLite
# wrappers, the state database's opening rules and its migrations.
add_executable(storage_unit_tests
  ${CMAKE_CURRENT_LIST_DIR}/storage/event_log_contract_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/storage/migrations_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/storage/sqlite_store_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/storage/sqlite_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/storage/store_contract_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/storage/test_files.cc
  ${CMAKE_CURRENT_LIST_DIR}/storage/trust_store_test.cc)
# berth_storage_internal: the internal headers (Database, Transaction, migrations) these tests use.
target_link_libraries(storage_unit_tests PRIVATE
  berth_storage berth_storage_internal GTest::gtest_main GTest::gmock)
gtest_discover_tests(storage_unit_tests PROPERTIES LABELS unit)
