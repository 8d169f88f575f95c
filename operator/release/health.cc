#include "operator/release/health.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>

namespace cairn::release {

using kube::json;

namespace {

constexpr std::size_t kMaxDetail = 300;  // characters of a condition or container message

const json* at(const json& j, std::initializer_list<const char*> path) {
  const json* cur = &j;
  for (const char* p : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(p);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

std::int64_t int_at(const json& j, std::initializer_list<const char*> path, std::int64_t def = 0) {
  const json* v = at(j, path);
  if (!v || !v->is_number()) return def;
  return v->get<std::int64_t>();
}

std::string str_at(const json& j, std::initializer_list<const char*> path) {
  const json* v = at(j, path);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

std::string clip(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '.')) s.pop_back();
  if (s.size() > kMaxDetail) {
    s.resize(kMaxDetail);
    s += "...";
  }
  return s;
}

// The condition of a type, or nullptr.
const json* condition(const json& obj, std::string_view type) {
  const json* conds = at(obj, {"status", "conditions"});
  if (!conds || !conds->is_array()) return nullptr;
  for (const json& c : *conds) {
    if (c.is_object() && c.value("type", "") == type) return &c;
  }
  return nullptr;
}

bool condition_is(const json* c, std::string_view status) {
  return c && c->value("status", "") == status;
}

// "Reason: message", or either alone.
std::string reason_message(const json& c) {
  std::string reason = c.value("reason", "");
  std::string message = clip(c.value("message", ""));
  if (reason.empty()) return message;
  if (message.empty()) return reason;
  return reason + ": " + message;
}

std::string group_of(const json& obj) {
  std::string v = obj.value("apiVersion", "");
  auto p = v.find('/');
  return p == std::string::npos ? std::string() : v.substr(0, p);
}

// "deployment web"
std::string describe(const json& obj) {
  std::string kind = obj.value("kind", "object");
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return kind + " " + str_at(obj, {"metadata", "name"});
}

HealthStatus progressing(const json& obj, const std::string& what) {
  return {Health::kProgressing, describe(obj) + ": " + what};
}
HealthStatus failed(const json& obj, const std::string& what) {
  return {Health::kFailed, describe(obj) + ": " + what};
}
HealthStatus healthy(const json& obj, const std::string& what) {
  return {Health::kHealthy, describe(obj) + ": " + what};
}

std::string of(std::int64_t n, std::int64_t total, const std::string& noun) {
  return std::to_string(n) + " of " + std::to_string(total) + " " + noun;
}

// Progressing when the controller has not yet seen the latest spec.
std::optional<HealthStatus> check_generation(const json& obj, bool require_observed) {
  const std::int64_t generation = int_at(obj, {"metadata", "generation"});
  const json* observed_v = at(obj, {"status", "observedGeneration"});
  if (!observed_v || !observed_v->is_number()) {
    if (!require_observed) return std::nullopt;
    return progressing(
        obj, "waiting for the controller to observe generation " + std::to_string(generation));
  }
  const std::int64_t observed = observed_v->get<std::int64_t>();
  if (observed < generation) {
    return progressing(obj, "waiting for the controller to observe generation " +
                                std::to_string(generation) + " (observed " +
                                std::to_string(observed) + ")");
  }
  return std::nullopt;
}

HealthStatus deployment(const json& d) {
  if (auto g = check_generation(d, true)) return *g;
  const json* prog = condition(d, "Progressing");
  if (prog && prog->value("status", "") == "False" &&
      prog->value("reason", "") == "ProgressDeadlineExceeded") {
    std::string m = clip(prog->value("message", ""));
    return failed(d, "progress deadline exceeded" + (m.empty() ? "" : ": " + m));
  }
  const std::int64_t replicas = int_at(d, {"spec", "replicas"}, 1);
  const std::int64_t updated = int_at(d, {"status", "updatedReplicas"});
  const std::int64_t total = int_at(d, {"status", "replicas"});
  const std::int64_t available = int_at(d, {"status", "availableReplicas"});
  const std::int64_t unavailable = int_at(d, {"status", "unavailableReplicas"});
  const json* paused = at(d, {"spec", "paused"});
  const std::string suffix =
      paused && paused->is_boolean() && paused->get<bool>() ? " (the rollout is paused)" : "";
  if (updated < replicas) return progressing(d, of(updated, replicas, "replicas updated") + suffix);
  if (total > updated) {
    return progressing(
        d, std::to_string(total - updated) + " old replicas pending termination" + suffix);
  }
  if (available < replicas) {
    return progressing(d, of(available, replicas, "replicas available") + suffix);
  }
  if (unavailable > 0) {
    return progressing(d, std::to_string(unavailable) + " replicas unavailable" + suffix);
  }
  return healthy(d, of(available, replicas, "replicas available"));
}

HealthStatus statefulset(const json& s) {
  if (auto g = check_generation(s, true)) return *g;
  const std::int64_t replicas = int_at(s, {"spec", "replicas"}, 1);
  const std::int64_t ready = int_at(s, {"status", "readyReplicas"});
  const std::int64_t updated = int_at(s, {"status", "updatedReplicas"});
  if (ready < replicas) return progressing(s, of(ready, replicas, "replicas ready"));
  const std::string strategy = str_at(s, {"spec", "updateStrategy", "type"});
  if (strategy == "OnDelete") {
    return healthy(s, of(ready, replicas, "replicas ready") +
                          " (updateStrategy OnDelete: pods are updated when deleted)");
  }
  const std::int64_t partition =
      int_at(s, {"spec", "updateStrategy", "rollingUpdate", "partition"});
  if (partition > 0) {
    const std::int64_t want = std::max<std::int64_t>(0, replicas - partition);
    if (updated < want) {
      return progressing(s, of(updated, want, "replicas updated") + " (partition " +
                                std::to_string(partition) + ")");
    }
    return healthy(s, of(ready, replicas, "replicas ready") + ", " +
                          of(updated, want, "replicas updated") + " (partition " +
                          std::to_string(partition) + ")");
  }
  if (updated < replicas) return progressing(s, of(updated, replicas, "replicas updated"));
  const std::string current = str_at(s, {"status", "currentRevision"});
  const std::string update = str_at(s, {"status", "updateRevision"});
  if (current != update) {
    return progressing(
        s, "rolling update to revision " + update + " not finished (current " + current + ")");
  }
  return healthy(s, of(ready, replicas, "replicas ready"));
}

HealthStatus daemonset(const json& d) {
  if (auto g = check_generation(d, true)) return *g;
  const std::int64_t desired = int_at(d, {"status", "desiredNumberScheduled"});
  const std::int64_t updated = int_at(d, {"status", "updatedNumberScheduled"});
  const std::int64_t available = int_at(d, {"status", "numberAvailable"});
  if (str_at(d, {"spec", "updateStrategy", "type"}) != "OnDelete" && updated < desired) {
    return progressing(d, of(updated, desired, "pods updated"));
  }
  if (available < desired) return progressing(d, of(available, desired, "pods available"));
  return healthy(d, of(available, desired, "pods available"));
}

HealthStatus job(const json& j) {
  const json* f = condition(j, "Failed");
  if (condition_is(f, "True")) {
    std::string rm = reason_message(*f);
    return failed(j, "failed" + (rm.empty() ? "" : ": " + rm));
  }
  if (condition_is(condition(j, "Complete"), "True")) return healthy(j, "complete");
  return progressing(j, "running (" + std::to_string(int_at(j, {"status", "active"})) +
                            " active, " + std::to_string(int_at(j, {"status", "succeeded"})) +
                            " succeeded, " + std::to_string(int_at(j, {"status", "failed"})) +
                            " failed)");
}

const char* const kFailingReasons[] = {
    "CrashLoopBackOff",     "ImagePullBackOff", "ErrImagePull",      "CreateContainerConfigError",
    "CreateContainerError", "InvalidImageName", "RunContainerError",
};

// Why a Pod is failing ("container app: CrashLoopBackOff: back-off 40s ..."), or empty.
std::string pod_failure(const json& pod) {
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    const json* statuses = at(pod, {"status", list});
    if (!statuses || !statuses->is_array()) continue;
    for (const json& c : *statuses) {
      if (!c.is_object()) continue;
      const std::string name = c.value("name", "");
      const std::string what =
          std::string(list[0] == 'i' ? "init container " : "container ") + name;
      if (const json* w = at(c, {"state", "waiting"}); w && w->is_object()) {
        const std::string reason = w->value("reason", "");
        if (std::find(std::begin(kFailingReasons), std::end(kFailingReasons), reason) !=
            std::end(kFailingReasons)) {
          std::string m = clip(w->value("message", ""));
          return what + ": " + reason + (m.empty() ? "" : ": " + m);
        }
      }
      const std::int64_t restarts = int_at(c, {"restartCount"});
      const json* ready = at(c, {"ready"});
      const bool is_ready = ready && ready->is_boolean() && ready->get<bool>();
      const json* term = at(c, {"state", "terminated"});
      const bool succeeded = term && term->is_object() && int_at(*term, {"exitCode"}, -1) == 0;
      if (restarts >= kMaxRestarts && !is_ready && !succeeded) {
        std::string m = what + " restarted " + std::to_string(restarts) + " times";
        if (const json* last = at(c, {"lastState", "terminated"}); last && last->is_object()) {
          std::string reason = last->value("reason", "");
          m += " (last exit code " + std::to_string(int_at(*last, {"exitCode"})) +
               (reason.empty() ? "" : ", " + reason) + ")";
        }
        return m;
      }
    }
  }
  return {};
}

bool terminating(const json& obj) {
  const json* t = at(obj, {"metadata", "deletionTimestamp"});
  return t && !t->is_null();
}

HealthStatus pod(const json& p) {
  const std::string phase = str_at(p, {"status", "phase"});
  if (phase == "Succeeded") return healthy(p, "succeeded");
  if (phase == "Failed") {
    std::string reason = str_at(p, {"status", "reason"});
    std::string message = clip(str_at(p, {"status", "message"}));
    std::string m = "failed";
    if (!reason.empty()) m += ": " + reason;
    if (!message.empty()) m += ": " + message;
    if (reason.empty() && message.empty()) {
      if (std::string why = pod_failure(p); !why.empty()) m += ": " + why;
    }
    return failed(p, m);
  }
  if (std::string why = pod_failure(p); !why.empty()) return failed(p, why);
  if (condition_is(condition(p, "Ready"), "True")) return healthy(p, "ready");
  return progressing(p,
                     "not ready (phase " + (phase.empty() ? std::string("unknown") : phase) + ")");
}

HealthStatus by_conditions(const json& obj) {
  const json* stalled = condition(obj, "Stalled");
  if (condition_is(stalled, "True")) {
    std::string rm = reason_message(*stalled);
    return failed(obj, "stalled" + (rm.empty() ? "" : ": " + rm));
  }
  const json* ready = condition(obj, "Ready");
  if (!ready) return healthy(obj, "applied");
  if (auto g = check_generation(obj, false)) return *g;
  if (condition_is(ready, "True")) return healthy(obj, "ready");
  std::string rm = reason_message(*ready);
  return progressing(obj, "not ready" + (rm.empty() ? "" : ": " + rm));
}

}  // namespace

std::string_view to_string(Health h) {
  switch (h) {
    case Health::kHealthy:
      return "Healthy";
    case Health::kProgressing:
      return "Progressing";
    case Health::kFailed:
      return "Failed";
  }
  return "Unknown";
}

HealthStatus assess(const json& live) {
  if (!live.is_object()) return {Health::kProgressing, "no object"};
  if (terminating(live)) return progressing(live, "being deleted");
  const std::string group = group_of(live);
  const std::string kind = live.value("kind", "");
  const bool apps = group == "apps" || group == "extensions";
  if (apps && kind == "Deployment") return deployment(live);
  if (group == "apps" && kind == "StatefulSet") return statefulset(live);
  if (apps && kind == "DaemonSet") return daemonset(live);
  if (group == "batch" && kind == "Job") return job(live);
  if (group.empty() && kind == "Pod") return pod(live);
  return by_conditions(live);
}

HealthStatus assess_with_pods(const json& live, const std::vector<json>& pods) {
  HealthStatus h = assess(live);
  if (h.health == Health::kFailed) return h;
  std::vector<const json*> sorted;
  for (const json& p : pods) {
    if (!p.is_object() || terminating(p)) continue;
    const std::string phase = str_at(p, {"status", "phase"});
    if (phase == "Succeeded" || phase == "Failed") continue;
    sorted.push_back(&p);
  }
  std::sort(sorted.begin(), sorted.end(), [](const json* a, const json* b) {
    return str_at(*a, {"metadata", "name"}) < str_at(*b, {"metadata", "name"});
  });
  std::string first;
  int failing = 0;
  for (const json* p : sorted) {
    std::string why = pod_failure(*p);
    if (why.empty()) continue;
    if (failing++ == 0) first = "pod " + str_at(*p, {"metadata", "name"}) + ": " + why;
  }
  if (failing == 0) return h;
  if (failing > 1) first += " (and " + std::to_string(failing - 1) + " more failing pods)";
  return failed(live, first);
}

}  // namespace cairn::release
