// admission_floor: the floor of bench/admission. The same TLS server as
// cairn-webhook (lib/http, same options, same thread count), with a handler
// that answers every POST with one fixed allowed AdmissionReview without
// reading the body: what serving a review costs before any policy runs.
//
// Usage: admission_floor --addr HOST:PORT --tls-cert FILE --tls-key FILE [--threads N]
// Serves until SIGTERM or SIGINT. Not named bench_*: bench/run.sh runs those.
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "http/server.h"
#include "kube/util.h"

using namespace cairn;

int main(int argc, char** argv) {
  kube::tune_malloc_for_controllers();  // as cairn-webhook does
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::string addr = "127.0.0.1:0", cert, key;
  int threads = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--addr") {
      addr = v;
    } else if (a == "--tls-cert") {
      cert = v;
    } else if (a == "--tls-key") {
      key = v;
    } else if (a == "--threads") {
      threads = std::atoi(v.c_str());
    } else {
      std::cerr << "admission_floor: unknown flag " << a << "\n";
      return 2;
    }
  }
  auto colon = addr.rfind(':');
  if (cert.empty() || key.empty() || colon == std::string::npos || threads < 1) {
    std::cerr << "usage: admission_floor --addr HOST:PORT --tls-cert FILE --tls-key FILE "
                 "[--threads N]\n";
    return 2;
  }
  const std::string allow =
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",)"
      R"("response":{"uid":"00000000-0000-0000-0000-000000000000","allowed":true}})";
  // The options cairn-webhook's main passes for its review server.
  auto server = http::Server::start({.address = addr.substr(0, colon),
                                     .port = std::atoi(addr.c_str() + colon + 1),
                                     .cert_file = cert,
                                     .key_file = key,
                                     .body_limit = 7u << 20,
                                     .read_timeout = std::chrono::seconds(10),
                                     .threads = threads},
                                    [&](const http::Request& r) {
                                      if (r.method != "POST")
                                        return http::Response::text(405, "POST a review\n");
                                      return http::Response::json(200, allow);
                                    });
  if (!server) {
    std::cerr << "admission_floor: " << server.error() << "\n";
    return 1;
  }
  std::cout << "admission_floor: serving on port " << (*server)->port() << std::endl;
  int sig = 0;
  sigwait(&sigs, &sig);
  (*server)->stop();
  return 0;
}
