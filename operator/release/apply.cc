// Rendering a commit and applying it: server-side apply in rank order, the
// drift check by dry run, taking over fields other managers added (so that
// self-heal puts an object back completely), and pruning.
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "api/names.h"
#include "kube/util.h"
#include "manifest/git_tree.h"
#include "manifest/render.h"
#include "operator/release/context.h"
#include "operator/release/ownership.h"
#include "source/source.h"

namespace cairn::release {

using kube::json;
using source::short_sha;

namespace {

// Fields the apiserver owns: ignored when comparing a dry-run apply with
// the live object to decide whether someone changed it.
json comparable(json o) {
  if (o.contains("metadata")) {
    for (const char* k :
         {"managedFields", "resourceVersion", "generation", "creationTimestamp", "uid"}) {
      o["metadata"].erase(k);
    }
  }
  o.erase("status");
  return o;
}

std::string group_kind(const json& obj) {
  const std::string av = obj.value("apiVersion", "");
  const auto slash = av.find('/');
  return (slash == std::string::npos ? "" : av.substr(0, slash)) + "/" + obj.value("kind", "");
}

}  // namespace

std::expected<std::vector<json>, kit::Error> Reconciler::render_commit(Context& c,
                                                                       const std::string& commit) {
  // The one render the webhook and `kubectl cairn render` do too: a Helm
  // chart (spec.helm), a kustomization, or the plain manifests under spec.path, read from the
  // commit's tree with the render's size limits (an oversized file is
  // refused from its header, never read into memory). A kind the apiserver
  // could not be asked about fails the render for now, not the commit.
  bool unreachable = false;
  auto is_namespaced = [this, &unreachable](const std::string& av,
                                            const std::string& kind) -> std::optional<bool> {
    auto r = client_.resource_for(av, kind);
    if (!r) {
      if (kit::Error::from(r.error()).transient()) unreachable = true;
      return std::nullopt;
    }
    return r->namespaced;
  };
  auto out = manifest::render_at(*c.source, commit, manifest::ReleaseRef::of(c.ns, c.name, c.spec),
                                 is_namespaced);
  if (!out) {
    std::string msg = manifest::to_string(out.error());
    return std::unexpected(unreachable ? kit::Error::transient_error(msg)
                                       : kit::Error::permanent(msg));
  }
  return std::move(out->objects);
}

std::vector<std::string> Reconciler::ignored_fields(const json& obj) const {
  auto it = opts_.ignore_fields.find(group_kind(obj));
  return it == opts_.ignore_fields.end() ? std::vector<std::string>{} : it->second;
}

std::optional<kit::Error> Reconciler::take_ownership(Context& c, const kube::ApiResource& r,
                                                     const json& live) {
  (void)c;
  const json& md = live["metadata"];
  json fields = release::take_ownership(live, client_.default_field_manager(), ignored_fields(live),
                                        std::chrono::system_clock::now());
  // One write, on the resourceVersion read: a change made meanwhile is seen
  // at the next reconcile instead of being taken over unseen.
  json patch = {
      {"metadata",
       {{"managedFields", fields}, {"resourceVersion", md.value("resourceVersion", "")}}}};
  auto p = client_.patch(r, md.value("namespace", ""), md.value("name", ""),
                         kube::PatchType::kMerge, patch);
  if (!p) return kit::Error::from(p.error()).within("taking over fields added outside git: ");
  return std::nullopt;
}

std::optional<kit::Error> Reconciler::apply_one(Context& c, const json& obj, Mode mode,
                                                bool& drift) {
  const json md = obj.value("metadata", json::object());
  const std::string name = md.value("name", "");
  const std::string where =
      md.value("annotations", json::object()).value(std::string(api::kPathAnnotation), "") + ": " +
      obj.value("kind", "") + " " + name + ": ";
  auto r = client_.resource_of(obj);
  if (!r) return kit::Error::from(r.error()).within(where);
  const std::string ns = md.value("namespace", "");
  bool clear_break_glass = false;
  if (mode != Mode::kRollout) {
    // Would applying change anything, or does anyone but the cluster own
    // fields git does not set? A dry run answers without writing.
    auto live = client_.get(*r, ns, name);
    auto would = client_.apply(*r, ns, obj, true, {}, {.dry_run = true});
    if (!would) return kit::Error::from(would.error()).within(where);
    const bool foreign =
        live &&
        !foreign_fields(*live, client_.default_field_manager(), ignored_fields(*live)).empty();
    if (live && !foreign && comparable(*live) == comparable(*would)) return std::nullopt;
    if (live) {
      auto glass = break_glass(c, *live);
      if (!glass) return glass.error().within(where);
      if (*glass == Glass::kHeld) return std::nullopt;
      clear_break_glass = *glass == Glass::kExpired;
    }
    {
      std::lock_guard lock(c.mu);
      drift = true;
    }
    // Without self-heal only a break-glass change past its time is put back.
    if (mode == Mode::kDetectOnly && !clear_break_glass) return std::nullopt;
    if (live && foreign) {
      if (auto e = take_ownership(c, *r, *live)) return e->within(where);
    }
  }
  auto applied = client_.apply(*r, ns, obj, true);
  if (!applied)
    return kit::Error::from(applied.error()).within(where + "the apiserver refused it: ");
  if (clear_break_glass) {
    // Git is back: the emergency is over. (Taking over the fields already
    // removed the annotation with the apply; this covers an object whose
    // annotation Cairn's own manager held.)
    json patch = {
        {"metadata", {{"annotations", {{std::string(api::kBreakGlassAnnotation), nullptr}}}}}};
    auto p = client_.patch(*r, ns, name, kube::PatchType::kMerge, patch);
    if (!p)
      return kit::Error::from(p.error()).within(where + "removing the break-glass annotation: ");
  }
  return std::nullopt;
}

// Objects come sorted in apply order. Those of one rank (all Services, all
// workloads, ...) do not depend on each other: they are applied
// opts_.apply_concurrency at a time; a rank starts when the one before it
// is done, and the first error (in manifest order) stops the rest.
std::expected<Reconciler::Applied, kit::Error> Reconciler::apply_all(
    Context& c, const std::vector<json>& objects, Mode mode) {
  Applied out;
  std::vector<std::optional<kit::Error>> errors(objects.size());
  auto one = [&](size_t k) { errors[k] = apply_one(c, objects[k], mode, out.drift); };
  for (size_t i = 0; i < objects.size();) {
    const int rank = manifest::apply_rank(objects[i].value("kind", ""));
    size_t end = i + 1;
    while (end < objects.size() && manifest::apply_rank(objects[end].value("kind", "")) == rank)
      ++end;
    const size_t n =
        std::min<size_t>(static_cast<size_t>(std::max(1, opts_.apply_concurrency)), end - i);
    if (n == 1) {
      for (size_t k = i; k < end; ++k) one(k);
    } else {
      std::atomic<size_t> next{i};
      std::vector<std::thread> threads;
      for (size_t t = 0; t < n; ++t) {
        threads.emplace_back([&] {
          for (size_t k = next++; k < end; k = next++) one(k);
        });
      }
      for (auto& t : threads) t.join();
    }
    for (size_t k = i; k < end; ++k) {
      if (errors[k]) return std::unexpected(*errors[k]);
    }
    i = end;
  }
  return out;
}

void Reconciler::prune(Context& c, const std::vector<api::InventoryEntry>& keep) {
  std::set<std::string> kept;
  for (const auto& e : keep) kept.insert(manifest::identity(e));
  const std::string me = c.ns + "/" + c.name;
  for (const auto& e : c.status.inventory) {
    if (kept.contains(manifest::identity(e))) continue;
    auto r = client_.resource_for(e.api_version, e.kind);
    if (!r) continue;
    auto live = client_.get(*r, e.namespace_, e.name);
    if (!live) continue;
    // Only what carries our stamp: never something a person re-created.
    std::string owner = (*live)["metadata"]
                            .value("annotations", json::object())
                            .value(std::string(api::kReleaseAnnotation), "");
    if (owner != me) continue;
    auto d = client_.remove(*r, e.namespace_, e.name,
                            {.precondition_uid = (*live)["metadata"].value("uid", ""),
                             .propagation_policy = "Background"});
    if (d) {
      events_.normal(c.object, "Pruned", e.kind + " " + e.name + " is no longer in git; deleted");
      report(event(c, ReleaseEvent::Type::kPruned, {}, e.kind + " " + e.name));
    }
  }
}

}  // namespace cairn::release
