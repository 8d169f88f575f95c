// The world the fuzz targets send admission requests into, shared by
// admission_fuzz.cc (clang, libFuzzer) and socket_fuzz.cc (g++, ASan); no
// gtest.
//
// - A real git repository, built with the git CLI (isolated from the user's
//   and the system's configuration) in a fresh directory under $TMPDIR: one
//   commit holding deploy/app.yaml (a Deployment and a ConfigMap), pushed to a
//   bare "origin". Author, committer and dates are fixed, so the commit id is
//   the same on every machine and the seed corpus can carry stamps naming it.
// - A fake cluster: namespaces in deny, warn and audit modes (and one that
//   verifies signatures, one gated on a Pipeline whose run of the commit
//   succeeded), each with a Release tracking kRepoUrl (branch main, path
//   deploy).
// - A GitView that serves kRepoUrl from a libgit2 mirror of the bare origin
//   and really fetches it at most once a second (Policy's own
//   min_fetch_interval is set to zero so that no request waits).
// - Sample reviews: what the apiserver would send for objects the operator
//   applied at that commit, and for the usual ways around it, with the verdict
//   the policy must give.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/names.h"
#include "git/git.h"
#include "json/json.h"
#include "manifest/render.h"
#include "webhook/admission.h"
#include "webhook/policy.h"

namespace cairn::fuzz {

using json = cairn::json;

// The repository every Release names. Nothing is fetched from it: FixtureGit
// serves it from the local bare repository.
inline constexpr std::string_view kRepoUrl = "https://git.example.com/shop/app.git";
inline constexpr std::string_view kOperator = "system:serviceaccount:cairn-system:cairn-operator";

inline constexpr std::string_view kManifests = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: shop/web:1
        ports:
        - containerPort: 8080
        resources:
          limits: {cpu: "0.5", memory: 128Mi}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
)";

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a shell command with git isolated in `home`; stdout and stderr in *out.
inline bool run_git(const std::string& home, const std::string& cmd, std::string* out) {
  const std::string env =
      "env HOME=" + shell_quote(home) +
      " GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 LC_ALL=C"
      " GIT_AUTHOR_NAME='Ada Author' GIT_AUTHOR_EMAIL=ada@example.com"
      " GIT_COMMITTER_NAME='Cy Committer' GIT_COMMITTER_EMAIL=cy@example.com"
      " GIT_AUTHOR_DATE='2024-01-02T03:04:05Z' GIT_COMMITTER_DATE='2024-01-02T03:04:05Z' ";
  FILE* p = popen(("( " + env + "sh -c " + shell_quote(cmd) + " ) 2>&1").c_str(), "r");
  if (!p) return false;
  std::array<char, 4096> buf;
  size_t n;
  out->clear();
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out->append(buf.data(), n);
  int st = pclose(p);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

class FixtureCluster : public webhook::ClusterView {
 public:
  // Read-only once the World is built: safe from many threads.
  std::map<std::string, webhook::Mode> modes;
  std::vector<std::shared_ptr<const webhook::ReleaseInfo>> rels;
  std::map<std::string, std::string> phases;  // "pipeline commit" -> phase
  std::set<std::string> pipelines;
  std::vector<std::string> keys;

  std::expected<webhook::NamespaceInfo, std::string> namespace_info(
      const std::string& ns) override {
    webhook::NamespaceInfo info;
    if (auto it = modes.find(ns); it != modes.end()) info.mode = it->second;
    return info;
  }
  std::vector<std::shared_ptr<const webhook::ReleaseInfo>> releases(
      const std::string& ns) override {
    std::vector<std::shared_ptr<const webhook::ReleaseInfo>> out;
    for (const auto& r : rels)
      if (r->ns == ns) out.push_back(r);
    return out;
  }
  std::expected<std::shared_ptr<const webhook::ReleaseInfo>, std::string> fresh_release(
      const std::string& ns, const std::string& name) override {
    for (const auto& r : rels)
      if (r->ns == ns && r->name == name) return r;
    return nullptr;
  }
  std::optional<std::string> pipeline_source(const std::string&, const std::string& p) override {
    if (!pipelines.contains(p)) return std::nullopt;
    return std::string(kRepoUrl);
  }
  std::optional<std::string> run_phase(const std::string&, const std::string& p,
                                       const std::string& commit) override {
    if (!pipelines.contains(p)) return std::nullopt;
    auto it = phases.find(p + " " + commit);
    return it == phases.end() ? "" : it->second;
  }
  std::expected<std::vector<std::string>, std::string> signers(
      const webhook::ReleaseInfo&) override {
    return keys;
  }
  std::optional<bool> is_namespaced(const std::string&, const std::string&) override {
    return std::nullopt;
  }
};

class FixtureGit : public webhook::GitView {
 public:
  FixtureGit(std::string origin_url, std::string cache_dir)
      : mirror_(std::make_shared<git::Mirror>(std::move(origin_url), std::move(cache_dir))) {}

  // Every Release names kRepoUrl; all of them are served by the one mirror.
  std::shared_ptr<git::Source> source(const std::string&) override { return mirror_; }

  std::expected<void, std::string> fetch(const webhook::ReleaseInfo&, git::Source& s) override {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (fetched_ && now - last_ < std::chrono::seconds(1)) return {};
    fetched_ = true;
    last_ = now;
    auto r = s.fetch({});
    if (!r) return std::unexpected(r.error().to_string());
    return {};
  }

 private:
  std::shared_ptr<git::Mirror> mirror_;
  std::mutex mu_;
  bool fetched_ = false;
  std::chrono::steady_clock::time_point last_;
};

struct Sample {
  std::string name;             // a file name for the seed corpus
  std::string path;             // /validate or /validate-cairn
  std::string uid;              // request.uid
  std::string body;             // the AdmissionReview
  std::optional<bool> allowed;  // the verdict the policy must give
};

class World {
 public:
  // Builds everything in a fresh directory under $TMPDIR; nullptr (and the
  // reason in *error) on failure.
  static std::unique_ptr<World> create(std::string* error) {
    std::unique_ptr<World> w(new World());
    if (!w->build(error)) return nullptr;
    return w;
  }
  ~World() {
    policy_.reset();
    git_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  webhook::Policy& policy() { return *policy_; }
  const std::string& commit() const { return commit_; }
  const std::vector<Sample>& samples() const { return samples_; }

 private:
  World() = default;

  bool build(std::string* error) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/cairn-fuzz-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      *error = "mkdtemp " + tmpl + " failed";
      return false;
    }
    dir_ = tmpl;
    const std::string home = dir_ + "/home", work = dir_ + "/work", origin = dir_ + "/origin.git";
    std::filesystem::create_directories(home);
    std::filesystem::create_directories(work + "/deploy");
    {
      FILE* f = fopen((work + "/deploy/app.yaml").c_str(), "wb");
      if (!f) {
        *error = "cannot write " + work + "/deploy/app.yaml";
        return false;
      }
      fwrite(kManifests.data(), 1, kManifests.size(), f);
      fclose(f);
    }
    std::string out;
    const std::string q = shell_quote(work);
    if (!run_git(home,
                 "git init -q -b main " + q + " && git init -q --bare -b main " +
                     shell_quote(origin) + " && cd " + q +
                     " && git add -A && git commit -q -m A && git remote add origin " +
                     shell_quote(origin) + " && git push -q origin main && git rev-parse HEAD",
                 &out)) {
      *error = "git: " + out;
      return false;
    }
    commit_ = out.substr(0, out.find('\n'));

    cluster_.modes = {{"shop", webhook::Mode::kDeny},
                      {"loose", webhook::Mode::kWarn},
                      {"watched", webhook::Mode::kAudit},
                      {"signed", webhook::Mode::kDeny},
                      {"gated", webhook::Mode::kDeny}};
    for (const char* ns : {"shop", "loose", "watched", "signed", "gated"}) {
      api::ReleaseSpec spec;
      spec.source.url = std::string(kRepoUrl);
      spec.source.branch = "main";
      spec.path = "deploy";
      if (std::string_view(ns) == "gated") spec.gate = api::GateSpec{{"ci"}};
      if (std::string_view(ns) == "signed") {
        spec.source.verify.mode = api::VerifyMode::kHead;
        spec.source.verify.signers_secret_ref = api::LocalObjectReference{"signers"};
      }
      cluster_.rels.push_back(
          std::make_shared<const webhook::ReleaseInfo>(webhook::ReleaseInfo{ns, "app", spec}));
    }
    cluster_.pipelines = {"ci"};
    cluster_.phases["ci " + commit_] = "Succeeded";
    cluster_.keys = {
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"};

    git_ = std::make_unique<FixtureGit>("file://" + origin, dir_ + "/mirror");
    webhook::PolicyOptions opts;
    opts.operator_users = {std::string(kOperator)};
    opts.allow_scale = false;
    opts.min_fetch_interval = std::chrono::milliseconds(0);
    opts.ignore_fields["apps/Deployment"] = {"spec.template.metadata.annotations"};
    policy_ = std::make_unique<webhook::Policy>(cluster_, *git_, opts);
    if (auto r = git_->source(std::string(kRepoUrl))->fetch({}); !r) {
      *error = "fetch: " + r.error().to_string();
      return false;
    }
    return make_samples(error);
  }

  // The object as the operator applies it at the commit in `ns`, with what
  // the apiserver adds (uid, defaults, canonical quantities, status).
  std::optional<json> live(const std::string& kind, const std::string& ns, std::string* error) {
    auto files = git_->source(std::string(kRepoUrl))->files(commit_, "deploy", {});
    if (!files) {
      *error = files.error().to_string();
      return std::nullopt;
    }
    auto out = manifest::render({.release_namespace = ns,
                                 .release_name = "app",
                                 .commit = commit_,
                                 .source_url = std::string(kRepoUrl),
                                 .files = *files});
    if (!out) {
      *error = manifest::to_string(out.error());
      return std::nullopt;
    }
    for (auto obj : out->objects) {
      if (obj["kind"] != kind) continue;
      obj["metadata"]["uid"] = "6f1c2a52-0d1e-4c39-9a55-1b0c6c1a9e01";
      obj["metadata"]["resourceVersion"] = "7";
      obj["metadata"]["creationTimestamp"] = "2024-01-02T03:05:00Z";
      if (kind == "Deployment") {
        auto& c = obj["spec"]["template"]["spec"]["containers"][0];
        c["terminationMessagePath"] = "/dev/termination-log";
        c["imagePullPolicy"] = "IfNotPresent";
        c["resources"]["limits"]["cpu"] = "500m";
        obj["spec"]["strategy"] = {{"type", "RollingUpdate"}};
        obj["spec"]["revisionHistoryLimit"] = 10;
        obj["status"] = {{"replicas", 2}, {"readyReplicas", 2}};
      }
      return obj;
    }
    *error = "no " + kind + " rendered";
    return std::nullopt;
  }

  static json review(const std::string& uid, const std::string& op, const std::string& group,
                     const std::string& version, const std::string& kind,
                     const std::string& resource, const std::string& ns, const std::string& name,
                     const std::string& user, std::vector<std::string> groups) {
    return {{"apiVersion", "admission.k8s.io/v1"},
            {"kind", "AdmissionReview"},
            {"request",
             {{"uid", uid},
              {"kind", {{"group", group}, {"version", version}, {"kind", kind}}},
              {"resource", {{"group", group}, {"version", version}, {"resource", resource}}},
              {"requestKind", {{"group", group}, {"version", version}, {"kind", kind}}},
              {"namespace", ns},
              {"name", name},
              {"operation", op},
              {"userInfo", {{"username", user}, {"groups", groups}}},
              {"object", nullptr},
              {"oldObject", nullptr},
              {"dryRun", false},
              {"options", {{"apiVersion", "meta.k8s.io/v1"}, {"kind", "UpdateOptions"}}}}}};
  }

  void add(std::string name, std::string path, const json& rev, std::optional<bool> allowed) {
    samples_.push_back(Sample{std::move(name), std::move(path),
                              rev["request"]["uid"].get<std::string>(), rev.dump(), allowed});
  }

  bool make_samples(std::string* error) {
    auto deploy = live("Deployment", "shop", error);
    if (!deploy) return false;
    auto cm = live("ConfigMap", "shop", error);
    if (!cm) return false;
    auto gated = live("Deployment", "gated", error);
    if (!gated) return false;
    auto loose_cm = live("ConfigMap", "loose", error);
    if (!loose_cm) return false;
    auto signed_cm = live("ConfigMap", "signed", error);
    if (!signed_cm) return false;
    const std::vector<std::string> users = {"system:authenticated"};

    // A Deployment as the operator applied it: admitted.
    const std::string op(kOperator);
    json r = review("a1e0c6d2-0001", "UPDATE", "apps", "v1", "Deployment", "deployments", "shop",
                    "web", op, users);
    r["request"]["object"] = *deploy;
    r["request"]["oldObject"] = *deploy;
    add("deployment-update-stamped", "/validate", r, true);
    // The same by a person, changing nothing: admitted; changing what git
    // does not set (container, pod, object, metadata level): denied.
    r["request"]["userInfo"]["username"] = "alice";
    r["request"]["uid"] = "a1e0c6d2-0101";
    add("deployment-update-no-change", "/validate", r, true);
    int n = 0;
    for (auto edit : std::vector<std::function<void(json&)>>{
             [](json& o) {
               o["spec"]["template"]["spec"]["containers"][0]["env"] = {
                   {{"name", "K"}, {"value", "v"}}};
             },
             [](json& o) { o["spec"]["template"]["spec"]["hostNetwork"] = true; },
             [](json& o) {
               o["metadata"]["ownerReferences"] = {
                   {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "x"}, {"uid", "1"}}};
             },
             [](json& o) { o["metadata"]["labels"]["extra"] = "1"; }}) {
      json edited = *deploy;
      edit(edited);
      r["request"]["uid"] = "a1e0c6d2-011" + std::to_string(n);
      r["request"]["object"] = edited;
      add("deployment-update-person-" + std::to_string(n++), "/validate", r, false);
    }
    r["request"]["userInfo"]["username"] = op;
    r["request"]["object"] = *deploy;

    // The same, by hand: another image.
    json changed = *deploy;
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "evil/web:1";
    r["request"]["uid"] = "a1e0c6d2-0002";
    r["request"]["object"] = changed;
    add("deployment-update-changed", "/validate", r, false);

    // A commit that does not exist.
    json forged = *deploy;
    forged["metadata"]["annotations"][std::string(api::kCommitAnnotation)] =
        "0123456789abcdef0123456789abcdef01234567";
    r["request"]["uid"] = "a1e0c6d2-0003";
    r["request"]["object"] = forged;
    add("deployment-update-forged-commit", "/validate", r, false);

    // Gated on a Pipeline whose run of the commit succeeded: admitted.
    r = review("a1e0c6d2-0004", "UPDATE", "apps", "v1", "Deployment", "deployments", "gated", "web",
               op, users);
    r["request"]["object"] = *gated;
    r["request"]["oldObject"] = *gated;
    add("deployment-update-gated", "/validate", r, true);

    // Break-glass, by a member of the group: admitted with a warning.
    json glass = changed;
    glass["metadata"]["annotations"][std::string(api::kBreakGlassAnnotation)] = "INC-42: hotfix";
    r = review("a1e0c6d2-0005", "UPDATE", "apps", "v1", "Deployment", "deployments", "shop", "web",
               "bob", {"system:authenticated", "cairn:break-glass"});
    r["request"]["object"] = glass;
    r["request"]["oldObject"] = *deploy;
    add("deployment-update-break-glass", "/validate", r, true);

    // An unstamped ConfigMap created by hand: denied; only a warning in a warn namespace.
    json unstamped = {{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"metadata", {{"name", "extra"}, {"namespace", "shop"}}},
                      {"data", {{"k", "v"}}}};
    r = review("a1e0c6d2-0006", "CREATE", "", "v1", "ConfigMap", "configmaps", "shop", "extra",
               "alice", users);
    r["request"]["object"] = unstamped;
    r["request"]["options"]["kind"] = "CreateOptions";
    add("configmap-create-unstamped", "/validate", r, false);
    r["request"]["uid"] = "a1e0c6d2-0007";
    r["request"]["namespace"] = "loose";
    r["request"]["object"]["metadata"]["namespace"] = "loose";
    add("configmap-create-unstamped-warn", "/validate", r, true);
    r["request"]["uid"] = "a1e0c6d2-0008";
    r["request"]["namespace"] = "watched";
    r["request"]["object"]["metadata"]["namespace"] = "watched";
    r["request"]["dryRun"] = true;
    add("configmap-create-unstamped-audit", "/validate", r, true);

    // The stamped ConfigMap, in a warn namespace and in one that wants signed commits.
    r = review("a1e0c6d2-0009", "UPDATE", "", "v1", "ConfigMap", "configmaps", "loose", "settings",
               "alice", users);
    r["request"]["object"] = *loose_cm;
    r["request"]["oldObject"] = *loose_cm;
    add("configmap-update-stamped-warn", "/validate", r, true);
    // In a namespace whose Release wants signed commits: the commit is not signed.
    r["request"]["uid"] = "a1e0c6d2-0011";
    r["request"]["userInfo"]["username"] = op;
    r["request"]["namespace"] = "signed";
    // (A change of data: an UPDATE that changes nothing, as when the operator
    // takes over fields before a revert, is admitted whatever the commit.)
    r["request"]["object"] = *signed_cm;
    r["request"]["oldObject"] = *signed_cm;
    r["request"]["oldObject"]["data"]["color"] = "green";
    add("configmap-update-unsigned", "/validate", r, false);

    // DELETE: the operator's only.
    r = review("a1e0c6d2-000a", "DELETE", "", "v1", "ConfigMap", "configmaps", "shop", "settings",
               "alice", users);
    r["request"]["oldObject"] = *cm;
    r["request"]["options"]["kind"] = "DeleteOptions";
    add("configmap-delete", "/validate", r, false);
    r["request"]["uid"] = "a1e0c6d2-000b";
    r["request"]["userInfo"]["username"] = std::string(kOperator);
    add("configmap-delete-operator", "/validate", r, true);

    // kubectl scale (turned off here).
    r = review("a1e0c6d2-000c", "UPDATE", "autoscaling", "v1", "Scale", "deployments", "shop",
               "web", "alice", users);
    r["request"]["resource"]["group"] = "apps";
    r["request"]["subResource"] = "scale";
    json scale = {{"apiVersion", "autoscaling/v1"},
                  {"kind", "Scale"},
                  {"metadata", {{"name", "web"}, {"namespace", "shop"}}},
                  {"spec", {{"replicas", 5}}}};
    r["request"]["object"] = scale;
    scale["spec"]["replicas"] = 2;
    r["request"]["oldObject"] = scale;
    add("deployment-scale", "/validate", r, false);

    // The status subresource.
    r = review("a1e0c6d2-000d", "UPDATE", "apps", "v1", "Deployment", "deployments", "shop", "web",
               "system:serviceaccount:kube-system:deployment-controller", {});
    r["request"]["subResource"] = "status";
    r["request"]["object"] = *deploy;
    r["request"]["oldObject"] = *deploy;
    add("deployment-status", "/validate", r, true);

    // Pipelines and Releases for /validate-cairn, valid and not; v1beta1.
    json pipeline = {
        {"apiVersion", "cairn.dev/v1alpha1"},
        {"kind", "Pipeline"},
        {"metadata", {{"name", "ci"}, {"namespace", "shop"}}},
        {"spec",
         {{"source", {{"url", std::string(kRepoUrl)}, {"branch", "main"}}},
          {"steps",
           {{{"name", "test"}, {"image", "alpine:3"}, {"script", "make test"}},
            {{"name", "lint"}, {"image", "alpine:3"}, {"after", {"test"}}, {"script", "make"}}}}}}};
    r = review("a1e0c6d2-000e", "CREATE", "cairn.dev", "v1alpha1", "Pipeline", "pipelines", "shop",
               "ci", "alice", users);
    r["request"]["object"] = pipeline;
    add("pipeline-create", "/validate-cairn", r, true);
    pipeline["spec"]["steps"][1]["after"] = {"nope"};
    pipeline["spec"]["source"].erase("branch");
    r["request"]["uid"] = "a1e0c6d2-000f";
    r["request"]["object"] = pipeline;
    add("pipeline-create-invalid", "/validate-cairn", r, false);

    json release = {{"apiVersion", "cairn.dev/v1alpha1"},
                    {"kind", "Release"},
                    {"metadata",
                     {{"name", "app"},
                      {"namespace", "shop"},
                      {"annotations", {{std::string(api::kRollbackToAnnotation), "0123abc"}}}}},
                    {"spec",
                     {{"source", {{"url", std::string(kRepoUrl)}, {"tag", "v1.2.0"}}},
                      {"path", "deploy"},
                      {"gate", {{"pipelineRef", {{"name", "ci"}}}}}}}};
    r = review("a1e0c6d2-0010", "UPDATE", "cairn.dev", "v1alpha1", "Release", "releases", "shop",
               "app", "alice", users);
    r["apiVersion"] = "admission.k8s.io/v1beta1";
    r["request"]["object"] = release;
    r["request"]["oldObject"] = release;
    add("release-update-v1beta1", "/validate-cairn", r, true);
    return true;
  }

  std::string dir_;
  std::string commit_;
  FixtureCluster cluster_;
  std::unique_ptr<FixtureGit> git_;
  std::unique_ptr<webhook::Policy> policy_;
  std::vector<Sample> samples_;
};

// "" when `body` is a well-formed AdmissionReview answer to request `uid`
// (the kind, an admission.k8s.io apiVersion, response.uid echoing it, a
// boolean response.allowed, a status with a code and a message when denied,
// warnings a list of strings); otherwise what is wrong.
inline std::string check_answer(std::string_view body, std::string_view uid) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return "the answer is not valid JSON";
  if (!doc.is_object()) return "the answer is not a JSON object";
  auto av = doc.find("apiVersion");
  if (av == doc.end() || !av->is_string() ||
      (*av != "admission.k8s.io/v1" && *av != "admission.k8s.io/v1beta1"))
    return "apiVersion is not admission.k8s.io/v1 or v1beta1";
  auto kind = doc.find("kind");
  if (kind == doc.end() || *kind != "AdmissionReview") return "kind is not AdmissionReview";
  auto resp = doc.find("response");
  if (resp == doc.end() || !resp->is_object()) return "response is missing";
  auto u = resp->find("uid");
  if (u == resp->end() || !u->is_string() || u->get<std::string>() != uid)
    return "response.uid does not echo the request's uid";
  auto allowed = resp->find("allowed");
  if (allowed == resp->end() || !allowed->is_boolean()) return "response.allowed is not a boolean";
  if (!allowed->get<bool>()) {
    auto st = resp->find("status");
    if (st == resp->end() || !st->is_object()) return "a denial without status";
    auto code = st->find("code");
    if (code == st->end() || !code->is_number_integer() || code->get<int>() < 400 ||
        code->get<int>() > 599)
      return "a denial whose status.code is not a 4xx/5xx";
    auto msg = st->find("message");
    if (msg == st->end() || !msg->is_string() || msg->get<std::string>().empty())
      return "a denial without status.message";
  }
  if (auto w = resp->find("warnings"); w != resp->end()) {
    if (!w->is_array()) return "response.warnings is not a list";
    for (const auto& s : *w)
      if (!s.is_string()) return "response.warnings holds a non-string";
  }
  return {};
}

// The first `max` bytes of `s`, non-printable bytes escaped, for messages.
inline std::string excerpt(std::string_view s, size_t max = 300) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > max) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

}  // namespace cairn::fuzz
