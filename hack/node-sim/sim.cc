#include "sim.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "kube/util.h"

namespace cairn::sim {

namespace fs = std::filesystem;
using kube::Code;
using kube::fail;
using kube::Result;
namespace res = kube::res;

namespace {

std::string now_s() { return kube::rfc3339(std::chrono::system_clock::now()); }

void log(const std::string& msg) { std::cerr << "node-sim: " << msg << std::endl; }

const json& md(const json& obj) {
  static const json empty = json::object();
  auto it = obj.find("metadata");
  return it != obj.end() && it->is_object() ? *it : empty;
}

std::string annotation(const json& pod, const char* key) {
  const auto& m = md(pod);
  if (auto a = m.find("annotations"); a != m.end() && a->is_object()) {
    if (auto v = a->find(key); v != a->end() && v->is_string()) return v->get<std::string>();
  }
  return {};
}

bool is_job_pod(const json& pod) {
  std::string policy = pod["spec"].value("restartPolicy", "Always");
  return policy == "Never" || policy == "OnFailure";
}

json cond(const char* type, bool status, const std::string& reason = {}) {
  json c = {{"type", type},
            {"status", status ? "True" : "False"},
            {"lastProbeTime", nullptr},
            {"lastTransitionTime", now_s()}};
  if (!reason.empty()) c["reason"] = reason;
  return c;
}

// Replaces a mount path inside a command string with its scratch directory,
// only where it is a whole path component ("/workspace" but not "/workspaces").
std::string rewrite(std::string s, const std::vector<std::pair<std::string, std::string>>& map) {
  for (const auto& [from, to] : map) {
    if (from.empty() || from == "/") continue;
    size_t pos = 0;
    while ((pos = s.find(from, pos)) != std::string::npos) {
      size_t end = pos + from.size();
      bool starts_ok = pos == 0 || std::strchr(" \t\n'\"=:;(<>|&`", s[pos - 1]) != nullptr;
      bool ends_ok = end == s.size() || std::strchr("/ \t\n'\"=:;)<>|&`", s[end]) != nullptr;
      if (starts_ok && ends_ok) {
        s.replace(pos, from.size(), to);
        pos += to.size();
      } else {
        pos = end;
      }
    }
  }
  return s;
}

std::string read_capped(const fs::path& p, size_t cap) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return {};
  std::string s(cap, '\0');
  in.read(s.data(), static_cast<std::streamsize>(cap));
  s.resize(static_cast<size_t>(in.gcount()));
  return s;
}

}  // namespace

Simulator::Simulator(kube::Client& client, Options opts)
    : client_(client),
      opts_(std::move(opts)),
      queue_({.base_delay = std::chrono::milliseconds(50), .max_delay = std::chrono::seconds(10)}) {
}

Simulator::~Simulator() { stop(); }

bool Simulator::is_ours(const std::string& node) const {
  for (const auto& n : node_names_) {
    if (n == node) return true;
  }
  return false;
}

std::string Simulator::pod_ip(const std::string& uid) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = ips_.try_emplace(uid);
  if (inserted) {
    uint32_t n = next_ip_++;
    it->second = "10.244." + std::to_string((n >> 8) & 0xff) + "." + std::to_string(n & 0xff);
  }
  return it->second;
}

Result<void> Simulator::register_node(const std::string& name, int index) {
  json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata",
                {{"name", name},
                 {"labels",
                  {{"kubernetes.io/hostname", name},
                   {"kubernetes.io/os", "linux"},
                   {"kubernetes.io/arch", "amd64"},
                   {"node.cairn.dev/simulated", "true"}}},
                 {"annotations",
                  {{"node.cairn.dev/simulator",
                    "cairn-node-sim: development only, no isolation, images ignored"}}}}}};
  auto r = client_.apply(res::kNodes, "", node, true, {}, {.field_manager = "cairn-node-sim"});
  if (!r) return std::unexpected(r.error());
  (void)index;
  return heartbeat(name);
}

Result<void> Simulator::heartbeat(const std::string& name) {
  auto now = std::chrono::system_clock::now();
  json status = {
      {"capacity",
       {{"cpu", "8"}, {"memory", "32Gi"}, {"pods", "110"}, {"ephemeral-storage", "100Gi"}}},
      {"allocatable",
       {{"cpu", "8"}, {"memory", "32Gi"}, {"pods", "110"}, {"ephemeral-storage", "100Gi"}}},
      {"conditions", json::array({
                         {{"type", "MemoryPressure"},
                          {"status", "False"},
                          {"reason", "KubeletHasSufficientMemory"},
                          {"lastHeartbeatTime", kube::rfc3339(now)},
                          {"lastTransitionTime", kube::rfc3339(now)}},
                         {{"type", "DiskPressure"},
                          {"status", "False"},
                          {"reason", "KubeletHasNoDiskPressure"},
                          {"lastHeartbeatTime", kube::rfc3339(now)},
                          {"lastTransitionTime", kube::rfc3339(now)}},
                         {{"type", "PIDPressure"},
                          {"status", "False"},
                          {"reason", "KubeletHasSufficientPID"},
                          {"lastHeartbeatTime", kube::rfc3339(now)},
                          {"lastTransitionTime", kube::rfc3339(now)}},
                         {{"type", "Ready"},
                          {"status", "True"},
                          {"reason", "KubeletReady"},
                          {"message", "cairn-node-sim is posting ready status"},
                          {"lastHeartbeatTime", kube::rfc3339(now)},
                          {"lastTransitionTime", kube::rfc3339(now)}},
                     })},
      {"addresses", json::array({{{"type", "InternalIP"}, {"address", "127.0.0.1"}},
                                 {{"type", "Hostname"}, {"address", name}}})},
      {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 10250}}}}},
      {"nodeInfo",
       {{"machineID", name},
        {"systemUUID", name},
        {"bootID", name},
        {"kernelVersion", "simulated"},
        {"osImage", "cairn-node-sim"},
        {"containerRuntimeVersion", "cairn-sim://0.1"},
        {"kubeletVersion", "v1.20.2"},
        {"kubeProxyVersion", "v1.20.2"},
        {"operatingSystem", "linux"},
        {"architecture", "amd64"}}}};
  auto r = client_.patch(res::kNodes, "", name, kube::PatchType::kMerge, {{"status", status}},
                         "status", {.field_manager = "cairn-node-sim"});
  if (!r) return std::unexpected(r.error());
  json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", name}, {"namespace", "kube-node-lease"}}},
                {"spec",
                 {{"holderIdentity", name},
                  {"leaseDurationSeconds", 40},
                  {"renewTime", kube::rfc3339_micro(now)}}}};
  auto l = client_.apply(res::kLeases, "kube-node-lease", lease, true, {},
                         {.field_manager = "cairn-node-sim"});
  if (!l) return std::unexpected(l.error());
  return {};
}

Result<void> Simulator::start() {
  fs::create_directories(opts_.workdir);
  for (int i = 0; i < opts_.nodes; ++i)
    node_names_.push_back(opts_.node_prefix + "-" + std::to_string(i));
  for (int i = 0; i < opts_.nodes; ++i) {
    if (auto r = register_node(node_names_[i], i); !r) return r;
  }
  kube::InformerOptions io{.resource = res::kPods};
  pods_ = std::make_unique<kube::Informer>(client_, io);
  auto enqueue = [this](const kube::ObjectPtr& o) { queue_.add(kube::object_key(*o)); };
  pods_->add_handlers(
      {.on_add = enqueue,
       .on_update = [enqueue](const kube::ObjectPtr&, const kube::ObjectPtr& n) { enqueue(n); },
       .on_delete = enqueue});
  pods_->start();
  if (!pods_->wait_for_sync(std::chrono::seconds(60))) {
    return fail(Code::kTimeout, "pod informer did not sync: " + pods_->last_error());
  }
  for (int i = 0; i < opts_.workers; ++i) threads_.emplace_back([this] { worker(); });
  threads_.emplace_back([this] { heartbeat_loop(); });
  log("registered " + std::to_string(opts_.nodes) + " node(s): " + node_names_.front() +
      "..; ready");
  return {};
}

void Simulator::stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  }
  queue_.shutdown();
  if (pods_) pods_->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  std::vector<std::shared_ptr<RunningPod>> running;
  {
    std::lock_guard lock(mu_);
    for (auto& [uid, rp] : running_) running.push_back(rp);
  }
  for (auto& rp : running) {
    rp->killed = true;
    if (pid_t g = rp->pgid.load(); g > 0) ::kill(-g, SIGKILL);
  }
  for (auto& rp : running) {
    if (rp->thread.joinable()) rp->thread.join();
  }
}

void Simulator::heartbeat_loop() {
  auto next_beat = std::chrono::steady_clock::now();
  auto next_crash = std::chrono::steady_clock::now() + opts_.crash_period;
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    if (now >= next_beat) {
      for (const auto& n : node_names_) {
        if (auto r = heartbeat(n); !r) log("heartbeat " + n + ": " + r.error().to_string());
      }
      next_beat = now + opts_.heartbeat;
    }
    if (now >= next_crash) {
      if (auto r = crash_tick(); !r) log("crash tick: " + r.error().to_string());
      next_crash = now + opts_.crash_period;
    }
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, std::min(next_beat, next_crash), [this] { return stopping_.load(); });
  }
}

void Simulator::worker() {
  while (auto key = queue_.get()) {
    Result<void> r;
    try {
      r = reconcile(*key);
    } catch (const std::exception& e) {
      r = fail(Code::kDecode, std::string("malformed pod: ") + e.what());
    }
    if (!r) {
      if (r.error().code != Code::kNotFound) log(*key + ": " + r.error().to_string());
      if (r.error().retriable() || r.error().code == Code::kConflict) {
        queue_.add_rate_limited(*key);
      }
    } else {
      queue_.forget(*key);
    }
    queue_.done(*key);
  }
}

Result<void> Simulator::patch_status(const json& pod, const json& status) {
  const auto& m = md(pod);
  auto r = client_.patch(res::kPods, m.value("namespace", ""), m.value("name", ""),
                         kube::PatchType::kMerge, {{"status", status}}, "status",
                         {.field_manager = "cairn-node-sim"});
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<void> Simulator::bind(const json& pod) {
  const auto& m = md(pod);
  std::string target;
  // DaemonSet pods name their node through a required matchFields term.
  const json* terms = nullptr;
  try {
    terms = &pod.at("spec")
                 .at("affinity")
                 .at("nodeAffinity")
                 .at("requiredDuringSchedulingIgnoredDuringExecution")
                 .at("nodeSelectorTerms");
  } catch (const json::exception&) {
  }
  if (terms && terms->is_array()) {
    for (const auto& t : *terms) {
      for (const auto& f : t.value("matchFields", json::array())) {
        if (f.value("key", "") == "metadata.name") {
          for (const auto& v : f.value("values", json::array())) {
            if (v.is_string() && is_ours(v.get<std::string>())) target = v.get<std::string>();
          }
          if (target.empty()) return {};  // meant for a node we do not run
        }
      }
    }
  }
  // A nodeSelector that simulated nodes do not satisfy (e.g. a real node's
  // cairn.dev/node=real, CAIRN_REAL_NODE=1 make up) is kube-scheduler's.
  for (const auto& [k, v] : pod["spec"].value("nodeSelector", json::object()).items()) {
    const std::string val = v.is_string() ? v.get<std::string>() : "";
    if (k == "kubernetes.io/hostname" && is_ours(val)) {
      target = val;
    } else if (!((k == "kubernetes.io/os" && val == "linux") ||
                 (k == "kubernetes.io/arch" && val == "amd64") ||
                 (k == "node.cairn.dev/simulated" && val == "true"))) {
      return {};
    }
  }
  if (target.empty()) {
    std::lock_guard lock(mu_);
    target = node_names_[next_node_++ % node_names_.size()];
  }
  json binding = {
      {"apiVersion", "v1"},
      {"kind", "Binding"},
      {"metadata", {{"name", m.value("name", "")}, {"namespace", m.value("namespace", "")}}},
      {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", target}}}};
  kube::Request req{
      .method = "POST",
      .path = res::kPods.path(m.value("namespace", ""), m.value("name", ""), "binding"),
      .body = binding.dump()};
  auto r = client_.raw(req);
  if (!r) return std::unexpected(r.error());
  if (r->status >= 300) {
    auto e = kube::error_from_response(r->status, r->body, r->retry_after);
    if (e.code == Code::kConflict || e.code == Code::kAlreadyExists) return {};  // already bound
    return std::unexpected(e);
  }
  return {};
}

Result<void> Simulator::finalize_deleted(const json& pod) {
  const auto& m = md(pod);
  std::string uid = m.value("uid", "");
  std::shared_ptr<RunningPod> rp;
  {
    std::lock_guard lock(mu_);
    if (auto it = running_.find(uid); it != running_.end()) rp = it->second;
  }
  if (rp) {
    rp->killed = true;
    if (pid_t g = rp->pgid.load(); g > 0) ::kill(-g, SIGKILL);
  }
  // What a kubelet does once containers are gone: remove the object for good.
  auto r = client_.remove(res::kPods, m.value("namespace", ""), m.value("name", ""),
                          {.precondition_uid = uid, .grace_period_seconds = 0});
  if (!r && r.error().code != Code::kNotFound && r.error().code != Code::kConflict) {
    return std::unexpected(r.error());
  }
  return {};
}

Result<void> Simulator::start_long_running(const json& pod) {
  const auto& spec = pod["spec"];
  const auto& m = md(pod);
  bool crash = annotation(pod, kAnnotationCrash) == "true";
  bool ready = !crash && annotation(pod, kAnnotationReady) != "false";
  int restarts = 0;
  if (crash) {
    std::lock_guard lock(mu_);
    restarts = restarts_[kube::object_key(pod)];
  }
  const auto& status = pod.contains("status") ? pod["status"] : json::object();
  // Nothing to do when the pod already shows what we would write.
  bool shown_ready = false;
  for (const auto& c : status.value("conditions", json::array())) {
    if (c.value("type", "") == "Ready") shown_ready = c.value("status", "") == "True";
  }
  int shown_restarts = -1;
  for (const auto& cs : status.value("containerStatuses", json::array())) {
    shown_restarts = cs.value("restartCount", 0);
  }
  if (status.value("phase", "") == "Running" && shown_ready == ready &&
      (!crash || shown_restarts == restarts)) {
    return {};
  }
  std::string started = status.value("startTime", now_s());
  json containers = json::array();
  for (const auto& c : spec.value("containers", json::array())) {
    json state;
    if (crash) {
      state = {{"waiting",
                {{"reason", "CrashLoopBackOff"},
                 {"message", "back-off restarting failed container (simulated by " +
                                 std::string(kAnnotationCrash) + ")"}}}};
    } else {
      state = {{"running", {{"startedAt", started}}}};
    }
    containers.push_back(
        {{"name", c.value("name", "")},
         {"image", c.value("image", "")},
         {"imageID", "sim://" + c.value("image", "")},
         {"containerID", "sim://" + m.value("uid", "") + "/" + c.value("name", "")},
         {"ready", ready},
         {"started", !crash},
         {"restartCount", restarts},
         {"state", state}});
  }
  json inits = json::array();
  for (const auto& c : spec.value("initContainers", json::array())) {
    inits.push_back({{"name", c.value("name", "")},
                     {"image", c.value("image", "")},
                     {"ready", true},
                     {"restartCount", 0},
                     {"state", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}}});
  }
  std::string ip = pod_ip(m.value("uid", ""));
  json st = {
      {"phase", "Running"},
      {"hostIP", "127.0.0.1"},
      {"podIP", ip},
      {"podIPs", json::array({{{"ip", ip}}})},
      {"startTime", started},
      {"conditions", json::array({cond("Initialized", true), cond("Ready", ready),
                                  cond("ContainersReady", ready), cond("PodScheduled", true)})},
      {"containerStatuses", containers}};
  if (!inits.empty()) st["initContainerStatuses"] = inits;
  return patch_status(pod, st);
}

Result<void> Simulator::crash_tick() {
  if (!pods_) return {};
  for (const auto& p : pods_->store().list()) {
    if (annotation(*p, kAnnotationCrash) != "true") continue;
    if (!is_ours((*p)["spec"].value("nodeName", "")) || is_job_pod(*p)) continue;
    {
      std::lock_guard lock(mu_);
      restarts_[kube::object_key(*p)]++;
    }
    queue_.add(kube::object_key(*p));
  }
  return {};
}

Result<void> Simulator::start_job_pod(const json& pod) {
  const auto& m = md(pod);
  std::string uid = m.value("uid", "");
  auto rp = std::make_shared<RunningPod>();
  rp->key = kube::object_key(pod);
  rp->uid = uid;
  {
    std::lock_guard lock(mu_);
    if (running_.contains(uid)) return {};
    running_[uid] = rp;
  }
  std::string ip = pod_ip(uid);
  json containers = json::array();
  for (const auto& c : pod["spec"].value("containers", json::array())) {
    containers.push_back({{"name", c.value("name", "")},
                          {"image", c.value("image", "")},
                          {"ready", true},
                          {"started", true},
                          {"restartCount", 0},
                          {"state", {{"running", {{"startedAt", now_s()}}}}}});
  }
  json st = {
      {"phase", "Running"},
      {"hostIP", "127.0.0.1"},
      {"podIP", ip},
      {"podIPs", json::array({{{"ip", ip}}})},
      {"startTime", now_s()},
      {"conditions", json::array({cond("Initialized", true), cond("Ready", true),
                                  cond("ContainersReady", true), cond("PodScheduled", true)})},
      {"containerStatuses", containers}};
  if (auto r = patch_status(pod, st); !r) {
    std::lock_guard lock(mu_);
    running_.erase(uid);
    return r;
  }
  rp->thread = std::thread([this, rp, pod] {
    try {
      run_job_pod(rp, pod);
    } catch (const std::exception& e) {
      // A malformed pod must not take the simulator down with it.
      log(rp->key + ": " + e.what());
      std::lock_guard lock(mu_);
      finished_.push_back(rp);
      running_.erase(rp->uid);
    }
  });
  return {};
}

namespace {

struct Exit {
  int code = 0;
  std::string reason;
  std::string message;
  std::string started, finished;
};

// Resolves one env var's value, as the kubelet would, or says why not.
Result<std::string> env_value(kube::Client& client, const json& pod, const json& var) {
  if (var.contains("value")) return var["value"].is_string() ? var["value"].get<std::string>() : "";
  if (!var.contains("valueFrom")) return std::string();
  const auto& from = var["valueFrom"];
  const auto& m = md(pod);
  std::string ns = m.value("namespace", "");
  if (from.contains("fieldRef")) {
    std::string path = from["fieldRef"].value("fieldPath", "");
    if (path == "metadata.name") return m.value("name", "");
    if (path == "metadata.namespace") return ns;
    if (path == "metadata.uid") return m.value("uid", "");
    if (path == "spec.nodeName") return pod["spec"].value("nodeName", "");
    if (path == "status.podIP" || path == "status.hostIP") return std::string("127.0.0.1");
    return std::string();
  }
  for (const char* kind : {"secretKeyRef", "configMapKeyRef"}) {
    if (!from.contains(kind)) continue;
    const auto& ref = from[kind];
    bool secret = std::string(kind) == "secretKeyRef";
    auto obj = client.get(secret ? kube::res::kSecrets : kube::res::kConfigMaps, ns,
                          ref.value("name", ""));
    if (!obj) {
      if (ref.value("optional", false)) return std::string();
      return std::unexpected(obj.error());
    }
    std::string key = ref.value("key", "");
    const json data = obj->value("data", json::object());
    if (!data.contains(key) || !data[key].is_string()) {
      if (ref.value("optional", false)) return std::string();
      return fail(Code::kNotFound,
                  std::string(kind) + " " + ref.value("name", "") + " has no key " + key);
    }
    std::string v = data[key].get<std::string>();
    if (secret) {
      auto d = kube::base64_decode(v);
      if (!d) return fail(Code::kDecode, "secret key " + key + " is not base64");
      return *d;
    }
    return v;
  }
  return std::string();
}

// Writes configMap/secret volume contents as files, as the kubelet projects them.
Result<void> project_volume(kube::Client& client, const std::string& ns, const json& vol,
                            const fs::path& dir) {
  bool secret = vol.contains("secret");
  if (!secret && !vol.contains("configMap")) return {};
  const auto& src = secret ? vol["secret"] : vol["configMap"];
  std::string name = secret ? src.value("secretName", "") : src.value("name", "");
  auto obj = client.get(secret ? kube::res::kSecrets : kube::res::kConfigMaps, ns, name);
  if (!obj) {
    if (src.value("optional", false)) return {};
    return std::unexpected(obj.error());
  }
  const json data = obj->value("data", json::object());
  for (const auto& [k, v] : data.items()) {
    if (!v.is_string() || k.find('/') != std::string::npos || k == ".." || k == ".") continue;
    std::string content = v.get<std::string>();
    if (secret) content = kube::base64_decode(content).value_or("");
    std::ofstream(dir / k, std::ios::binary) << content;
    if (secret) fs::permissions(dir / k, fs::perms::owner_read | fs::perms::owner_write);
  }
  return {};
}

}  // namespace

void Simulator::run_job_pod(std::shared_ptr<RunningPod> rp, json pod) {
  const auto& m = md(pod);
  const auto& spec = pod["spec"];
  std::string ns = m.value("namespace", "");
  std::string uid = m.value("uid", "");
  fs::path scratch =
      fs::path(opts_.workdir) / (ns + "_" + m.value("name", "") + "_" + uid.substr(0, 8));
  fs::create_directories(scratch / "volumes");
  std::string setup_error;
  for (const auto& v : spec.value("volumes", json::array())) {
    fs::path dir = scratch / "volumes" / v.value("name", "vol");
    fs::create_directories(dir);
    if (auto r = project_volume(client_, ns, v, dir); !r) {
      setup_error = "volume " + v.value("name", "") + ": " + r.error().message;
    }
  }
  int deadline = spec.value("activeDeadlineSeconds", 0);
  auto started_at = std::chrono::steady_clock::now();
  bool deadline_hit = false;

  auto run_container = [&](const json& c, const std::string& role) -> Exit {
    Exit ex;
    ex.started = now_s();
    std::string cname = c.value("name", "c");
    fs::path cdir = scratch / role / cname;
    fs::create_directories(cdir / "dev");
    std::vector<std::pair<std::string, std::string>> map;
    for (const auto& vm : c.value("volumeMounts", json::array())) {
      map.emplace_back(vm.value("mountPath", ""),
                       (scratch / "volumes" / vm.value("name", "")).string());
    }
    std::string term_path = c.value("terminationMessagePath", "/dev/termination-log");
    map.emplace_back(term_path, (cdir / "dev/termination-log").string());
    // Longest mount path first, so /a/b wins over /a.
    std::sort(map.begin(), map.end(),
              [](auto& a, auto& b) { return a.first.size() > b.first.size(); });

    std::vector<std::string> argv;
    for (const auto& a : c.value("command", json::array()))
      argv.push_back(rewrite(a.get<std::string>(), map));
    for (const auto& a : c.value("args", json::array()))
      argv.push_back(rewrite(a.get<std::string>(), map));
    std::vector<std::string> envs;
    bool has_path = false;
    for (const auto& e : c.value("env", json::array())) {
      auto v = env_value(client_, pod, e);
      if (!v) {
        ex.code = 1;
        ex.reason = "CreateContainerConfigError";
        ex.message = "env " + e.value("name", "") + ": " + v.error().message;
        ex.finished = now_s();
        return ex;
      }
      std::string name = e.value("name", "");
      if (name == "PATH") has_path = true;
      envs.push_back(name + "=" + rewrite(*v, map));
    }
    if (!has_path)
      envs.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    envs.push_back("HOME=" + cdir.string());
    envs.push_back("HOSTNAME=" + m.value("name", ""));
    envs.push_back("CAIRN_SIM_SCRATCH=" + scratch.string());
    std::string workdir =
        c.contains("workingDir") ? rewrite(c.value("workingDir", ""), map) : cdir.string();
    fs::create_directories(workdir);
    if (argv.empty()) {
      // The image's entrypoint is unknown here; nothing to run.
      ex.reason = "Completed";
      ex.message = "no command: the simulator ignores images, so there is nothing to run";
      ex.finished = now_s();
      return ex;
    }
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : envs) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    std::string logf = (cdir / "log").string();
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      int fd = ::open(logf.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
      if (::chdir(workdir.c_str()) != 0) ::_exit(126);
      ::execvpe(cargv[0], cargv.data(), cenv.data());
      ::_exit(127);
    }
    if (pid < 0) {
      ex.code = 1;
      ex.reason = "StartError";
      ex.message = std::string("fork: ") + std::strerror(errno);
      ex.finished = now_s();
      return ex;
    }
    ::setpgid(pid, pid);
    rp->pgid = pid;
    int status = 0;
    for (;;) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) break;
      if (w < 0 && errno != EINTR) break;
      if (rp->killed) ::kill(-pid, SIGKILL);
      if (deadline > 0 && !deadline_hit &&
          std::chrono::steady_clock::now() - started_at > std::chrono::seconds(deadline)) {
        deadline_hit = true;
        ::kill(-pid, SIGKILL);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(-pid, SIGKILL);  // anything the container left running in its group
    rp->pgid = 0;
    ex.finished = now_s();
    if (WIFEXITED(status)) {
      ex.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      ex.code = 128 + WTERMSIG(status);
    }
    ex.reason = ex.code == 0 ? "Completed" : "Error";
    if (ex.code == 127 && argv.size() > 0) {
      ex.message = "command not found on this machine: " + argv[0];
    }
    // Like the kubelet: the message file, capped at 4 KiB.
    std::string msg = read_capped(cdir / "dev/termination-log", 4096);
    if (!msg.empty()) {
      ex.message = msg;
    } else if (ex.code != 0 &&
               c.value("terminationMessagePolicy", "File") == "FallbackToLogsOnError") {
      // As the kubelet does: the last 80 lines (at most 2 KiB) of the output.
      std::string log = read_capped(cdir / "log", 1 << 20);
      if (log.size() > 2048) log = log.substr(log.size() - 2048);
      size_t lines = 0, pos = log.size();
      while (pos > 0 && lines <= 80) {
        pos = log.rfind('\n', pos - 1);
        if (pos == std::string::npos) {
          pos = 0;
          break;
        }
        lines++;
      }
      if (!log.empty()) ex.message = log.substr(pos == 0 ? 0 : pos + 1);
    }
    return ex;
  };

  auto terminated = [](const json& c, const Exit& ex) {
    json t = {{"exitCode", ex.code},
              {"reason", ex.reason},
              {"startedAt", ex.started},
              {"finishedAt", ex.finished}};
    if (!ex.message.empty()) t["message"] = ex.message;
    return json{{"name", c.value("name", "")},
                {"image", c.value("image", "")},
                {"ready", false},
                {"restartCount", 0},
                {"state", {{"terminated", t}}}};
  };

  json init_statuses = json::array();
  json statuses = json::array();
  bool failed = !setup_error.empty();
  for (const auto& c : spec.value("initContainers", json::array())) {
    if (failed || rp->killed) break;
    Exit ex = run_container(c, "init");
    init_statuses.push_back(terminated(c, ex));
    if (ex.code != 0) failed = true;
  }
  for (const auto& c : spec.value("containers", json::array())) {
    if (failed || rp->killed) {
      statuses.push_back({{"name", c.value("name", "")},
                          {"image", c.value("image", "")},
                          {"ready", false},
                          {"restartCount", 0},
                          {"state", {{"waiting", {{"reason", "PodInitializing"}}}}}});
      continue;
    }
    Exit ex = run_container(c, "containers");
    statuses.push_back(terminated(c, ex));
    if (ex.code != 0) failed = true;
  }
  if (!rp->killed) {
    std::string ip = pod_ip(uid);
    json st = {
        {"phase", failed ? "Failed" : "Succeeded"},
        {"hostIP", "127.0.0.1"},
        {"podIP", ip},
        {"conditions",
         json::array({cond("Initialized", true), cond("Ready", false, "PodCompleted"),
                      cond("ContainersReady", false, "PodCompleted"), cond("PodScheduled", true)})},
        {"containerStatuses", statuses}};
    if (!init_statuses.empty()) st["initContainerStatuses"] = init_statuses;
    if (deadline_hit) {
      st["reason"] = "DeadlineExceeded";
      st["message"] = "Pod was active on the node longer than the specified deadline";
    } else if (!setup_error.empty()) {
      st["message"] = setup_error;
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto r = patch_status(pod, st);
      if (r || r.error().code == Code::kNotFound) break;
      log(rp->key + ": final status: " + r.error().to_string());
      std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
    }
  }
  std::error_code ec;
  if (std::getenv("CAIRN_SIM_KEEP_SCRATCH") == nullptr) fs::remove_all(scratch, ec);
  // The thread object is joined by whoever erases the entry, never by itself.
  std::lock_guard lock(mu_);
  finished_.push_back(rp);
  running_.erase(uid);
  cv_.notify_all();
}

Result<void> Simulator::reconcile(const std::string& key) {
  // Join threads of pods that have finished.
  std::vector<std::shared_ptr<RunningPod>> done;
  {
    std::lock_guard lock(mu_);
    done.swap(finished_);
  }
  for (auto& rp : done) {
    if (rp->thread.joinable()) rp->thread.join();
  }

  kube::ObjectPtr p = pods_->store().get(key);
  if (!p) {
    // Gone from the API: stop whatever still runs for it.
    std::lock_guard lock(mu_);
    for (auto& [uid, rp] : running_) {
      if (rp->key == key) {
        rp->killed = true;
        if (pid_t g = rp->pgid.load(); g > 0) ::kill(-g, SIGKILL);
      }
    }
    restarts_.erase(key);
    return {};
  }
  const json& pod = *p;
  const auto& m = md(pod);
  std::string node = pod["spec"].value("nodeName", "");
  if (m.contains("deletionTimestamp")) {
    if (node.empty() || is_ours(node)) return finalize_deleted(pod);
    return {};
  }
  if (node.empty()) {
    std::string sched = pod["spec"].value("schedulerName", "default-scheduler");
    if (sched != "default-scheduler") return {};
    return bind(pod);
  }
  if (!is_ours(node)) return {};
  std::string phase = pod.contains("status") ? pod["status"].value("phase", "") : "";
  if (phase == "Succeeded" || phase == "Failed") return {};
  if (!is_job_pod(pod)) return start_long_running(pod);
  bool running_here;
  {
    std::lock_guard lock(mu_);
    running_here = running_.contains(m.value("uid", ""));
  }
  if (running_here) return {};
  if (phase == "Running") {
    // Started by an earlier simulator process that is gone: its process is lost.
    json statuses = json::array();
    for (const auto& c : pod["spec"].value("containers", json::array())) {
      statuses.push_back(
          {{"name", c.value("name", "")},
           {"image", c.value("image", "")},
           {"ready", false},
           {"restartCount", 0},
           {"state",
            {{"terminated",
              {{"exitCode", 137}, {"reason", "SimulatorRestarted"}, {"finishedAt", now_s()}}}}}});
    }
    return patch_status(pod, {{"phase", "Failed"},
                              {"reason", "SimulatorRestarted"},
                              {"message", "the node simulator restarted while this pod ran"},
                              {"containerStatuses", statuses}});
  }
  return start_job_pod(pod);
}

}  // namespace cairn::sim
