// The local control plane and node simulator do what the rest of Cairn's
// tests rely on: Deployments roll out, Job containers really run, and the
// apiserver calls admission webhooks.
#include "support/cluster.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "kube/util.h"
#include "support/https_server.h"

namespace cairn::e2e {
namespace {

using namespace std::chrono_literals;
namespace res = kube::res;

TEST(Cluster, DeploymentOfThreeBecomesAvailable) {
  TestNamespace ns("e2e-deploy");
  json d = yaml(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.25}]
)");
  ASSERT_TRUE(client().create(res::kDeployments, ns.name(), d));
  auto done = wait_for(
      res::kDeployments, ns.name(), "web",
      [](const json& o) {
        return has_condition(o, "Available") && o["status"].value("availableReplicas", 0) == 3 &&
               o["status"].value("updatedReplicas", 0) == 3;
      },
      90s);
  ASSERT_TRUE(done) << done.error().to_string();
  auto pods = client().list(res::kPods, ns.name(), {.label_selector = "app=web"});
  ASSERT_TRUE(pods);
  ASSERT_EQ((*pods)["items"].size(), 3u);
  for (const auto& p : (*pods)["items"]) {
    EXPECT_FALSE(p["spec"].value("nodeName", "").empty()) << "bound by the simulator";
    EXPECT_TRUE(has_condition(p, "Ready"));
  }
}

json job(const std::string& name, const std::string& script) {
  json j = yaml(R"(
apiVersion: batch/v1
kind: Job
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      volumes: [{name: ws, emptyDir: {}}]
      initContainers:
      - name: prepare
        image: busybox
        command: [/bin/sh, -c, "echo prepared > /workspace/marker"]
        volumeMounts: [{name: ws, mountPath: /workspace}]
      containers:
      - name: main
        image: busybox
        command: [/bin/sh, -c]
        env: [{name: GREETING, value: hello}]
        volumeMounts: [{name: ws, mountPath: /workspace}]
)");
  j["metadata"]["name"] = name;
  j["spec"]["template"]["spec"]["containers"][0]["args"] = json::array({script});
  return j;
}

json pod_of_job(const std::string& ns, const std::string& job) {
  auto pods = client().list(res::kPods, ns, {.label_selector = "job-name=" + job});
  if (!pods || (*pods)["items"].empty()) return json();
  return (*pods)["items"][0];
}

TEST(Cluster, JobCommandRunsAndSucceeds) {
  TestNamespace ns("e2e-job");
  // The script proves it ran: it reads what the init container wrote to the
  // shared volume, sees its env, and reports through the termination log.
  ASSERT_TRUE(client().create(
      res::kJobs, ns.name(),
      job("ok",
          "test \"$(cat /workspace/marker)\" = prepared && echo \"result=$GREETING\" > "
          "/dev/termination-log")));
  auto done = wait_for(
      res::kJobs, ns.name(), "ok",
      [](const json& o) { return has_condition(o, "Complete") || has_condition(o, "Failed"); },
      60s);
  ASSERT_TRUE(done) << done.error().to_string();
  EXPECT_TRUE(has_condition(*done, "Complete")) << done->dump();
  json pod = pod_of_job(ns.name(), "ok");
  ASSERT_FALSE(pod.is_null());
  EXPECT_EQ(pod["status"].value("phase", ""), "Succeeded");
  auto term = pod["status"]["containerStatuses"][0]["state"]["terminated"];
  EXPECT_EQ(term.value("exitCode", -1), 0);
  EXPECT_EQ(term.value("message", ""), "result=hello\n");
}

TEST(Cluster, JobCommandExitingThreeFails) {
  TestNamespace ns("e2e-job");
  ASSERT_TRUE(client().create(res::kJobs, ns.name(), job("bad", "echo boom >&2; exit 3")));
  auto done = wait_for(
      res::kJobs, ns.name(), "bad",
      [](const json& o) { return has_condition(o, "Complete") || has_condition(o, "Failed"); },
      60s);
  ASSERT_TRUE(done) << done.error().to_string();
  EXPECT_TRUE(has_condition(*done, "Failed")) << done->dump();
  json pod = pod_of_job(ns.name(), "bad");
  ASSERT_FALSE(pod.is_null());
  EXPECT_EQ(pod["status"].value("phase", ""), "Failed");
  EXPECT_EQ(pod["status"]["containerStatuses"][0]["state"]["terminated"].value("exitCode", -1), 3);
}

TEST(Cluster, ApiserverCallsValidatingWebhook) {
  TestNamespace ns("e2e-webhook", {{"cairn-e2e-webhook", "on"}});
  std::mutex mu;
  std::vector<json> seen;
  HttpsServer server([&](const HttpRequest& req) {
    json review = json::parse(req.body, nullptr, false);
    HttpResponse resp;
    if (review.is_discarded() || !review.contains("request")) {
      resp.status = 400;
      resp.body = R"({"error":"not an AdmissionReview"})";
      return resp;
    }
    const json& r = review["request"];
    {
      std::lock_guard lock(mu);
      seen.push_back(r);
    }
    bool deny = r["object"]["metadata"].value("labels", json::object()).value("deny", "") == "yes";
    json response = {{"uid", r.value("uid", "")}, {"allowed", !deny}};
    if (deny) response["status"] = {{"code", 403}, {"message", "denied by the e2e webhook"}};
    resp.body = json{
        {"apiVersion", "admission.k8s.io/v1"},
        {"kind", "AdmissionReview"},
        {"response",
         response}}.dump();
    return resp;
  });

  const std::string cfg_name = "cairn-e2e-" + ns.name();
  json vwc = {
      {"apiVersion", "admissionregistration.k8s.io/v1"},
      {"kind", "ValidatingWebhookConfiguration"},
      {"metadata", {{"name", cfg_name}}},
      {"webhooks",
       json::array({{{"name", "e2e.cairn.dev"},
                     {"admissionReviewVersions", json::array({"v1"})},
                     {"sideEffects", "None"},
                     {"failurePolicy", "Fail"},
                     {"timeoutSeconds", 5},
                     {"namespaceSelector", {{"matchLabels", {{"cairn-e2e-webhook", "on"}}}}},
                     {"rules", json::array({{{"apiGroups", json::array({""})},
                                             {"apiVersions", json::array({"v1"})},
                                             {"operations", json::array({"CREATE"})},
                                             {"resources", json::array({"configmaps"})}}})},
                     {"clientConfig",
                      {{"url", "https://127.0.0.1:" + std::to_string(server.port()) + "/validate"},
                       {"caBundle", kube::base64_encode(server.ca_pem())}}}}})}};
  ASSERT_TRUE(client().create(res::kValidatingWebhookConfigurations, "", vwc));
  struct Cleanup {
    std::string name;
    ~Cleanup() { (void)client().remove(res::kValidatingWebhookConfigurations, "", name); }
  } cleanup{cfg_name};

  // The apiserver picks up new webhook configurations asynchronously; the
  // first create that reaches the server shows it has. Bounded, and each
  // attempt is a real create, not a sleep.
  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"data", {{"k", "v"}}}};
  bool reached = false;
  for (int i = 0; i < 100 && !reached; ++i) {
    cm["metadata"] = {{"name", "probe-" + std::to_string(i)}};
    ASSERT_TRUE(client().create(res::kConfigMaps, ns.name(), cm));
    reached = server.requests() > 0;
    if (!reached) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(reached) << "the apiserver never called the webhook";

  cm["metadata"] = {{"name", "allowed"}};
  auto ok = client().create(res::kConfigMaps, ns.name(), cm);
  ASSERT_TRUE(ok) << ok.error().to_string();

  cm["metadata"] = {{"name", "denied"}, {"labels", {{"deny", "yes"}}}};
  auto denied = client().create(res::kConfigMaps, ns.name(), cm);
  ASSERT_FALSE(denied) << "the webhook's denial must stop the create";
  EXPECT_EQ(denied.error().code, kube::Code::kForbidden) << denied.error().to_string();
  EXPECT_NE(denied.error().message.find("denied by the e2e webhook"), std::string::npos)
      << denied.error().message;
  EXPECT_FALSE(client().get(res::kConfigMaps, ns.name(), "denied"));

  std::lock_guard lock(mu);
  bool saw_denied = false;
  for (const auto& r : seen) {
    if (r.value("name", "") == "denied") {
      saw_denied = true;
      EXPECT_EQ(r["kind"].value("kind", ""), "ConfigMap");
      EXPECT_EQ(r.value("namespace", ""), ns.name());
      EXPECT_EQ(r.value("operation", ""), "CREATE");
    }
  }
  EXPECT_TRUE(saw_denied);
}

}  // namespace
}  // namespace cairn::e2e
