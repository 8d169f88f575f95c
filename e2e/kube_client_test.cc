// lib/kube against the real local control plane: REST calls and their typed
// errors, paging, informers through churn, apiserver restarts and 410s,
// leader election across processes, and events.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "kube/config.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/util.h"
#include "support/cluster.h"
#include "support/tcp_proxy.h"

namespace cairn::e2e {
namespace {

using namespace std::chrono_literals;
namespace res = kube::res;
using kube::Code;

json configmap(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}}},
          {"data", {{"k", value}}}};
}

// A second client with its own settings (a wrong CA, another identity, ...).
kube::Config base_config() {
  auto cfg = kube::default_config();
  EXPECT_TRUE(cfg);
  return *cfg;
}

std::unique_ptr<kube::Client> make_client(const kube::Config& cfg) {
  auto c = kube::Client::create(cfg, {.field_manager = "cairn-e2e", .max_retries = 0});
  EXPECT_TRUE(c) << c.error().to_string();
  return c ? std::move(*c) : nullptr;
}

TEST(KubeClient, CrudWithPreconditionsAndPatches) {
  TestNamespace ns("e2e-crud");
  auto& c = client();
  auto created = c.create(res::kConfigMaps, ns.name(), configmap("a", "1"));
  ASSERT_TRUE(created) << created.error().to_string();
  auto again = c.create(res::kConfigMaps, ns.name(), configmap("a", "1"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::kAlreadyExists);

  json stale = *created;
  json fresh = *created;
  fresh["data"]["k"] = "2";
  ASSERT_TRUE(c.update(res::kConfigMaps, ns.name(), fresh));
  stale["data"]["k"] = "3";
  auto conflict = c.update(res::kConfigMaps, ns.name(), stale);
  ASSERT_FALSE(conflict) << "an update with an old resourceVersion must not win";
  EXPECT_EQ(conflict.error().code, Code::kConflict);

  ASSERT_TRUE(c.patch(res::kConfigMaps, ns.name(), "a", kube::PatchType::kMerge,
                      {{"data", {{"m", "merged"}}}}));
  ASSERT_TRUE(c.patch(res::kConfigMaps, ns.name(), "a", kube::PatchType::kJson,
                      json::array({{{"op", "replace"}, {"path", "/data/k"}, {"value", "json"}}})));
  auto got = c.get(res::kConfigMaps, ns.name(), "a");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["data"], json({{"k", "json"}, {"m", "merged"}}));

  auto wrong_uid = c.remove(res::kConfigMaps, ns.name(), "a", {.precondition_uid = "not-the-uid"});
  ASSERT_FALSE(wrong_uid);
  EXPECT_EQ(wrong_uid.error().code, Code::kConflict);
  ASSERT_TRUE(c.remove(res::kConfigMaps, ns.name(), "a",
                       {.precondition_uid = (*got)["metadata"]["uid"].get<std::string>()}));
  auto gone = c.get(res::kConfigMaps, ns.name(), "a");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, Code::kNotFound);
}

TEST(KubeClient, InvalidObjectNamesTheField) {
  TestNamespace ns("e2e-invalid");
  auto r = client().create(res::kConfigMaps, ns.name(), configmap("Not_A_Valid_Name", "x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalid);
  ASSERT_FALSE(r.error().causes.empty());
  EXPECT_EQ(r.error().causes[0].field, "metadata.name");
}

TEST(KubeClient, ServerSideApplyConflictsUnlessForced) {
  TestNamespace ns("e2e-apply");
  auto& c = client();
  auto first = c.apply(res::kConfigMaps, ns.name(), configmap("owned", "from-cairn"), false, {},
                       {.field_manager = "cairn"});
  ASSERT_TRUE(first) << first.error().to_string();
  auto again = c.apply(res::kConfigMaps, ns.name(), configmap("owned", "from-cairn"), false, {},
                       {.field_manager = "cairn"});
  ASSERT_TRUE(again) << "re-applying the same object is a no-op";
  EXPECT_EQ((*again)["metadata"]["resourceVersion"], (*first)["metadata"]["resourceVersion"]);

  auto other = c.apply(res::kConfigMaps, ns.name(), configmap("owned", "from-someone"), false, {},
                       {.field_manager = "someone"});
  ASSERT_FALSE(other) << "a field owned by another manager is a conflict";
  EXPECT_EQ(other.error().code, Code::kConflict);
  EXPECT_NE(other.error().to_string().find("cairn"), std::string::npos)
      << other.error().to_string();

  auto forced = c.apply(res::kConfigMaps, ns.name(), configmap("owned", "from-someone"), true, {},
                        {.field_manager = "someone"});
  ASSERT_TRUE(forced) << forced.error().to_string();
  EXPECT_EQ((*forced)["data"]["k"], "from-someone");
}

TEST(KubeClient, CustomResourcesThroughDiscoveryWithStatus) {
  auto& c = client();
  json crd = yaml(R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.e2e.cairn.dev}
spec:
  group: e2e.cairn.dev
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 0}
          status:
            type: object
            properties:
              phase: {type: string}
)");
  auto applied = c.apply(res::kCustomResourceDefinitions, "", crd, true);
  ASSERT_TRUE(applied) << applied.error().to_string();
  auto established = wait_for(
      res::kCustomResourceDefinitions, "", "widgets.e2e.cairn.dev",
      [](const json& o) { return has_condition(o, "Established"); }, 30s);
  ASSERT_TRUE(established) << established.error().to_string();

  // Discovery learns of the new kind on a miss.
  auto r = c.resource_for("e2e.cairn.dev/v1", "Widget");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->resource, "widgets");
  EXPECT_TRUE(r->namespaced);
  auto unknown = c.resource_for("e2e.cairn.dev/v1", "Gizmo");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Code::kNotFound);
  EXPECT_NE(unknown.error().message.find("Gizmo"), std::string::npos);

  TestNamespace ns("e2e-cr");
  json w = {{"apiVersion", "e2e.cairn.dev/v1"},
            {"kind", "Widget"},
            {"metadata", {{"name", "w"}}},
            {"spec", {{"size", 3}}}};
  auto created = c.apply(*r, ns.name(), w, true);
  ASSERT_TRUE(created) << created.error().to_string();
  json st = {{"apiVersion", "e2e.cairn.dev/v1"},
             {"kind", "Widget"},
             {"metadata", {{"name", "w"}}},
             {"status", {{"phase", "Ready"}}}};
  auto status = c.apply(*r, ns.name(), st, true, "status");
  ASSERT_TRUE(status) << status.error().to_string();
  auto got = c.get(*r, ns.name(), "w");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["status"]["phase"], "Ready");
  EXPECT_EQ((*got)["spec"]["size"], 3) << "the status write left spec alone";

  json bad = w;
  bad["metadata"]["name"] = "neg";
  bad["spec"]["size"] = -1;
  auto invalid = c.create(*r, ns.name(), bad);
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code, Code::kInvalid);
}

TEST(KubeClient, ScaleSubresource) {
  TestNamespace ns("e2e-scale");
  auto& c = client();
  json d = yaml(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: s}
spec:
  replicas: 1
  selector: {matchLabels: {app: s}}
  template:
    metadata: {labels: {app: s}}
    spec: {containers: [{name: c, image: x}]}
)");
  ASSERT_TRUE(c.create(res::kDeployments, ns.name(), d));
  auto scale = c.get(res::kDeployments, ns.name(), "s", "scale");
  ASSERT_TRUE(scale) << scale.error().to_string();
  EXPECT_EQ((*scale)["kind"], "Scale");
  EXPECT_EQ((*scale)["spec"]["replicas"], 1);
  ASSERT_TRUE(c.patch(res::kDeployments, ns.name(), "s", kube::PatchType::kMerge,
                      {{"spec", {{"replicas", 4}}}}, "scale"));
  auto got = c.get(res::kDeployments, ns.name(), "s");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["spec"]["replicas"], 4);
}

// Retries a write the way a controller would: on errors that say "try
// again" (an apiserver that has just restarted answers 503/429 until its
// admission informers sync). AlreadyExists after a retry means the first
// attempt landed.
template <typename F>
bool with_retries(F&& call) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto r = call();
    if (r) return true;
    if (attempt > 0 && r.error().code == Code::kAlreadyExists) return true;
    if (!r.error().retriable()) {
      ADD_FAILURE() << r.error().to_string();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * (attempt + 1)));
  }
  return false;
}

// Creates n ConfigMaps named <prefix>-<i> with 4 threads.
void create_many(const std::string& ns, const std::string& prefix, int n) {
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (int i; (i = next++) < n;) {
        if (!with_retries([&] {
              return client().create(res::kConfigMaps, ns,
                                     configmap(prefix + "-" + std::to_string(i), "v"));
            }))
          failures++;
      }
    });
  }
  for (auto& t : ts) t.join();
  ASSERT_EQ(failures.load(), 0);
}

TEST(KubeClient, PagesThrough1500ConfigMaps) {
  TestNamespace ns("e2e-paging");
  create_many(ns.name(), "cm", 1500);
  auto& c = client();
  std::set<std::string> names;
  int pages = 0;
  kube::ListOptions lo{.limit = 100};
  for (;;) {
    auto page = c.list(res::kConfigMaps, ns.name(), lo);
    ASSERT_TRUE(page) << page.error().to_string();
    pages++;
    EXPECT_LE((*page)["items"].size(), 100u);
    for (const auto& i : (*page)["items"]) names.insert(i["metadata"]["name"].get<std::string>());
    lo.continue_token = (*page)["metadata"].value("continue", "");
    if (lo.continue_token.empty()) break;
  }
  EXPECT_GE(pages, 15);
  size_t ours = 0;
  for (const auto& n : names) ours += n.rfind("cm-", 0) == 0;
  EXPECT_EQ(ours, 1500u) << "every object exactly once across the pages";
  EXPECT_LE(names.size(), 1501u);  // and at most kube-root-ca.crt besides
}

// The informer's cache as name -> resourceVersion, and the same from a list.
std::map<std::string, std::string> cache_of(kube::Informer& inf) {
  std::map<std::string, std::string> m;
  for (const auto& o : inf.store().list()) {
    m[(*o)["metadata"]["name"].get<std::string>()] = (*o)["metadata"]["resourceVersion"];
  }
  return m;
}
std::map<std::string, std::string> listed(const std::string& ns) {
  std::map<std::string, std::string> m;
  auto l = client().list_all(res::kConfigMaps, ns);
  if (!l) return m;
  for (const auto& o : (*l)["items"]) {
    m[o["metadata"]["name"].get<std::string>()] = o["metadata"]["resourceVersion"];
  }
  return m;
}

// Waits (bounded) until the informer's cache equals a fresh list.
bool converges(kube::Informer& inf, const std::string& ns, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto want = listed(ns);
    if (!want.empty() && cache_of(inf) == want) return true;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

void churn(const std::string& ns, const std::string& prefix, int n) {
  create_many(ns, prefix, n);
  for (int i = 0; i < n / 2; ++i) {
    ASSERT_TRUE(with_retries([&] {
      return client().patch(res::kConfigMaps, ns, prefix + "-" + std::to_string(i),
                            kube::PatchType::kMerge, {{"data", {{"k", "changed"}}}});
    }));
  }
  for (int i = n / 2; i < n / 2 + n / 4; ++i) {
    ASSERT_TRUE(with_retries(
        [&] { return client().remove(res::kConfigMaps, ns, prefix + "-" + std::to_string(i)); }));
  }
}

TEST(KubeClient, InformerStaysEqualToAListThrough1000Changes) {
  TestNamespace ns("e2e-informer");
  kube::Informer inf(client(), {.resource = res::kConfigMaps, .ns = ns.name()});
  std::atomic<int> adds{0}, updates{0}, deletes{0};
  inf.add_handlers({.on_add = [&](const kube::ObjectPtr&) { adds++; },
                    .on_update = [&](const kube::ObjectPtr&, const kube::ObjectPtr&) { updates++; },
                    .on_delete = [&](const kube::ObjectPtr&) { deletes++; }});
  inf.start();
  ASSERT_TRUE(inf.wait_for_sync(30s));
  churn(ns.name(), "cm", 1000);
  ASSERT_TRUE(converges(inf, ns.name(), 60s)) << inf.last_error();
  EXPECT_GE(adds.load(), 1000);
  EXPECT_GE(updates.load(), 500);
  EXPECT_GE(deletes.load(), 250);
  for (const auto& o : inf.store().list()) {
    EXPECT_FALSE((*o)["metadata"].contains("managedFields")) << "trimmed by default";
  }
  EXPECT_EQ(inf.store().by_index(kube::Store::kByNamespace, ns.name()).size(), inf.store().size());
}

// Kills the apiserver with SIGKILL and lets hack/up.sh restart the control
// plane (etcd too), keeping its data, as `make up` would.
void restart_control_plane() {
  std::string state = cluster_env("CAIRN_STATE_DIR");
  ASSERT_FALSE(state.empty());
  auto [rc, pid] = sh("cat " + state + "/pids/kube-apiserver.pid");
  ASSERT_EQ(rc, 0);
  ASSERT_EQ(::kill(std::stoi(pid), SIGKILL), 0);
  auto [urc, uout] = sh("set -a && . " + state + "/cluster.env && set +a && " +
                        std::string(CAIRN_SOURCE_DIR) + "/hack/up.sh 2>&1");
  ASSERT_EQ(urc, 0) << uout;
}

TEST(KubeClient, InformerRelistsAfterItsResourceVersionIsCompactedAway) {
  TestNamespace ns("e2e-410");
  std::string server = base_config().server;
  int port = std::stoi(server.substr(server.rfind(':') + 1));
  TcpProxy proxy(port);
  kube::Config cfg = base_config();
  cfg.server = "https://127.0.0.1:" + std::to_string(proxy.port());
  auto partitioned = make_client(cfg);
  ASSERT_TRUE(partitioned);
  kube::Informer inf(*partitioned, {.resource = res::kConfigMaps,
                                    .ns = ns.name(),
                                    .backoff_initial = 200ms,
                                    .backoff_cap = 1000ms});
  inf.start();
  ASSERT_TRUE(inf.wait_for_sync(30s));
  create_many(ns.name(), "before", 20);
  ASSERT_TRUE(converges(inf, ns.name(), 30s));

  // Cut this informer off, move the world on far past the watch cache, and
  // compact etcd so its resourceVersion no longer exists anywhere.
  proxy.sever();
  churn(ns.name(), "during", 400);
  std::string etcd = cluster_env("CAIRN_ETCD_URL");
  ASSERT_FALSE(etcd.empty());
  auto [rc, out] = sh("curl -fsS -X POST -d '{\"key\":\"AA==\"}' " + etcd + "/v3/kv/range");
  ASSERT_EQ(rc, 0) << out;
  std::string rev = json::parse(out)["header"]["revision"].get<std::string>();
  auto [rc2, out2] = sh("curl -fsS -X POST -d '{\"revision\":\"" + rev + "\",\"physical\":true}' " +
                        etcd + "/v3/kv/compaction");
  ASSERT_EQ(rc2, 0) << out2;
  // A restarted apiserver rebuilds its watch cache from the current
  // revision, so nothing can serve a watch from the informer's old one.
  restart_control_plane();
  uint64_t relists_before = inf.relists();
  proxy.resume();

  ASSERT_TRUE(converges(inf, ns.name(), 90s)) << inf.last_error();
  EXPECT_GT(inf.relists(), relists_before) << "a 410 must lead to a fresh list";
}

TEST(KubeClient, InformerRecoversFromApiserverAndEtcdRestart) {
  TestNamespace ns("e2e-restart");
  kube::Informer inf(client(), {.resource = res::kConfigMaps,
                                .ns = ns.name(),
                                .backoff_initial = 200ms,
                                .backoff_cap = 2000ms});
  inf.start();
  ASSERT_TRUE(inf.wait_for_sync(30s));
  create_many(ns.name(), "a", 50);
  ASSERT_TRUE(converges(inf, ns.name(), 30s));

  restart_control_plane();
  churn(ns.name(), "b", 100);
  ASSERT_TRUE(converges(inf, ns.name(), 90s)) << inf.last_error();
}

TEST(KubeClient, WatchCancellationEndsTheStreamPromptly) {
  TestNamespace ns("e2e-cancel");
  kube::CancelToken cancel;
  std::atomic<bool> returned{false};
  std::thread t([&] {
    kube::Request req{.path = res::kConfigMaps.path(ns.name()),
                      .query = "watch=1&timeoutSeconds=300"};
    auto r = client().stream(
        req, [](std::string_view) { return true; }, &cancel);
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error().code, Code::kCancelled);
    returned = true;
  });
  // The stream is open once the watch delivers an event for this create.
  ASSERT_TRUE(client().create(res::kConfigMaps, ns.name(), configmap("x", "1")));
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(returned.load());
  auto start = std::chrono::steady_clock::now();
  cancel.cancel();
  t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(KubeClient, WrongCaIsATlsError) {
  kube::Config cfg = base_config();
  cfg.ca_pem = self_signed_ca("not-the-cluster-ca").cert;
  auto c = make_client(cfg);
  auto r = c->get(res::kNamespaces, "", "default");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kTls) << r.error().to_string();
}

TEST(KubeClient, UntrustedOrExpiredClientCertificateIsUnauthorized) {
  std::string pki = cluster_env("CAIRN_PKI");
  ASSERT_FALSE(pki.empty());
  Pem cluster_ca{*kube::read_file(pki + "/ca.crt"), *kube::read_file(pki + "/ca.key")};

  kube::Config cfg = base_config();
  Pem stranger =
      issue_client_cert(self_signed_ca("other-ca"), "mallory", "system:masters", -60s, 3600s);
  cfg.client_cert_pem = stranger.cert;
  cfg.client_key_pem = stranger.key;
  auto r = make_client(cfg)->get(res::kNamespaces, "", "default");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnauthorized) << r.error().to_string();

  Pem expired = issue_client_cert(cluster_ca, "cairn-admin", "system:masters", -7200s, -3600s);
  cfg.client_cert_pem = expired.cert;
  cfg.client_key_pem = expired.key;
  auto e = make_client(cfg)->get(res::kNamespaces, "", "default");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Code::kUnauthorized) << e.error().to_string();
}

TEST(KubeClient, TokenWithoutRbacIsForbidden) {
  TestNamespace ns("e2e-rbac");
  ASSERT_TRUE(client().create(
      res::kServiceAccounts, ns.name(),
      {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "nobody"}}}}));
  auto sa = wait_for(
      res::kServiceAccounts, ns.name(), "nobody",
      [](const json& o) { return !o.value("secrets", json::array()).empty(); }, 30s);
  ASSERT_TRUE(sa) << sa.error().to_string();
  std::string secret_name = (*sa)["secrets"][0]["name"];
  auto secret = wait_for(
      res::kSecrets, ns.name(), secret_name,
      [](const json& o) { return o.value("data", json::object()).contains("token"); }, 30s);
  ASSERT_TRUE(secret) << secret.error().to_string();
  kube::Config cfg = base_config();
  cfg.client_cert_pem.clear();
  cfg.client_key_pem.clear();
  cfg.token = *kube::base64_decode((*secret)["data"]["token"].get<std::string>());
  auto c = make_client(cfg);
  auto r = c->list(res::kSecrets, "kube-system");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kForbidden) << r.error().to_string();
  EXPECT_NE(r.error().message.find("system:serviceaccount:" + ns.name() + ":nobody"),
            std::string::npos)
      << r.error().message;
}

TEST(KubeClient, EventsForRepeatsAreAggregated) {
  TestNamespace ns("e2e-events");
  auto cm = client().create(res::kConfigMaps, ns.name(), configmap("subject", "1"));
  ASSERT_TRUE(cm);
  {
    kube::EventRecorder rec(client(), "cairn-e2e");
    for (int i = 0; i < 3; ++i) rec.warning(*cm, "SomethingFailed", "the same thing failed");
    rec.normal(*cm, "SomethingElse", "a different event");
    rec.flush();
    EXPECT_EQ(rec.dropped(), 0u);
  }
  auto evs =
      client().list(res::kEvents, ns.name(), {.field_selector = "involvedObject.name=subject"});
  ASSERT_TRUE(evs);
  std::map<std::string, int> counts;
  for (const auto& e : (*evs)["items"]) counts[e.value("reason", "")] += e.value("count", 0);
  EXPECT_EQ((*evs)["items"].size(), 2u);
  EXPECT_EQ(counts["SomethingFailed"], 3);
  EXPECT_EQ(counts["SomethingElse"], 1);
}

// --- leader election across processes

struct Candidate {
  pid_t pid = -1;
  int out = -1;
};

Candidate spawn_candidate(const std::string& ns, const std::string& id) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::execl(CAIRN_LEADER_CANDIDATE, CAIRN_LEADER_CANDIDATE, ns.c_str(), "e2e-lease", id.c_str(),
            nullptr);
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

std::string holder(const std::string& ns) {
  auto l = client().get(res::kLeases, ns, "e2e-lease");
  return l ? (*l)["spec"].value("holderIdentity", "") : "";
}

TEST(KubeClient, LeaderKilledWithSigkillIsReplacedWithinTheLease) {
  TestNamespace ns("e2e-leader");
  Candidate a = spawn_candidate(ns.name(), "a");
  Candidate b = spawn_candidate(ns.name(), "b");
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (holder(ns.name()).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  std::string first = holder(ns.name());
  ASSERT_TRUE(first == "a" || first == "b") << "no leader elected";
  Candidate& leader = first == "a" ? a : b;
  Candidate& follower = first == "a" ? b : a;
  const std::string second = first == "a" ? "b" : "a";

  ASSERT_EQ(::kill(leader.pid, SIGKILL), 0);
  ::waitpid(leader.pid, nullptr, 0);
  auto killed_at = std::chrono::steady_clock::now();
  while (holder(ns.name()) != second && std::chrono::steady_clock::now() - killed_at < 40s) {
    std::this_thread::sleep_for(100ms);
  }
  auto took = std::chrono::steady_clock::now() - killed_at;
  ASSERT_EQ(holder(ns.name()), second) << "the follower never took over";
  // The lease is 15 s, judged on the follower's own clock from when it last
  // saw the record change (the leader's last renewal, seen up to one retry
  // late), and the follower retries every 2 s (+20% jitter). So the takeover
  // comes within lease + two retry periods of the kill, as in client-go.
  EXPECT_LT(took, 15s + 2 * 2400ms + 1s)
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";

  // A clean stop releases the lease at once.
  ASSERT_EQ(::kill(follower.pid, SIGTERM), 0);
  ::waitpid(follower.pid, nullptr, 0);
  EXPECT_EQ(holder(ns.name()), "") << "released on clean shutdown";
  ::close(a.out);
  ::close(b.out);
}

}  // namespace
}  // namespace cairn::e2e
