// Which kinds the policy governs, and how (shared/design.md, admission
// rule 1): every namespaced kind is governed, except the ones controllers
// derive from governed objects (written only by Kubernetes' components) and
// the few that change nothing that runs.
#pragma once

#include <string>

#include "webhook/admission.h"

namespace cairn::webhook {

enum class KindClass {
  kGoverned,  // from git, through Cairn's operator
  kDerived,   // made by Kubernetes' controllers from governed objects
  kFree,      // changes nothing that runs: Events, Leases, access reviews
};

// By the request's kind (for a subresource, the kind of its parent
// resource): Pods, ReplicaSets, ControllerRevisions, Endpoints,
// EndpointSlices, Jobs (of CronJobs, and of Pipelines, which the operator
// makes) and ServiceAccount token Secrets are derived.
KindClass classify(const Review& r);

// A Pipeline or Release (by resource, so that subresources count).
bool is_cairn_resource(const Review& r);

// "apps/Deployment" for a request on deployments or deployments/scale: the
// group and kind of the resource the request changes.
std::string target_group_kind(const Review& r);

}  // namespace cairn::webhook
