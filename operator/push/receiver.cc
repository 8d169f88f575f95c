#include "operator/push/receiver.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include <algorithm>

namespace cairn::push {

using kube::json;

namespace {

std::string hex(const unsigned char* d, size_t n) {
  static const char* k = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(k[d[i] >> 4]);
    out.push_back(k[d[i] & 15]);
  }
  return out;
}

bool equal_ct(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

Verdict verify(const http::Request& req, const std::string& secret) {
  if (secret.empty()) return Verdict::kUnsigned;
  std::string sig = req.header("x-hub-signature-256");
  if (!sig.empty()) {
    if (sig.rfind("sha256=", 0) != 0) return Verdict::kBadSignature;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(req.body.data()), req.body.size(), mac, &len);
    std::string want = hex(mac, len);
    std::string got = sig.substr(7);
    std::transform(got.begin(), got.end(), got.begin(),
                   [](char c) { return static_cast<char>(std::tolower(c)); });
    return equal_ct(want, got) ? Verdict::kOk : Verdict::kBadSignature;
  }
  std::string token = req.header("x-gitlab-token");
  if (!token.empty()) return equal_ct(token, secret) ? Verdict::kOk : Verdict::kBadSignature;
  return Verdict::kUnsigned;
}

std::optional<PushEvent> parse_push(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  PushEvent ev;
  // Any field may have any type: a "ref" that is not a string is not a push
  // (json::value would throw).
  auto r = j.find("ref");
  const std::string ref = r != j.end() && r->is_string() ? r->get<std::string>() : "";
  if (ref.rfind("refs/heads/", 0) == 0) {
    ev.branch = ref.substr(11);
  } else if (ref.rfind("refs/tags/", 0) == 0) {
    ev.tag = ref.substr(10);
  } else {
    return std::nullopt;
  }
  if (ev.branch.empty() && ev.tag.empty()) return std::nullopt;  // "refs/heads/" names nothing
  for (const char* section : {"repository", "project"}) {
    auto it = j.find(section);
    if (it == j.end() || !it->is_object()) continue;
    for (const char* k : {"clone_url", "git_url", "ssh_url", "html_url", "url", "git_http_url",
                          "git_ssh_url", "web_url", "http_url"}) {
      if (auto v = it->find(k);
          v != it->end() && v->is_string() && !v->get<std::string>().empty()) {
        ev.urls.push_back(v->get<std::string>());
      }
    }
  }
  if (ev.urls.empty()) return std::nullopt;
  return ev;
}

http::Response Receiver::handle(const http::Request& req) {
  if (req.method != "POST") return http::Response::text(405, "POST a push payload\n");
  Verdict v = verify(req, opts_.secret ? opts_.secret() : std::string());
  if (v != Verdict::kOk) {
    refused_++;
    return http::Response::text(
        401, v == Verdict::kUnsigned
                 ? "payload is not signed: send X-Hub-Signature-256 (HMAC-SHA256 "
                   "of the body) or X-Gitlab-Token with the shared secret\n"
                 : "payload signature or token does not match the shared secret\n");
  }
  auto ev = parse_push(req.body);
  if (!ev) {
    return http::Response::text(400,
                                "not a push payload: need \"ref\": \"refs/heads/...\" or "
                                "\"refs/tags/...\" and a repository URL\n");
  }
  accepted_++;
  std::vector<std::string> triggered =
      opts_.on_push ? opts_.on_push(*ev) : std::vector<std::string>{};
  return http::Response::json(202, json{{"triggered", triggered}}.dump());
}

}  // namespace cairn::push
