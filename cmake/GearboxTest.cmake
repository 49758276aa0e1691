# gearbox_add_test(NAME SOURCES... LIBS...): one GoogleTest binary registered with CTest.
# Tests that need a GPU call GTEST_SKIP() << "skipped: no CUDA device"; CTest reports them as
# skipped through SKIP_REGULAR_EXPRESSION.
find_package(GTest REQUIRED)
include(GoogleTest)
function(gearbox_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main gearbox_warnings)
  target_compile_definitions(${name} PRIVATE GEARBOX_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  # tests/support: TempDir, GEARBOX_REQUIRE_FILE, run_argv (gearbox/testing/*.hpp).
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]" TIMEOUT 900)
endfunction()
