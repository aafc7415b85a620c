# LxcDriver against real liblxc: real busybox containers, the real helper, as root. Each test uses
# its own short temporary lxcpath and removes every container it made, even when it fails.
# Run them with: ctest -L system
add_executable(lxc_driver_system_tests
  ${CMAKE_CURRENT_LIST_DIR}/lxc_driver/lxc_driver_test.cc)
target_link_libraries(lxc_driver_system_tests PRIVATE
  berth_runtime_lxc berth_runtime_lxc_common berth_grpc_absl GTest::gtest_main GTest::gmock)
add_dependencies(lxc_driver_system_tests berth-lxc-helper)
target_compile_definitions(lxc_driver_system_tests PRIVATE
  BERTH_LXC_HELPER_PATH="$<TARGET_FILE:berth-lxc-helper>")
gtest_discover_tests(lxc_driver_system_tests PROPERTIES LABELS system)
