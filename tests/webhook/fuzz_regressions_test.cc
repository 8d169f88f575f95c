// Regressions found by fuzzing the webhook (issue #6; tests/fuzz/).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "webhook/admission.h"

namespace cairn::webhook {
namespace {

std::string review_with_object(const std::string& object) {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",)"
         R"("kind":{"group":"","version":"v1","kind":"ConfigMap"},"namespace":"shop",)"
         R"("name":"x","operation":"CREATE","object":)" +
         object + "}}";
}

// A value nested `depth` levels deep: [[[...1...]]] or {"a":{"a":...1...}}.
std::string nested(size_t depth, bool objects) {
  std::string out;
  out.reserve(depth * 6 + 1);
  for (size_t i = 0; i < depth; ++i) out += objects ? R"({"a":)" : "[";
  out += "1";
  out.append(depth, objects ? '}' : ']');
  return out;
}

// fuzz.socket: a body nesting arrays or objects a million levels deep (the
// 7 MiB limit allows that) crashed the server with a stack overflow, in
// parse_review's copy of the object (and the policy copies it again). Such
// bodies are refused before they are parsed.
TEST(FuzzRegressions, DeeplyNestedBodyIsRefusedNotACrash) {
  for (bool objects : {false, true}) {
    const std::string body =
        review_with_object(R"({"metadata":{"name":"x"},"data":)" + nested(1000000, objects) + "}");
    ASSERT_LE(body.size(), kMaxReviewBytes);
    auto r = parse_review(body);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "body nests arrays and objects deeper than 1000 levels");
  }
  // The whole body, and nesting that is never closed.
  EXPECT_FALSE(parse_review(nested(1000000, false)).has_value());
  EXPECT_FALSE(parse_review(std::string(3000000, '[')).has_value());
}

TEST(FuzzRegressions, NestingRealObjectsUseStillParses) {
  // 900 levels inside the object (and 4 around it) are taken.
  auto r = parse_review(
      review_with_object(R"({"metadata":{"name":"x"},"data":)" + nested(900, true) + "}"));
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->uid, "u-1");
  // Brackets in strings are not nesting, nor are they after an escaped quote.
  r = parse_review(review_with_object(R"({"metadata":{"name":"x"},"data":{"k":"\")" +
                                      std::string(5000, '[') + R"("}})"));
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->object["data"]["k"].get<std::string>().size(), 5001u);
}

// fuzz.socket: the server (2 threads) crashed now and then -- a SEGV in
// asio's epoll reactor; with asserts on, Beast's "! state().timeout" -- when a
// connection's read timeout fired while a request was arriving on it: the
// stream's timeout handler closed the socket on one thread while the
// connection's coroutine started a read on the other. Each connection now
// runs on a strand. This hammers that race (a 1 ms read timeout, requests
// sent a byte at a time from 8 threads): the old code crashed in 8 runs of
// it out of 8 (a race, so not guaranteed), in about 2 seconds.
TEST(FuzzRegressions, ReadTimeoutsRacingRequestsDoNotCrashTheServer) {
  http::ServerOptions opts;
  opts.read_timeout = std::chrono::milliseconds(1);
  opts.threads = 4;
  auto server = http::Server::start(
      opts, [](const http::Request&) { return http::Response::text(200, "ok"); });
  ASSERT_TRUE(server.has_value()) << server.error();
  const int port = (*server)->port();
  const std::string request = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789";
  std::atomic<int> answered{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      for (int c = 0; c < 200; ++c) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        timeval tv{10, 0};  // a server that stops answering fails the test, not hangs it
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
          close(fd);
          continue;
        }
        for (int k = 0; k < 20; ++k) {
          bool sent = true;
          for (char ch : request) {
            if (send(fd, &ch, 1, MSG_NOSIGNAL) != 1) {
              sent = false;
              break;
            }
          }
          char buf[512];
          if (!sent || recv(fd, buf, sizeof buf, 0) <= 0) break;  // timed out: a new connection
          ++answered;
        }
        close(fd);
      }
    });
  }
  for (auto& c : clients) c.join();
  // Most requests time out half-way (that is the point); the server survived them all.
  std::cout << "answered " << answered << " of up to 32000 requests; the server counted "
            << (*server)->requests() << "\n";
  (*server)->stop();
}

}  // namespace
}  // namespace cairn::webhook
