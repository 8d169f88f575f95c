// The template language against Go's text/template: every row of kCases
// was rendered by Go 1.19's text/template (with sprig's functions and
// missingkey=zero, as Helm) and its output or error recorded; the C++
// engine must give the same text. Rows follow the shape of Go's
// text/template/exec_test.go. Data is JSON, so numbers are float64 as
// Helm's values are.
#include "helm/template.h"

#include <gtest/gtest.h>

#include "helm/functions.h"

namespace cairn::helm {
namespace {

struct Case {
  const char* name;
  const char* text;
  const char* data;
  const char* want;  // "OK:<output>", "ERR:<exec error>" or "PARSE:<parse error>"
};

const Case kCases[] = {
    {"text", R"__(hello)__", R"__(null)__", R"__(OK:hello)__"},
    {"dot int", R"__({{.}})__", R"__(3)__", R"__(OK:3)__"},
    {"dot string", R"__({{.}})__", R"__("x")__", R"__(OK:x)__"},
    {"field", R"__({{.a}})__", R"__({"a":"A"})__", R"__(OK:A)__"},
    {"nested field", R"__({{.a.b.c}})__", R"__({"a":{"b":{"c":7}}})__", R"__(OK:7)__"},
    {"missing key", R"__({{.nope}})__", R"__({"a":1})__", R"__(OK:<no value>)__"},
    {"missing nested nil", R"__({{.a.b}})__", R"__({})__",
     R"__(ERR:template: x:1:4: executing "x" at <.a.b>: nil pointer evaluating interface {}.b)__"},
    {"field on string", R"__({{.a.b}})__", R"__({"a":"s"})__",
     R"__(ERR:template: x:1:4: executing "x" at <.a.b>: can't evaluate field b in type interface {})__"},
    {"variable", R"__({{$x := 1}}{{$x}})__", R"__(null)__", R"__(OK:1)__"},
    {"variable assign", R"__({{$x := 1}}{{$x = 2}}{{$x}})__", R"__(null)__", R"__(OK:2)__"},
    {"root var", R"__({{with .a}}{{$.b}}{{end}})__", R"__({"a":1,"b":"B"})__", R"__(OK:B)__"},
    {"var field", R"__({{$m := .a}}{{$m.b}})__", R"__({"a":{"b":"x"}})__", R"__(OK:x)__"},
    {"trim left", R"__(a  {{- 1}})__", R"__(null)__", R"__(OK:a1)__"},
    {"trim right", R"__({{1 -}}  
 b)__",
     R"__(null)__", R"__(OK:1b)__"},
    {"trim both", R"__(x 
 {{- 2 -}} 
 y)__",
     R"__(null)__", R"__(OK:x2y)__"},
    {"minus number", R"__({{-3}})__", R"__(null)__", R"__(OK:-3)__"},
    {"comment", R"__(a{{/* c */}}b)__", R"__(null)__", R"__(OK:ab)__"},
    {"comment trim", R"__(a {{- /* c */ -}} b)__", R"__(null)__", R"__(OK:ab)__"},
    {"if true", R"__({{if 1}}yes{{end}})__", R"__(null)__", R"__(OK:yes)__"},
    {"if false", R"__({{if 0}}yes{{else}}no{{end}})__", R"__(null)__", R"__(OK:no)__"},
    {"if empty string", R"__({{if ""}}yes{{else}}no{{end}})__", R"__(null)__", R"__(OK:no)__"},
    {"if empty list", R"__({{if .l}}yes{{else}}no{{end}})__", R"__({"l":[]})__", R"__(OK:no)__"},
    {"if empty map", R"__({{if .m}}yes{{else}}no{{end}})__", R"__({"m":{}})__", R"__(OK:no)__"},
    {"if nil", R"__({{if .x}}yes{{else}}no{{end}})__", R"__({})__", R"__(OK:no)__"},
    {"else if", R"__({{if eq . 1.0}}one{{else if eq . 2.0}}two{{else}}many{{end}})__", R"__(2)__",
     R"__(OK:two)__"},
    {"else if chain", R"__({{if 0}}a{{else if 0}}b{{else if 1}}c{{end}})__", R"__(null)__",
     R"__(OK:c)__"},
    {"with", R"__({{with .a}}{{.}}{{end}})__", R"__({"a":"A"})__", R"__(OK:A)__"},
    {"with else", R"__({{with .x}}{{.}}{{else}}none{{end}})__", R"__({})__", R"__(OK:none)__"},
    {"with var", R"__({{with $v := .a}}{{$v}}{{end}})__", R"__({"a":5})__", R"__(OK:5)__"},
    {"range list", R"__({{range .l}}<{{.}}>{{end}})__", R"__({"l":[1,"a",true]})__",
     R"__(OK:<1><a><true>)__"},
    {"range list idx", R"__({{range $i, $e := .l}}{{$i}}={{$e}};{{end}})__",
     R"__({"l":["a","b"]})__", R"__(OK:0=a;1=b;)__"},
    {"range map sorted", R"__({{range $k, $v := .m}}{{$k}}={{$v}};{{end}})__",
     R"__({"m":{"b":2,"a":1,"c":3}})__", R"__(OK:a=1;b=2;c=3;)__"},
    {"range map one var", R"__({{range $v := .m}}{{$v}};{{end}})__", R"__({"m":{"b":2,"a":1}})__",
     R"__(OK:1;2;)__"},
    {"range else", R"__({{range .l}}x{{else}}empty{{end}})__", R"__({"l":[]})__",
     R"__(OK:empty)__"},
    {"range nil", R"__({{range .nope}}x{{else}}empty{{end}})__", R"__({})__", R"__(OK:empty)__"},
    {"range break", R"__({{range .l}}{{if eq . 3.0}}{{break}}{{end}}{{.}}{{end}})__",
     R"__({"l":[1,2,3,4]})__", R"__(OK:12)__"},
    {"range continue", R"__({{range .l}}{{if eq . 2.0}}{{continue}}{{end}}{{.}}{{end}})__",
     R"__({"l":[1,2,3]})__", R"__(OK:13)__"},
    {"range dot", R"__({{range .l}}{{.n}}{{end}})__", R"__({"l":[{"n":1},{"n":2}]})__",
     R"__(OK:12)__"},
    {"range string error", R"__({{range .s}}x{{end}})__", R"__({"s":"abc"})__",
     R"__(ERR:template: x:1:8: executing "x" at <.s>: range can't iterate over abc)__"},
    {"define template", R"__({{define "T"}}[{{.}}]{{end}}{{template "T" 5}})__", R"__(null)__",
     R"__(OK:[5])__"},
    {"template no dot", R"__({{define "T"}}[{{.}}]{{end}}{{template "T"}})__", R"__(null)__",
     R"__(OK:[<no value>])__"},
    {"block", R"__({{block "B" .}}default {{.}}{{end}})__", R"__("d")__", R"__(OK:default d)__"},
    {"template missing", R"__({{template "nope"}})__", R"__(null)__",
     R"__(ERR:template: x:1:11: executing "x" at <{{template "nope"}}>: template "nope" not defined)__"},
    {"parens", R"__({{(1)}} {{(printf "%d" 2)}})__", R"__(null)__", R"__(OK:1 2)__"},
    {"pipeline", R"__({{"a" | printf "%s-%s" "b"}})__", R"__(null)__", R"__(OK:b-a)__"},
    {"pipeline chain", R"__({{1 | printf "%d" | printf "<%s>"}})__", R"__(null)__",
     R"__(OK:<1>)__"},
    {"paren field", R"__({{(.a).b}})__", R"__({"a":{"b":"x"}})__", R"__(OK:x)__"},
    {"string escapes", R"__({{"a\tb\n\"\u00e9"}})__", R"__(null)__", R"__(OK:a	b
"é)__"},
    {"raw string", R"__({{`a\n`}})__", R"__(null)__", R"__(OK:a\n)__"},
    {"char const", R"__({{'a'}} {{'\n'}})__", R"__(null)__", R"__(OK:97 10)__"},
    {"hex octal", R"__({{0x10}} {{0o17}} {{017}} {{0b101}} {{1_000}})__", R"__(null)__",
     R"__(OK:16 15 15 5 1000)__"},
    {"float consts", R"__({{1.5}} {{1e3}} {{.5}} {{1.0}})__", R"__(null)__",
     R"__(OK:1.5 1000 0.5 1)__"},
    {"bool nil", R"__({{true}} {{false}} {{print nil}})__", R"__(null)__",
     R"__(OK:true false <nil>)__"},
    {"and or", R"__({{and 1 2}} {{and 0 2}} {{or 0 2}} {{or 0 ""}} {{and}})__", R"__(null)__",
     R"__(ERR:template: x:1:49: executing "x" at <and>: wrong number of args for and: want at least 1 got 0)__"},
    {"and short-circuit", R"__({{and 0 (fail "x")}} {{or 1 (fail "y")}})__", R"__(null)__",
     R"__(OK:0 1)__"},
    {"not", R"__({{not 0}} {{not 1}} {{not .x}})__", R"__({})__", R"__(OK:true false true)__"},
    {"eq", R"__({{eq 1 1}} {{eq 1 2}} {{eq "a" "a"}} {{eq 1 2 1}} {{eq .x nil}})__", R"__({})__",
     R"__(OK:true false true true true)__"},
    {"eq incompatible", R"__({{eq 1 "1"}})__", R"__(null)__",
     R"__(ERR:template: x:1:2: executing "x" at <eq 1 "1">: error calling eq: incompatible types for comparison)__"},
    {"eq int float", R"__({{eq 1 1.0}})__", R"__(null)__",
     R"__(ERR:template: x:1:2: executing "x" at <eq 1 1.0>: error calling eq: incompatible types for comparison)__"},
    {"ne", R"__({{ne 1 2}} {{ne "a" "a"}})__", R"__(null)__", R"__(OK:true false)__"},
    {"lt le gt ge",
     R"__({{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 2 1}} {{lt "a" "b"}} {{lt 1.5 2.5}})__",
     R"__(null)__", R"__(OK:true true false true true true)__"},
    {"lt bool", R"__({{lt true false}})__", R"__(null)__",
     R"__(ERR:template: x:1:2: executing "x" at <lt true false>: error calling lt: invalid type for comparison)__"},
    {"lt mixed", R"__({{lt 1 1.5}})__", R"__(null)__",
     R"__(ERR:template: x:1:2: executing "x" at <lt 1 1.5>: error calling lt: incompatible types for comparison)__"},
    {"len", R"__({{len "abc"}} {{len .l}} {{len .m}})__", R"__({"l":[1,2],"m":{"a":1}})__",
     R"__(OK:3 2 1)__"},
    {"len int", R"__({{len 3}})__", R"__(null)__",
     R"__(ERR:template: x:1:2: executing "x" at <len 3>: error calling len: len of type int)__"},
    {"index", R"__({{index .l 1}} {{index .m "a"}} {{index .n "a" 0}} {{index .m "zz"}})__",
     R"__({"l":[1,2],"m":{"a":"A"},"n":{"a":[9]}})__", R"__(OK:2 A 9 <no value>)__"},
    {"index out of range", R"__({{index .l 5}})__", R"__({"l":[1]})__",
     R"__(ERR:template: x:1:2: executing "x" at <index .l 5>: error calling index: index out of range: 5)__"},
    {"print", R"__({{print 1 2 "a" "b" 3}})__", R"__(null)__", R"__(OK:1 2ab3)__"},
    {"println", R"__({{println 1 "a"}})__", R"__(null)__", R"__(OK:1 a
)__"},
    {"printf verbs",
     R"__({{printf "%s|%d|%v|%q|%x|%X|%o|%t|%c|%%" "s" 42 1.5 "q" 255 255 8 true 65}})__",
     R"__(null)__", R"__(OK:s|42|1.5|"q"|ff|FF|10|true|A|%)__"},
    {"printf width",
     R"__({{printf "[%5s][%-5s][%05d][%5.2f][%.3s][%+d][%8.3e]" "ab" "ab" 42 3.14159 "abcdef" 5 1234.5}})__",
     R"__(null)__", R"__(OK:[   ab][ab   ][00042][ 3.14][abc][+5][1.234e+03])__"},
    {"printf go values", R"__({{printf "%v %v %v %v" .m .l .n .f}})__",
     R"__({"m":{"b":[1,"x"],"a":{}},"l":[1,2.5,"s",null,true],"n":null,"f":1e6})__",
     R"__(OK:map[a:map[] b:[1 x]] [1 2.5 s <nil> true] <nil> 1e+06)__"},
    {"printf bad verbs", R"__({{printf "%d %s" "x" 3}} {{printf "%d"}} {{printf "a" 1}})__",
     R"__(null)__", R"__(OK:%!d(string=x) %!s(int=3) %!d(MISSING) a%!(EXTRA int=1))__"},
    {"printf T", R"__({{printf "%T %T %T %T %T" 1 1.5 "s" .l .m}})__", R"__({"l":[],"m":{}})__",
     R"__(OK:int float64 string []interface {} map[string]interface {})__"},
    {"printf floats", R"__({{printf "%v %v %v %v %v %g" 0.1 1e20 1e21 123456789.0 0.00001 2.5}})__",
     R"__(null)__", R"__(OK:0.1 1e+20 1e+21 1.23456789e+08 1e-05 2.5)__"},
    {"print float values", R"__({{.a}} {{.b}} {{.c}} {{.d}})__",
     R"__({"a":1000000,"b":0.000001,"c":123.456,"d":-7})__", R"__(OK:1e+06 1e-06 123.456 -7)__"},
    {"html js urlquery", R"__({{html "<a&'\">"}} {{js "a'b\"<>&="}} {{urlquery "a b&c/d?"}})__",
     R"__(null)__",
     R"__(OK:&lt;a&amp;&#39;&#34;&gt; a\'b\"\u003C\u003E\u0026\u003D a+b%26c%2Fd%3F)__"},
    {"slice builtin sprig", R"__({{slice .l 1 3}})__", R"__({"l":[1,2,3,4]})__", R"__(OK:[2 3])__"},
    {"nil command", R"__({{nil}})__", R"__(null)__",
     R"__(ERR:template: x:1:2: executing "x" at <nil>: nil is not a command)__"},
    {"arg to non-function", R"__({{1 2}})__", R"__(null)__",
     R"__(ERR:template: x:1:2: executing "x" at <1>: can't give argument to non-function 1)__"},
    {"undefined function", R"__({{nope 1}})__", R"__(null)__",
     R"__(PARSE:template: x:1: function "nope" not defined)__"},
    {"unclosed action", R"__({{1)__", R"__(null)__", R"__(PARSE:template: x:1: unclosed action)__"},
    {"unexpected end", R"__({{end}})__", R"__(null)__",
     R"__(PARSE:template: x:1: unexpected {{end}})__"},
    {"missing end", R"__({{if 1}}x)__", R"__(null)__",
     R"__(PARSE:template: x:1: unexpected EOF)__"},
    {"nested define use",
     R"__({{define "a"}}A{{template "b" .}}{{end}}{{define "b"}}B{{.}}{{end}}{{template "a" 1}})__",
     R"__(null)__", R"__(OK:AB1)__"},
    {"variables scope", R"__({{$x := 1}}{{if 1}}{{$x := 2}}{{$x}}{{end}}{{$x}})__", R"__(null)__",
     R"__(OK:21)__"},
    {"assign in if", R"__({{$x := 1}}{{if 1}}{{$x = 2}}{{end}}{{$x}})__", R"__(null)__",
     R"__(OK:2)__"},
    {"range assigns outer", R"__({{$s := ""}}{{range .l}}{{$s = print $s .}}{{end}}{{$s}})__",
     R"__({"l":["a","b"]})__", R"__(OK:ab)__"},
    {"method-less map with args", R"__({{.m.a 1}})__", R"__({"m":{"a":1}})__",
     R"__(ERR:template: x:1:4: executing "x" at <.m.a>: a is not a method but has arguments)__"},
    {"deep nil field", R"__({{.a.b.c}})__", R"__({"a":{}})__",
     R"__(ERR:template: x:1:4: executing "x" at <.a.b.c>: nil pointer evaluating interface {}.c)__"},
    {"printf map value", R"__({{printf "%s" .m}})__", R"__({"m":{"a":"x","b":1}})__",
     R"__(OK:map[a:x b:%!s(float64=1)])__"},
    {"int of float value", R"__({{int .a}} {{.a}})__", R"__({"a":3})__", R"__(OK:3 3)__"},
    {"pipe into if", R"__({{if .a | not}}no a{{end}})__", R"__({})__", R"__(OK:no a)__"},
    {"whitespace trim newline", R"__(a
{{- "b" }}
{{- "c" -}}
d)__",
     R"__(null)__", R"__(OK:abcd)__"},

};

std::string run(const std::string& text, const Value& dot, Limits limits = {}) {
  static const FuncMap funcs = helm_funcs();
  TemplateSet set;
  if (auto p = set.parse("x", text, &funcs); !p) return "PARSE:" + p.error();
  Executor ex(set, funcs, limits);
  auto r = ex.execute("x", dot);
  if (!r) return "ERR:" + r.error();
  return "OK:" + *r;
}

TEST(Template, MatchesGo) {
  for (const Case& c : kCases) {
    Value dot = from_json(json::parse(c.data));
    EXPECT_EQ(run(c.text, dot), c.want) << c.name << ": " << c.text;
  }
}

// Go 1.22 ranges over an int (Helm is built with it; the oracle's Go 1.19
// is not).
TEST(Template, RangeOverInt) {
  EXPECT_EQ(run("{{range $i := 3}}{{$i}}{{end}}", Value()), "OK:012");
  EXPECT_EQ(run("{{range 0}}x{{else}}none{{end}}", Value()), "OK:none");
}

TEST(Template, RecursionIsBounded) {
  Limits l;
  l.max_depth = 50;
  std::string r =
      run(R"({{define "loop"}}{{template "loop" .}}{{end}}{{template "loop" .}})", Value(), l);
  EXPECT_NE(r.find("exceeded maximum template depth (50)"), std::string::npos) << r;
}

TEST(Template, OutputIsBounded) {
  Limits l;
  l.max_output = 1000;
  std::string r = run("{{range $i := 100}}0123456789abcdef{{end}}", Value(), l);
  EXPECT_NE(r.find("output exceeds 1000 bytes"), std::string::npos) << r;
}

TEST(Template, RangeIsBounded) {
  Limits l;
  l.max_range = 10;
  std::string r = run("{{range $i := 100}}{{end}}", Value(), l);
  EXPECT_NE(r.find("range exceeds its iteration limit"), std::string::npos) << r;
}

TEST(Template, ErrorsNameTemplateLineAndColumn) {
  std::string r = run("line one\n  {{ .Values.x.y }}", from_json(json::parse(R"({"Values":{}})")));
  EXPECT_EQ(r,
            "ERR:template: x:2:12: executing \"x\" at <.Values.x.y>: nil pointer evaluating "
            "interface {}.y");
}

TEST(Template, DefinesOfLaterFilesWin) {
  static const FuncMap funcs = helm_funcs();
  TemplateSet set;
  ASSERT_TRUE(set.parse("a", R"({{define "t"}}A{{end}})", &funcs));
  ASSERT_TRUE(set.parse("b", R"({{define "t"}}B{{end}}{{template "t"}})", &funcs));
  // An empty redefinition does not replace a template.
  ASSERT_TRUE(set.parse("c", R"({{define "t"}}{{end}})", &funcs));
  Executor ex(set, funcs);
  EXPECT_EQ(ex.execute("b", Value()).value_or("error"), "B");
}

TEST(Template, MapsAreSharedLikeGoMaps) {
  EXPECT_EQ(run(R"({{$d := dict "a" 1}}{{$_ := set $d "b" 2}}{{$d}})", Value()), "OK:map[a:1 b:2]");
}

}  // namespace
}  // namespace cairn::helm
