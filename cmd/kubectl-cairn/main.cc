// kubectl-cairn: the kubectl plugin (`kubectl cairn ...`). Reads the cluster
// and git, then hands already-fetched objects to the pure parts (args.h,
// resolve.h, chain.h, render.h, objdiff.h). Exit status: 0 ok, 1 not found or
// an error, 2 usage; diff exits as kubectl diff does (0 same, 1 differs, 2 error).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>

#include "api/names.h"
#include "api/validate.h"
#include "args.h"
#include "chain.h"
#include "git_reader.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/util.h"
#include "local_git.h"
#include "manifest/git_tree.h"
#include "manifest/kustomize.h"
#include "manifest/local_tree.h"
#include "manifest/render.h"
#include "objdiff.h"
#include "render.h"
#include "resolve.h"
#include "source/source.h"
#include "udiff.h"

using namespace cairn;
using cli::Args;
using cli::Command;
using kube::json;

namespace {

constexpr int kOk = 0, kFailed = 1, kUsage = 2;

const kube::ApiResource kReleases{"cairn.dev", "v1alpha1", "releases", "Release", true};
const kube::ApiResource kPipelines{"cairn.dev", "v1alpha1", "pipelines", "Pipeline", true};

int fail(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return kFailed;
}

int usage(const std::string& message, Command c) {
  std::string cmd(cli::command_name(c));
  std::cerr << "error: " << message << "\nRun 'kubectl cairn " << (cmd.empty() ? "" : cmd + " ")
            << "--help' for usage.\n";
  return kUsage;
}

void print(const Args& a, const cli::Style& st, const json& doc,
           std::string (*render)(const json&, const cli::Style&)) {
  if (a.json) {
    std::cout << doc.dump(2) << "\n";
  } else {
    std::cout << render(doc, st);
  }
}

// "Release shop/web not found", or the apiserver's reason.
std::string describe(const kube::Error& e, std::string_view kind, const std::string& ns,
                     const std::string& name) {
  if (e.code == kube::Code::kNotFound) {
    return std::string(kind) + " " + ns + "/" + name + " not found";
  }
  return std::string(kind) + " " + ns + "/" + name + ": " + e.to_string();
}

// Cairn's resources are missing when the CRDs are not installed: say so
// rather than "not found".
std::string list_error(const kube::Error& e, std::string_view what) {
  if (e.code == kube::Code::kNotFound) {
    return std::string(what) + " cannot be listed: the Cairn CRDs are not installed (" +
           e.to_string() + ")";
  }
  return std::string(what) + " cannot be listed: " + e.to_string();
}

kube::Result<json> get_json(kube::Client& c, const std::string& path) {
  auto r = c.raw({.path = path});
  if (!r) return std::unexpected(r.error());
  if (r->status >= 300) return std::unexpected(kube::error_from_response(r->status, r->body));
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return kube::fail(kube::Code::kDecode, path + " did not return JSON");
  return j;
}

// Resolves what the user typed against the apiserver's discovery documents:
// the preferred version of every group first, the other versions only if
// that finds nothing.
kube::Result<cli::Resource> resolve(kube::Client& c, const std::string& typed) {
  std::vector<cli::Resource> known;
  auto core = get_json(c, "/api/v1");
  if (!core) return std::unexpected(core.error());
  cli::add_resource_list(known, *core);
  auto groups = get_json(c, "/apis");
  if (!groups) return std::unexpected(groups.error());
  std::string last_error;
  for (bool preferred : {true, false}) {
    for (const auto& gv : cli::group_versions(*groups, preferred)) {
      // An aggregated API that is down must not hide the others.
      if (auto l = get_json(c, "/apis/" + gv)) cli::add_resource_list(known, *l);
    }
    auto r = cli::resolve_kind(typed, known);
    if (r) return *r;
    last_error = r.error();
  }
  return kube::fail(kube::Code::kNotFound, last_error);
}

std::string cache_dir(const Args& a) {
  return a.git_cache_dir.empty() ? cli::default_git_cache_dir() : a.git_cache_dir;
}

// ------------------------------------------------------------------ trace

int trace(kube::Client& c, const Args& a, const std::string& ns, const cli::Style& st) {
  auto ref = cli::object_ref(a.operands);
  if (!ref) return usage(ref.error().message, a.command);
  auto res = resolve(c, ref->kind);
  if (!res) return fail(res.error().message);
  const kube::ApiResource ar{res->group, res->version, res->resource, res->kind, res->namespaced};
  auto obj = c.get(ar, ns, ref->name);
  if (!obj) {
    if (obj.error().code == kube::Code::kNotFound) {
      return fail(res->qualified() + " \"" + ref->name + "\" not found" +
                  (res->namespaced ? " in namespace " + ns : ""));
    }
    return fail(obj.error().to_string());
  }

  cli::TraceInput in;
  in.object = *obj;
  in.resource = *res;
  const bool is_release = res->group == api::kGroup && res->kind == api::kReleaseKind;
  std::string rel_ns = ns;
  if (is_release) {
    in.release = *obj;
  } else {
    const cli::Stamp stamp = cli::read_stamp(*obj);
    in.commit = stamp.commit;
    in.git.url = git::redact_url(stamp.source);
    if (!stamp.release.empty()) {
      auto [rns, rname] = cli::split_key(stamp.release, (*obj)["metadata"].value("namespace", ns));
      rel_ns = rns;
      auto rel = c.get(kReleases, rns, rname);
      if (rel) {
        in.release = *rel;
      } else {
        in.release_error = describe(rel.error(), "Release", rns, rname);
        if (rel.error().code == kube::Code::kNotFound) {
          in.release_error += ": the object's stamp names a Release that no longer exists";
        }
      }
    }
  }

  if (in.release) {
    if (auto pl = c.list_all(kPipelines, rel_ns)) {
      in.pipelines = (*pl)["items"];
    } else {
      in.pipelines_error = pl.error().to_string();
    }
    const json& rel = *in.release;
    auto spec = api::parse_release_spec(rel.value("spec", json::object()),
                                        rel["metadata"].value("name", ""));
    if (is_release) {
      auto st = api::parse_release_status(rel.value("status", json::object()));
      if (st)
        in.commit = !st->current_commit.empty() ? st->current_commit : st->last_attempted_commit;
    }
    if (spec) {
      in.git.url = git::redact_url(spec->source.url);
      if (!in.commit.empty()) {
        cli::GitReader reader(c, rel_ns, spec->source, cache_dir(a), a.offline);
        in.git = reader.look_up(in.commit);
      }
    }
  }

  json doc = cli::assemble_trace(in);
  print(a, st, doc, cli::render_trace);
  return doc["errors"].empty() ? kOk : kFailed;
}

// ---------------------------------------------------------------- history

int history(kube::Client& c, const Args& a, const std::string& ns, const cli::Style& st) {
  auto name = cli::named(a.operands, "release");
  if (!name) return usage(name.error().message, a.command);
  auto rel = c.get(kReleases, ns, *name);
  if (!rel) return fail(describe(rel.error(), "Release", ns, *name));

  std::map<std::string, git::CommitInfo> commits;
  std::string git_error;
  auto spec = api::parse_release_spec(rel->value("spec", json::object()), *name);
  auto status = api::parse_release_status(rel->value("status", json::object()));
  if (spec && status && !status->history.empty()) {
    cli::GitReader reader(c, ns, spec->source, cache_dir(a), a.offline);
    std::set<std::string> seen;
    for (const auto& h : status->history) {
      if (!seen.insert(h.commit).second) continue;
      if (auto info = reader.commit(h.commit)) commits.emplace(h.commit, *info);
    }
    if (commits.size() < seen.size() && !a.offline) git_error = reader.error();
  }
  json pipelines = json::array();
  if (auto pl = c.list_all(kPipelines, ns)) pipelines = (*pl)["items"];

  json doc = cli::assemble_history(*rel, commits, pipelines, git_error);
  print(a, st, doc, cli::render_history);
  return kOk;
}

// --------------------------------------------------------------- rollback

int rollback(kube::Client& c, const Args& a, const std::string& ns, const cli::Style& st) {
  auto name = cli::named(a.operands, "release");
  if (!name) return usage(name.error().message, a.command);
  const std::string key(api::kRollbackToAnnotation);
  std::string target, value;
  // The resourceVersion makes the write conditional, so the history checked
  // is the history the operator sees; the operator writes status often, so a
  // conflict is read again and retried.
  for (int attempt = 0;; ++attempt) {
    auto rel = c.get(kReleases, ns, *name);
    if (!rel) return fail(describe(rel.error(), "Release", ns, *name));
    auto t = cli::rollback_target(*rel, a.to);
    if (!t) return fail("Release " + ns + "/" + *name + ": " + t.error());
    target = *t;
    value = cli::rollback_annotation_value(target, *rel);
    json patch = {{"metadata",
                   {{"annotations", {{key, value}}},
                    {"resourceVersion", (*rel)["metadata"].value("resourceVersion", "")}}}};
    auto r = c.patch(kReleases, ns, *name, kube::PatchType::kMerge, patch);
    if (r) break;
    if (r.error().code != kube::Code::kConflict || attempt == 4) {
      return fail(describe(r.error(), "Release", ns, *name));
    }
  }
  if (a.json) {
    std::cout << json{{"release", {{"namespace", ns}, {"name", *name}}},
                      {"rollbackTo", target},
                      {"annotation", {{key, value}}}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "Release " << ns << "/" << *name << ": rollback to "
              << cli::paint(st, target.substr(0, 8), cli::Tone::kId) << " requested (" << key << "="
              << value << ").\n"
              << "The operator deploys it and keeps it until a newer commit arrives; follow it "
                 "with `kubectl cairn status -n "
              << ns << "`.\n";
  }
  return kOk;
}

// -------------------------------------------------------------------- run

int run(kube::Client& c, const Args& a, const std::string& ns, const cli::Style& st) {
  auto name = cli::named(a.operands, "pipeline");
  if (!name) return usage(name.error().message, a.command);
  auto pl = c.get(kPipelines, ns, *name);
  if (!pl) return fail(describe(pl.error(), "Pipeline", ns, *name));
  // Microseconds: two requests in the same second are still two new values.
  const std::string at = kube::rfc3339_micro(std::chrono::system_clock::now());
  const std::string key(api::kRequestedAtAnnotation);
  auto r = c.patch(kPipelines, ns, *name, kube::PatchType::kMerge,
                   {{"metadata", {{"annotations", {{key, at}}}}}});
  if (!r) return fail(describe(r.error(), "Pipeline", ns, *name));
  std::string latest = pl->value("status", json::object()).value("latestCommit", "");
  if (a.json) {
    json doc = {{"pipeline", {{"namespace", ns}, {"name", *name}}}, {"requestedAt", at}};
    doc["commit"] = latest.empty() ? json(nullptr) : json(latest);
    std::cout << doc.dump(2) << "\n";
  } else {
    std::cout << "Pipeline " << ns << "/" << *name << ": manual run requested (" << key << "=" << at
              << ")";
    if (!latest.empty()) {
      std::cout << " of its latest commit " << cli::paint(st, latest.substr(0, 8), cli::Tone::kId);
    }
    std::cout << ".\nFollow it with `kubectl cairn status -n " << ns << "`.\n";
  }
  return kOk;
}

// ----------------------------------------------------------------- status

int status(kube::Client& c, const Args& a, const std::string& ns, const cli::Style& st) {
  auto rels = c.list_all(kReleases, ns);
  if (!rels) return fail(list_error(rels.error(), "Releases"));
  auto pls = c.list_all(kPipelines, ns);
  if (!pls) return fail(list_error(pls.error(), "Pipelines"));
  json doc = cli::assemble_status(ns, (*rels)["items"], (*pls)["items"]);
  print(a, st, doc, cli::render_status);
  return kOk;
}

// ----------------------------------------------------------------- render

void print_objects(const Args& a, const std::vector<json>& objects) {
  if (a.json) {
    std::cout << json(objects).dump(2) << "\n";
    return;
  }
  std::vector<manifest::KObject> k;
  k.reserve(objects.size());
  for (const json& o : objects) k.push_back({o, ""});
  std::cout << manifest::to_yaml(k);
}

namespace fs = std::filesystem;

// The directory a local render may read: the git work tree's root, else the
// current directory when it holds `dir`, else `/`. A kustomization reads its
// bases above itself (../../base), so `dir` alone would be too narrow.
fs::path local_root(const fs::path& dir, const std::optional<cli::LocalRepo>& repo) {
  std::error_code ec;
  if (repo) {
    fs::path wd = fs::weakly_canonical(repo->workdir, ec);
    if (!ec) return wd;
  }
  fs::path cwd = fs::weakly_canonical(fs::current_path(ec), ec);
  if (!ec) {
    fs::path rel = dir.lexically_relative(cwd);
    if (!rel.empty() && *rel.begin() != "..") return cwd;
  }
  return "/";
}

// render PATH: offline, no kubeconfig needed.
int render_local(const Args& a, const std::string& dir) {
  std::error_code ec;
  const fs::path abs = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  if (ec || !fs::is_directory(abs, ec)) return fail(dir + " is not a directory");
  auto key = cli::local_release(a, abs.string());
  if (!key) return usage(key.error().message, a.command);
  const auto repo = cli::local_repo(abs.string());
  const fs::path root = local_root(abs, repo);
  std::string rel = abs.lexically_relative(root).generic_string();
  if (rel == ".") rel.clear();

  manifest::LocalTree tree(root);
  manifest::RenderInput in;
  in.release_namespace = key->ns;
  in.release_name = key->name;
  // Outside a git work tree there is no commit: a placeholder that says so
  // rather than an id that could be mistaken for a real one.
  in.commit = !a.commit.empty()             ? a.commit
              : repo && !repo->head.empty() ? repo->head
                                            : std::string("uncommitted");
  in.source_url = a.source.empty() ? "local:" + abs.string() : a.source;
  in.cluster_scope = a.cluster_scope;
  in.tree = &tree;
  in.path = rel;
  auto out = manifest::render(in);
  if (!out) return fail("rendering " + dir + ":\n" + manifest::to_string(out.error()));
  print_objects(a, out->objects);
  return kOk;
}

struct ReleaseRender {
  json release;
  api::ReleaseSpec spec;
  std::string commit;
  std::vector<json> objects;
};

// The commit Cairn would deploy next: --commit, else the head of the tracked
// ref. Says on stderr when the operator would deploy something else.
std::expected<std::string, std::string> next_commit(git::Source& src, const Args& a,
                                                    const json& rel, const api::ReleaseSpec& spec) {
  if (!a.commit.empty()) {
    auto c = src.commit(a.commit);
    if (!c) return std::unexpected("commit " + a.commit + ": " + c.error().message);
    return c->id;
  }
  auto head = src.resolve(source::ref_of(spec.source));
  if (!head) {
    return std::unexpected(spec.source.ref_description() + ": " + head.error().message);
  }
  auto st = api::parse_release_status(rel.value("status", json::object()));
  if (st && !st->pinned_commit.empty() && st->pinned_while_head_was == *head) {
    std::cerr << "note: the Release is pinned to " << st->pinned_commit.substr(0, 8)
              << " by a rollback until " << spec.source.ref_description()
              << " moves; showing the head " << head->substr(0, 8) << "\n";
  }
  if (spec.gate) {
    std::cerr << "note: spec.gate: the operator deploys " << head->substr(0, 8)
              << " only once Pipeline " << spec.gate->pipeline_ref.name << " passed it\n";
  }
  if (spec.suspend) std::cerr << "note: the Release is suspended: it deploys nothing\n";
  return *head;
}

std::expected<ReleaseRender, std::string> render_release(kube::Client& c, const Args& a,
                                                         const std::string& ns,
                                                         const std::string& name) {
  ReleaseRender out;
  auto rel = c.get(kReleases, ns, name);
  if (!rel) return std::unexpected(describe(rel.error(), "Release", ns, name));
  out.release = *rel;
  auto spec = api::parse_release_spec(rel->value("spec", json::object()), name);
  if (!spec) {
    return std::unexpected("Release " + ns + "/" + name + ": " + api::to_string(spec.error()));
  }
  out.spec = *spec;
  cli::GitReader reader(c, ns, spec->source, cache_dir(a), a.offline);
  git::Source* src = reader.fetched_source();
  if (!src) return std::unexpected(git::redact_url(spec->source.url) + ": " + reader.error());
  auto commit = next_commit(*src, a, *rel, *spec);
  if (!commit) return std::unexpected(commit.error());
  out.commit = *commit;

  // The one render the operator and the webhook do too.
  auto r = manifest::render_at(
      *src, out.commit, manifest::ReleaseRef::of(ns, name, *spec),
      [&c](const std::string& av, const std::string& kind) -> std::optional<bool> {
        auto res = c.resource_for(av, kind);
        return res ? std::optional<bool>(res->namespaced) : std::nullopt;
      });
  if (!r) {
    return std::unexpected("rendering " + (spec->path.empty() ? "/" : spec->path) + " at " +
                           out.commit.substr(0, 8) + ":\n" + manifest::to_string(r.error()));
  }
  out.objects = std::move(r->objects);
  return out;
}

int render(kube::Client& c, const Args& a, const std::string& ns) {
  const std::string name = cli::render_target(a.operands[0]).release;
  auto r = render_release(c, a, ns, name);
  if (!r) return fail(r.error());
  print_objects(a, r->objects);
  return kOk;
}

// ------------------------------------------------------------------- diff

constexpr int kDiffSame = 0, kDiffDiffers = 1, kDiffError = 2;

class DiffPrinter {
 public:
  explicit DiffPrinter(bool color) : color_(color) {}
  void add(const std::string& text) {
    if (text.empty()) return;
    differs_ = true;
    std::cout << (color_ ? cli::colorize_diff(text) : text) << std::flush;
  }
  void error(const std::string& message) {
    errors_ = true;
    std::cerr << "error: " << message << "\n";
  }
  int exit_code() const { return errors_ ? kDiffError : differs_ ? kDiffDiffers : kDiffSame; }

 private:
  bool color_, differs_ = false, errors_ = false;
};

// One rendered object: its dry-run apply against the live one.
void diff_one(kube::Client& c, const json& obj, DiffPrinter& out) {
  const std::string label = cli::object_label(obj);
  auto res = c.resource_of(obj);
  if (!res) return out.error(label + ": " + res.error().to_string());
  const json md = obj.value("metadata", json::object());
  const std::string ns = md.value("namespace", ""), name = md.value("name", "");
  auto live = c.get(*res, ns, name);
  if (!live && live.error().code != kube::Code::kNotFound) {
    return out.error(label + ": " + live.error().to_string());
  }
  // The operator's own field manager, so that fields only it owns are
  // updated (or dropped) exactly as its apply would.
  auto would = c.apply(*res, ns, obj, true, {}, {.field_manager = "cairn", .dry_run = true});
  if (!would) return out.error(label + ": the dry run was refused: " + would.error().to_string());
  out.add(cli::object_diff(live ? &*live : nullptr, &*would));
}

// Objects of status.inventory that the commit no longer has.
void diff_pruned(kube::Client& c, const ReleaseRender& r, const std::set<std::string>& rendered,
                 DiffPrinter& out) {
  auto st = api::parse_release_status(r.release.value("status", json::object()));
  if (!st) return;
  for (const api::InventoryEntry& e : st->inventory) {
    if (rendered.contains(manifest::identity(e))) continue;
    const std::string label =
        e.kind + "/" + (e.namespace_.empty() ? "" : e.namespace_ + "/") + e.name;
    if (!r.spec.prune) {
      std::cerr << "note: " << label << " is not in the commit; spec.prune is false, so it stays\n";
      continue;
    }
    auto res = c.resource_for(e.api_version, e.kind);
    if (!res) {
      out.error(label + ": " + res.error().to_string());
      continue;
    }
    auto live = c.get(*res, e.namespace_, e.name);
    if (!live) {
      if (live.error().code != kube::Code::kNotFound)
        out.error(label + ": " + live.error().to_string());
      continue;
    }
    out.add(cli::object_diff(&*live, nullptr));
  }
}

int diff(kube::Client& c, const Args& a, const std::string& ns, bool color) {
  auto name = cli::named(a.operands, "release");
  if (!name) return usage(name.error().message, a.command);
  auto r = render_release(c, a, ns, *name);
  if (!r) {
    std::cerr << "error: " << r.error() << "\n";
    return kDiffError;
  }
  DiffPrinter out(color);
  std::set<std::string> rendered;
  for (const json& obj : r->objects) {
    rendered.insert(manifest::identity(obj));
    diff_one(c, obj, out);
  }
  diff_pruned(c, *r, rendered, out);
  return out.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> argv_s(argv + 1, argv + argc);
  auto args = cli::parse_args(argv_s);
  if (!args) {
    // The command, if one was named, picks the help to point at.
    Command c = Command::kNone;
    for (const auto& s : argv_s) {
      for (Command k : {Command::kTrace, Command::kHistory, Command::kRollback, Command::kRun,
                        Command::kStatus, Command::kRender, Command::kDiff}) {
        if (s == cli::command_name(k) && c == Command::kNone) c = k;
      }
    }
    return usage(args.error().message, c);
  }
  if (args->help) {
    std::cout << cli::help_text(args->command);
    return kOk;
  }
  // A local render needs no cluster: it must work without a kubeconfig.
  if (args->command == Command::kRender && !cli::render_target(args->operands[0]).is_release) {
    return render_local(*args, args->operands[0]);
  }
  cli::Style st;
  st.color = cli::use_color(args->color, args->no_color, ::isatty(STDOUT_FILENO) == 1,
                            std::getenv("NO_COLOR"), std::getenv("TERM"));

  kube::LoadOptions lo;
  lo.context = args->context;
  auto cfg = kube::default_config(args->kubeconfig, lo);
  // diff's errors are 2 and up, as kubectl diff's.
  if (!cfg) return fail(cfg.error().message) + (args->command == Command::kDiff ? 1 : 0);
  cfg->user_agent = "kubectl-cairn/0.1";
  // An interactive tool: modest client-side limits, few retries.
  cfg->qps = 20;
  cfg->burst = 40;
  kube::ClientOptions opts;
  opts.field_manager = "kubectl-cairn";
  opts.max_retries = 1;
  auto client = kube::Client::create(*cfg, opts);
  if (!client) {
    if (args->command == Command::kDiff) return fail(client.error().message) + 1;
    return fail(client.error().message);
  }
  const std::string ns = args->ns.empty() ? cfg->namespace_ : args->ns;

  switch (args->command) {
    case Command::kTrace:
      return trace(**client, *args, ns, st);
    case Command::kHistory:
      return history(**client, *args, ns, st);
    case Command::kRollback:
      return rollback(**client, *args, ns, st);
    case Command::kRun:
      return run(**client, *args, ns, st);
    case Command::kStatus:
      return status(**client, *args, ns, st);
    case Command::kRender:
      return render(**client, *args, ns);
    case Command::kDiff:
      return diff(**client, *args, ns, st.color);
    case Command::kNone:
      break;
  }
  return usage("no command given", Command::kNone);
}
