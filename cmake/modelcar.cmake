# modelcar_module(NAME name [DEPS target...] [TEST_DEPS target...])
#
# Called from src/<module>/CMakeLists.txt (or src/llm/<module>/). Builds:
#   - a static library mc_<name> from every *.cc in the folder except *_test.cc and *_fuzz.cc;
#   - a GoogleTest binary <name>_test from every *_test.cc in the folder, its tests registered with
#     CTest under the label "unit";
#   - a fuzz target <name>_<stem> from every <stem>.cc ending in _fuzz.cc (modelcar_fuzz_target).
# Includes are relative to src/ ("base/status.h"). The library is linked into the modelcar binary.
function(modelcar_module)
  cmake_parse_arguments(M "" "NAME" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  set(lib_srcs ${srcs})
  list(FILTER lib_srcs EXCLUDE REGEX "_(test|fuzz)\\.cc$")
  set(test_srcs ${srcs})
  list(FILTER test_srcs INCLUDE REGEX "_test\\.cc$")

  set(lib mc_${M_NAME})
  if(lib_srcs)
    add_library(${lib} STATIC ${lib_srcs})
    target_include_directories(${lib} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${lib} PUBLIC ${M_DEPS})
    set_property(GLOBAL APPEND PROPERTY MODELCAR_LIBS ${lib})
  else()
    add_library(${lib} INTERFACE)
    target_include_directories(${lib} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${lib} INTERFACE ${M_DEPS})
  endif()

  if(test_srcs AND BUILD_TESTING)
    add_executable(${M_NAME}_test ${test_srcs})
    target_link_libraries(${M_NAME}_test PRIVATE ${lib} ${M_TEST_DEPS} GTest::gtest GTest::gmock
                          GTest::gtest_main)
    gtest_discover_tests(${M_NAME}_test DISCOVERY_TIMEOUT 60
                         PROPERTIES LABELS unit ENVIRONMENT "MODELCAR_SRC=${PROJECT_SOURCE_DIR}")
  endif()

  set(fuzz_srcs ${srcs})
  list(FILTER fuzz_srcs INCLUDE REGEX "_fuzz\\.cc$")
  foreach(src IN LISTS fuzz_srcs)
    get_filename_component(stem ${src} NAME_WE)
    modelcar_fuzz_target(${M_NAME}_${stem} ${src} ${lib} ${M_TEST_DEPS})
  endforeach()
endfunction()

# modelcar_fuzz_target(name source libs...)
#
# A libFuzzer target (LLVMFuzzerTestOneInput in `source`). Its seed corpus is
# tests/fuzz/corpus/<name>/ (small files from the tests, committed).
#   - MODELCAR_FUZZ=ON (clang, scripts/fuzz): linked with -fsanitize=fuzzer; the target is listed in
#     <build>/fuzz_targets.txt ("name binary corpus" per line) and built by the `fuzz` target.
#   - otherwise: linked with tests/fuzz/replay_main.cc, a driver that runs every seed once; CTest
#     runs it over the corpus as fuzz_replay_<name> (labels unit and fuzz), so the seeds and the
#     regression inputs of fixed bugs run with every test run (and under the sanitizers).
function(modelcar_fuzz_target name src)
  set(corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
  if(MODELCAR_FUZZ)
    add_executable(${name} ${src})
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/fuzz)
    target_link_libraries(${name} PRIVATE ${ARGN})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    add_dependencies(fuzz ${name})
    set_property(GLOBAL APPEND_STRING PROPERTY MODELCAR_FUZZ_LIST
                 "${name} $<TARGET_FILE:${name}> ${corpus}\n")
  elseif(BUILD_TESTING)
    add_executable(${name} ${src} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cc)
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/fuzz)
    target_link_libraries(${name} PRIVATE ${ARGN})
    add_test(NAME fuzz_replay_${name} COMMAND ${name} ${corpus})
    set_tests_properties(fuzz_replay_${name} PROPERTIES LABELS "unit;fuzz" TIMEOUT 300)
  endif()
endfunction()

# modelcar_integration_test(NAME name COMMAND cmd args... [TIMEOUT seconds] [LABELS l...])
#
# Registers a test that runs against the built modelcar binary and real peers. Its environment has
# MODELCAR_BIN (the binary), MODELCAR_SRC (the source tree) and MODELCAR_BUILD (the build tree).
# Labelled "integration" (plus LABELS). scripts/test also runs them against the ASan build, except
# those labelled "no_asan", and those labelled "concurrency" (many threads or processes at once:
# the HTTP servers, the scheduler, parallel and concurrent pulls) against the TSan build.
function(modelcar_integration_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "COMMAND;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_COMMAND} WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(${T_NAME} PROPERTIES
    LABELS "integration;${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "MODELCAR_BIN=$<TARGET_FILE:modelcar>;MODELCAR_SRC=${PROJECT_SOURCE_DIR};MODELCAR_BUILD=${PROJECT_BINARY_DIR}")
endfunction()
