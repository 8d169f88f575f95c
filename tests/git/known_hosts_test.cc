#include "git/known_hosts.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "git/util.h"

namespace cairn::git::detail {
namespace {

// An ed25519 host key blob (wire format) and its base64, as in known_hosts.
Bytes key_blob(char fill) {
  Bytes b;
  auto put = [&](std::string_view s) {
    uint32_t n = static_cast<uint32_t>(s.size());
    for (int sh = 24; sh >= 0; sh -= 8) b.push_back(static_cast<char>((n >> sh) & 0xff));
    b.append(s);
  };
  put("ssh-ed25519");
  put(std::string(32, fill));
  return b;
}

std::string hashed_name(const std::string& name, const std::string& salt) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), salt.data(), static_cast<int>(salt.size()),
       reinterpret_cast<const unsigned char*>(name.data()), name.size(), md, &len);
  return "|1|" + base64_encode(salt) + "|" +
         base64_encode(std::string_view(reinterpret_cast<char*>(md), len));
}

TEST(KnownHosts, PlainPortAndWildcards) {
  Bytes k = key_blob('a');
  std::string b64 = base64_encode(k);
  std::string kh = "# comment\n\ngit.example.com,10.0.0.1 ssh-ed25519 " + b64 + " c\n" +
                   "[git.example.com]:2222 ssh-ed25519 " + base64_encode(key_blob('b')) + "\n" +
                   "*.corp.example,!bad.corp.example ssh-ed25519 " + b64 + "\n";
  EXPECT_EQ(check_known_hosts(kh, "git.example.com", 22, k).match, HostKeyMatch::kMatch);
  EXPECT_EQ(check_known_hosts(kh, "10.0.0.1", 22, k).match, HostKeyMatch::kMatch);
  EXPECT_EQ(check_known_hosts(kh, "GIT.example.com", 22, k).match, HostKeyMatch::kMatch);
  EXPECT_EQ(check_known_hosts(kh, "git.example.com", 2222, key_blob('b')).match,
            HostKeyMatch::kMatch);
  EXPECT_EQ(check_known_hosts(kh, "git.example.com", 2222, k).match, HostKeyMatch::kMismatch);
  EXPECT_EQ(check_known_hosts(kh, "x.corp.example", 22, k).match, HostKeyMatch::kMatch);
  EXPECT_EQ(check_known_hosts(kh, "bad.corp.example", 22, k).match, HostKeyMatch::kUnknownHost);
  auto unknown = check_known_hosts(kh, "other.example", 2200, k);
  EXPECT_EQ(unknown.match, HostKeyMatch::kUnknownHost);
  EXPECT_NE(unknown.message.find("ssh-keyscan -p 2200 other.example"), std::string::npos)
      << unknown.message;
  auto changed = check_known_hosts(kh, "git.example.com", 22, key_blob('z'));
  EXPECT_EQ(changed.match, HostKeyMatch::kMismatch);
  EXPECT_NE(changed.message.find("does not match"), std::string::npos);
}

TEST(KnownHosts, HashedAndRevoked) {
  Bytes k = key_blob('c');
  std::string kh = hashed_name("[127.0.0.1]:2022", "0123456789abcdefghij") + " ssh-ed25519 " +
                   base64_encode(k) + "\n" + "@revoked * ssh-ed25519 " +
                   base64_encode(key_blob('r')) + "\n";
  EXPECT_EQ(check_known_hosts(kh, "127.0.0.1", 2022, k).match, HostKeyMatch::kMatch);
  EXPECT_EQ(check_known_hosts(kh, "127.0.0.1", 22, k).match, HostKeyMatch::kUnknownHost);
  EXPECT_EQ(check_known_hosts(kh, "127.0.0.1", 2022, key_blob('r')).match, HostKeyMatch::kRevoked);
  EXPECT_EQ(check_known_hosts_sha256(kh, "127.0.0.1", 2022, sha256(k)).match, HostKeyMatch::kMatch);
}

TEST(KnownHosts, EmptyKnownHostsIsRefusedWithAFix) {
  auto r = check_known_hosts("", "h", 22, key_blob('a'));
  EXPECT_EQ(r.match, HostKeyMatch::kUnknownHost);
  EXPECT_NE(r.message.find("no known_hosts"), std::string::npos);
}

TEST(KnownHosts, Fingerprint) {
  // ssh-keygen -l prints SHA256:<unpadded base64>.
  auto fp = ssh_fingerprint(key_blob('a'));
  EXPECT_EQ(fp.rfind("SHA256:", 0), 0u);
  EXPECT_EQ(fp.find('='), std::string::npos);
  EXPECT_EQ(fp.size(), 7u + 43u);
}

TEST(Base64, RoundTrip) {
  for (std::string s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto d = base64_decode(base64_encode(s));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, s);
    EXPECT_EQ(*base64_decode(base64_encode(s, false)), s);
  }
  EXPECT_FALSE(base64_decode("@@@@"));
}

}  // namespace
}  // namespace cairn::git::detail
