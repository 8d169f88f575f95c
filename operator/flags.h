// cairn-operator's command line.
#pragma once

#include <chrono>
#include <expected>
#include <set>
#include <string>
#include <utility>

#include "json/json.h"

namespace cairn::app {

struct Flags {
  std::string kubeconfig, ns, probe_addr = "127.0.0.1:8081", metrics_addr = "127.0.0.1:8080",
                              push_addr, push_cert, push_key, push_secret,
                              git_cache = "/tmp/cairn-git-cache",
                              checkout_image = "alpine/git:2.43.0", le_ns, le_id = "cairn-operator";
  int workers = 4;
  bool leader_elect = false;
  std::chrono::milliseconds break_glass_ttl = std::chrono::hours(1);
  std::chrono::seconds git_fetch_timeout{120}, git_stall_timeout{30};
  std::string probe_host;
  int probe_port = -1;
  // --namespace, split. Empty: all namespaces.
  std::set<std::string> namespaces;

  // One namespace: informers scoped to it (RBAC can be namespaced). Several:
  // cluster-wide informers whose events outside the list are ignored.
  std::string scope() const { return namespaces.size() == 1 ? *namespaces.begin() : ""; }
  bool in_scope(const json& o) const;
};

// Parses the command line. On --help, prints it and returns 0; on a bad
// flag, says why on stderr and returns 2: the exit code either way.
std::expected<Flags, int> parse_flags(int argc, char** argv);

// "host:port" -> {host, port}; port -1 when it is not one.
std::pair<std::string, int> split_addr(const std::string& a);

}  // namespace cairn::app
