// bench_render_chart: what rendering charts/cairn costs (lib/helm), cold and
// through the render cache, beside its peer measured in the same run: Go's
// text/template + sprig (hack/render-chart.sh, the same renderer Helm uses;
// its figure includes starting the process, as `helm template` would).
//
// Two value sets: the defaults (the chart generates a CA and a serving
// certificate, two RSA 2048 keys: genCA/genSignedCert dominate) and
// certManager.enabled=true (no keys: the template engine alone).
// Needs no cluster. BENCH_RENDER_N sets the iterations (20 by default).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "helm/chart.h"
#include "manifest/tree.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Figures {
  double cold = 0, cached = 0, go = 0;
  bool go_ok = false;
};

Figures measure(const cairn::manifest::MemoryTree& tree, const std::string& values, int n) {
  Figures f;
  cairn::helm::ChartOptions opts;
  opts.release_name = "cairn";
  opts.release_namespace = "cairn-system";
  opts.values_files = {values};
  std::vector<double> cold, cached, go;
  for (int i = 0; i < n; ++i) {
    auto t = Clock::now();
    auto r = cairn::helm::render_chart(tree, "charts/cairn", opts);
    cold.push_back(ms_since(t));
    if (!r) {
      std::fprintf(stderr, "render failed: %s\n", r.error().message.c_str());
      std::exit(1);
    }
  }
  cairn::helm::ChartCache cache;
  (void)cache.render(tree, "commit-1", "charts/cairn", opts);
  for (int i = 0; i < n * 50; ++i) {
    auto t = Clock::now();
    auto r = cache.render(tree, "commit-1", "charts/cairn", opts);
    cached.push_back(ms_since(t));
  }
  fs::path dir = fs::temp_directory_path() / "bench-render-chart";
  fs::create_directories(dir);
  std::ofstream(dir / "values.yaml") << values;
  std::string cmd = std::string("CAIRN_CHART_RENDER_DIR=") + CAIRN_CHART_RENDER_DIR + " " +
                    CAIRN_SOURCE_DIR + "/hack/render-chart.sh --release-name cairn --namespace " +
                    "cairn-system -f " + (dir / "values.yaml").string() + " >/dev/null 2>&1";
  f.go_ok = std::system(cmd.c_str()) == 0;  // builds the oracle once
  for (int i = 0; f.go_ok && i < n; ++i) {
    auto t = Clock::now();
    f.go_ok = std::system(cmd.c_str()) == 0;
    go.push_back(ms_since(t));
  }
  fs::remove_all(dir);
  f.cold = median(cold);
  f.cached = median(cached);
  f.go = median(go);
  return f;
}

}  // namespace

int main() {
  int n = std::getenv("BENCH_RENDER_N") ? std::atoi(std::getenv("BENCH_RENDER_N")) : 20;
  cairn::manifest::MemoryTree tree;
  std::string root = std::string(CAIRN_SOURCE_DIR) + "/charts/cairn";
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file())
      tree.add(fs::relative(e.path(), CAIRN_SOURCE_DIR).generic_string(), slurp(e.path()));

  std::printf("charts/cairn, median of %d renders (cached: of %d)\n", n, n * 50);
  std::printf("%-28s %10s %10s %12s %10s\n", "values", "cold ms", "cached ms", "go+sprig ms",
              "go/cold");
  struct Set {
    const char* name;
    const char* values;
  } sets[] = {{"defaults (genCA, 2 RSA keys)", ""},
              {"certManager.enabled=true", "certManager: {enabled: true}\n"}};
  for (const Set& s : sets) {
    Figures f = measure(tree, s.values, n);
    if (f.go_ok) {
      std::printf("%-28s %10.2f %10.4f %12.2f %9.1fx\n", s.name, f.cold, f.cached, f.go,
                  f.go / f.cold);
    } else {
      std::printf("%-28s %10.2f %10.4f %12s %10s\n", s.name, f.cold, f.cached, "n/a (no go)", "-");
    }
  }
  return 0;
}
