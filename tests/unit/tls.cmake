# tls unit tests: certificates, fingerprints, private files, join tokens.
add_executable(tls_unit_tests ${CMAKE_CURRENT_LIST_DIR}/tls/certificates_test.cc)
target_link_libraries(tls_unit_tests PRIVATE berth_tls GTest::gtest_main)
gtest_discover_tests(tls_unit_tests PROPERTIES LABELS unit)
