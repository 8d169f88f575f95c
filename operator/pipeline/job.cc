#include "operator/pipeline/job.h"

#include <sstream>

#include "api/names.h"
#include "api/validate.h"
#include "kube/util.h"

namespace cairn::pipeline {

using kube::json;

std::string checkout_script() {
  // Plain POSIX sh + git: works in any image that has git (alpine/git,
  // debian with git). The credentials never appear in the command line or
  // the environment of the step itself: they are read from the mounted
  // Secret by a credential helper, and only in this init container.
  return R"SH(set -eu
auth=/var/run/cairn/git
cd /workspace
if [ -f "$auth/ca.crt" ]; then export GIT_SSL_CAINFO="$auth/ca.crt"; fi
if [ -f "$auth/caFile" ]; then export GIT_SSL_CAINFO="$auth/caFile"; fi
if [ -f "$auth/identity" ]; then
  export GIT_SSH_COMMAND="ssh -i $auth/identity -o IdentitiesOnly=yes -o UserKnownHostsFile=$auth/known_hosts -o StrictHostKeyChecking=yes"
fi
git init -q .
git remote add origin "$CAIRN_SOURCE_URL"
git -c credential.helper='!f() { test -f /var/run/cairn/git/username && echo "username=$(cat /var/run/cairn/git/username)"; test -f /var/run/cairn/git/password && echo "password=$(cat /var/run/cairn/git/password)"; test -f /var/run/cairn/git/bearerToken && echo "username=x-access-token" && echo "password=$(cat /var/run/cairn/git/bearerToken)"; true; }; f' \
  fetch -q origin '+refs/heads/*:refs/remotes/origin/*' '+refs/tags/*:refs/tags/*'
git -c advice.detachedHead=false checkout -q "$CAIRN_COMMIT"
echo "checked out $CAIRN_COMMIT"
)SH";
}

json build_job(const JobInputs& in) {
  const api::Step& step = *in.step;
  const std::string name = api::job_name(in.pipeline, in.run_id, step.name);
  json labels = {{std::string(api::kPipelineLabel), in.pipeline},
                 {std::string(api::kRunLabel), in.run_id},
                 {std::string(api::kCommitLabel), in.commit},
                 {std::string(api::kStepLabel), step.name},
                 {std::string(api::kManagedByLabel), std::string(api::kManagedByValue)}};
  json env = json::array({{{"name", "CAIRN_COMMIT"}, {"value", in.commit}},
                          {{"name", "CAIRN_PIPELINE"}, {"value", in.pipeline}},
                          {{"name", "CAIRN_RUN"}, {"value", in.run_id}},
                          {{"name", "CAIRN_STEP"}, {"value", step.name}},
                          {{"name", "CAIRN_WORKSPACE"}, {"value", kWorkspace}}});
  for (const auto& e : step.env) env.push_back({{"name", e.name}, {"value", e.value}});

  json container = {
      {"name", "step"},
      {"image", step.image},
      {"workingDir", kWorkspace},
      {"env", env},
      // A failed step with no message of its own reports the tail of its
      // output instead (what the kubelet does), so a failure says why.
      {"terminationMessagePolicy", "FallbackToLogsOnError"},
      {"volumeMounts", json::array({{{"name", "workspace"}, {"mountPath", kWorkspace}}})}};
  if (!step.script.empty()) {
    container["command"] = json::array({"/bin/sh", "-c", step.script});
  } else {
    if (!step.command.empty()) container["command"] = step.command;
    if (!step.args.empty()) container["args"] = step.args;
  }

  json checkout_mounts = json::array({{{"name", "workspace"}, {"mountPath", kWorkspace}}});
  json volumes = json::array({{{"name", "workspace"}, {"emptyDir", json::object()}}});
  if (!in.secret_name.empty()) {
    checkout_mounts.push_back(
        {{"name", "git-auth"}, {"mountPath", kGitAuthDir}, {"readOnly", true}});
    volumes.push_back({{"name", "git-auth"},
                       {"secret", {{"secretName", in.secret_name}, {"defaultMode", 0400}}}});
  }
  json checkout = {{"name", "checkout"},
                   {"image", in.checkout_image},
                   {"command", json::array({"/bin/sh", "-c", checkout_script()})},
                   {"env", json::array({{{"name", "CAIRN_SOURCE_URL"}, {"value", in.source_url}},
                                        {{"name", "CAIRN_COMMIT"}, {"value", in.commit}}})},
                   {"workingDir", kWorkspace},
                   {"volumeMounts", checkout_mounts}};

  json spec = {{"backoffLimit", step.retries},
               {"template",
                {{"metadata", {{"labels", labels}}},
                 {"spec",
                  {{"restartPolicy", "Never"},
                   {"automountServiceAccountToken", false},
                   {"initContainers", json::array({checkout})},
                   {"containers", json::array({container})},
                   {"volumes", volumes}}}}}};
  if (step.timeout) {
    // Per attempt: the Job's deadline covers every retry.
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(*step.timeout).count();
    spec["activeDeadlineSeconds"] = std::max<int64_t>(1, secs) * (step.retries + 1);
  }
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata",
           {{"name", name},
            {"namespace", in.ns},
            {"labels", labels},
            {"annotations",
             {{std::string(api::kCommitAnnotation), in.commit},
              {std::string(api::kSourceAnnotation), in.source_url}}},
            {"ownerReferences", json::array({{{"apiVersion", std::string(api::kApiVersion)},
                                              {"kind", std::string(api::kPipelineKind)},
                                              {"name", in.pipeline},
                                              {"uid", in.pipeline_uid},
                                              {"controller", true},
                                              {"blockOwnerDeletion", true}}})}}},
          {"spec", spec}};
}

std::map<std::string, std::string> parse_results(const std::string& message) {
  std::map<std::string, std::string> out;
  std::istringstream in(message);
  std::string line;
  while (std::getline(in, line) && out.size() < 32) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0 || eq > 63) continue;
    std::string key = line.substr(0, eq);
    bool ok = true;
    for (char c : key) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
        ok = false;
    }
    if (ok) out[key] = utf8_prefix(std::string_view(line).substr(eq + 1), 1024);
  }
  return out;
}

std::string utf8_prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  size_t n = max_bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the character
  // that does not fit, so that a multi-byte character is never cut in half;
  // a character has at most three, so text that is not UTF-8 loses no more.
  for (int k = 0; k < 3 && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80; ++k) --n;
  return std::string(s.substr(0, n));
}

std::string failure_excerpt(std::string_view message) {
  return utf8_prefix(kube::trim(message), 512);
}

}  // namespace cairn::pipeline
