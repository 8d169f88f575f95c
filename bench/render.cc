// bench_render: what rendering a kustomization costs. A 200-object overlay
// tree (a base of 66 apps, each a Deployment, a Service and a generated
// ConfigMap, plus a ServiceAccount and a Secret; two overlays with prefixes,
// namespaces, labels, images, strategic-merge and JSON 6902 patches on every
// Deployment, and a generator merge) is rendered:
// - cold: manifest::render through the tree (kustomize_build, then
//   validation, stamping, sorting), nothing cached;
// - cached: RenderCache::render for the same commit and path;
// - floor: the same 200 objects written as plain YAML files and rendered
//   without kustomize (what parsing and stamping alone cost).
// Needs no cluster. Prints medians over the runs and cold/floor.
#include "manifest/render.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "manifest/kustomize.h"
#include "manifest/render_cache.h"
#include "manifest/tree.h"

namespace {

using namespace cairn::manifest;
using Clock = std::chrono::steady_clock;

constexpr int kApps = 66;

std::string app(int i) {
  const std::string n = "app" + std::to_string(i);
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + n +
         "\n  labels: {app: " + n +
         "}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: " + n +
         "}\n  template:\n    metadata:\n      labels: {app: " + n +
         "}\n    spec:\n      serviceAccountName: runner\n      containers:\n      - name: main\n"
         "        image: registry.example/" +
         n +
         ":1.0\n        ports: [{containerPort: 8080}]\n        env:\n        - {name: MODE, "
         "value: base}\n        - name: TOKEN\n          valueFrom: {secretKeyRef: {name: creds, "
         "key: token}}\n        envFrom: [{configMapRef: {name: " +
         n +
         "-cfg}}]\n        resources: {requests: {cpu: 10m, memory: 32Mi}}\n      volumes:\n"
         "      - name: cfg\n        configMap: {name: " +
         n + "-cfg}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: " + n +
         "}\nspec:\n  selector: {app: " + n + "}\n  ports: [{port: 80, targetPort: 8080}]\n";
}

MemoryTree tree() {
  MemoryTree t;
  std::string k = "resources:\n- extra.yaml\n";
  std::string gen = "configMapGenerator:\n";
  for (int i = 0; i < kApps; ++i) {
    t.add("deploy/base/app" + std::to_string(i) + ".yaml", app(i));
    k += "- app" + std::to_string(i) + ".yaml\n";
    gen += "- name: app" + std::to_string(i) + "-cfg\n  literals: [LEVEL=info, APP=app" +
           std::to_string(i) + "]\n";
  }
  t.add("deploy/base/extra.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: runner}\n---\napiVersion: v1\n"
        "kind: Secret\nmetadata: {name: creds}\nstringData: {token: x}\n");
  t.add("deploy/base/kustomization.yaml", k + gen + "commonLabels: {part-of: shop}\n");
  for (const std::string env : {"staging", "prod"}) {
    t.add("deploy/" + env + "/kustomization.yaml",
          "resources: [../base]\nnamePrefix: " + env +
              "-\nnamespace: shop\nlabels:\n- pairs: "
              "{env: " +
              env +
              "}\n  includeTemplates: true\ncommonAnnotations: {team: shop}\n"
              "images:\n- {name: registry.example/app0, newTag: '2.0'}\nreplicas: [{name: app1, "
              "count: 5}]\npatches:\n- path: resources.yaml\n  target: {kind: Deployment}\n"
              "- target: {kind: Deployment, name: 'app1.*'}\n  patch: |-\n    - {op: add, path: "
              "/spec/template/spec/containers/0/args, value: [--verbose]}\nconfigMapGenerator:\n"
              "- name: app0-cfg\n  behavior: merge\n  literals: [LEVEL=debug]\n");
    t.add("deploy/" + env + "/resources.yaml",
          "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: any}\nspec:\n  template:\n"
          "    spec:\n      containers:\n      - name: main\n        resources: {limits: "
          "{memory: 256Mi}}\n        env: [{name: MODE, value: " +
              env + "}]\n");
  }
  return t;
}

RenderInput input(const FileTree* t) {
  RenderInput in;
  in.release_namespace = "shop";
  in.release_name = "web";
  in.commit = std::string(40, 'c');
  in.source_url = "https://git.example/shop.git";
  in.tree = t;
  in.path = "deploy/prod";
  return in;
}

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Medians of wall time and of this thread's CPU time: on a shared machine
// the CPU time is the steadier figure.
struct Figures {
  double wall_ms, cpu_ms;
};

template <typename F>
Figures median_ms(int runs, F&& f) {
  std::vector<double> wall, cpu;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    const double cpu_start = thread_cpu_ms();
    f();
    cpu.push_back(thread_cpu_ms() - cpu_start);
    wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

}  // namespace

int main() {
  const MemoryTree t = tree();
  const RenderInput in = input(&t);
  auto first = render(in);
  if (!first) {
    std::fprintf(stderr, "render failed: %s\n", to_string(first.error()).c_str());
    return 1;
  }
  const std::size_t objects = first->objects.size();

  // The floor: the same objects as plain YAML files, rendered without a tree.
  auto built = kustomize_build(t, "deploy/prod");
  if (!built) return 1;
  RenderInput plain = input(nullptr);
  plain.files.push_back({"deploy/prod/all.yaml", to_yaml(*built)});

  const int runs =
      std::getenv("BENCH_RENDER_RUNS") ? std::atoi(std::getenv("BENCH_RENDER_RUNS")) : 50;
  const Figures cold = median_ms(runs, [&] {
    if (!render(in)) std::abort();
  });
  const Figures floor = median_ms(runs, [&] {
    if (!render(plain)) std::abort();
  });
  RenderCache cache;
  cache.render(in);
  const Figures cached = median_ms(runs * 100, [&] {
    if (!*cache.render(in)) std::abort();
  });
  double load = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = 0;
    std::fclose(f);
  }
  std::printf("bench_render: %zu objects (base + overlay), %d runs, medians; load average %.1f\n",
              objects, runs, load);
  std::printf("                              wall ms    cpu ms\n");
  std::printf("  cold (kustomize + render)  %8.3f  %8.3f   target < 50 ms\n", cold.wall_ms,
              cold.cpu_ms);
  std::printf("  cached (RenderCache hit)   %8.4f  %8.4f   target < 1 ms\n", cached.wall_ms,
              cached.cpu_ms);
  std::printf("  floor (plain YAML, render) %8.3f  %8.3f\n", floor.wall_ms, floor.cpu_ms);
  std::printf("  cold / floor               %8.2fx %8.2fx\n", cold.wall_ms / floor.wall_ms,
              cold.cpu_ms / floor.cpu_ms);
  return 0;
}
