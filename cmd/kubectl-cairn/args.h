// Command-line parsing of `kubectl cairn`: the subcommand, its operands and
// the flags kubectl users expect (-n, --kubeconfig, --context, -o json). Pure:
// no I/O, so every rule is unit-tested.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::cli {

enum class Command { kNone, kTrace, kHistory, kRollback, kRun, kStatus, kRender, kDiff };

// --color: auto colours a terminal only (and honours --no-color, NO_COLOR).
enum class ColorMode { kAuto, kAlways, kNever };

struct Args {
  Command command = Command::kNone;
  std::vector<std::string> operands;   // after the subcommand, flags removed
  std::string ns;                      // -n/--namespace; empty: the kubeconfig's
  std::string kubeconfig;              // --kubeconfig; empty: $KUBECONFIG, ~/.kube/config
  std::string context;                 // --context; empty: current-context
  bool json = false;                   // -o json
  bool no_color = false;               // --no-color
  bool help = false;                   // -h/--help
  bool offline = false;                // --offline: do not contact git repositories
  std::string git_cache_dir;           // --git-cache-dir
  std::string to;                      // rollback --to
  ColorMode color = ColorMode::kAuto;  // --color=auto|always|never
  std::string commit;                  // render/diff --commit
  std::string release;                 // render PATH --release NS/NAME
  std::string source;                  // render PATH --source URL
  bool cluster_scope = false;          // render PATH --cluster-scope
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

// What `render` renders: a Release of the cluster ("release/web",
// "rel/web", "releases.cairn.dev/web") or a local directory (anything else;
// write ./release/x for a directory that looks like a Release).
struct RenderTarget {
  bool is_release = false;
  std::string release;  // the Release's name, when is_release
  std::string path;     // the directory, otherwise
};
RenderTarget render_target(const std::string& operand);

// The Release a local render stamps: --release "NS/NAME", else
// "<-n or default>/<the directory's base name>".
struct ReleaseKey {
  std::string ns, name;
};
std::expected<ReleaseKey, UsageError> local_release(const Args& a, std::string_view dir);

std::string_view command_name(Command c);

// The help text of a subcommand (kNone: the overview).
std::string help_text(Command c);

// Whether to colour output: stdout is a terminal, --no-color is not given,
// NO_COLOR is unset or empty (https://no-color.org) and TERM is not "dumb".
bool use_color(bool no_color_flag, bool stdout_is_tty, const char* no_color_env,
               const char* term_env);
// The same with --color: always and never win over everything else.
bool use_color(ColorMode mode, bool no_color_flag, bool stdout_is_tty, const char* no_color_env,
               const char* term_env);

}  // namespace cairn::cli
