// libFuzzer target over push-hook payloads (issue #9): the body of a POST to
// the operator's push receiver (operator/push/receiver.cc), GitHub- or
// GitLab-style JSON.
//
// Per input, parse_push must not throw; a payload it accepts names a branch
// or a tag (exactly one, never empty) and at least one non-empty URL, and
// git::repository_identity of each must not throw and leaves no trailing "/". Then the
// input goes through Receiver::handle three times: correctly signed
// (X-Hub-Signature-256 computed here), with a wrong signature, and unsigned.
// Signed: 202 exactly when parse_push accepts, else 400, and on_push sees the
// event parse_push gave. Wrong or no signature: 401, and on_push never runs,
// whatever the body.
#include <openssl/hmac.h>

#include <string>

#include "common.h"
#include "git/git.h"
#include "operator/push/receiver.h"

namespace {

constexpr const char* kTarget = "push_fuzz";
const std::string kSecret = "fuzz-shared-secret";

std::string hmac_hex(const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[mac[i] >> 4]);
    out.push_back(hex[mac[i] & 15]);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cairn::fuzz::fail;
  namespace push = cairn::push;
  namespace git = cairn::git;
  const std::string body(reinterpret_cast<const char*>(data), size);

  std::optional<push::PushEvent> ev;
  try {
    ev = push::parse_push(body);
    if (ev) {
      if (ev->branch.empty() == ev->tag.empty())
        fail(kTarget, "a push names both or neither of a branch and a tag", body);
      if (ev->urls.empty()) fail(kTarget, "a push without a URL", body);
      for (const auto& u : ev->urls) {
        if (u.empty()) fail(kTarget, "an empty URL", body);
        const std::string n = git::repository_identity(u);
        if (!n.empty() && n.back() == '/' && n != "file:///")  // the root directory
          fail(kTarget, "normalized URL ends in /: " + n, body);
      }
    }
  } catch (const std::exception& e) {
    fail(kTarget, std::string("threw: ") + e.what(), body);
  }

  int pushes = 0;
  push::Receiver receiver({.secret = [] { return kSecret; },
                           .on_push =
                               [&](const push::PushEvent& got) {
                                 ++pushes;
                                 if (!ev || got.branch != ev->branch || got.tag != ev->tag ||
                                     got.urls != ev->urls)
                                   fail(kTarget, "on_push saw another event than parse_push", body);
                                 return std::vector<std::string>{"ns/p"};
                               }});
  cairn::http::Request req{.method = "POST", .target = "/push", .path = "/push", .body = body};
  try {
    req.headers["x-hub-signature-256"] = "sha256=" + hmac_hex(body);
    auto signed_resp = receiver.handle(req);
    if (signed_resp.status != (ev ? 202 : 400))
      fail(kTarget, "signed payload answered " + std::to_string(signed_resp.status), body);
    if (pushes != (ev ? 1 : 0)) fail(kTarget, "on_push ran " + std::to_string(pushes), body);

    std::string wrong = hmac_hex(body);
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    req.headers["x-hub-signature-256"] = "sha256=" + wrong;
    if (receiver.handle(req).status != 401) fail(kTarget, "a wrong signature was not 401", body);
    req.headers.clear();
    if (receiver.handle(req).status != 401) fail(kTarget, "an unsigned payload was not 401", body);
    req.headers["x-gitlab-token"] = "not-the-secret";
    if (receiver.handle(req).status != 401) fail(kTarget, "a wrong token was not 401", body);
  } catch (const std::exception& e) {
    fail(kTarget, std::string("handle threw: ") + e.what(), body);
  }
  if (pushes != (ev ? 1 : 0)) fail(kTarget, "on_push ran for an unverified payload", body);
  return 0;
}
