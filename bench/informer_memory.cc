// bench/informer_memory: resident memory per cached object of an informer
// holding 10,000 ConfigMaps of about 1 KiB, with and without managedFields
// trimming. Each mode is measured in a fresh child process so that one
// mode's freed heap cannot flatter the other.
//
// Target (issue 3): under 3 KiB per object trimmed. For reference,
// controller-runtime is measured at 6.3 KiB trimmed and 16.3 KiB untrimmed.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "common.h"
#include "kube/informer.h"
#include "kube/util.h"

using namespace cairn;

namespace {

constexpr int kObjects = 10000;

// Child: cache the namespace and print "<rss delta KiB> <objects> <text bytes>".
int measure(const std::string& ns, bool trim) {
  // As Cairn's binaries do at start-up.
  kube::tune_malloc_for_controllers();
  auto c = bench::client_or_die();
  // Warm the client (TLS, threads, buffers) before the baseline.
  (void)c->list(kube::res::kConfigMaps, ns, {.limit = 1});
  malloc_trim(0);
  long before = bench::rss_kib();
  kube::Informer inf(*c,
                     {.resource = kube::res::kConfigMaps, .ns = ns, .trim_managed_fields = trim});
  inf.start();
  if (!inf.wait_for_sync(std::chrono::minutes(5))) {
    std::cerr << "informer did not sync: " << inf.last_error() << "\n";
    return 1;
  }
  malloc_trim(0);
  long after = bench::rss_kib();
  // The floor: the objects' own JSON text, as compact as JSON gets.
  size_t text = 0;
  for (const auto& o : inf.store().list()) text += o->dump().size();
  std::printf("%ld %zu %zu\n", after - before, inf.store().size(), text);
  inf.stop();
  return 0;
}

struct Measured {
  double rss_kib;
  size_t objects;
  double text_kib;  // the cached objects' compact JSON text
};

Measured run_child(const char* self, const std::string& ns, bool trim) {
  std::string cmd = std::string(self) + " --measure " + ns + (trim ? " trim" : " notrim");
  FILE* p = ::popen(cmd.c_str(), "r");
  long kib = 0;
  size_t n = 0, text = 0;
  if (!p || std::fscanf(p, "%ld %zu %zu", &kib, &n, &text) != 3) {
    std::cerr << "bench: child failed\n";
    std::exit(1);
  }
  ::pclose(p);
  return {static_cast<double>(kib), n, static_cast<double>(text) / 1024.0};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--measure")
    return measure(argv[2], std::string(argv[3]) == "trim");

  auto c = bench::client_or_die();
  std::string ns = bench::scratch_namespace(*c, "bench-mem");
  std::cout << "creating " << kObjects << " ConfigMaps of ~1 KiB in " << ns << " ..." << std::endl;
  bench::create_configmaps(*c, ns, "cm", kObjects, 1024);

  Measured t = run_child(argv[0], ns, true);
  Measured f = run_child(argv[0], ns, false);
  double n1 = static_cast<double>(t.objects), n2 = static_cast<double>(f.objects);
  double trim_per = t.rss_kib / n1;
  double full_per = f.rss_kib / n2;
  std::printf("informer_memory: %zu objects cached (resident memory, KiB per object)\n", t.objects);
  std::printf(
      "  trimmed managedFields:   %6.2f KiB/object  (target < 3.00: %.2fx of target; "
      "controller-runtime 6.3: %.2fx)\n",
      trim_per, trim_per / 3.0, trim_per / 6.3);
  std::printf("  untrimmed:               %6.2f KiB/object  (controller-runtime 16.3: %.2fx)\n",
              full_per, full_per / 16.3);
  std::printf(
      "  floor, the object's JSON text: trimmed %.2f KiB (cache %.2fx), untrimmed %.2f KiB "
      "(cache %.2fx)\n",
      t.text_kib / n1, trim_per / (t.text_kib / n1), f.text_kib / n2, full_per / (f.text_kib / n2));
  bench::delete_namespace(*c, ns);
  return 0;
}
