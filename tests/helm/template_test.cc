#include "helm/template.h"

#include <gtest/gtest.h>

namespace cairn::helm {
namespace {

std::string run(const std::string& text, const Value& dot = Value()) {
  TemplateSet set;
  auto p = set.parse("x", text);
  if (!p) return "PARSE: " + p.error();
  FuncMap funcs;
  Executor ex(set, funcs);
  auto r = ex.execute("x", dot);
  if (!r) return "EXEC: " + r.error();
  return *r;
}

TEST(Template, Smoke) { EXPECT_EQ(run("a{{ 1 }}b"), "a1b"); }

}  // namespace
}  // namespace cairn::helm
