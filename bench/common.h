// Shared bits of the benchmarks: a client for $KUBECONFIG with a high rate
// limit, bulk creation, a scratch namespace, percentiles and RSS.
#pragma once

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"
#include "kube/config.h"

namespace cairn::bench {

using kube::json;

// VALUE of the line KEY=VALUE in an env file (git.env, prom.env); "" if absent.
inline std::string env_file(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  }
  return {};
}

// Runs a shell command; its exit status as std::system returns it.
inline int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// Runs a shell command; its standard output without the trailing newlines.
inline std::string sh_out(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  if (p) ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

inline std::unique_ptr<kube::Client> client_or_die() {
  auto cfg = kube::default_config();
  if (!cfg) {
    std::cerr << "bench: " << cfg.error().to_string() << " (run through make bench)\n";
    std::exit(1);
  }
  cfg->qps = 2000;
  cfg->burst = 4000;
  auto c = kube::Client::create(*cfg);
  if (!c) {
    std::cerr << "bench: " << c.error().to_string() << "\n";
    std::exit(1);
  }
  return std::move(*c);
}

inline std::string scratch_namespace(kube::Client& c, const std::string& prefix) {
  std::string name = prefix + "-" + std::to_string(std::random_device{}() % 100000);
  auto r = c.create(kube::res::kNamespaces, "",
                    {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
  if (!r) {
    std::cerr << "bench: " << r.error().to_string() << "\n";
    std::exit(1);
  }
  return name;
}

inline void delete_namespace(kube::Client& c, const std::string& ns) {
  (void)c.remove(kube::res::kNamespaces, "", ns);
}

// Creates `n` ConfigMaps with `bytes` of data each, from `threads` threads.
inline void create_configmaps(kube::Client& c, const std::string& ns, const std::string& prefix,
                              int n, size_t bytes, int threads = 4) {
  std::atomic<int> next{0};
  std::vector<std::thread> ts;
  std::string payload(bytes, 'x');
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (int i; (i = next++) < n;) {
        json cm = {{"apiVersion", "v1"},
                   {"kind", "ConfigMap"},
                   {"metadata",
                    {{"name", prefix + "-" + std::to_string(i)}, {"labels", {{"bench", "yes"}}}}},
                   {"data", {{"payload", payload}}}};
        for (int attempt = 0; attempt < 5; ++attempt) {
          auto r = c.create(kube::res::kConfigMaps, ns, cm);
          if (r || r.error().code == kube::Code::kAlreadyExists) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
    });
  }
  for (auto& t : ts) t.join();
}

// Resident set size of this process in KiB.
inline long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t idx = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

}  // namespace cairn::bench
