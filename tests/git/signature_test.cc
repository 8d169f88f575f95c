// Commit signature verification against commits signed by the real tools:
// ssh-keygen (git gpg.format=ssh) and gpg.
#include "git/signature.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "git/git.h"
#include "testutil.h"

namespace cairn::git {
namespace {

using ::testing::HasSubstr;
using testing::quote;
using testing::Repo;
using testing::run;
using testing::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool have(const char* tool) { return run(std::string("command -v ") + tool).status == 0; }

class SignatureTest : public ::testing::Test {
 protected:
  SignatureTest() : repo_(tmp_), cache_(tmp_ / "cache") {}

  ~SignatureTest() override {
    if (gpg_started_) run("GNUPGHOME=" + quote(tmp_ / "gnupg") + " gpgconf --kill all");
  }

  // Makes an SSH key of `type` (ed25519, ecdsa, rsa); returns its public key line.
  std::string ssh_key(const std::string& name, const std::string& type) {
    std::string path = tmp_ / name;
    auto r = run("ssh-keygen -q -t " + type + " -N '' -C " + name + " -f " + quote(path));
    EXPECT_EQ(r.status, 0) << r.output;
    return slurp(path + ".pub");
  }

  std::string ssh_signed_commit(const std::string& key_name, const std::string& message) {
    repo_.git("config gpg.format ssh");
    repo_.git("config user.signingkey " + quote(tmp_ / key_name));
    repo_.write("f", message);
    repo_.must("cd " + quote(repo_.work()) + " && git add -A && git commit -q -S -m " +
               quote(message));
    return repo_.head();
  }

  // Makes a gpg key (algo as for --quick-gen-key); returns {fingerprint, armored public key}.
  std::pair<std::string, std::string> gpg_key(const std::string& uid, const std::string& algo,
                                              const std::string& sign_subkey = "") {
    std::string home = tmp_ / "gnupg";
    std::string env = "GNUPGHOME=" + quote(home) + " ";
    run("mkdir -p -m 700 " + quote(home));
    gpg_started_ = true;
    std::string batch = env + "gpg --batch --quiet --pinentry-mode loopback --passphrase '' ";
    auto r = run(batch + "--quick-gen-key " + quote(uid) + " " + algo + " " +
                 (sign_subkey.empty() ? "sign" : "cert") + " never");
    EXPECT_EQ(r.status, 0) << r.output;
    std::string fpr = testing::Repo::trim(run(env + "gpg --with-colons --list-keys " + quote(uid) +
                                              " 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}'")
                                              .output);
    if (!sign_subkey.empty()) {
      r = run(batch + "--quick-add-key " + fpr + " " + sign_subkey + " sign never");
      EXPECT_EQ(r.status, 0) << r.output;
    }
    std::string armored = run(env + "gpg --armor --export " + fpr + " 2>/dev/null").output;
    return {fpr, armored};
  }

  std::string gpg_signed_commit(const std::string& fpr, const std::string& message) {
    repo_.git("config gpg.format openpgp");
    repo_.git("config user.signingkey " + fpr);
    repo_.write("f", message);
    repo_.must("cd " + quote(repo_.work()) + " && git add -A && GNUPGHOME=" +
               quote(tmp_ / "gnupg") + " git commit -q -S -m " + quote(message));
    return repo_.head();
  }

  // A copy of `id` with its message changed and its signature kept.
  std::string tampered(const std::string& id) {
    std::string out = repo_.must("cd " + quote(repo_.work()) + " && git cat-file commit " + id +
                                 " | sed 's/^honest change$/evil change/' | git hash-object -t "
                                 "commit -w --stdin");
    std::string t = Repo::trim(out);
    repo_.git("update-ref refs/heads/tampered " + t);
    return t;
  }

  std::shared_ptr<Mirror> fetched() {
    repo_.push("--all");
    auto m = cache_.mirror(repo_.url());
    auto r = m->fetch({});
    EXPECT_TRUE(r) << r.error().to_string();
    return m;
  }

  TempDir tmp_;
  Repo repo_;
  Cache cache_;
  bool gpg_started_ = false;
};

class SshSignatureTest : public SignatureTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(SshSignatureTest, ValidInvalidUntrusted) {
  if (!have("ssh-keygen")) GTEST_SKIP() << "ssh-keygen (openssh-client) is not installed";
  std::string pub = ssh_key("signer", GetParam());
  std::string other = ssh_key("other", "ed25519");
  repo_.commit("unsigned base");
  std::string id = ssh_signed_commit("signer", "honest change");
  std::string bad = tampered(id);
  auto m = fetched();

  auto info = m->commit(id);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->has_signature);

  auto ok = m->verify_signature(id, {other, pub});
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->status, SignatureStatus::kValid) << ok->message;
  EXPECT_THAT(ok->key_fingerprint, HasSubstr("SHA256:"));
  // The same fingerprint ssh-keygen prints.
  auto fp = run("ssh-keygen -l -f " + quote(tmp_ / "signer.pub") + " | awk '{print $2}'");
  EXPECT_EQ(ok->key_fingerprint, Repo::trim(fp.output));

  auto untrusted = m->verify_signature(id, {other});
  ASSERT_TRUE(untrusted);
  EXPECT_EQ(untrusted->status, SignatureStatus::kUntrustedKey) << untrusted->message;
  EXPECT_THAT(untrusted->message, HasSubstr("not among the trusted keys"));

  auto invalid = m->verify_signature(bad, {pub});
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->status, SignatureStatus::kInvalid) << invalid->message;

  // An allowed_signers line (principal first) works as a trusted key too.
  auto allowed = m->verify_signature(id, {"ada@example.com " + pub});
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, SignatureStatus::kValid);
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, SshSignatureTest, ::testing::Values("ed25519", "ecdsa", "rsa"));

TEST_F(SignatureTest, UnsignedCommit) {
  std::string id = repo_.commit("plain");
  auto m = fetched();
  auto r = m->verify_signature(id, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, SignatureStatus::kUnsigned);
  EXPECT_THAT(r->message, HasSubstr("is not signed"));
}

TEST_F(SignatureTest, BadTrustedKeyIsAnError) {
  std::string id = repo_.commit("plain");
  auto m = fetched();
  auto r = m->verify_signature(id, {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\nnot a key"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kSignature);
  EXPECT_THAT(r.error().message, HasSubstr("trusted key entry 1 line 1"));
  auto missing = m->verify_signature(std::string(40, 'd'), {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
}

class GpgSignatureTest : public SignatureTest,
                         public ::testing::WithParamInterface<std::pair<const char*, const char*>> {
};

TEST_P(GpgSignatureTest, ValidInvalidUntrusted) {
  if (!have("gpg")) GTEST_SKIP() << "gpg is not installed";
  auto [algo, subkey] = GetParam();
  auto [fpr, armored] = gpg_key("Signer <signer@example.com>", algo, subkey);
  auto [other_fpr, other] = gpg_key("Other <other@example.com>", "ed25519");
  ASSERT_THAT(armored, HasSubstr("BEGIN PGP PUBLIC KEY BLOCK"));
  std::string id = gpg_signed_commit(fpr, "honest change");
  std::string bad = tampered(id);
  auto m = fetched();

  auto ok = m->verify_signature(id, {armored});
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->status, SignatureStatus::kValid) << ok->message;
  EXPECT_THAT(ok->message, HasSubstr("Signer <signer@example.com>"));
  if (!*subkey) {
    std::string lower = fpr;
    for (auto& c : lower) c = static_cast<char>(std::tolower(c));
    EXPECT_EQ(ok->key_fingerprint, lower);
  }

  auto untrusted = m->verify_signature(id, {other});
  ASSERT_TRUE(untrusted);
  EXPECT_EQ(untrusted->status, SignatureStatus::kUntrustedKey) << untrusted->message;

  auto invalid = m->verify_signature(bad, {armored, other});
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->status, SignatureStatus::kInvalid) << invalid->message;
}

INSTANTIATE_TEST_SUITE_P(
    KeyTypes, GpgSignatureTest,
    ::testing::Values(std::make_pair("ed25519", ""), std::make_pair("rsa2048", ""),
                      std::make_pair("nistp256", ""), std::make_pair("ed25519", "ed25519")),
    [](const auto& info) {
      return std::string(info.param.first) + (*info.param.second ? "_subkey" : "");
    });

TEST(SignatureFormats, UnknownAndMalformed) {
  detail::TrustedKeys none;
  auto x509 = detail::verify_signature(
      "-----BEGIN SIGNED MESSAGE-----\nMIAG\n-----END SIGNED MESSAGE-----", "d", none);
  EXPECT_EQ(x509.status, SignatureStatus::kUnsupported);
  auto junk = detail::verify_signature(
      "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n", "d", none);
  EXPECT_EQ(junk.status, SignatureStatus::kInvalid);
  auto pgp = detail::verify_signature(
      "-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n", "d", none);
  EXPECT_EQ(pgp.status, SignatureStatus::kInvalid);
}

}  // namespace
}  // namespace cairn::git
