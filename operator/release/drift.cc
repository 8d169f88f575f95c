// Steady state: put back what someone changed by hand (spec.selfHeal), or
// say that it differs; hold a change made by break-glass until its time is
// up, and only where the webhook lets nobody else make one.
#include "api/names.h"
#include "kube/util.h"
#include "operator/release/context.h"
#include "source/source.h"

namespace cairn::release {

using kube::json;
using source::short_sha;

namespace {

// When the cairn.dev/break-glass annotation was last written: the time of
// the managedFields entry that owns it (nullopt without the annotation).
std::optional<std::chrono::system_clock::time_point> break_glass_since(const json& live) {
  const json md = live.value("metadata", json::object());
  const std::string key(api::kBreakGlassAnnotation);
  if (md.value("annotations", json::object()).value(key, "").empty()) return std::nullopt;
  std::optional<std::chrono::system_clock::time_point> since;
  for (const auto& e : md.value("managedFields", json::array())) {
    const json fields = e.value("fieldsV1", json::object());
    const json ann =
        fields.value("f:metadata", json::object()).value("f:annotations", json::object());
    if (!ann.contains("f:" + key)) continue;
    if (auto t = kube::parse_rfc3339(e.value("time", ""))) {
      if (!since || *t > *since) since = *t;
    }
  }
  // Without managedFields to say when, the hold starts now.
  return since ? since : std::chrono::system_clock::now();
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

// The webhook lets only the break-glass group set the annotation in
// namespaces labelled cairn.dev/enforce=deny; anywhere else anyone with
// `edit` could, so there it holds nothing.
std::expected<Reconciler::Glass, kit::Error> Reconciler::break_glass(Context& c, const json& live) {
  auto since = break_glass_since(live);
  if (!since) return Glass::kNone;
  const json& md = live["metadata"];
  const std::string ns = md.value("namespace", "");
  const std::string what = live.value("kind", "") + " " + md.value("name", "");
  std::string enforce;
  {
    std::lock_guard lock(c.mu);
    if (auto it = c.enforce.find(ns); it != c.enforce.end()) enforce = it->second;
  }
  if (enforce.empty()) {
    auto n = client_.get(kube::res::kNamespaces, "", ns);
    if (!n) {
      // An apiserver that cannot answer now: neither trust the annotation
      // nor revert what may be an emergency fix; look again. One that
      // refuses (RBAC) or has no such namespace: not knowing is not
      // trusting, so the annotation holds nothing.
      auto e = kit::Error::from(n.error());
      if (e.transient())
        return std::unexpected(
            e.within("reading namespace " + ns + " (is the break-glass annotation honoured?): "));
      enforce = "unknown (" + n.error().to_string() + ")";
    } else {
      enforce = (*n)["metadata"]
                    .value("labels", json::object())
                    .value(std::string(api::kEnforceLabel), "none");
    }
    std::lock_guard lock(c.mu);
    c.enforce[ns] = enforce;
  }
  if (enforce != api::kEnforceDeny) {
    std::lock_guard lock(c.mu);
    c.glass_ignored.push_back(what + " (namespace " + ns + ": cairn.dev/enforce " + enforce + ")");
    return Glass::kNone;
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      *since + opts_.break_glass_ttl - std::chrono::system_clock::now());
  if (left.count() <= 0) return Glass::kExpired;
  std::lock_guard lock(c.mu);
  c.held.push_back(what);
  if (!c.hold_ends_in || left < *c.hold_ends_in) c.hold_ends_in = left;
  return Glass::kHeld;
}

kit::Step Reconciler::correct_drift(Context& c) {
  const std::string& cur = c.status.current_commit;
  if (cur.empty()) return c.poll();
  auto objects = render_commit(c, cur);
  if (!objects) return c.poll();
  auto applied = apply_all(c, *objects, c.spec.self_heal ? Mode::kSelfHeal : Mode::kDetectOnly);
  if (!c.glass_ignored.empty()) {
    events_.warning(c.object, "BreakGlassIgnored",
                    "the cairn.dev/break-glass annotation on " + joined(c.glass_ignored) +
                        " is ignored: only in namespaces labelled cairn.dev/enforce=deny does "
                        "the webhook keep it to the break-glass group; the change is drift");
  }
  if (!c.held.empty()) {
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(*c.hold_ends_in).count() + 1;
    const std::string what = joined(c.held);
    events_.warning(c.object, "BreakGlass",
                    what + " changed outside git by break-glass; git is restored in " +
                        std::to_string(secs) + "s");
    return Outcome::requeue(
               std::min<std::chrono::milliseconds>(*c.hold_ends_in + std::chrono::milliseconds(200),
                                                   c.spec.source.interval))
        .with(kit::not_ready("BreakGlass", what + " differs from commit " + short_sha(cur) +
                                               " by break-glass; git is restored in " +
                                               std::to_string(secs) + "s"));
  }
  if (applied && applied->drift) {
    if (c.spec.self_heal) {
      events_.normal(c.object, "DriftCorrected",
                     "a change made outside git was reverted to commit " + short_sha(cur));
      report(event(c, ReleaseEvent::Type::kDriftCorrected, cur, {}));
      return c.poll().with(kit::ready(
          "DriftCorrected", "commit " + short_sha(cur) + " is deployed; drift was corrected"));
    }
    events_.warning(
        c.object, "DriftDetected",
        "the cluster differs from commit " + short_sha(cur) + " and spec.selfHeal is false");
    return c.poll().with(
        kit::not_ready("DriftDetected", "the cluster differs from commit " + short_sha(cur) +
                                            "; selfHeal is off, so it is reported, not corrected"));
  }
  if (applied && !c.failed_before)
    return c.poll().with(kit::ready("Deployed", "commit " + short_sha(cur) + " is deployed"));
  return c.poll();
}

}  // namespace cairn::release
