#include "cluster.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include "kube/config.h"

namespace cairn::e2e {

kube::Client& client() {
  static std::unique_ptr<kube::Client> c = [] {
    auto cfg = kube::default_config();
    if (!cfg) {
      std::cerr << "e2e: no cluster: " << cfg.error().to_string()
                << " (run through ctest, whose fixture brings the control plane up)\n";
      std::abort();
    }
    // Tests create objects by the thousand; the default 50 QPS would make
    // them slow without testing anything more.
    cfg->qps = 1000;
    cfg->burst = 2000;
    auto cl = kube::Client::create(*cfg, {.field_manager = "cairn-e2e"});
    if (!cl) {
      std::cerr << "e2e: " << cl.error().to_string() << "\n";
      std::abort();
    }
    return std::move(*cl);
  }();
  return *c;
}

TestNamespace::TestNamespace(const std::string& prefix,
                             const std::map<std::string, std::string>& labels) {
  static std::mt19937_64 rng{std::random_device{}()};
  const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  name_ = prefix + "-";
  for (int i = 0; i < 6; ++i) name_ += alphabet[rng() % 36];
  json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name_}}}};
  if (!labels.empty()) ns["metadata"]["labels"] = labels;
  auto r = client().create(kube::res::kNamespaces, "", ns);
  if (!r) {
    std::cerr << "e2e: cannot create namespace " << name_ << ": " << r.error().to_string() << "\n";
    std::abort();
  }
}

TestNamespace::~TestNamespace() {
  (void)client().remove(kube::res::kNamespaces, "", name_, {.propagation_policy = "Background"});
}

bool has_condition(const json& obj, const std::string& type, const std::string& status) {
  if (!obj.contains("status") || !obj["status"].is_object()) return false;
  for (const auto& c : obj["status"].value("conditions", json::array())) {
    if (c.value("type", "") == type && c.value("status", "") == status) return true;
  }
  return false;
}

json condition(const json& obj, const std::string& type) {
  for (const auto& c : obj.value("status", json::object()).value("conditions", json::array()))
    if (c.value("type", "") == type) return c;
  return json::object();
}

kube::Result<json> wait_for(const kube::ApiResource& r, const std::string& ns,
                            const std::string& name, const std::function<bool(const json&)>& pred,
                            std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  json last;
  while (std::chrono::steady_clock::now() < deadline) {
    kube::ListOptions lo{.field_selector = "metadata.name=" + name};
    auto list = client().list(r, ns, lo);
    if (!list) return std::unexpected(list.error());
    for (const auto& item : (*list)["items"]) {
      last = item;
      if (pred(item)) return item;
    }
    auto remaining = std::chrono::duration_cast<std::chrono::seconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) break;
    std::string rv = (*list)["metadata"].value("resourceVersion", "");
    kube::Request req{.path = r.path(ns),
                      .query = "watch=1&fieldSelector=metadata.name%3D" + name +
                               "&resourceVersion=" + rv +
                               "&timeoutSeconds=" + std::to_string(remaining.count() + 1)};
    std::optional<json> found;
    kube::CancelToken cancel;
    std::thread timer([&] {
      // The watch's own timeout ends it; this only guards a silent connection.
      auto until = deadline + std::chrono::seconds(2);
      while (!cancel.cancelled() && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      cancel.cancel();
    });
    auto s = client().stream(
        req,
        [&](std::string_view line) {
          json ev = json::parse(line, nullptr, false);
          if (ev.is_discarded() || !ev.contains("object")) return true;
          if (ev.value("type", "") == "ERROR") return false;  // e.g. 410: list again
          last = ev["object"];
          if (pred(last)) {
            found = last;
            return false;
          }
          return true;
        },
        &cancel);
    cancel.cancel();
    timer.join();
    if (found) return *found;
    if (!s && s.error().code != kube::Code::kCancelled && s.error().code != kube::Code::kGone) {
      return std::unexpected(s.error());
    }
  }
  return kube::fail(kube::Code::kTimeout,
                    "timed out after " + std::to_string(timeout.count()) + "s waiting for " +
                        r.resource + " " + ns + "/" + name + "; last state: " +
                        (last.is_null() ? std::string("(not found)")
                                        : last.value("status", json::object()).dump()));
}

namespace {
json to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& v : n) a.push_back(to_json(v));
      return a;
    }
    case YAML::NodeType::Scalar: {
      // Plain scalars that look like numbers or booleans become them, as in kubectl.
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true" || s == "false") return s == "true";
      char* end = nullptr;
      long long v = std::strtoll(s.c_str(), &end, 10);
      if (!s.empty() && end && *end == '\0') return v;
      return s;
    }
    default:
      return nullptr;
  }
}
}  // namespace

json yaml(const std::string& text) { return to_json(YAML::Load(text)); }

}  // namespace cairn::e2e
