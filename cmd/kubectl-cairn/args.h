// Command-line parsing of `kubectl cairn`: the subcommand, its operands and
// the flags kubectl users expect (-n, --kubeconfig, --context, -o json). Pure:
// no I/O, so every rule is unit-tested.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::cli {

enum class Command { kNone, kTrace, kHistory, kRollback, kRun, kStatus };

struct Args {
  Command command = Command::kNone;
  std::vector<std::string> operands;  // after the subcommand, flags removed
  std::string ns;                     // -n/--namespace; empty: the kubeconfig's
  std::string kubeconfig;             // --kubeconfig; empty: $KUBECONFIG, ~/.kube/config
  std::string context;                // --context; empty: current-context
  bool json = false;                  // -o json
  bool no_color = false;              // --no-color
  bool help = false;                  // -h/--help
  bool offline = false;               // --offline: do not contact git repositories
  std::string git_cache_dir;          // --git-cache-dir
  std::string to;                     // rollback --to
};

// A usage error: the message says what was wrong; exit status 2.
struct UsageError {
  std::string message;
};

// Parses argv[1..] (the program name excluded). Flags may come before or after
// the subcommand and take their value as `--flag value`, `--flag=value` or,
// for the short ones, `-nvalue`. Checks the operands each subcommand needs.
std::expected<Args, UsageError> parse_args(const std::vector<std::string>& argv);

// A reference the user typed: "deployment/web", "deploy web", "Deployment.apps/web".
struct ObjectRef {
  std::string kind;  // as typed, possibly with ".group" or ".version.group"
  std::string name;
};

// "<kind>/<name>" (one operand) or "<kind> <name>" (two operands).
std::expected<ObjectRef, UsageError> object_ref(const std::vector<std::string>& operands);

// The name of a `kind` object from "release/web", "releases/web",
// "rel/web", "releases.cairn.dev/web" or just "web" (`kind` is "release" or
// "pipeline"; its plural and short name are accepted as well).
std::expected<std::string, UsageError> named(const std::vector<std::string>& operands,
                                             std::string_view kind);

std::string_view command_name(Command c);

// The help text of a subcommand (kNone: the overview).
std::string help_text(Command c);

// Whether to colour output: stdout is a terminal, --no-color is not given,
// NO_COLOR is unset or empty (https://no-color.org) and TERM is not "dumb".
bool use_color(bool no_color_flag, bool stdout_is_tty, const char* no_color_env,
               const char* term_env);

}  // namespace cairn::cli
