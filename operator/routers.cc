#include "operator/routers.h"

#include <set>

#include "api/names.h"
#include "git/git.h"
#include "kube/client.h"
#include "log/log.h"

namespace cairn::app {

using kube::json;

void PushRouter::add(const kube::Store& store, std::function<void(const std::string&)> trigger) {
  kinds_.push_back({&store, std::move(trigger)});
}

std::vector<std::string> PushRouter::route(const push::PushEvent& ev) const {
  std::set<std::string> urls;
  for (const auto& u : ev.urls) urls.insert(git::repository_identity(u));
  std::vector<std::string> hit;
  for (const auto& kind : kinds_) {
    for (const auto& o : kind.store->list()) {
      if (!in_scope_(*o)) continue;
      const json src = (*o).value("spec", json::object()).value("source", json::object());
      if (!urls.contains(git::repository_identity(src.value("url", "")))) continue;
      const bool match = (!ev.branch.empty() && src.value("branch", "") == ev.branch) ||
                         (!ev.tag.empty() && src.value("tag", "") == ev.tag);
      if (!match) continue;
      std::string key = kube::object_key(*o);
      kind.trigger(key);
      hit.push_back(std::move(key));
    }
  }
  log::info("push received",
            {{"branch", ev.branch}, {"tag", ev.tag}, {"triggered", std::to_string(hit.size())}});
  return hit;
}

void wake_gated_releases(kube::Informer& pipelines, const kube::Store& releases,
                         kit::Controller& release_controller) {
  pipelines.add_handlers({.on_update = [&releases, &release_controller](const kube::ObjectPtr&,
                                                                        const kube::ObjectPtr& b) {
    const json& md = (*b)["metadata"];
    for (const auto& r : releases.by_index(kube::Store::kByNamespace, md.value("namespace", ""))) {
      const json gate = (*r).value("spec", json::object()).value("gate", json::object());
      if (gate.value("pipelineRef", json::object()).value("name", "") == md.value("name", ""))
        release_controller.enqueue(kube::object_key(*r));
    }
  }});
}

kube::EventHandlers wake_owning_release(kit::Controller& releases, InScope in_scope) {
  auto wake = [&releases, in_scope](const kube::ObjectPtr& o) {
    std::string rel = (*o)["metadata"]
                          .value("annotations", json::object())
                          .value(std::string(api::kReleaseAnnotation), "");
    if (!rel.empty() && in_scope(*o)) releases.enqueue(rel);
  };
  return {.on_add = wake,
          .on_update = [wake](const kube::ObjectPtr&, const kube::ObjectPtr& b) { wake(b); },
          .on_delete = wake};
}

kube::EventHandlers wake_owning_pipeline(kit::Controller& pipelines, InScope in_scope) {
  auto wake = [&pipelines, in_scope](const kube::ObjectPtr& o) {
    const json& md = (*o)["metadata"];
    std::string p =
        md.value("labels", json::object()).value(std::string(api::kPipelineLabel), std::string());
    if (!p.empty() && in_scope(*o)) pipelines.enqueue(md.value("namespace", "") + "/" + p);
  };
  return {.on_add = wake,
          .on_update = [wake](const kube::ObjectPtr&, const kube::ObjectPtr& b) { wake(b); },
          .on_delete = wake};
}

std::string source_url(const kube::Store& store, const std::string& ns, const std::string& name) {
  auto o = store.get(ns + "/" + name);
  if (!o) return {};
  auto spec = o->find("spec");
  if (spec == o->end() || !spec->is_object()) return {};
  auto src = spec->find("source");
  if (src == spec->end() || !src->is_object()) return {};
  return src->value("url", std::string());
}

std::optional<notify::Notice> notice_for(const release::ReleaseEvent& e, std::string source) {
  using T = release::ReleaseEvent::Type;
  if (e.notify.empty() || e.type == T::kPruned) return std::nullopt;
  return notify::Notice{.kind = "Release",
                        .ns = e.ns,
                        .name = e.name,
                        .event = e.type == T::kDeployed     ? api::NotifyEvent::kDeployed
                                 : e.type == T::kFailed     ? api::NotifyEvent::kFailed
                                 : e.type == T::kRolledBack ? api::NotifyEvent::kRolledBack
                                                            : api::NotifyEvent::kDriftCorrected,
                        .commit = e.commit,
                        .author = e.author,
                        .title = e.title,
                        .result = std::string(release::to_string(e.type)),
                        .reason = e.reason,
                        .source = std::move(source),
                        .targets = e.notify};
}

std::optional<notify::Notice> notice_for_run(const std::string& ns, const std::string& name,
                                             const api::RunStatus& run,
                                             const std::vector<api::NotifySpec>& targets,
                                             std::string source) {
  if (targets.empty()) return std::nullopt;
  return notify::Notice{.kind = "Pipeline",
                        .ns = ns,
                        .name = name,
                        .event = run.phase == api::RunPhase::kSucceeded
                                     ? api::NotifyEvent::kRunSucceeded
                                     : api::NotifyEvent::kRunFailed,
                        .commit = run.commit,
                        .author = run.author,
                        .title = run.title,
                        .run = run.id,
                        .result = std::string(api::to_string(run.phase)),
                        .reason = run.message,
                        .source = std::move(source),
                        .targets = targets};
}

}  // namespace cairn::app
