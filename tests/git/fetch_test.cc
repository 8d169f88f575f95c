// Fetching over the network: real git daemon and TLS servers, and servers
// that stall, trickle, refuse or demand credentials.
#include <git2.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "git/git.h"
#include "servers.h"
#include "testutil.h"

namespace cairn::git {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::quote;
using testing::Repo;
using testing::run;
using testing::TcpServer;
using testing::TempDir;

using Clock = std::chrono::steady_clock;

class FetchTest : public ::testing::Test {
 protected:
  FetchTest() : cache_(tmp_ / "cache") {}
  TempDir tmp_;
  Cache cache_;
};

TEST_F(FetchTest, StalledServerTimesOutWithinTheStallBound) {
  // Accepts, reads the request, never answers: without the watchdog libgit2
  // would wait in recv() forever.
  TcpServer server([](int fd, const std::atomic<bool>& stop) {
    char buf[256];
    while (!stop && recv(fd, buf, sizeof buf, 0) > 0) {
    }
  });
  // ssh: libssh2 reads the socket itself; only the watchdog shutting it down wakes it.
  for (std::string scheme : {"git", "http", "ssh"}) {
    auto m = cache_.mirror(scheme + "://127.0.0.1:" + std::to_string(server.port()) + "/r.git");
    FetchOptions opts;
    opts.stall_timeout_ms = 700ms;
    opts.timeout = 60s;
    auto start = Clock::now();
    auto r = m->fetch(opts);
    auto took = Clock::now() - start;
    ASSERT_FALSE(r) << scheme;
    EXPECT_EQ(r.error().code, Code::kTimeout) << r.error().to_string();
    EXPECT_THAT(r.error().message, HasSubstr("made no progress for 700ms"));
    EXPECT_GE(took, 700ms);
    EXPECT_LT(took, 2500ms) << scheme;
  }
}

TEST_F(FetchTest, TricklingServerHitsTheTotalTimeout) {
  // Sends a header line every 100 ms forever: always some progress, never done.
  TcpServer server([](int fd, const std::atomic<bool>& stop) {
    if (!testing::read_request(fd)) return;
    testing::send_all(fd, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; !stop; ++i) {
      testing::send_all(fd, "X-Slow-" + std::to_string(i) + ": y\r\n");
      std::this_thread::sleep_for(100ms);
    }
  });
  auto m = cache_.mirror("http://127.0.0.1:" + std::to_string(server.port()) + "/r.git");
  FetchOptions opts;
  opts.timeout_ms = 1200ms;
  opts.stall_timeout_ms = 800ms;
  auto start = Clock::now();
  auto r = m->fetch(opts);
  auto took = Clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kTimeout) << r.error().to_string();
  EXPECT_THAT(r.error().message, HasSubstr("did not finish within 1200ms"));
  EXPECT_LT(took, 3s);
}

TEST_F(FetchTest, ConnectionRefusedIsUnreachable) {
  int port = testing::free_port();
  auto m = cache_.mirror("git://127.0.0.1:" + std::to_string(port) + "/r.git");
  auto r = m->fetch({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnreachable) << r.error().to_string();
  EXPECT_THAT(r.error().message, HasSubstr("Connection refused"));
  EXPECT_TRUE(r.error().retriable());
}

// An http server that answers every request with `response`; counts requests.
struct CannedHttp {
  explicit CannedHttp(std::string response)
      : server([this, response](int fd, const std::atomic<bool>&) {
          while (testing::read_request(fd)) {
            requests++;
            testing::send_all(fd, response);
          }
        }) {}
  std::atomic<int> requests{0};
  TcpServer server;
};

TEST_F(FetchTest, RejectedCredentialsAreAuthErrorsWithoutSecrets) {
  CannedHttp http(
      "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n"
      "Content-Length: 0\r\n\r\n");
  std::string url = "http://127.0.0.1:" + std::to_string(http.server.port()) + "/r.git";
  FetchOptions opts;
  opts.creds = credentials_from_secret({{"username", "bob"}, {"password", "hunter2-secret"}});
  auto r = cache_.mirror(url)->fetch(opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kAuth) << r.error().to_string();
  EXPECT_THAT(r.error().message, HasSubstr(url));
  EXPECT_THAT(r.error().message, HasSubstr("Secret"));
  EXPECT_THAT(r.error().message, Not(HasSubstr("hunter2")));
  EXPECT_LE(http.requests.load(), 3) << "the credentials were tried once, not in a loop";

  // Credentials in the URL are not shown either.
  auto in_url = cache_.mirror(
      "http://bob:hunter2-secret@127.0.0.1:" + std::to_string(http.server.port()) + "/other.git");
  auto r2 = in_url->fetch({});
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Code::kAuth) << r2.error().to_string();
  EXPECT_THAT(r2.error().message, Not(HasSubstr("hunter2")));
  EXPECT_THAT(in_url->url(), Not(HasSubstr("hunter2")));

  // No credentials at all: say which Secret keys would do.
  auto r3 = cache_.mirror(url + "3")->fetch({});
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error().code, Code::kAuth);
  EXPECT_THAT(r3.error().message, HasSubstr("no credentials were given"));

  // A bearer token is sent as the password.
  FetchOptions tok;
  tok.creds = credentials_from_secret({{"bearerToken", "tok-123456"}});
  auto r4 = cache_.mirror(url + "4")->fetch(tok);
  ASSERT_FALSE(r4);
  EXPECT_EQ(r4.error().code, Code::kAuth);
  EXPECT_THAT(r4.error().message, Not(HasSubstr("tok-123456")));
}

TEST_F(FetchTest, CredentialsAreNotSentToAnotherHostAfterARedirect) {
  std::atomic<bool> saw_authorization{false};
  TcpServer other([&](int fd, const std::atomic<bool>&) {
    std::string head;
    while (testing::read_request(fd, &head)) {
      if (head.find("Authorization:") != std::string::npos) saw_authorization = true;
      testing::send_all(fd,
                        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\n"
                        "Content-Length: 0\r\n\r\n");
    }
  });
  // The same machine under another name: a different host as far as credentials go.
  CannedHttp first(
      "HTTP/1.1 302 Found\r\nLocation: http://localhost:" + std::to_string(other.port()) +
      "/r.git/info/refs?service=git-upload-pack\r\nContent-Length: 0\r\n\r\n");
  FetchOptions opts;
  opts.creds = credentials_from_secret({{"username", "bob"}, {"password", "hunter2-secret"}});
  auto r = cache_.mirror("http://127.0.0.1:" + std::to_string(first.server.port()) + "/r.git")
               ->fetch(opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kAuth) << r.error().to_string();
  EXPECT_THAT(r.error().message, HasSubstr("redirected to host localhost"));
  EXPECT_FALSE(saw_authorization);
}

TEST_F(FetchTest, MissingRepositoryOverHttpIsNotFound) {
  CannedHttp http("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  auto r =
      cache_.mirror("http://127.0.0.1:" + std::to_string(http.server.port()) + "/r.git")->fetch({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kNotFound) << r.error().to_string();
}

TEST_F(FetchTest, FetchesOverGitDaemon) {
  Repo repo(tmp_);
  repo.write("deploy/app.yaml", "kind: ConfigMap\n");
  std::string id = repo.commit("over the wire");
  repo.push();
  int port = testing::free_port();
  // git-daemon itself (not the `git daemon` wrapper), so that it is what gets signalled.
  std::string exec_path = Repo::trim(run("git --exec-path").output);
  Child daemon({exec_path + "/git-daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
                "--port=" + std::to_string(port), "--base-path=" + tmp_.path(), tmp_.path()},
               tmp_.path(), tmp_ / "daemon.log");
  ASSERT_TRUE(testing::wait_port(port)) << run("cat " + quote(tmp_ / "daemon.log")).output;
  auto m = cache_.mirror("git://127.0.0.1:" + std::to_string(port) + "/origin.git");
  auto r = m->fetch({});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(m->resolve({RefKind::kBranch, "main"}).value(), id);
  auto files = m->files(id, "deploy", nullptr);
  ASSERT_TRUE(files);
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].content, "kind: ConfigMap\n");
  // And again, now with nothing new.
  ASSERT_TRUE(m->fetch({}));
}

TEST_F(FetchTest, DamagedPackOnTheServerIsReportedAsSuchAndFetchedOnceRepaired) {
  Repo repo(tmp_);
  repo.write("a.txt", "a\n");
  std::string first = repo.commit("first");
  repo.push();
  int port = testing::free_port();
  std::string exec_path = Repo::trim(run("git --exec-path").output);
  Child daemon({exec_path + "/git-daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
                "--port=" + std::to_string(port), "--base-path=" + tmp_.path(), tmp_.path()},
               tmp_.path(), tmp_ / "daemon.log");
  ASSERT_TRUE(testing::wait_port(port)) << run("cat " + quote(tmp_ / "daemon.log")).output;
  auto m = cache_.mirror("git://127.0.0.1:" + std::to_string(port) + "/origin.git");
  ASSERT_TRUE(m->fetch({}));

  // A second commit with text that compresses, packed on the server, and
  // 64 bytes in the middle of its blob's compressed data zeroed.
  std::string text;
  for (int i = 0; text.size() < (64u << 10); ++i) text += "line " + std::to_string(i) + "\n";
  repo.write("b.txt", text);
  std::string second = repo.commit("second");
  repo.push();
  const std::string o = quote(repo.origin());
  std::string blob = Repo::trim(run("git -C " + o + " rev-parse " + second + ":b.txt").output);
  ASSERT_EQ(run("git -C " + o + " repack -a -d -q").status, 0);
  std::string pack = Repo::trim(run("ls " + o + "/objects/pack/*.pack").output);
  std::string idx = pack.substr(0, pack.size() - 5) + ".idx";
  std::istringstream entry(
      run("git verify-pack -v " + quote(idx) + " | grep '^" + blob + " '").output);
  std::string id, type;
  long size = 0, packed = 0, offset = 0;
  entry >> id >> type >> size >> packed >> offset;
  ASSERT_GT(packed, 100);
  ASSERT_EQ(run("cp " + quote(pack) + " " + quote(pack + ".good") + " && chmod u+w " + quote(pack) +
                " && head -c 64 /dev/zero | dd of=" + quote(pack) +
                " bs=1 conv=notrunc status=none seek=" + std::to_string(offset + packed / 2))
                .status,
            0);

  auto r = m->fetch({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInternal) << r.error().to_string();
  EXPECT_THAT(r.error().message, HasSubstr("git fsck")) << r.error().to_string();
  EXPECT_EQ(m->resolve({RefKind::kBranch, "main"}).value(), first)
      << "the mirror keeps what it had";

  ASSERT_EQ(run("cp -f " + quote(pack + ".good") + " " + quote(pack)).status, 0);
  auto repaired = m->fetch({});
  ASSERT_TRUE(repaired) << repaired.error().to_string();
  EXPECT_EQ(m->resolve({RefKind::kBranch, "main"}).value(), second);
  auto files = m->files(second, "b.txt", nullptr);
  ASSERT_TRUE(files) << files.error().to_string();
  EXPECT_EQ((*files)[0].content, text);
}

// A CA, server certificates signed by it, and `openssl s_server` with one of them.
class TlsTest : public FetchTest {
 protected:
  void SetUp() override {
    std::string d = quote(tmp_.path());
    auto r = run("cd " + d +
                 " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                 "-keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca 2>&1 && "
                 "for n in srv wrong; do openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                 "-nodes -keyout $n.key -out $n.csr -subj /CN=$n 2>&1 || exit 1; done && "
                 "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > srv.ext && "
                 "printf 'subjectAltName=DNS:elsewhere.example\\n' > wrong.ext && "
                 "for n in srv wrong; do openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key "
                 "-CAcreateserial -out $n.crt -days 2 -extfile $n.ext 2>&1 || exit 1; done && "
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                 "-keyout other.key -out other.crt -days 2 -subj /CN=other-ca 2>&1");
    ASSERT_EQ(r.status, 0) << r.output;
  }

  // Serves with certificate `name` (srv: for 127.0.0.1 and localhost; wrong: for another host).
  void serve(const std::string& name) {
    port_ = testing::free_port();
    server_ = std::make_unique<Child>(
        std::vector<std::string>{"openssl", "s_server", "-quiet", "-accept",
                                 "127.0.0.1:" + std::to_string(port_), "-cert", name + ".crt",
                                 "-key", name + ".key", "-WWW"},
        tmp_.path(), tmp_ / "s_server.log");
    ASSERT_TRUE(testing::wait_port(port_)) << read("s_server.log");
  }

  std::string read(const std::string& name) { return run("cat " + quote(tmp_ / name)).output; }
  std::string url(const std::string& host = "127.0.0.1") {
    return "https://" + host + ":" + std::to_string(port_) + "/r.git";
  }

  int port_ = 0;
  std::unique_ptr<Child> server_;
};

TEST_F(TlsTest, UnknownCaIsRefusedAndTheSecretsCaIsTrusted) {
  serve("srv");
  auto untrusted = cache_.mirror(url())->fetch({});
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().code, Code::kUntrustedHost) << untrusted.error().to_string();
  EXPECT_THAT(untrusted.error().message, HasSubstr("caFile"));

  FetchOptions wrong;
  wrong.creds.ca_pem = read("other.crt");
  auto r = cache_.mirror(url())->fetch(wrong);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUntrustedHost) << r.error().to_string();

  // With the right CA the TLS handshake is accepted and the HTTP exchange
  // happens (s_server -WWW is no git server: it answers in text/plain).
  FetchOptions right;
  right.creds = credentials_from_secret({{"caFile", read("ca.crt")}});
  for (const char* host : {"127.0.0.1", "localhost"}) {
    auto ok = cache_.mirror(url(host))->fetch(right);
    ASSERT_FALSE(ok);
    EXPECT_NE(ok.error().code, Code::kUntrustedHost) << ok.error().to_string();
    EXPECT_THAT(ok.error().message, HasSubstr("content-type")) << host;
  }
}

TEST_F(TlsTest, HonoursHttpsProxyAndNoProxy) {
  serve("srv");
  testing::ConnectProxy proxy;
  setenv("https_proxy", ("http://127.0.0.1:" + std::to_string(proxy.port())).c_str(), 1);
  FetchOptions right;
  right.creds = credentials_from_secret(
      {{"caFile", read("ca.crt")}, {"username", "u"}, {"password", "secret-pw"}});
  auto r = cache_.mirror(url())->fetch(right);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().code, Code::kUntrustedHost) << r.error().to_string();
  EXPECT_THAT(r.error().message, HasSubstr("content-type"));
  EXPECT_THAT(proxy.requests(),
              ::testing::Contains("CONNECT 127.0.0.1:" + std::to_string(port_) + " HTTP/1.1"));

  setenv("no_proxy", "127.0.0.1", 1);
  auto before = proxy.requests().size();
  auto direct = cache_.mirror(url())->fetch(right);
  ASSERT_FALSE(direct);
  EXPECT_THAT(direct.error().message, HasSubstr("content-type"));
  EXPECT_EQ(proxy.requests().size(), before);
  unsetenv("https_proxy");
  unsetenv("no_proxy");
}

TEST_F(TlsTest, CertificateForAnotherHostIsRefused) {
  serve("wrong");
  FetchOptions right;
  right.creds.ca_pem = read("ca.crt");
  auto r = cache_.mirror(url())->fetch(right);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUntrustedHost) << r.error().to_string();
  EXPECT_THAT(r.error().message, HasSubstr("mismatch"));
}

// A real sshd (Debian's openssh-server) on a loopback port, run by the test
// with its own host key and authorized_keys. Skipped when sshd is absent.
class SshTest : public FetchTest {
 protected:
  void SetUp() override {
    if (access("/usr/sbin/sshd", X_OK) != 0)
      GTEST_SKIP() << "/usr/sbin/sshd is absent (Debian package openssh-server)";
    user_ = Repo::trim(run("id -un").output);
    std::string d = quote(tmp_.path());
    auto r = run("cd " + d +
                 " && ssh-keygen -q -t ed25519 -N '' -f host_key && ssh-keygen -q -t ed25519 -N '' "
                 "-f client && ssh-keygen -q -t ecdsa -N '' -f stranger && cp client.pub "
                 "authorized_keys && mkdir -p /run/sshd");
    ASSERT_EQ(r.status, 0) << r.output;
    port_ = testing::free_port();
    std::string cfg = "Port " + std::to_string(port_) + "\nListenAddress 127.0.0.1\nHostKey " +
                      tmp_ / "host_key" + "\nAuthorizedKeysFile " + tmp_ / "authorized_keys" +
                      "\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication "
                      "no\nUsePAM no\nPermitRootLogin prohibit-password\nPidFile " +
                      tmp_ / "sshd.pid" + "\nLogLevel VERBOSE\n";
    FILE* f = fopen((tmp_ / "sshd_config").c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(cfg.c_str(), f);
    fclose(f);
    sshd_ = std::make_unique<Child>(
        std::vector<std::string>{"/usr/sbin/sshd", "-D", "-e", "-f", tmp_ / "sshd_config"},
        tmp_.path(), tmp_ / "sshd.log");
    ASSERT_TRUE(testing::wait_port(port_)) << run("cat " + quote(tmp_ / "sshd.log")).output;
    repo_ = std::make_unique<Repo>(tmp_);
    repo_->write("f", "over ssh\n");
    head_ = repo_->commit("ssh");
    repo_->push();
  }

  std::string url() const {
    return "ssh://" + user_ + "@127.0.0.1:" + std::to_string(port_) + repo_->origin();
  }
  std::string known_hosts() {
    std::string pub = run("cat " + quote(tmp_ / "host_key.pub")).output;
    return "[127.0.0.1]:" + std::to_string(port_) + " " + pub;
  }
  FetchOptions opts(const std::string& key = "client") {
    FetchOptions o;
    o.creds = credentials_from_secret(
        {{"identity", run("cat " + quote(tmp_ / key)).output}, {"known_hosts", known_hosts()}});
    o.timeout = 30s;
    return o;
  }

  std::string user_, head_;
  int port_ = 0;
  std::unique_ptr<Child> sshd_;
  std::unique_ptr<Repo> repo_;
};

TEST_F(SshTest, FetchesWithAKeyFromTheSecretAndAKnownHost) {
  auto m = cache_.mirror(url());
  auto r = m->fetch(opts());
  ASSERT_TRUE(r) << r.error().to_string() << "\n" << run("cat " + quote(tmp_ / "sshd.log")).output;
  EXPECT_EQ(m->resolve({RefKind::kBranch, "main"}).value(), head_);
  // scp-like syntax names the same server.
  auto scp = cache_.mirror(user_ + "@127.0.0.1:" + repo_->origin());
  EXPECT_NE(scp.get(), m.get()) << "another port, another repository";
}

TEST_F(SshTest, UnknownOrChangedHostKeyIsRefused) {
  FetchOptions none = opts();
  none.creds.ssh_known_hosts.clear();
  auto r = cache_.mirror(url())->fetch(none);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUntrustedHost) << r.error().to_string();
  EXPECT_THAT(r.error().message, HasSubstr("no known_hosts"));
  EXPECT_THAT(r.error().message, HasSubstr("ssh-keyscan -p " + std::to_string(port_)));

  FetchOptions changed = opts();
  changed.creds.ssh_known_hosts = "[127.0.0.1]:" + std::to_string(port_) + " " +
                                  run("cat " + quote(tmp_ / "client.pub")).output;
  auto r2 = cache_.mirror(url())->fetch(changed);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Code::kUntrustedHost) << r2.error().to_string();
  EXPECT_THAT(r2.error().message, HasSubstr("does not match"));
}

TEST_F(SshTest, UnauthorizedKeyIsAnAuthError) {
  auto r = cache_.mirror(url())->fetch(opts("stranger"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kAuth) << r.error().to_string();
  EXPECT_THAT(r.error().message, HasSubstr("rejected the key")) << r.error().message;

  FetchOptions nokey = opts();
  nokey.creds.ssh_identity.clear();
  auto r2 = cache_.mirror(url())->fetch(nokey);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Code::kAuth) << r2.error().to_string();
}

TEST_F(FetchTest, SshKeyFromMemoryIsUsable) {
  // No sshd runs here; this checks that libgit2 was built with in-memory SSH
  // keys, which the identity in a Secret relies on.
  auto r = run("ssh-keygen -q -t ed25519 -N '' -f " + quote(tmp_ / "id") + " && cat " +
               quote(tmp_ / "id"));
  if (r.status != 0) GTEST_SKIP() << "ssh-keygen is not installed";
  ASSERT_TRUE(init());
  git_credential* cred = nullptr;
  ASSERT_EQ(git_credential_ssh_key_memory_new(&cred, "git", nullptr, r.output.c_str(), nullptr), 0)
      << git_error_last()->message;
  git_credential_free(cred);
}

}  // namespace
}  // namespace cairn::git
