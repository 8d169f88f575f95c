// libFuzzer target over kubeconfig parsing (issue #9): kube::parse_kubeconfig,
// what the operator, the webhook and kubectl-cairn read at startup.
//
// Per input, parsing must return (never throw). An accepted config talks
// https:// to a server without a trailing "/", has both or neither of a
// client certificate and key, and skips TLS verification only when that was
// allowed. Allowing insecure kubeconfigs only widens what is accepted: what
// is accepted without it is accepted with it, with the same server,
// credentials and namespace.
//
// File references resolve against a directory that does not exist, so no
// file is read; inputs naming device or proc files are skipped (a kubeconfig
// is the operator's own configuration: its paths are trusted).
#include <string>

#include "common.h"
#include "kube/config.h"

namespace {

constexpr const char* kTarget = "kubeconfig_fuzz";

void check(const cairn::kube::Config& c, bool allow_insecure, std::string_view input) {
  using cairn::fuzz::fail;
  if (c.server.rfind("https://", 0) != 0) fail(kTarget, "server is not https: " + c.server, input);
  if (c.server.back() == '/') fail(kTarget, "server ends in /", input);
  if (c.client_cert_pem.empty() != c.client_key_pem.empty())
    fail(kTarget, "a client certificate without a key, or a key without one", input);
  if (c.insecure_skip_tls_verify && !allow_insecure)
    fail(kTarget, "skips TLS verification without being allowed to", input);
  if (c.namespace_.empty()) fail(kTarget, "an empty namespace", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cairn::fuzz::fail;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (input.find("/dev") != std::string_view::npos ||
      input.find("/proc") != std::string_view::npos || input.find("/sys") != std::string_view::npos)
    return 0;
  const std::string base = "/nonexistent-cairn-fuzz";
  cairn::kube::Result<cairn::kube::Config> strict, lenient;
  try {
    strict = cairn::kube::parse_kubeconfig(input, base, {.allow_insecure = false});
    lenient = cairn::kube::parse_kubeconfig(input, base, {.allow_insecure = true});
  } catch (const std::exception& e) {
    fail(kTarget, std::string("threw: ") + e.what(), input);
  }
  if (!strict && strict.error().message.empty()) fail(kTarget, "an error without a message", input);
  if (!lenient && lenient.error().message.empty())
    fail(kTarget, "an error without a message", input);
  if (strict) check(*strict, false, input);
  if (lenient) check(*lenient, true, input);
  if (strict) {
    if (!lenient)
      fail(kTarget, "allowing insecure refused what was accepted: " + lenient.error().message,
           input);
    if (strict->server != lenient->server || strict->token != lenient->token ||
        strict->ca_pem != lenient->ca_pem || strict->client_cert_pem != lenient->client_cert_pem ||
        strict->namespace_ != lenient->namespace_)
      fail(kTarget, "allowing insecure changed the config", input);
  }
  return 0;
}
