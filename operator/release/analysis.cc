#include "operator/release/analysis.h"

#include <cpprest/http_client.h>

#include <boost/asio/ssl.hpp>
#include <cmath>
#include <cstdlib>

#include "json/json.h"
#include "kube/util.h"

namespace cairn::release {

using json = cairn::json;

std::expected<Sample, std::string> parse_query_result(std::string_view body) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return std::unexpected("the answer is not JSON");
  if (doc.value("status", "") != "success") {
    std::string err = doc.contains("error") && doc["error"].is_string()
                          ? doc["error"].get<std::string>()
                          : "status is not success";
    return std::unexpected("Prometheus refused the query: " + err);
  }
  if (!doc.contains("data") || !doc["data"].is_object())
    return std::unexpected("the answer has no data");
  const json& data = doc["data"];
  const std::string type = data.value("resultType", "");
  const json result = data.contains("result") ? data["result"] : json();
  json pair;
  if (type == "scalar") {
    pair = result;
  } else if (type == "vector") {
    if (!result.is_array() || result.empty())
      return std::unexpected(
          "the query returned no samples: write it so that it always returns one (e.g. "
          "append `or vector(0)`)");
    if (result.size() > 1)
      return std::unexpected("the query returned " + std::to_string(result.size()) +
                             " samples; aggregate it to one (e.g. with max() or sum())");
    if (!result[0].is_object() || !result[0].contains("value"))
      return std::unexpected("the sample has no value");
    pair = result[0]["value"];
  } else {
    return std::unexpected("the query returned a " + (type.empty() ? "nothing" : type) +
                           "; it must return a scalar or one sample");
  }
  if (!pair.is_array() || pair.size() != 2 || !pair[1].is_string())
    return std::unexpected("the sample is not [time, \"value\"]");
  Sample s;
  s.text = pair[1].get<std::string>();
  char* end = nullptr;
  s.value = std::strtod(s.text.c_str(), &end);
  if (end == s.text.c_str() || *end) return std::unexpected("the value is not a number");
  if (std::isnan(s.value)) return std::unexpected("the query returned NaN");
  return s;
}

std::expected<Sample, std::string> query_prometheus(const std::string& base,
                                                    const std::string& query,
                                                    std::chrono::milliseconds timeout) {
  if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0)
    return std::unexpected("spec.rollout.analysis.prometheus must be an http or https URL");
  try {
    web::http::client::http_client_config cfg;
    cfg.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
    cfg.set_ssl_context_callback([](boost::asio::ssl::context& ctx) {
      SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    });
    std::string url = base;
    while (!url.empty() && url.back() == '/') url.pop_back();
    web::http::client::http_client client(utility::conversions::to_string_t(url), cfg);
    auto resp =
        client.request(web::http::methods::GET, "/api/v1/query?query=" + kube::url_encode(query))
            .get();
    std::string body = resp.extract_utf8string(true).get();
    if (resp.status_code() / 100 != 2 && resp.status_code() != 400 && resp.status_code() != 422)
      return std::unexpected("Prometheus at " + url + " answered HTTP " +
                             std::to_string(resp.status_code()));
    return parse_query_result(body);
  } catch (const std::exception& e) {
    return std::unexpected("Prometheus at " + base + " cannot be reached: " + e.what());
  }
}

}  // namespace cairn::release
