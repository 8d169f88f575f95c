// Table-driven template checks shared by the function tests: a template, the
// data it runs on (JSON), and Go's output (produced with Go's text/template
// and sprig).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "helm/functions.h"
#include "helm/template.h"
#include "json/json.h"

namespace cairn::helm::test {

struct Case {
  const char* name;
  const char* text;
  const char* data;
  const char* want;  // "OK:<output>", "ERR:<exec error>" or "PARSE:<parse error>"
};

// Runs `text` on `dot` with Helm's functions: "OK:<output>", "ERR:..." or "PARSE:...".
inline std::string run(const std::string& text, const Value& dot = Value()) {
  static const FuncMap funcs = helm_funcs();
  TemplateSet set;
  if (auto p = set.parse("x", text, &funcs); !p) return "PARSE:" + p.error();
  Executor ex(set, funcs);
  auto r = ex.execute("x", dot);
  if (!r) return "ERR:" + r.error();
  return "OK:" + *r;
}

inline void check(const Case* begin, const Case* end) {
  for (const Case* c = begin; c != end; ++c) {
    Value dot = from_json(json::parse(c->data));
    EXPECT_EQ(run(c->text, dot), c->want) << c->name << ": " << c->text << " with " << c->data;
  }
}

}  // namespace cairn::helm::test
