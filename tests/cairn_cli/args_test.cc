#include "args.h"

#include <gtest/gtest.h>

namespace cairn::cli {
namespace {

Args parse_ok(const std::vector<std::string>& v) {
  auto a = parse_args(v);
  EXPECT_TRUE(a) << (a ? "" : a.error().message);
  return a ? *a : Args{};
}

std::string parse_error(const std::vector<std::string>& v) {
  auto a = parse_args(v);
  EXPECT_FALSE(a) << "accepted";
  return a ? "" : a.error().message;
}

TEST(Args, TraceWithKubectlStyleFlagsInAnyPosition) {
  Args a = parse_ok({"-n", "shop", "trace", "deploy/web", "-o", "json", "--kubeconfig=/k"});
  EXPECT_EQ(a.command, Command::kTrace);
  EXPECT_EQ(a.ns, "shop");
  EXPECT_TRUE(a.json);
  EXPECT_EQ(a.kubeconfig, "/k");
  ASSERT_EQ(a.operands.size(), 1u);
  EXPECT_EQ(a.operands[0], "deploy/web");

  Args b = parse_ok({"trace", "deployment", "web", "--namespace=shop", "-ojson", "--no-color",
                     "--context", "prod", "--git-cache-dir", "/c", "--offline"});
  EXPECT_EQ(b.ns, "shop");
  EXPECT_TRUE(b.json);
  EXPECT_TRUE(b.no_color);
  EXPECT_TRUE(b.offline);
  EXPECT_EQ(b.context, "prod");
  EXPECT_EQ(b.git_cache_dir, "/c");
  EXPECT_EQ(b.operands.size(), 2u);

  EXPECT_EQ(parse_ok({"status", "-nshop"}).ns, "shop");
  EXPECT_EQ(parse_ok({"status", "-n=shop"}).ns, "shop");
  EXPECT_EQ(parse_ok({"status", "--output", "json"}).json, true);
  EXPECT_FALSE(parse_ok({"status", "--no-color=false"}).no_color);
}

TEST(Args, EachCommandChecksItsOperands) {
  EXPECT_EQ(parse_ok({"history", "release/web"}).command, Command::kHistory);
  EXPECT_EQ(parse_ok({"run", "pipeline/ci"}).command, Command::kRun);
  Args r = parse_ok({"rollback", "release/web", "--to", "abcdef0"});
  EXPECT_EQ(r.command, Command::kRollback);
  EXPECT_EQ(r.to, "abcdef0");
  EXPECT_EQ(parse_ok({"status"}).command, Command::kStatus);

  EXPECT_NE(parse_error({}).find("no command"), std::string::npos);
  EXPECT_NE(parse_error({"tarce", "x/y"}).find("unknown command \"tarce\""), std::string::npos);
  EXPECT_NE(parse_error({"trace"}).find("trace <kind>/<name>"), std::string::npos);
  EXPECT_NE(parse_error({"trace", "a/b", "c", "d"}).find("one object"), std::string::npos);
  EXPECT_NE(parse_error({"rollback", "release/web"}).find("--to"), std::string::npos);
  EXPECT_NE(parse_error({"status", "extra"}).find("no operands"), std::string::npos);
  EXPECT_NE(parse_error({"trace", "a/b", "--to", "x"}).find("rollback only"), std::string::npos);
  EXPECT_NE(parse_error({"status", "-o", "yaml"}).find("-o json"), std::string::npos);
  EXPECT_NE(parse_error({"status", "--bogus"}).find("unknown flag \"--bogus\""), std::string::npos);
  EXPECT_NE(parse_error({"status", "-n"}).find("needs a value"), std::string::npos);
  EXPECT_NE(parse_error({"status", "--namespace="}).find("needs a value"), std::string::npos);
  EXPECT_NE(parse_error({"status", "--offline=maybe"}).find("takes no value"), std::string::npos);
}

TEST(Args, HelpNeedsNoOperands) {
  Args a = parse_ok({"rollback", "--help"});
  EXPECT_TRUE(a.help);
  EXPECT_EQ(a.command, Command::kRollback);
  EXPECT_TRUE(parse_ok({"-h"}).help);
  for (Command c : {Command::kNone, Command::kTrace, Command::kHistory, Command::kRollback,
                    Command::kRun, Command::kStatus}) {
    std::string h = help_text(c);
    EXPECT_NE(h.find("--namespace"), std::string::npos) << command_name(c);
    if (c != Command::kNone) {
      EXPECT_NE(h.find("kubectl cairn " + std::string(command_name(c))), std::string::npos);
    }
  }
  EXPECT_NE(help_text(Command::kTrace).find("--git-cache-dir"), std::string::npos);
}

TEST(Args, ObjectReferences) {
  auto r = object_ref({"Deployment.apps/web"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, "Deployment.apps");
  EXPECT_EQ(r->name, "web");
  r = object_ref({"cm", "config"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, "cm");
  EXPECT_EQ(r->name, "config");
  EXPECT_FALSE(object_ref({"web"}));
  EXPECT_NE(object_ref({"web"}).error().message.find("deployment/web"), std::string::npos);
  EXPECT_FALSE(object_ref({"deploy/"}));
  EXPECT_FALSE(object_ref({"/web"}));
  EXPECT_FALSE(object_ref({"a/b/c"}));
}

TEST(Args, NamedAcceptsTheKindsSpellings) {
  for (const std::string s :
       {"release/web", "releases/web", "rel/web", "releases.cairn.dev/web", "Release/web", "web"}) {
    auto n = named({s}, "release");
    ASSERT_TRUE(n) << s;
    EXPECT_EQ(*n, "web") << s;
  }
  auto two = named({"pipeline", "ci"}, "pipeline");
  ASSERT_TRUE(two);
  EXPECT_EQ(*two, "ci");
  EXPECT_TRUE(named({"pl/ci"}, "pipeline"));
  auto wrong = named({"pipeline/ci"}, "release");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("expected a release"), std::string::npos);
  EXPECT_FALSE(named({"release/"}, "release"));
}

TEST(Args, ColourOnlyOnATerminalWithoutNoColor) {
  EXPECT_TRUE(use_color(false, true, nullptr, "xterm"));
  EXPECT_TRUE(use_color(false, true, "", "xterm")) << "an empty NO_COLOR does not count";
  EXPECT_FALSE(use_color(false, false, nullptr, "xterm")) << "piped";
  EXPECT_FALSE(use_color(true, true, nullptr, "xterm")) << "--no-color";
  EXPECT_FALSE(use_color(false, true, "1", "xterm")) << "NO_COLOR";
  EXPECT_FALSE(use_color(false, true, nullptr, "dumb"));
}

TEST(Args, RenderTakesADirectoryOrARelease) {
  Args a = parse_ok({"render", "deploy/overlays/prod", "--commit", "abc", "--release", "shop/web",
                     "--source=https://git/x", "--cluster-scope"});
  EXPECT_EQ(a.command, Command::kRender);
  EXPECT_EQ(a.commit, "abc");
  EXPECT_EQ(a.release, "shop/web");
  EXPECT_EQ(a.source, "https://git/x");
  EXPECT_TRUE(a.cluster_scope);
  EXPECT_FALSE(render_target(a.operands[0]).is_release);
  EXPECT_EQ(render_target(a.operands[0]).path, "deploy/overlays/prod");

  Args r = parse_ok({"render", "release/web", "-n", "shop", "--commit", "3f2a9c1", "-o", "json"});
  EXPECT_TRUE(render_target(r.operands[0]).is_release);
  EXPECT_EQ(render_target(r.operands[0]).release, "web");
  EXPECT_TRUE(r.json);
  for (const std::string s : {"rel/web", "releases.cairn.dev/web", "Releases/web"}) {
    EXPECT_TRUE(render_target(s).is_release) << s;
  }
  for (const std::string s :
       {".", "web", "deploy/web", "./release/web", "release/web/x", "release/"}) {
    EXPECT_FALSE(render_target(s).is_release) << s;
  }

  EXPECT_NE(parse_error({"render"}).find("render PATH|release/<name>"), std::string::npos);
  EXPECT_NE(parse_error({"render", "a", "b"}).find("one directory"), std::string::npos);
  EXPECT_NE(parse_error({"render", "release/web", "--release", "a/b"}).find("render PATH"),
            std::string::npos);
  EXPECT_NE(parse_error({"render", ".", "--release", "web"}).find("NAMESPACE/NAME"),
            std::string::npos);
  EXPECT_NE(parse_error({"render", ".", "--commit"}).find("needs a value"), std::string::npos);
}

TEST(Args, LocalReleaseDefaultsToTheDirectorysName) {
  Args a;
  auto k = local_release(a, "/src/app/deploy/overlays/prod/");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->ns, "default");
  EXPECT_EQ(k->name, "prod");
  a.ns = "shop";
  EXPECT_EQ(local_release(a, "/").value().name, "local");
  EXPECT_EQ(local_release(a, "/x").value().ns, "shop");
  a.release = "team/web";
  EXPECT_EQ(local_release(a, "/x").value().ns, "team");
  EXPECT_EQ(local_release(a, "/x").value().name, "web");
  for (const std::string bad : {"web", "/web", "team/", "a/b/c"}) {
    a.release = bad;
    EXPECT_FALSE(local_release(a, "/x")) << bad;
  }
}

TEST(Args, DiffTakesOneReleaseAndColorModes) {
  Args a = parse_ok({"diff", "release/web", "-n", "shop"});
  EXPECT_EQ(a.command, Command::kDiff);
  EXPECT_EQ(a.color, ColorMode::kAuto);
  EXPECT_EQ(parse_ok({"diff", "rel", "web"}).operands.size(), 2u);
  EXPECT_EQ(parse_ok({"diff", "web", "--color=always"}).color, ColorMode::kAlways);
  EXPECT_EQ(parse_ok({"diff", "web", "--color"}).color, ColorMode::kAlways);
  EXPECT_EQ(parse_ok({"diff", "web", "--color=never"}).color, ColorMode::kNever);
  EXPECT_EQ(parse_ok({"diff", "web", "--commit", "abc"}).commit, "abc");

  EXPECT_NE(parse_error({"diff"}).find("diff release/<name>"), std::string::npos);
  EXPECT_NE(parse_error({"diff", "pipeline/ci"}).find("expected a release"), std::string::npos);
  EXPECT_NE(parse_error({"diff", "web", "--color=sometimes"}).find("auto, always or never"),
            std::string::npos);
  EXPECT_NE(parse_error({"diff", "web", "--source", "x"}).find("render PATH only"),
            std::string::npos);
  EXPECT_NE(parse_error({"status", "--commit", "abc"}).find("render and diff only"),
            std::string::npos);
}

TEST(Args, ColorModeOverridesTheTerminalCheck) {
  EXPECT_TRUE(use_color(ColorMode::kAlways, false, false, "1", "dumb"));
  EXPECT_FALSE(use_color(ColorMode::kNever, false, true, nullptr, "xterm"));
  EXPECT_TRUE(use_color(ColorMode::kAuto, false, true, nullptr, "xterm"));
  EXPECT_FALSE(use_color(ColorMode::kAuto, false, false, nullptr, "xterm"));
}

TEST(Args, RenderAndDiffHaveHelp) {
  EXPECT_NE(help_text(Command::kRender).find("works offline"), std::string::npos);
  EXPECT_NE(help_text(Command::kRender).find("spec.gate"), std::string::npos);
  EXPECT_NE(help_text(Command::kDiff).find("0 no differences; 1 differences"), std::string::npos);
  EXPECT_NE(help_text(Command::kNone).find("kubectl cairn diff release/<name>"), std::string::npos);
  EXPECT_TRUE(parse_ok({"render", "--help"}).help);
}

}  // namespace
}  // namespace cairn::cli
