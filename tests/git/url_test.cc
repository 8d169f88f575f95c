#include "git/url.h"

#include <gtest/gtest.h>

#include "git/git.h"

namespace cairn::git {
namespace {

TEST(RedactUrl, DropsCredentials) {
  EXPECT_EQ(redact_url("https://user:s3cret@git.example.com/org/repo.git"),
            "https://git.example.com/org/repo.git");
  EXPECT_EQ(redact_url("https://ghp_token@git.example.com/r.git"), "https://git.example.com/r.git");
  EXPECT_EQ(redact_url("http://a:b@127.0.0.1:8080/x"), "http://127.0.0.1:8080/x");
  EXPECT_EQ(redact_url("ssh://git@host.example.com:2222/r.git"),
            "ssh://git@host.example.com:2222/r.git");
  EXPECT_EQ(redact_url("ssh://git:pw@host/r.git"), "ssh://host/r.git");
  EXPECT_EQ(redact_url("git@github.com:org/repo.git"), "git@github.com:org/repo.git");
  EXPECT_EQ(redact_url("https://git.example.com/r.git"), "https://git.example.com/r.git");
  EXPECT_EQ(redact_url("/srv/git/r.git"), "/srv/git/r.git");
  // An '@' in the path is not user info.
  EXPECT_EQ(redact_url("https://host/org/r@v1.git"), "https://host/org/r@v1.git");
}

TEST(NormalizeUrl, SameRepositorySameKey) {
  EXPECT_EQ(normalize_url("HTTPS://Git.Example.COM/Org/Repo.git/"),
            "https://git.example.com/Org/Repo.git");
  EXPECT_EQ(normalize_url("https://u:p@git.example.com/r.git"), "https://git.example.com/r.git");
  EXPECT_EQ(normalize_url("https://git.example.com:443/r.git"), "https://git.example.com/r.git");
  EXPECT_EQ(normalize_url("https://git.example.com:8443/r.git"),
            "https://git.example.com:8443/r.git");
  EXPECT_EQ(normalize_url("git@github.com:org/repo.git"), "ssh://git@github.com/org/repo.git");
  EXPECT_EQ(normalize_url("ssh://git@github.com/org/repo.git"),
            "ssh://git@github.com/org/repo.git");
  EXPECT_EQ(normalize_url("/srv/git/./r.git/"), "file:///srv/git/r.git");
  EXPECT_EQ(normalize_url("file:///srv/git/r.git"), "file:///srv/git/r.git");
  EXPECT_NE(normalize_url("https://h/a.git"), normalize_url("https://h/b.git"));
}

TEST(WebUrl, RepositoryPagesWithoutCredentials) {
  EXPECT_EQ(web_url("https://github.com/org/app.git"), "https://github.com/org/app");
  EXPECT_EQ(web_url("https://u:p@GitLab.example.com:8443/group/sub/app/"),
            "https://gitlab.example.com:8443/group/sub/app");
  EXPECT_EQ(web_url("git@github.com:org/app.git"), "https://github.com/org/app");
  EXPECT_EQ(web_url("ssh://git@git.example.com:2222/org/app.git"),
            "https://git.example.com/org/app");
  EXPECT_EQ(web_url("https://[::1]:3000/org/app"), "https://[::1]:3000/org/app");
  EXPECT_EQ(web_url("git://host/app.git"), "");
  EXPECT_EQ(web_url("file:///srv/git/app.git"), "");
  EXPECT_EQ(web_url("/srv/git/app.git"), "");
  EXPECT_EQ(web_url("https://host"), "");
}

TEST(CheckUrl, SupportedSchemes) {
  for (const char* ok :
       {"https://h/r.git", "http://h:8080/r", "ssh://git@h:22/r.git", "git@h:org/r.git",
        "git://127.0.0.1:9418/r.git", "file:///srv/r.git", "/srv/r.git", "./relative"}) {
    EXPECT_TRUE(check_url(ok)) << ok;
  }
  auto ftp = check_url("ftp://h/r.git");
  ASSERT_FALSE(ftp);
  EXPECT_EQ(ftp.error().code, Code::kInvalid);
  EXPECT_FALSE(check_url(""));
  EXPECT_FALSE(check_url("https:///nohost"));
  EXPECT_FALSE(check_url("https://h:notaport/r"));
  auto secret = check_url("gopher://u:hunter2@h/r");
  ASSERT_FALSE(secret);
  EXPECT_EQ(secret.error().message.find("hunter2"), std::string::npos);
}

TEST(ParseUrl, Parts) {
  auto u = detail::parse_url("https://u:p@[::1]:8443/x/y.git");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.user, "u");
  EXPECT_EQ(u.password, "p");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, "8443");
  EXPECT_EQ(u.path, "/x/y.git");
  auto scp = detail::parse_url("git@example.com:org/r.git");
  EXPECT_EQ(scp.form, detail::UrlParts::Form::kScp);
  EXPECT_EQ(scp.host, "example.com");
  EXPECT_EQ(detail::effective_port(scp), 22);
  EXPECT_EQ(detail::effective_port(detail::parse_url("ssh://h:2222/r")), 2222);
  EXPECT_EQ(detail::effective_port(detail::parse_url("git://h/r")), 9418);
}

TEST(Credentials, FromSecret) {
  auto c = credentials_from_secret({{"username", "bob"}, {"password", "pw\n"}});
  EXPECT_EQ(c.username, "bob");
  EXPECT_EQ(c.password, "pw") << "a trailing newline from `echo` is dropped";
  EXPECT_FALSE(c.empty());
  auto t = credentials_from_secret({{"bearerToken", "tok"}});
  EXPECT_EQ(t.bearer_token, "tok");
  auto s = credentials_from_secret({{"identity", "-----BEGIN OPENSSH PRIVATE KEY-----\n..."},
                                    {"known_hosts", "h ssh-ed25519 AAAA"}});
  EXPECT_FALSE(s.ssh_identity.empty());
  EXPECT_EQ(s.ssh_known_hosts, "h ssh-ed25519 AAAA");
  EXPECT_EQ(credentials_from_secret({{"caFile", "CA"}}).ca_pem, "CA");
  EXPECT_EQ(credentials_from_secret({{"ca.crt", "CA2"}}).ca_pem, "CA2");
  EXPECT_TRUE(credentials_from_secret({}).empty());
}

TEST(Error, ToStringAndRetriable) {
  Error e{Code::kNotFound, "branch \"x\" not found"};
  EXPECT_EQ(e.to_string(), "NotFound: branch \"x\" not found");
  EXPECT_FALSE(e.retriable());
  EXPECT_TRUE((Error{Code::kTimeout, ""}).retriable());
  EXPECT_TRUE((Error{Code::kUnreachable, ""}).retriable());
  EXPECT_FALSE((Error{Code::kAuth, ""}).retriable());
  EXPECT_EQ(to_string(Ref{RefKind::kTag, "v1"}), "tag \"v1\"");
}

}  // namespace
}  // namespace cairn::git
