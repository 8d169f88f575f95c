// cairn-node-sim: registers simulated Nodes and plays kubelet and scheduler
// for them. Development and tests only.
#include <signal.h>

#include <cstring>
#include <iostream>
#include <string>

#include "kube/config.h"
#include "kube/util.h"
#include "sim.h"

namespace {

const char* kHelp = R"(cairn-node-sim - simulated Kubernetes nodes for development and tests

  FOR DEVELOPMENT AND TESTS ONLY. There is no container runtime and NO
  ISOLATION: the commands of Job containers run as ordinary local processes,
  as the user running this program, in a scratch directory. Images are
  ignored. Never point it at a cluster whose workloads you do not trust.

What it does:
  - registers --nodes Nodes with capacity, keeps their Ready condition and
    kube-node-lease Leases fresh;
  - binds pending Pods to those nodes (it is also the scheduler);
  - marks containers of long-running Pods running and ready, so Deployments
    become Available (annotation sim.cairn.dev/ready=false keeps a Pod
    unready; sim.cairn.dev/crash=true makes it crash-loop);
  - for Pods with restartPolicy Never/OnFailure (Jobs), runs init containers
    then containers: command+args as a local process with the Pod's env, in
    <workdir>/<ns>_<pod>_<uid>/; volume mount paths and the termination
    message path inside command, args, env and workingDir are rewritten to
    directories in that scratch dir; configMap and secret volumes are
    projected as files. The Pod ends Succeeded or Failed with the exit status,
    and the termination message is read from the rewritten
    /dev/termination-log;
  - finalises deleted Pods (kills their processes, removes the object).

Flags:
  --kubeconfig PATH   kubeconfig (default: $KUBECONFIG, ~/.kube/config)
  --nodes N           number of nodes to simulate (default 1)
  --node-prefix S     node names are S-0, S-1, ... (default sim-node)
  --workdir DIR       scratch root (default /tmp/cairn-node-sim)
  --workers N         concurrent pod reconcilers (default 4)
  --help              this text
)";

}  // namespace

int main(int argc, char** argv) {
  cairn::kube::tune_malloc_for_controllers();
  cairn::sim::Options opts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "node-sim: " << flag << " needs a value (see --help)\n";
        std::exit(2);
      }
      return argv[++i];
    };
    try {
      if (a == "--help" || a == "-h") {
        std::cout << kHelp;
        return 0;
      } else if (a == "--kubeconfig") {
        opts.kubeconfig = value("--kubeconfig");
      } else if (a == "--nodes") {
        opts.nodes = std::stoi(value("--nodes"));
      } else if (a == "--node-prefix") {
        opts.node_prefix = value("--node-prefix");
      } else if (a == "--workdir") {
        opts.workdir = value("--workdir");
      } else if (a == "--workers") {
        opts.workers = std::stoi(value("--workers"));
      } else {
        std::cerr << "node-sim: unknown flag " << a << " (see --help)\n";
        return 2;
      }
    } catch (const std::exception&) {
      std::cerr << "node-sim: " << a << " needs a number\n";
      return 2;
    }
  }
  if (opts.nodes < 1 || opts.nodes > 100 || opts.workers < 1) {
    std::cerr << "node-sim: --nodes must be 1..100 and --workers at least 1\n";
    return 2;
  }
  // Signals are taken synchronously by sigwait below. They are blocked before
  // any thread exists (cpprestsdk starts its pool on first use), so no other
  // thread can receive them and die of the default action.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  auto cfg = cairn::kube::default_config(opts.kubeconfig);
  if (!cfg) {
    std::cerr << "node-sim: " << cfg.error().to_string() << "\n";
    return 1;
  }
  auto client = cairn::kube::Client::create(*cfg, {.field_manager = "cairn-node-sim"});
  if (!client) {
    std::cerr << "node-sim: " << client.error().to_string() << "\n";
    return 1;
  }

  cairn::sim::Simulator sim(**client, opts);
  if (auto r = sim.start(); !r) {
    std::cerr << "node-sim: cannot start: " << r.error().to_string() << "\n";
    sim.stop();
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  std::cerr << "node-sim: " << strsignal(sig) << ", stopping\n";
  sim.stop();
  return 0;
}
