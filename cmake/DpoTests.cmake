# One function per kind of test. Each registers a GoogleTest executable with ctest under the kind's
# label, so scripts and CI can filter with ctest -L.

# Every test's environment. ctest runs one test per core and most tests use two torch threads, so
# the cores are oversubscribed: libgomp's default spin-wait then burns the core a peer's worker needs
# (a training test alone 4.6 s, two at once 38 s each; passive: 5.5 s alone, 6 s each two at once).
set(DPO_TEST_ENVIRONMENT "OMP_WAIT_POLICY=PASSIVE")

# One ctest test per executable, running all its cases (a failure's output names the case). Starting
# a process that links libtorch costs 0.8 s here, so one process per case (gtest_discover_tests) spent
# ~400 of the suite's ~950 CPU seconds starting ~500 processes, plus a listing run of every executable
# at build time. DPO_CTEST_PER_CASE=ON registers each case on its own (ctest -R CASE) instead.
option(DPO_CTEST_PER_CASE "Register each GoogleTest case as its own ctest test" OFF)
function(dpo_add_gtest name label)
  if(DPO_CTEST_PER_CASE)
    gtest_discover_tests(${name} PROPERTIES LABELS ${label} ENVIRONMENT ${DPO_TEST_ENVIRONMENT}
                         DISCOVERY_TIMEOUT 60)
  else()
    add_test(NAME ${name} COMMAND ${name} --gtest_brief=1)
    # A clean clone has no measured costs: start the end-to-end executables (up to a minute) first.
    set(cost 1)
    if(label STREQUAL "e2e")
      set(cost 10)
    endif()
    set_tests_properties(${name} PROPERTIES LABELS ${label} ENVIRONMENT ${DPO_TEST_ENVIRONMENT} COST ${cost})
  endif()
endfunction()

# Builds every unit-labelled core test and nothing else, and lists them in core_unit_tests.txt: what CI
# runs under ASan (scripts/test-asan --core-unit), one process per executable instead of one per case.
add_custom_target(dpo_core_unit_tests)
file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/core_unit_tests.txt
  CONTENT "$<JOIN:$<TARGET_PROPERTY:dpo_core_unit_tests,MANUALLY_ADDED_DEPENDENCIES>,\n>\n")

# A unit of the core: links dpo_core and the embedded resources. LABEL: unit, golden or slow.
function(dpo_core_test name label)
  add_executable(${name} ${ARGN})
  if(label STREQUAL "unit")
    add_dependencies(dpo_core_unit_tests ${name})
  endif()
  target_link_libraries(${name} PRIVATE dpo_core dpo_resources GTest::gtest GTest::gtest_main dpo_warnings)
  target_precompile_headers(${name} REUSE_FROM dpo_core)
  target_compile_definitions(${name} PRIVATE DPO_SHARED_DATA="${PROJECT_SOURCE_DIR}/../shared/data")
  dpo_add_gtest(${name} ${label})
endfunction()

# An end-to-end test of the app, labelled e2e.
#   dpo_app_test(name SOURCES ... [CLI] [SESSION] [SHARED_DATA])
# CLI: runs the dpo binary (its path in DPO_CLI, built first). SESSION: links dpo_session to read
# or write runs in-process. SHARED_DATA: DPO_SHARED_DATA names ../shared/data.
function(dpo_app_test name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "CLI;SESSION;SHARED_DATA" "" "SOURCES")
  add_executable(${name} ${arg_SOURCES})
  target_link_libraries(${name} PRIVATE GTest::gtest GTest::gtest_main nlohmann_json::nlohmann_json dpo_warnings)
  if(arg_CLI)
    target_compile_definitions(${name} PRIVATE DPO_CLI="$<TARGET_FILE:dpo>")
    add_dependencies(${name} dpo)
  endif()
  if(arg_SESSION)
    target_link_libraries(${name} PRIVATE dpo_session)
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
    target_precompile_headers(${name} REUSE_FROM dpo_core)
  endif()
  if(arg_SHARED_DATA)
    target_compile_definitions(${name} PRIVATE DPO_SHARED_DATA="${PROJECT_SOURCE_DIR}/../shared/data")
  endif()
  dpo_add_gtest(${name} e2e)
endfunction()

# A QTest of the studio or a widget on the offscreen platform, labelled gui.
#   dpo_gui_test(name SOURCES ... [WIDGETS_ONLY] [CLI] [SHARED_DATA] [TIMEOUT s] [LIBS ...])
# WIDGETS_ONLY: links dpo_widgets alone (no studio, no torch). Studio runs go to a folder of the
# build tree (DPO_STUDIO_RUNS), not to ~/.local/share/dpo-studio/runs.
function(dpo_gui_test name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "WIDGETS_ONLY;CLI;SHARED_DATA" "TIMEOUT" "SOURCES;LIBS")
  add_executable(${name} ${arg_SOURCES})
  set_target_properties(${name} PROPERTIES AUTOMOC ON)
  if(arg_WIDGETS_ONLY)
    target_link_libraries(${name} PRIVATE dpo_widgets Qt6::Test dpo_warnings ${arg_LIBS})
  else()
    target_link_libraries(${name} PRIVATE dpo_studio_lib dpo_widgets dpo_core Qt6::Test dpo_warnings ${arg_LIBS})
  endif()
  if(arg_CLI)
    target_compile_definitions(${name} PRIVATE DPO_CLI="$<TARGET_FILE:dpo>")
    add_dependencies(${name} dpo)
  endif()
  if(arg_SHARED_DATA)
    target_compile_definitions(${name} PRIVATE DPO_SHARED_DATA="${PROJECT_SOURCE_DIR}/../shared/data")
  endif()
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT 600)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS gui TIMEOUT ${arg_TIMEOUT}
    ENVIRONMENT "${DPO_TEST_ENVIRONMENT};QT_QPA_PLATFORM=offscreen;DPO_STUDIO_RUNS=${CMAKE_CURRENT_BINARY_DIR}/studio-runs")
endfunction()
