#include "args.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace cairn::cli {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

constexpr Command kCommands[] = {Command::kTrace, Command::kHistory, Command::kRollback,
                                 Command::kRun,   Command::kStatus,  Command::kRender,
                                 Command::kDiff};

std::unexpected<UsageError> usage(std::string message) {
  return std::unexpected(UsageError{std::move(message)});
}

constexpr std::string_view kCommonFlags = R"(
Flags:
  -n, --namespace NS       namespace (default: the kubeconfig context's, else "default")
      --kubeconfig PATH    kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
      --context NAME       kubeconfig context (default: the current context)
  -o, --output json        one JSON document instead of text
      --no-color           no colours (also: NO_COLOR set, or output not a terminal)
  -h, --help               this help
)";

constexpr std::string_view kGitFlags =
    R"(      --git-cache-dir DIR  where repositories are fetched to
                           (default: $XDG_CACHE_HOME/cairn/git, else ~/.cache/cairn/git)
      --offline            do not contact git repositories; use what the cluster knows
)";

}  // namespace

std::string_view command_name(Command c) {
  switch (c) {
    case Command::kTrace:
      return "trace";
    case Command::kHistory:
      return "history";
    case Command::kRollback:
      return "rollback";
    case Command::kRun:
      return "run";
    case Command::kStatus:
      return "status";
    case Command::kRender:
      return "render";
    case Command::kDiff:
      return "diff";
    case Command::kNone:
      break;
  }
  return "";
}

std::string help_text(Command c) {
  std::string out;
  switch (c) {
    case Command::kTrace:
      out = R"(kubectl cairn trace <kind>/<name> - where a live object came from

Shows the chain behind an object that Cairn applied: its provenance stamp, the
Release that applied it and the Release's history, the commit (author, time,
title, signature status) and the Pipeline run that tested the commit, step by
step. The kind is a resource, short name or kind, optionally with its group:
deployment/web, deploy/web, cm/config, svc/web, Deployment.apps/web. A Release
itself (release/<name>) is traced from its current commit.

The commit is read from the Release's repository (fetched with the Release's
credentials into the git cache); when that fails the trace says so and shows
what the cluster knows.

Exit status: 0 the whole chain was found; 1 an object is missing or an error
occurred (what was found is still shown); 2 usage.

Examples:
  kubectl cairn trace deployment/web -n shop
  kubectl cairn trace cm/web-config -n shop -o json
)";
      out += kCommonFlags;
      out += kGitFlags;
      return out;
    case Command::kHistory:
      out = R"(kubectl cairn history release/<name> - the commits a Release rolled out

Lists status.history of the Release, newest first: commit, result (Deployed,
Failed, RolledBack), when, lead time and reason, with each commit's title and
author from git when the repository can be reached.

Example:
  kubectl cairn history release/web -n shop
)";
      out += kCommonFlags;
      out += kGitFlags;
      return out;
    case Command::kRollback:
      out = R"(kubectl cairn rollback release/<name> --to <commit> - deploy an earlier commit again

Asks the operator to roll the Release back to a commit it deployed before (one
in its history with result Deployed; a unique prefix of 7 or more hex digits is
enough) by setting the annotation cairn.dev/rollback-to. The rollback holds
until a newer commit arrives on the tracked ref. Watch it with
`kubectl cairn status` or `kubectl get release <name> -w`.

Flags:
      --to COMMIT          the commit to roll back to (required)
)";
      out += kCommonFlags;
      return out;
    case Command::kRun:
      out = R"(kubectl cairn run pipeline/<name> - start a manual run of a Pipeline

Asks the operator to run the Pipeline's steps again on its latest commit by
setting the annotation cairn.dev/requested-at to the current time. The run
shows up in `kubectl cairn status` with trigger "manual".
)";
      out += kCommonFlags;
      return out;
    case Command::kStatus:
      out = R"(kubectl cairn status - every Pipeline and Release in a namespace

For each Release: phase, readiness, the current commit and what it is waiting
for. For each Pipeline: readiness, the latest commit and its last run.
)";
      out += kCommonFlags;
      return out;
    case Command::kRender:
      out = R"(kubectl cairn render PATH|release/<name> - print what Cairn would apply

Renders manifests exactly as the operator does (the same render: plain YAML
and JSON, `kustomize build` when the directory holds a kustomization, or
`helm template` when it holds a Chart.yaml) and prints the objects as YAML documents separated by `---`, validated, stamped
(cairn.dev/commit, source, path, release annotations and the managed-by
label) and in apply order.

render PATH works offline, without a cluster or a kubeconfig. The stamps
come from --commit (else the HEAD of the git work tree holding PATH, else
the placeholder "uncommitted"), --source (else "local:<PATH>") and --release
(else <-n or "default">/<the directory's name>). cairn.dev/path is relative
to the work tree's root (else the current directory), which also bounds what
a kustomization may read. A chart is rendered with its default values and
.Release.Name = the Release's name.

render release/<name> reads the Release, fetches its repository (with the
Release's credentials, into the git cache) and renders spec.path at --commit,
else at the head of the tracked branch or tag: the commit Cairn would deploy
next; a chart with the Release's spec.helm (values files from that commit,
values, releaseName). Caveats: with spec.gate the operator waits until that commit passed the
gate's Pipeline; after `kubectl cairn rollback` it stays on the pinned commit
until the ref moves; a suspended Release deploys nothing.

Errors (YAML syntax, a refused kustomization field, a missing base, a
template error with its template, line and column, a chart dependency that is
not vendored in charts/) are printed with file, line and field. Exit status: 0 rendered; 1 an error; 2 usage.

Examples:
  kubectl cairn render deploy/overlays/prod
  kubectl cairn render . --release shop/web
  kubectl cairn render release/web -n shop --commit 3f2a9c1

Flags:
      --commit C           the commit to stamp (PATH) or render (release; a prefix of 4+ hex)
      --release NS/NAME    PATH only: the Release to stamp and whose namespace to default
      --source URL         PATH only: the repository URL to stamp
      --cluster-scope      PATH only: allow objects in other namespaces and cluster-scoped
                           ones, as spec.clusterScope: true does
  -o, --output json        a JSON list of the objects instead of YAML
)";
      out += kCommonFlags;
      out += kGitFlags;
      return out;
    case Command::kDiff:
      out = R"(kubectl cairn diff release/<name> - what the next deploy would change

Renders the Release at the commit Cairn would deploy next (the head of the
tracked ref, or --commit; see `kubectl cairn render --help` for the gate and
rollback caveats), sends each object as a server-side dry-run apply (field
manager "cairn", force) and prints a unified diff against the live object:
`--- live/<Kind>/<ns>/<name>` / `+++ cairn/<Kind>/<ns>/<name>`, as YAML,
without managedFields, resourceVersion, generation, uid, creationTimestamp
and status. A new object is diffed against nothing; objects in the Release's
status.inventory that the commit no longer has are shown as removed when
spec.prune is true (the operator would delete them), else listed on stderr.
Secret values are never printed: each shows as <redacted: N bytes>, marked
(before)/(after) when it changes.

Colours on a terminal (red removed, green added), plain diff otherwise;
--color=always|never overrides.

Exit status, as kubectl diff: 0 no differences; 1 differences; 2 or more an
error (usage, the render, the cluster, git).

Examples:
  kubectl cairn diff release/web -n shop
  kubectl cairn diff release/web -n shop --commit 3f2a9c1 --color=always | less -R

Flags:
      --commit C           diff this commit instead of the head of the tracked ref
      --color WHEN         auto (default), always or never
)";
      out += kCommonFlags;
      out += kGitFlags;
      return out;
    case Command::kNone:
      break;
  }
  out = R"(kubectl cairn - follow live objects back to the commits that made them

Usage:
  kubectl cairn trace <kind>/<name>             object -> Release -> commit -> Pipeline run
  kubectl cairn history release/<name>          the commits a Release rolled out
  kubectl cairn rollback release/<name> --to C  roll a Release back to commit C
  kubectl cairn run pipeline/<name>             start a manual Pipeline run
  kubectl cairn status                          every Pipeline and Release in the namespace
  kubectl cairn render PATH|release/<name>      the objects Cairn would apply (offline for PATH)
  kubectl cairn diff release/<name>             what the next deploy would change in the cluster

Run `kubectl cairn <command> --help` for a command's details.
)";
  out += kCommonFlags;
  return out;
}

std::expected<Args, UsageError> parse_args(const std::vector<std::string>& argv) {
  Args a;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "--") {
      for (++i; i < argv.size(); ++i) a.operands.push_back(argv[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      if (a.command == Command::kNone && a.operands.empty()) {
        std::optional<Command> c;
        for (Command k : kCommands) {
          if (arg == command_name(k)) c = k;
        }
        if (!c) {
          return usage("unknown command \"" + arg +
                       "\"; the commands are trace, history, rollback, run, status, render "
                       "and diff");
        }
        a.command = *c;
      } else {
        a.operands.push_back(arg);
      }
      continue;
    }

    // Split "--flag=value" and "-nvalue".
    std::string flag = arg;
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0) {
      if (auto eq = arg.find('='); eq != std::string::npos) {
        flag = arg.substr(0, eq);
        inline_value = arg.substr(eq + 1);
      }
    } else if (arg.size() > 2) {
      flag = arg.substr(0, 2);
      inline_value = arg.substr(arg[2] == '=' ? 3 : 2);
    }
    auto value = [&]() -> std::expected<std::string, UsageError> {
      if (inline_value) {
        if (inline_value->empty()) return usage("flag " + flag + " needs a value");
        return *inline_value;
      }
      if (i + 1 >= argv.size()) return usage("flag " + flag + " needs a value");
      return argv[++i];
    };
    auto boolean = [&](bool& out) -> std::expected<void, UsageError> {
      if (!inline_value) {
        out = true;
        return {};
      }
      std::string v = lower(*inline_value);
      if (v == "true") {
        out = true;
      } else if (v == "false") {
        out = false;
      } else {
        return usage("flag " + flag + " takes no value (or =true/=false), not \"" + *inline_value +
                     "\"");
      }
      return {};
    };
    std::expected<void, UsageError> ok;

    if (flag == "-n" || flag == "--namespace") {
      auto v = value();
      if (!v) return std::unexpected(v.error());
      a.ns = *v;
    } else if (flag == "--kubeconfig") {
      auto v = value();
      if (!v) return std::unexpected(v.error());
      a.kubeconfig = *v;
    } else if (flag == "--context") {
      auto v = value();
      if (!v) return std::unexpected(v.error());
      a.context = *v;
    } else if (flag == "-o" || flag == "--output") {
      auto v = value();
      if (!v) return std::unexpected(v.error());
      if (*v != "json") {
        return usage("unsupported output format \"" + *v + "\"; use -o json, or no -o for text");
      }
      a.json = true;
    } else if (flag == "--git-cache-dir") {
      auto v = value();
      if (!v) return std::unexpected(v.error());
      a.git_cache_dir = *v;
    } else if (flag == "--to") {
      auto v = value();
      if (!v) return std::unexpected(v.error());
      a.to = *v;
    } else if (flag == "--commit") {
      auto v = value();
      if (!v) return std::unexpected(v.error());
      a.commit = *v;
    } else if (flag == "--release") {
      auto v = value();
      if (!v) return std::unexpected(v.error());
      a.release = *v;
    } else if (flag == "--source") {
      auto v = value();
      if (!v) return std::unexpected(v.error());
      a.source = *v;
    } else if (flag == "--cluster-scope") {
      ok = boolean(a.cluster_scope);
    } else if (flag == "--color" || flag == "--colour") {
      // Bare --color means always, as in git and GNU tools.
      std::string v = inline_value ? lower(*inline_value) : "always";
      if (v == "auto") {
        a.color = ColorMode::kAuto;
      } else if (v == "always") {
        a.color = ColorMode::kAlways;
      } else if (v == "never") {
        a.color = ColorMode::kNever;
      } else {
        return usage("--color takes auto, always or never, not \"" + v + "\"");
      }
    } else if (flag == "--no-color" || flag == "--no-colour") {
      ok = boolean(a.no_color);
    } else if (flag == "--offline") {
      ok = boolean(a.offline);
    } else if (flag == "-h" || flag == "--help") {
      ok = boolean(a.help);
    } else {
      return usage("unknown flag \"" + arg + "\"");
    }
    if (!ok) return std::unexpected(ok.error());
  }
  if (a.help) return a;

  const std::string cmd(command_name(a.command));
  switch (a.command) {
    case Command::kNone:
      return usage("no command given");
    case Command::kTrace:
      if (a.operands.empty()) return usage("trace needs an object: trace <kind>/<name>");
      if (a.operands.size() > 2) return usage("trace takes one object: trace <kind>/<name>");
      break;
    case Command::kHistory:
    case Command::kRun:
      if (a.operands.size() != 1 && a.operands.size() != 2) {
        return usage(cmd + " takes one " +
                     (a.command == Command::kRun ? "pipeline: run pipeline/<name>"
                                                 : "release: history release/<name>"));
      }
      break;
    case Command::kRollback:
      if (a.operands.size() != 1 && a.operands.size() != 2) {
        return usage("rollback takes one release: rollback release/<name> --to <commit>");
      }
      if (a.to.empty()) return usage("rollback needs --to <commit>");
      break;
    case Command::kStatus:
      if (!a.operands.empty()) {
        return usage("status takes no operands (got \"" + a.operands.front() +
                     "\"); use -n to pick the namespace");
      }
      break;
    case Command::kRender:
      if (a.operands.size() != 1) {
        return usage("render takes one directory or release: render PATH|release/<name>");
      }
      if (render_target(a.operands[0]).is_release) {
        if (!a.release.empty() || !a.source.empty() || a.cluster_scope) {
          return usage(
              "--release, --source and --cluster-scope are for render PATH; a Release's "
              "render takes them from the Release");
        }
      } else if (!a.release.empty() && !local_release(a, a.operands[0])) {
        return std::unexpected(local_release(a, a.operands[0]).error());
      }
      break;
    case Command::kDiff:
      if (a.operands.size() != 1 && a.operands.size() != 2) {
        return usage("diff takes one release: diff release/<name>");
      }
      if (auto n = named(a.operands, "release"); !n) return std::unexpected(n.error());
      if (a.json) return usage("diff prints a unified diff; -o json is not supported");
      break;
  }
  if (a.command != Command::kRollback && !a.to.empty()) {
    return usage("--to is a flag of rollback only");
  }
  if (a.command != Command::kRender && a.command != Command::kDiff && !a.commit.empty()) {
    return usage("--commit is a flag of render and diff only");
  }
  if (a.command != Command::kRender &&
      (!a.release.empty() || !a.source.empty() || a.cluster_scope)) {
    return usage("--release, --source and --cluster-scope are flags of render PATH only");
  }
  return a;
}

std::expected<ObjectRef, UsageError> object_ref(const std::vector<std::string>& operands) {
  ObjectRef r;
  if (operands.size() == 2) {
    r.kind = operands[0];
    r.name = operands[1];
  } else if (operands.size() == 1) {
    const std::string& s = operands[0];
    auto slash = s.find('/');
    if (slash == std::string::npos) {
      return usage("\"" + s + "\" names no kind; write <kind>/<name>, e.g. deployment/" + s);
    }
    r.kind = s.substr(0, slash);
    r.name = s.substr(slash + 1);
  } else {
    return usage("expected <kind>/<name>");
  }
  if (r.kind.empty()) return usage("the kind is empty; write <kind>/<name>");
  if (r.name.empty()) return usage("the name is empty; write <kind>/<name>");
  if (r.name.find('/') != std::string::npos || r.kind.find('/') != std::string::npos) {
    return usage("\"" + r.kind + "/" + r.name + "\" has more than one '/'; write <kind>/<name>");
  }
  return r;
}

std::expected<std::string, UsageError> named(const std::vector<std::string>& operands,
                                             std::string_view kind) {
  const std::string k(kind);
  const std::string short_name = kind == "release" ? "rel" : kind == "pipeline" ? "pl" : k;
  auto kind_ok = [&](std::string_view typed) {
    std::string t = lower(typed);
    for (const std::string& suffix : {std::string(), std::string(".cairn.dev")}) {
      if (t == k + suffix || t == k + "s" + suffix || t == short_name + suffix) return true;
    }
    return false;
  };
  std::string typed_kind, name;
  if (operands.size() == 2) {
    typed_kind = operands[0];
    name = operands[1];
  } else if (operands.size() == 1) {
    auto slash = operands[0].find('/');
    if (slash == std::string::npos) return operands[0];
    typed_kind = operands[0].substr(0, slash);
    name = operands[0].substr(slash + 1);
  } else {
    return usage("expected " + k + "/<name>");
  }
  if (!kind_ok(typed_kind)) {
    return usage("expected a " + k + " (" + k + "/<name>), not \"" + typed_kind + "\"");
  }
  if (name.empty() || name.find('/') != std::string::npos) {
    return usage("expected " + k + "/<name>, not \"" + typed_kind + "/" + name + "\"");
  }
  return name;
}

RenderTarget render_target(const std::string& operand) {
  auto slash = operand.find('/');
  if (slash != std::string::npos && slash + 1 < operand.size() &&
      operand.find('/', slash + 1) == std::string::npos) {
    if (auto n = named({operand}, "release")) return {.is_release = true, .release = *n};
  }
  return {.path = operand};
}

std::expected<ReleaseKey, UsageError> local_release(const Args& a, std::string_view dir) {
  if (!a.release.empty()) {
    auto slash = a.release.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == a.release.size() ||
        a.release.find('/', slash + 1) != std::string::npos) {
      return usage("--release takes NAMESPACE/NAME, not \"" + a.release + "\"");
    }
    return ReleaseKey{a.release.substr(0, slash), a.release.substr(slash + 1)};
  }
  // The directory's own name: "deploy/overlays/prod/" stamps ".../prod".
  std::string d(dir);
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  auto slash = d.rfind('/');
  std::string base = slash == std::string::npos ? d : d.substr(slash + 1);
  if (base.empty() || base == "." || base == "..") base = "local";
  return ReleaseKey{a.ns.empty() ? "default" : a.ns, base};
}

bool use_color(ColorMode mode, bool no_color_flag, bool stdout_is_tty, const char* no_color_env,
               const char* term_env) {
  if (mode == ColorMode::kAlways) return true;
  if (mode == ColorMode::kNever) return false;
  return use_color(no_color_flag, stdout_is_tty, no_color_env, term_env);
}

bool use_color(bool no_color_flag, bool stdout_is_tty, const char* no_color_env,
               const char* term_env) {
  if (no_color_flag || !stdout_is_tty) return false;
  if (no_color_env && *no_color_env) return false;
  if (term_env && std::string_view(term_env) == "dumb") return false;
  return true;
}

}  // namespace cairn::cli
