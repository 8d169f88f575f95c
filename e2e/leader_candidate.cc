// A process that campaigns for a Lease with LeaderElector and reports on
// stdout: "LEADING <id>" once it leads, "STOPPED <id>" when it stops leading.
// Used by the e2e failover test, which SIGKILLs the leader.
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "kube/config.h"
#include "kube/leader.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: leader_candidate NAMESPACE LEASE IDENTITY\n";
    return 2;
  }
  // Block the signals before any thread exists (cpprestsdk starts its pool
  // on first use), so only sigwait below ever receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto cfg = cairn::kube::default_config();
  if (!cfg) {
    std::cerr << cfg.error().to_string() << "\n";
    return 1;
  }
  auto client = cairn::kube::Client::create(*cfg);
  if (!client) {
    std::cerr << client.error().to_string() << "\n";
    return 1;
  }
  std::string id = argv[3];
  cairn::kube::LeaderElector le(
      **client, {.ns = argv[1], .name = argv[2], .identity = id},
      {.on_started_leading = [&] { std::cout << "LEADING " << id << std::endl; },
       .on_stopped_leading = [&] { std::cout << "STOPPED " << id << std::endl; }});
  std::thread sig([&] {
    int s;
    sigwait(&set, &s);
    le.stop();
  });
  le.run();
  sig.detach();
  return 0;
}
