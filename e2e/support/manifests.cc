#include "manifests.h"

namespace cairn::e2e {

std::string app_yaml(const App& app) {
  std::string y = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: )" + std::to_string(app.replicas) +
                  R"(
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
)" + std::string(app.ready ? "" : "      annotations: {sim.cairn.dev/ready: \"false\"}\n") +
                  R"(    spec:
      containers: [{name: web, image: ")" +
                  app.image + R"(", ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
)";
  if (!app.config_name.empty())
    y += "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + app.config_name +
         "}\ndata: " + app.config_data + "\n";
  return y;
}

std::string release_yaml(const ReleaseYaml& r) {
  return "\napiVersion: cairn.dev/v1alpha1\nkind: Release\nmetadata: {name: " + r.name +
         "}\nspec:\n  source: {url: \"" + r.url + "\", branch: main, interval: " + r.interval +
         r.source_extra +
         "}\n  path: deploy\n  rollout: {progressDeadline: " + r.progress_deadline + "}\n" +
         r.extra;
}

}  // namespace cairn::e2e
