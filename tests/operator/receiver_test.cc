#include "operator/push/receiver.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include "git/git.h"

namespace cairn::push {
namespace {

std::string hmac_hex(const std::string& key, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  std::string out;
  char b[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", mac[i]);
    out += b;
  }
  return out;
}

const std::string kGitHub =
    R"({"ref":"refs/heads/main","after":"abc","repository":{"clone_url":"https://git.example.com/shop/app.git","ssh_url":"git@git.example.com:shop/app.git"}})";
const std::string kGitLab =
    R"({"ref":"refs/tags/v1.0","project":{"git_http_url":"https://gitlab.example.com/shop/app.git"}})";

http::Request request(const std::string& body, std::map<std::string, std::string> headers) {
  http::Request r;
  r.method = "POST";
  r.body = body;
  r.headers = std::move(headers);
  return r;
}

TEST(Verify, GitHubHmacAndGitLabToken) {
  EXPECT_EQ(
      verify(request(kGitHub, {{"x-hub-signature-256", "sha256=" + hmac_hex("s3cret", kGitHub)}}),
             "s3cret"),
      Verdict::kOk);
  EXPECT_EQ(
      verify(request(kGitHub, {{"x-hub-signature-256", "sha256=" + hmac_hex("other", kGitHub)}}),
             "s3cret"),
      Verdict::kBadSignature);
  EXPECT_EQ(verify(request(kGitHub + " ",
                           {{"x-hub-signature-256", "sha256=" + hmac_hex("s3cret", kGitHub)}}),
                   "s3cret"),
            Verdict::kBadSignature)
      << "a changed body breaks the signature";
  EXPECT_EQ(verify(request(kGitLab, {{"x-gitlab-token", "s3cret"}}), "s3cret"), Verdict::kOk);
  EXPECT_EQ(verify(request(kGitLab, {{"x-gitlab-token", "s3cre"}}), "s3cret"),
            Verdict::kBadSignature);
  EXPECT_EQ(verify(request(kGitLab, {}), "s3cret"), Verdict::kUnsigned);
  EXPECT_EQ(verify(request(kGitLab, {{"x-gitlab-token", ""}}), ""), Verdict::kUnsigned)
      << "no configured secret refuses everything";
}

TEST(ParsePush, GitHubAndGitLabPayloads) {
  auto gh = parse_push(kGitHub);
  ASSERT_TRUE(gh);
  EXPECT_EQ(gh->branch, "main");
  EXPECT_EQ(gh->urls.size(), 2u);
  auto gl = parse_push(kGitLab);
  ASSERT_TRUE(gl);
  EXPECT_EQ(gl->tag, "v1.0");
  EXPECT_FALSE(parse_push("not json"));
  EXPECT_FALSE(parse_push(R"({"ref":"refs/heads/main"})")) << "no repository";
  EXPECT_FALSE(parse_push(R"({"ref":"refs/pull/1/head","repository":{"url":"x"}})"));
  EXPECT_FALSE(parse_push(R"([1,2,3])"));
  // Fields of any type (tests/fuzz/push_fuzz.cc): a "ref" that is not a
  // string threw out of json::value; "refs/heads/" alone names no branch.
  EXPECT_FALSE(parse_push(R"({"ref":7,"repository":{"url":"x"}})"));
  EXPECT_FALSE(parse_push(R"({"ref":["refs/heads/main"],"repository":{"url":"x"}})"));
  EXPECT_FALSE(parse_push(R"({"ref":"refs/heads/","repository":{"url":"x"}})"));
  EXPECT_FALSE(parse_push(R"({"ref":"refs/tags/","repository":{"url":"x"}})"));
  EXPECT_FALSE(parse_push(R"({"ref":"refs/heads/main","repository":{"url":7}})"));
}

TEST(RepositoryIdentity, EquivalentFormsMatch) {
  using git::repository_identity;
  EXPECT_EQ(repository_identity("https://Git.Example.com/shop/app.git/"),
            "https://git.example.com/shop/app");
  EXPECT_EQ(repository_identity("https://git.example.com/shop/app/.git"),
            "https://git.example.com/shop/app")
      << "no trailing / left (tests/fuzz/push_fuzz.cc)";
  EXPECT_EQ(repository_identity("https://user:pw@git.example.com/shop/app"),
            "https://git.example.com/shop/app");
  EXPECT_EQ(repository_identity("git@git.example.com:shop/app.git"),
            "ssh://git.example.com/shop/app");
  EXPECT_EQ(repository_identity("ssh://git@git.example.com/shop/app.git"),
            "ssh://git.example.com/shop/app");
}

TEST(Receiver, AnswersAndCounts) {
  std::vector<std::string> seen;
  Receiver r({.secret = [] { return std::string("s3cret"); },
              .on_push =
                  [&](const PushEvent& e) {
                    seen.push_back(e.branch);
                    return std::vector<std::string>{"shop/ci"};
                  }});
  EXPECT_EQ(r.handle(request(kGitHub, {})).status, 401);
  auto ok = r.handle(
      request(kGitHub, {{"x-hub-signature-256", "sha256=" + hmac_hex("s3cret", kGitHub)}}));
  EXPECT_EQ(ok.status, 202);
  EXPECT_NE(ok.body.find("shop/ci"), std::string::npos);
  std::string junk = R"({"hello":1})";
  EXPECT_EQ(r.handle(request(junk, {{"x-hub-signature-256", "sha256=" + hmac_hex("s3cret", junk)}}))
                .status,
            400);
  EXPECT_EQ(r.accepted(), 1u);
  EXPECT_EQ(r.refused(), 1u);
  EXPECT_EQ(seen, std::vector<std::string>{"main"});
}

}  // namespace
}  // namespace cairn::push
