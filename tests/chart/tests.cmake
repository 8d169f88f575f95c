# The Helm chart (issue #8): charts/cairn rendered by hack/render-chart.sh
# (Go text/template + sprig, as Helm renders; the renderer is built on first
# use into chart-render/) and checked document by document. promtool (Debian's
# prometheus package) checks and unit-tests the alerts. The e2e support
# library provides the ValidatingWebhookConfiguration the chart must match.
add_executable(cairn_chart_tests ${CMAKE_CURRENT_LIST_DIR}/chart_test.cc)
target_link_libraries(cairn_chart_tests PRIVATE cairn_e2e_support yaml-cpp
  nlohmann_json::nlohmann_json GTest::gtest_main OpenSSL::SSL OpenSSL::Crypto)
target_compile_definitions(cairn_chart_tests PRIVATE
  CAIRN_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  CAIRN_CHART_RENDER_DIR="${CMAKE_BINARY_DIR}/chart-render")
gtest_discover_tests(cairn_chart_tests PROPERTIES LABELS unit TIMEOUT 180)
