# The fuzz tests of issue #6, included from tests/CMakeLists.txt (the main,
# g++ build). tests/fuzz/CMakeLists.txt is not part of this build: it is the
# standalone clang project that hack/fuzz.sh builds into build-fuzz/.

# fuzz.admission: libFuzzer over AdmissionReview parsing and the policy, for
# 60 seconds (plus its own clang build, a minute or two on 2 cores).
add_test(NAME fuzz.admission COMMAND ${PROJECT_SOURCE_DIR}/hack/fuzz.sh 60 admission)
set_tests_properties(fuzz.admission PROPERTIES LABELS unit TIMEOUT 900)

# fuzz.<target>: the other parsers that read outside data (issue #9), 30
# seconds each in CI (plus building the target in the same build-fuzz/;
# hack/fuzz.sh serialises the builds). `make fuzz` runs every target for
# FUZZ_SECONDS (default 600) each.
foreach(target kubeconfig manifest push watch termination)
  add_test(NAME fuzz.${target} COMMAND ${PROJECT_SOURCE_DIR}/hack/fuzz.sh 30 ${target})
  set_tests_properties(fuzz.${target} PROPERTIES LABELS unit TIMEOUT 900)
endforeach()

# fuzz.socket: 10,000 hostile requests over TLS to the real server, handler
# and policy. What it exercises is compiled here with AddressSanitizer (and so
# LeakSanitizer); the libraries below it are linked as they are.
find_package(Boost 1.74 REQUIRED)
find_package(prometheus-cpp REQUIRED)
find_package(simdjson REQUIRED)
set(cairn_asan -fsanitize=address -fno-omit-frame-pointer)
add_executable(cairn_socket_fuzz
  ${CMAKE_CURRENT_LIST_DIR}/socket_fuzz.cc
  ${PROJECT_SOURCE_DIR}/webhook/admission.cc
  ${PROJECT_SOURCE_DIR}/webhook/policy.cc
  ${PROJECT_SOURCE_DIR}/webhook/git_facts.cc
  ${PROJECT_SOURCE_DIR}/webhook/kinds.cc
  ${PROJECT_SOURCE_DIR}/webhook/handler.cc
  ${PROJECT_SOURCE_DIR}/webhook/metrics.cc
  ${PROJECT_SOURCE_DIR}/lib/http/server.cc)
target_compile_options(cairn_socket_fuzz PRIVATE ${cairn_asan})
target_link_options(cairn_socket_fuzz PRIVATE -fsanitize=address)
target_include_directories(cairn_socket_fuzz PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(cairn_socket_fuzz PRIVATE cairn_manifest cairn_api cairn_git cairn_log
  prometheus-cpp::core simdjson::simdjson Boost::headers OpenSSL::SSL OpenSSL::Crypto Threads::Threads
  nlohmann_json::nlohmann_json)
add_test(NAME fuzz.socket COMMAND cairn_socket_fuzz)
set_tests_properties(fuzz.socket PROPERTIES LABELS unit TIMEOUT 600
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=0")
