# archive unit tests: tree tar streams against real temporary directories; escape attempts are
# crafted tar streams written with libarchive itself.
add_executable(archive_unit_tests ${CMAKE_CURRENT_LIST_DIR}/archive/tree_test.cc)
target_link_libraries(archive_unit_tests PRIVATE berth_archive berth_libarchive GTest::gtest_main)
gtest_discover_tests(archive_unit_tests PROPERTIES LABELS unit)
