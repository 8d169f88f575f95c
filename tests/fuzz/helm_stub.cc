// The fuzz build's stand-in for lib/helm's render_chart. clang 14 cannot
// compile libstdc++ 12's std::variant of non-trivial types with the raised
// __cpp_concepts this build needs for <expected> (lib/helm's Value is one),
// so the fuzz targets link this instead: a manifest tree holding a Chart.yaml
// is refused like an invalid chart. What the fuzzers exercise (YAML and
// JSON manifests, kustomizations, AdmissionReviews and the policy) is
// unchanged; lib/helm's own parsers are tested by tests/helm.
#include "helm/chart.h"

namespace cairn::helm {

std::expected<std::vector<RenderedTemplate>, Error> render_chart(const manifest::FileTree&,
                                                                 const std::string&,
                                                                 const ChartOptions&) {
  return std::unexpected(
      Error{Error::Code::kInvalidChart, "Helm charts are not rendered in the fuzz build"});
}

}  // namespace cairn::helm
