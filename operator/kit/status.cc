#include "operator/kit/status.h"

#include "api/conditions.h"
#include "log/log.h"

namespace cairn::kit {

using kube::json;

void set_conditions(std::vector<api::Condition>& conds, const Verdict& v, int64_t generation,
                    std::chrono::system_clock::time_point now) {
  using S = Verdict::State;
  switch (v.state) {
    case S::kUnchanged:
      return;
    case S::kReady:
      api::set_ready(conds, v.reason, v.message, generation, now);
      return;
    case S::kReconciling:
      api::set_reconciling(conds, v.reason, v.message, generation, now);
      return;
    case S::kNotReady:
      api::set_not_ready(conds, v.reason, v.message, generation, now);
      return;
    case S::kStalled:
      api::set_stalled(conds, v.reason, v.message, generation, now);
      return;
    case S::kSuspended:
      api::set_condition(conds, api::kReconcilingCondition, api::kConditionFalse, v.reason,
                         v.message, generation, now);
      return;
  }
}

void set_notified(std::vector<api::Condition>& conds, bool has_targets,
                  const std::optional<std::string>& failure, int64_t generation) {
  const auto now = std::chrono::system_clock::now();
  if (!has_targets) {
    api::remove_condition(conds, "Notified");
  } else if (failure) {
    api::set_condition(conds, "Notified", api::kConditionFalse, "NotificationFailed", *failure,
                       generation, now);
  } else if (api::find_condition(conds, "Notified")) {
    api::set_condition(conds, "Notified", api::kConditionTrue, "Delivered",
                       "the last notification was delivered", generation, now);
  }
}

StatusScope::StatusScope(kube::Api& api, const kube::ApiResource& resource, kube::Store& cache,
                         json object)
    : api_(api), resource_(resource), cache_(cache), object_(std::move(object)) {
  original_ = object_.value("status", json::object());
}

void StatusScope::replace_object(json object) { object_ = std::move(object); }

Outcome StatusScope::close(const json& status, Outcome outcome, bool* written) {
  if (written) *written = false;
  if (status == original_) {
    if (written) *written = true;  // nothing new to say: what was computed stands
    return outcome;
  }
  json obj = object_;
  obj["status"] = status;
  const std::string ns = object_["metadata"].value("namespace", "");
  auto r = api_.update(resource_, ns, obj, "status");
  if (!r) {
    if (r.error().code == kube::Code::kNotFound) return Outcome::done();
    log::warn("status write failed", {{"kind", resource_.kind},
                                      {"namespace", ns},
                                      {"name", object_["metadata"].value("name", "")},
                                      {"error", r.error().to_string()}});
    return Outcome::retry(Error::from(r.error()).within("writing status: "));
  }
  cache_.upsert(std::make_shared<const json>(std::move(*r)));
  if (written) *written = true;
  return outcome;
}

}  // namespace cairn::kit
