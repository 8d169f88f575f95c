// The YAML the e2e tests commit and create, written once: the demo app
// (Deployment "web", Service "web", and a ConfigMap), Releases and
// Pipelines.
#pragma once

#include <string>

namespace cairn::e2e {

struct App {
  std::string image = "web:1";
  int replicas = 2;
  // false: the node simulator keeps its Pods unready (a rollout that fails).
  bool ready = true;
  // The ConfigMap: its name (empty: none) and its data, as a YAML flow map.
  std::string config_name = "web-config";
  std::string config_data = "{greeting: hello}";
};

// deploy/app.yaml of the e2e apps.
std::string app_yaml(const App& app = {});

struct ReleaseYaml {
  std::string name = "web";
  std::string url;
  std::string interval = "10s";
  std::string progress_deadline = "10s";
  std::string source_extra;  // more keys of spec.source (", secretRef: {...}")
  std::string extra;         // more lines of spec ("  gate: {...}\n")
};
std::string release_yaml(const ReleaseYaml& r);

}  // namespace cairn::e2e
