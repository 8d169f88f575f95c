// sprig's and Helm's functions against Go: every row of the tables was
// rendered by Go 1.19's text/template with sprig v3 (and, for toYaml, the
// toJSONish + yaml.v2 Marshal Helm does) and its output recorded. kYaml
// holds hand-picked and random (seeded) strings that exercise yaml.v2's
// quoting, literal blocks, folding and key order.
#include "helm/functions.h"

#include <gtest/gtest.h>

#include <regex>

#include "cases.h"
#include "helm/template.h"
#include "helm/yaml.h"

namespace cairn::helm {
namespace {

using test::Case;
using test::check;
using test::run;

const Case kFuncs[] = {
    {"strings case",
     R"__({{ upper "aBc" }} {{ lower "AbC" }} {{ title "hello wOrld-x_y" }} {{ untitle "Hello World" }} {{ swapcase "aB" }})__",
     R"__(null)__", R"__(OK:ABC abc Hello WOrld-X_y hello world Ab)__"},
    {"trim",
     R"__({{ trim "  a b  " }}|{{ trimAll "$" "$$5$" }}|{{ trimPrefix "ab" "abc" }}|{{ trimSuffix "-" "a-" }}|{{ nospace " a b	c" }})__",
     R"__(null)__", R"__(OK:a b|5|c|a|abc)__"},
    {"contains prefix suffix",
     R"__({{ contains "b" "abc" }} {{ hasPrefix "a" "abc" }} {{ hasSuffix "c" "abc" }} {{ hasPrefix "x" "abc" }})__",
     R"__(null)__", R"__(OK:true true true false)__"},
    {"replace repeat", R"__({{ replace "a" "b" "banana" }} {{ repeat 3 "ab" }})__", R"__(null)__",
     R"__(OK:bbnbnb ababab)__"},
    {"substr trunc",
     R"__({{ substr 1 3 "hello" }}|{{ substr -1 3 "hello" }}|{{ substr 2 99 "hello" }}|{{ trunc 3 "hello" }}|{{ trunc -2 "hello" }}|{{ trunc 10 "hi" }})__",
     R"__(null)__", R"__(OK:el|hel|llo|hel|lo|hi)__"},
    {"abbrev initials",
     R"__({{ abbrev 5 "hello world" }}|{{ abbrev 20 "hello" }}|{{ initials "hello big world" }})__",
     R"__(null)__", R"__(OK:he...|hello|hbw)__"},
    {"indent nindent", R"__([{{ indent 2 "a\nb" }}][{{ nindent 2 "a\nb" }}])__", R"__(null)__",
     R"__(OK:[  a
  b][
  a
  b])__"},
    {"quote squote cat",
     R"__({{ quote "a" 1 nil "b\"c" }}|{{ squote "a" 2 }}|{{ cat "a" 1 nil "b" }})__",
     R"__(null)__", R"__(OK:"a" "1" "b\"c"|'a' '2'|a 1 b)__"},
    {"plural", R"__({{ plural "one" "many" 1 }} {{ plural "one" "many" 2 }})__", R"__(null)__",
     R"__(OK:one many)__"},
    {"case conversions",
     R"__({{ snakecase "FirstName" }} {{ kebabcase "FirstName" }} {{ camelcase "http_server" }})__",
     R"__(null)__", R"__(OK:first_name first-name HttpServer)__"},
    {"split join",
     R"__({{ split "," "a,b,c" }} {{ splitList "," "a,b" }} {{ splitn "," 2 "a,b,c" }} {{ join "-" (list 1 nil "b") }} {{ join "," .l }})__",
     R"__({"l":["x","y"]})__", R"__(OK:map[_0:a _1:b _2:c] [a b] map[_0:a _1:b,c] 1-b x,y)__"},
    {"regex",
     R"__({{ regexMatch "^a.c$" "abc" }} {{ regexFind "n.n" "banana" }} {{ regexFindAll "a." "abacad" -1 }} {{ regexFindAll "a." "abacad" 2 }} {{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }} {{ regexReplaceAllLiteral "a" "banana" "$1" }} {{ regexSplit "a" "banana" -1 }})__",
     R"__(null)__", R"__(OK:true nan [ab ac ad] [ab ac] -W-xxW- b$1n$1n$1 [b n n ])__"},
    {"toString toStrings",
     R"__({{ toString 1 }} {{ toString 1.5 }} {{ toString true }} {{ toStrings (list 1 "a" nil) }})__",
     R"__(null)__", R"__(OK:1 1.5 true [1 a])__"},
    {"conversions",
     R"__({{ atoi "12" }} {{ atoi "x" }} {{ int "0x10" }} {{ int 2.7 }} {{ int64 "5" }} {{ float64 "1.5" }} {{ int .f }} {{ typeOf (int 1) }} {{ typeOf (int64 1) }})__",
     R"__({"f":3.9})__", R"__(OK:12 0 16 2 5 1.5 3 int int64)__"},
    {"default",
     R"__({{ default "d" "" }} {{ default "d" "x" }} {{ default "d" 0 }} {{ default "d" .nope }} {{ default "d" false }} {{ default "d" (list) }} {{ .nope | default "p" }})__",
     R"__({})__", R"__(OK:d x d d d d p)__"},
    {"empty coalesce ternary",
     R"__({{ empty 0 }} {{ empty "" }} {{ empty (dict) }} {{ empty 1 }} {{ coalesce 0 "" "x" "y" }} {{ ternary "a" "b" true }} {{ ternary "a" "b" false }})__",
     R"__(null)__", R"__(OK:true true true false x a b)__"},
    {"list functions",
     R"__({{ first .l }} {{ last .l }} {{ rest .l }} {{ initial .l }} {{ reverse .l }} {{ append .l 4 }} {{ prepend .l 0 }} {{ concat .l (list 9) }})__",
     R"__({"l":[1,2,3]})__", R"__(OK:1 3 [2 3] [1 2] [3 2 1] [1 2 3 4] [0 1 2 3] [1 2 3 9])__"},
    {"first of empty", R"__({{ first (list) }})__", R"__(null)__", R"__(OK:<no value>)__"},
    {"uniq without has compact",
     R"__({{ uniq (list 1 1 "a" "a") }} {{ without (list 1 2 3) 2 }} {{ has 2 (list 1 2) }} {{ has "x" (list 1 2) }} {{ compact (list 1 "" nil 0 false "a") }})__",
     R"__(null)__", R"__(OK:[1 a] [1 3] true false [1 a])__"},
    {"sortAlpha", R"__({{ sortAlpha (list "b" "C" "a" 10 2) }})__", R"__(null)__",
     R"__(OK:[10 2 C a b])__"},
    {"until seq",
     R"__({{ until 3 }} {{ untilStep 0 10 3 }} {{ seq 5 }} {{ seq 2 5 }} {{ seq 5 2 }} {{ seq 0 2 10 }})__",
     R"__(null)__", R"__(OK:[0 1 2] [0 3 6 9] 1 2 3 4 5 2 3 4 5 5 4 3 2 0 2 4 6 8 10)__"},
    {"math",
     R"__({{ add 1 2 3 }} {{ add1 4 }} {{ sub 5 2 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ mod 7 3 }} {{ max 1 5 3 }} {{ min 4 2 8 }} {{ add .a 1 }})__",
     R"__({"a":1.5})__", R"__(OK:6 5 3 24 3 1 5 2 2)__"},
    {"float math",
     R"__({{ floor 2.5 }} {{ ceil 2.1 }} {{ round 3.14159 2 }} {{ addf 1.5 2 }} {{ mulf 1.5 2 }} {{ divf 1 4 }} {{ maxf 1 2.5 }})__",
     R"__(null)__", R"__(OK:2 3 3.14 3.5 3 0.25 2.5)__"},
    {"dict",
     R"__({{ dict "b" 2 "a" 1 }} {{ dict "odd" }} {{ get (dict "a" 1) "a" }} {{ get (dict "a" 1) "b" | quote }})__",
     R"__(null)__", R"__(OK:map[a:1 b:2] map[odd:] 1 "")__"},
    {"set unset hasKey",
     R"__({{ $d := dict "a" 1 }}{{ $_ := set $d "b" 2 }}{{ $d }} {{ hasKey $d "b" }} {{ $_ := unset $d "a" }}{{ $d }})__",
     R"__(null)__", R"__(OK:map[a:1 b:2] true map[b:2])__"},
    {"pluck keys values",
     R"__({{ pluck "a" (dict "a" 1) (dict "b" 1) (dict "a" 2) }} {{ keys (dict "b" 1 "a" 2) | sortAlpha }} {{ values (dict "a" 1) }})__",
     R"__(null)__", R"__(OK:[1 2] [a b] [1])__"},
    {"pick omit",
     R"__({{ pick (dict "a" 1 "b" 2 "c" 3) "a" "c" }} {{ omit (dict "a" 1 "b" 2) "a" }})__",
     R"__(null)__", R"__(OK:map[a:1 c:3] map[b:2])__"},
    {"merge",
     R"__({{ merge (dict "a" "" "b" 1 "n" (dict "x" 1)) (dict "a" "x" "b" 2 "n" (dict "y" 2)) }} {{ mergeOverwrite (dict "a" 1 "b" (dict "c" 1)) (dict "b" (dict "d" 2) "a" 0) }})__",
     R"__(null)__", R"__(OK:map[a:x b:1 n:map[x:1 y:2]] map[a:0 b:map[c:1 d:2]])__"},
    {"deepCopy",
     R"__({{ $a := dict "x" (list 1) }}{{ $b := deepCopy $a }}{{ $_ := set $b "y" 2 }}{{ $a }} {{ $b }})__",
     R"__(null)__", R"__(OK:map[x:[1]] map[x:[1] y:2])__"},
    {"dig", R"__({{ dig "a" "b" "def" .m }} {{ dig "a" "z" "def" .m }})__",
     R"__({"m":{"a":{"b":"found"}}})__", R"__(OK:found def)__"},
    {"encoding",
     R"__({{ b64enc "hello" }} {{ b64dec "aGVsbG8=" }} {{ sha1sum "a" }} {{ sha256sum "a" }} {{ adler32sum "hello" }})__",
     R"__(null)__",
     R"__(OK:aGVsbG8= hello 86f7e437faa5a7fce15d1ddcb9eaeaea377667b8 ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb 103547413)__"},
    {"toJson",
     R"__({{ toJson .v }} {{ toJson "<&>" }} {{ toJson 1.5 }} {{ toJson nil }} {{ toRawJson (dict "a" "<b>") }})__",
     R"__({"v":{"b":[1,2.5,"x",null,true],"a":{}}})__",
     R"__(OK:{"a":{},"b":[1,2.5,"x",null,true]} "\u003c\u0026\u003e" 1.5 null {"a":"<b>"})__"},
    {"toPrettyJson", R"__({{ toPrettyJson (dict "a" (list 1 2) "b" (dict)) }})__", R"__(null)__",
     R"__(OK:{
  "a": [
    1,
    2
  ],
  "b": {}
})__"},
    {"types",
     R"__({{ typeOf 1 }} {{ typeOf 1.5 }} {{ typeOf "s" }} {{ typeOf .l }} {{ typeOf .m }} {{ kindOf .l }} {{ kindOf .m }} {{ kindIs "string" "a" }} {{ kindIs "map" .m }} {{ typeIs "float64" 2.0 }})__",
     R"__({"l":[],"m":{}})__",
     R"__(OK:int float64 string []interface {} map[string]interface {} slice map true true true)__"},
    {"semverCompare",
     R"__({{ semverCompare ">=1.21-0" "v1.27.3" }} {{ semverCompare ">=1.21" "1.27.3-gke.1" }} {{ semverCompare ">=1.21-0" "1.27.3-gke.1" }} {{ semverCompare "~1.2.3" "1.2.9" }} {{ semverCompare "~1.2.3" "1.3.0" }} {{ semverCompare "^1.2" "1.9.0" }} {{ semverCompare "^1.2" "2.0.0" }} {{ semverCompare "^0.2.3" "0.2.9" }} {{ semverCompare "^0.2.3" "0.3.0" }})__",
     R"__(null)__", R"__(OK:true false true true false true false true false)__"},
    {"semverCompare ranges",
     R"__({{ semverCompare "1.2 - 1.4" "1.3.5" }} {{ semverCompare "1.2 - 1.4" "1.4.1" }} {{ semverCompare ">1.0, <2.0" "1.5.0" }} {{ semverCompare "<1.0 || >=3.0" "2.0.0" }} {{ semverCompare "<1.0 || >=3.0" "3.1.0" }} {{ semverCompare "1.2.x" "1.2.7" }} {{ semverCompare "1.2.x" "1.3.0" }} {{ semverCompare "*" "9.9.9" }} {{ semverCompare "!=1.2.3" "1.2.3" }} {{ semverCompare "> 1.2" "1.2.1" }})__",
     R"__(null)__", R"__(OK:true true true false true true false true false false)__"},
    {"semver object",
     R"__({{ $v := semver "1.2.3-beta.1+meta" }}{{ $v.Major }} {{ $v.Minor }} {{ $v.Patch }} {{ $v.Prerelease }} {{ $v.Metadata }})__",
     R"__(null)__", R"__(OK:1 2 3 beta.1 meta)__"},
    {"semverCompare bad", R"__({{ semverCompare "bogus!" "1.0.0" }})__", R"__(null)__",
     R"__(ERR:template: x:1:3: executing "x" at <semverCompare "bogus!" "1.0.0">: error calling semverCompare: improper constraint: bogus!)__"},
    {"path functions",
     R"__({{ base "/a/b/c.txt" }} {{ dir "/a/b/c" }} {{ ext "a/b.tar.gz" }} {{ clean "a//b/../c/." }} {{ isAbs "/x" }})__",
     R"__(null)__", R"__(OK:c.txt /a/b .gz a/c true)__"},
    {"trunc wrong type", R"__({{ trunc .n "abc" }})__", R"__({"n":2})__",
     R"__(ERR:template: x:1:9: executing "x" at <.n>: wrong type for value; expected int; got float64)__"},
    {"wrap", R"__({{ wrap 5 "hello big world" }})__", R"__(null)__", R"__(OK:hello
big
world)__"},

};

const Case kYaml[] = {
    {"value 0", R"__({{ toYaml . }})__", R"__({"k": "", "l": [""]})__", R"__(OK:k: ""
l:
- "")__"},
    {"key 0", R"__({{ toYaml . }})__", R"__({"": 1})__", R"__(OK:"": 1)__"},
    {"value 1", R"__({{ toYaml . }})__", R"__({"k": " ", "l": [" "]})__", R"__(OK:k: ' '
l:
- ' ')__"},
    {"key 1", R"__({{ toYaml . }})__", R"__({" ": 1})__", R"__(OK:' ': 1)__"},
    {"value 2", R"__({{ toYaml . }})__", R"__({"k": "a", "l": ["a"]})__", R"__(OK:k: a
l:
- a)__"},
    {"key 2", R"__({{ toYaml . }})__", R"__({"a": 1})__", R"__(OK:a: 1)__"},
    {"value 3", R"__({{ toYaml . }})__", R"__({"k": "yes", "l": ["yes"]})__", R"__(OK:k: "yes"
l:
- "yes")__"},
    {"key 3", R"__({{ toYaml . }})__", R"__({"yes": 1})__", R"__(OK:"yes": 1)__"},
    {"value 4", R"__({{ toYaml . }})__", R"__({"k": "No", "l": ["No"]})__", R"__(OK:k: "No"
l:
- "No")__"},
    {"key 4", R"__({{ toYaml . }})__", R"__({"No": 1})__", R"__(OK:"No": 1)__"},
    {"value 5", R"__({{ toYaml . }})__", R"__({"k": "on", "l": ["on"]})__", R"__(OK:k: "on"
l:
- "on")__"},
    {"key 5", R"__({{ toYaml . }})__", R"__({"on": 1})__", R"__(OK:"on": 1)__"},
    {"value 6", R"__({{ toYaml . }})__", R"__({"k": "OFF", "l": ["OFF"]})__", R"__(OK:k: "OFF"
l:
- "OFF")__"},
    {"key 6", R"__({{ toYaml . }})__", R"__({"OFF": 1})__", R"__(OK:"OFF": 1)__"},
    {"value 7", R"__({{ toYaml . }})__", R"__({"k": "y", "l": ["y"]})__", R"__(OK:k: "y"
l:
- "y")__"},
    {"key 7", R"__({{ toYaml . }})__", R"__({"y": 1})__", R"__(OK:"y": 1)__"},
    {"value 8", R"__({{ toYaml . }})__", R"__({"k": "n", "l": ["n"]})__", R"__(OK:k: "n"
l:
- "n")__"},
    {"key 8", R"__({{ toYaml . }})__", R"__({"n": 1})__", R"__(OK:"n": 1)__"},
    {"value 9", R"__({{ toYaml . }})__", R"__({"k": "true", "l": ["true"]})__", R"__(OK:k: "true"
l:
- "true")__"},
    {"key 9", R"__({{ toYaml . }})__", R"__({"true": 1})__", R"__(OK:"true": 1)__"},
    {"value 10", R"__({{ toYaml . }})__", R"__({"k": "null", "l": ["null"]})__", R"__(OK:k: "null"
l:
- "null")__"},
    {"key 10", R"__({{ toYaml . }})__", R"__({"null": 1})__", R"__(OK:"null": 1)__"},
    {"value 11", R"__({{ toYaml . }})__", R"__({"k": "~", "l": ["~"]})__", R"__(OK:k: "~"
l:
- "~")__"},
    {"key 11", R"__({{ toYaml . }})__", R"__({"~": 1})__", R"__(OK:"~": 1)__"},
    {"value 12", R"__({{ toYaml . }})__", R"__({"k": "Null", "l": ["Null"]})__", R"__(OK:k: "Null"
l:
- "Null")__"},
    {"key 12", R"__({{ toYaml . }})__", R"__({"Null": 1})__", R"__(OK:"Null": 1)__"},
    {"value 13", R"__({{ toYaml . }})__", R"__({"k": "1", "l": ["1"]})__", R"__(OK:k: "1"
l:
- "1")__"},
    {"key 13", R"__({{ toYaml . }})__", R"__({"1": 1})__", R"__(OK:"1": 1)__"},
    {"value 14", R"__({{ toYaml . }})__", R"__({"k": "-1", "l": ["-1"]})__", R"__(OK:k: "-1"
l:
- "-1")__"},
    {"key 14", R"__({{ toYaml . }})__", R"__({"-1": 1})__", R"__(OK:"-1": 1)__"},
    {"value 15", R"__({{ toYaml . }})__", R"__({"k": "+1", "l": ["+1"]})__", R"__(OK:k: "+1"
l:
- "+1")__"},
    {"key 15", R"__({{ toYaml . }})__", R"__({"+1": 1})__", R"__(OK:"+1": 1)__"},
    {"value 16", R"__({{ toYaml . }})__", R"__({"k": "1.0", "l": ["1.0"]})__", R"__(OK:k: "1.0"
l:
- "1.0")__"},
    {"key 16", R"__({{ toYaml . }})__", R"__({"1.0": 1})__", R"__(OK:"1.0": 1)__"},
    {"value 17", R"__({{ toYaml . }})__", R"__({"k": "1e3", "l": ["1e3"]})__", R"__(OK:k: "1e3"
l:
- "1e3")__"},
    {"key 17", R"__({{ toYaml . }})__", R"__({"1e3": 1})__", R"__(OK:"1e3": 1)__"},
    {"value 18", R"__({{ toYaml . }})__", R"__({"k": ".5", "l": [".5"]})__", R"__(OK:k: ".5"
l:
- ".5")__"},
    {"key 18", R"__({{ toYaml . }})__", R"__({".5": 1})__", R"__(OK:".5": 1)__"},
    {"value 19", R"__({{ toYaml . }})__", R"__({"k": "0755", "l": ["0755"]})__", R"__(OK:k: "0755"
l:
- "0755")__"},
    {"key 19", R"__({{ toYaml . }})__", R"__({"0755": 1})__", R"__(OK:"0755": 1)__"},
    {"value 20", R"__({{ toYaml . }})__", R"__({"k": "08", "l": ["08"]})__", R"__(OK:k: "08"
l:
- "08")__"},
    {"key 20", R"__({{ toYaml . }})__", R"__({"08": 1})__", R"__(OK:"08": 1)__"},
    {"value 21", R"__({{ toYaml . }})__", R"__({"k": "0x1F", "l": ["0x1F"]})__", R"__(OK:k: "0x1F"
l:
- "0x1F")__"},
    {"key 21", R"__({{ toYaml . }})__", R"__({"0x1F": 1})__", R"__(OK:"0x1F": 1)__"},
    {"value 22", R"__({{ toYaml . }})__", R"__({"k": "0o17", "l": ["0o17"]})__", R"__(OK:k: "0o17"
l:
- "0o17")__"},
    {"key 22", R"__({{ toYaml . }})__", R"__({"0o17": 1})__", R"__(OK:"0o17": 1)__"},
    {"value 23", R"__({{ toYaml . }})__", R"__({"k": "0b101", "l": ["0b101"]})__",
     R"__(OK:k: "0b101"
l:
- "0b101")__"},
    {"key 23", R"__({{ toYaml . }})__", R"__({"0b101": 1})__", R"__(OK:"0b101": 1)__"},
    {"value 24", R"__({{ toYaml . }})__", R"__({"k": "1_000", "l": ["1_000"]})__",
     R"__(OK:k: "1_000"
l:
- "1_000")__"},
    {"key 24", R"__({{ toYaml . }})__", R"__({"1_000": 1})__", R"__(OK:"1_000": 1)__"},
    {"value 25", R"__({{ toYaml . }})__", R"__({"k": "12:30", "l": ["12:30"]})__",
     R"__(OK:k: "12:30"
l:
- "12:30")__"},
    {"key 25", R"__({{ toYaml . }})__", R"__({"12:30": 1})__", R"__(OK:"12:30": 1)__"},
    {"value 26", R"__({{ toYaml . }})__", R"__({"k": "1:20:30", "l": ["1:20:30"]})__",
     R"__(OK:k: "1:20:30"
l:
- "1:20:30")__"},
    {"key 26", R"__({{ toYaml . }})__", R"__({"1:20:30": 1})__", R"__(OK:"1:20:30": 1)__"},
    {"value 27", R"__({{ toYaml . }})__", R"__({"k": "2024-01-02", "l": ["2024-01-02"]})__",
     R"__(OK:k: "2024-01-02"
l:
- "2024-01-02")__"},
    {"key 27", R"__({{ toYaml . }})__", R"__({"2024-01-02": 1})__", R"__(OK:"2024-01-02": 1)__"},
    {"value 28", R"__({{ toYaml . }})__",
     R"__({"k": "2024-01-02T10:00:00Z", "l": ["2024-01-02T10:00:00Z"]})__",
     R"__(OK:k: "2024-01-02T10:00:00Z"
l:
- "2024-01-02T10:00:00Z")__"},
    {"key 28", R"__({{ toYaml . }})__", R"__({"2024-01-02T10:00:00Z": 1})__",
     R"__(OK:"2024-01-02T10:00:00Z": 1)__"},
    {"value 29", R"__({{ toYaml . }})__", R"__({"k": "1.2.3", "l": ["1.2.3"]})__", R"__(OK:k: 1.2.3
l:
- 1.2.3)__"},
    {"key 29", R"__({{ toYaml . }})__", R"__({"1.2.3": 1})__", R"__(OK:1.2.3: 1)__"},
    {"value 30", R"__({{ toYaml . }})__", R"__({"k": "v1.2", "l": ["v1.2"]})__", R"__(OK:k: v1.2
l:
- v1.2)__"},
    {"key 30", R"__({{ toYaml . }})__", R"__({"v1.2": 1})__", R"__(OK:v1.2: 1)__"},
    {"value 31", R"__({{ toYaml . }})__", R"__({"k": "a: b", "l": ["a: b"]})__", R"__(OK:k: 'a: b'
l:
- 'a: b')__"},
    {"key 31", R"__({{ toYaml . }})__", R"__({"a: b": 1})__", R"__(OK:'a: b': 1)__"},
    {"value 32", R"__({{ toYaml . }})__", R"__({"k": "a:b", "l": ["a:b"]})__", R"__(OK:k: a:b
l:
- a:b)__"},
    {"key 32", R"__({{ toYaml . }})__", R"__({"a:b": 1})__", R"__(OK:a:b: 1)__"},
    {"value 33", R"__({{ toYaml . }})__", R"__({"k": "- x", "l": ["- x"]})__", R"__(OK:k: '- x'
l:
- '- x')__"},
    {"key 33", R"__({{ toYaml . }})__", R"__({"- x": 1})__", R"__(OK:'- x': 1)__"},
    {"value 34", R"__({{ toYaml . }})__", R"__({"k": "-x", "l": ["-x"]})__", R"__(OK:k: -x
l:
- -x)__"},
    {"key 34", R"__({{ toYaml . }})__", R"__({"-x": 1})__", R"__(OK:-x: 1)__"},
    {"value 35", R"__({{ toYaml . }})__", R"__({"k": "#c", "l": ["#c"]})__", R"__(OK:k: '#c'
l:
- '#c')__"},
    {"key 35", R"__({{ toYaml . }})__", R"__({"#c": 1})__", R"__(OK:'#c': 1)__"},
    {"value 36", R"__({{ toYaml . }})__", R"__({"k": "a #c", "l": ["a #c"]})__", R"__(OK:k: 'a #c'
l:
- 'a #c')__"},
    {"key 36", R"__({{ toYaml . }})__", R"__({"a #c": 1})__", R"__(OK:'a #c': 1)__"},
    {"value 37", R"__({{ toYaml . }})__", R"__({"k": "a#c", "l": ["a#c"]})__", R"__(OK:k: a#c
l:
- a#c)__"},
    {"key 37", R"__({{ toYaml . }})__", R"__({"a#c": 1})__", R"__(OK:a#c: 1)__"},
    {"value 38", R"__({{ toYaml . }})__", R"__({"k": "? x", "l": ["? x"]})__", R"__(OK:k: '? x'
l:
- '? x')__"},
    {"key 38", R"__({{ toYaml . }})__", R"__({"? x": 1})__", R"__(OK:'? x': 1)__"},
    {"value 39", R"__({{ toYaml . }})__", R"__({"k": ": x", "l": [": x"]})__", R"__(OK:k: ': x'
l:
- ': x')__"},
    {"key 39", R"__({{ toYaml . }})__", R"__({": x": 1})__", R"__(OK:': x': 1)__"},
    {"value 40", R"__({{ toYaml . }})__", R"__({"k": "[a]", "l": ["[a]"]})__", R"__(OK:k: '[a]'
l:
- '[a]')__"},
    {"key 40", R"__({{ toYaml . }})__", R"__({"[a]": 1})__", R"__(OK:'[a]': 1)__"},
    {"value 41", R"__({{ toYaml . }})__", R"__({"k": "{a}", "l": ["{a}"]})__", R"__(OK:k: '{a}'
l:
- '{a}')__"},
    {"key 41", R"__({{ toYaml . }})__", R"__({"{a}": 1})__", R"__(OK:'{a}': 1)__"},
    {"value 42", R"__({{ toYaml . }})__", R"__({"k": "a,b", "l": ["a,b"]})__", R"__(OK:k: a,b
l:
- a,b)__"},
    {"key 42", R"__({{ toYaml . }})__", R"__({"a,b": 1})__", R"__(OK:a,b: 1)__"},
    {"value 43", R"__({{ toYaml . }})__", R"__({"k": "*x", "l": ["*x"]})__", R"__(OK:k: '*x'
l:
- '*x')__"},
    {"key 43", R"__({{ toYaml . }})__", R"__({"*x": 1})__", R"__(OK:'*x': 1)__"},
    {"value 44", R"__({{ toYaml . }})__", R"__({"k": "&x", "l": ["&x"]})__", R"__(OK:k: '&x'
l:
- '&x')__"},
    {"key 44", R"__({{ toYaml . }})__", R"__({"&x": 1})__", R"__(OK:'&x': 1)__"},
    {"value 45", R"__({{ toYaml . }})__", R"__({"k": "!x", "l": ["!x"]})__", R"__(OK:k: '!x'
l:
- '!x')__"},
    {"key 45", R"__({{ toYaml . }})__", R"__({"!x": 1})__", R"__(OK:'!x': 1)__"},
    {"value 46", R"__({{ toYaml . }})__", R"__({"k": "|x", "l": ["|x"]})__", R"__(OK:k: '|x'
l:
- '|x')__"},
    {"key 46", R"__({{ toYaml . }})__", R"__({"|x": 1})__", R"__(OK:'|x': 1)__"},
    {"value 47", R"__({{ toYaml . }})__", R"__({"k": ">x", "l": [">x"]})__", R"__(OK:k: '>x'
l:
- '>x')__"},
    {"key 47", R"__({{ toYaml . }})__", R"__({">x": 1})__", R"__(OK:'>x': 1)__"},
    {"value 48", R"__({{ toYaml . }})__", R"__({"k": "'x", "l": ["'x"]})__", R"__(OK:k: '''x'
l:
- '''x')__"},
    {"key 48", R"__({{ toYaml . }})__", R"__({"'x": 1})__", R"__(OK:'''x': 1)__"},
    {"value 49", R"__({{ toYaml . }})__", R"__({"k": "\"x", "l": ["\"x"]})__", R"__(OK:k: '"x'
l:
- '"x')__"},
    {"key 49", R"__({{ toYaml . }})__", R"__({"\"x": 1})__", R"__(OK:'"x': 1)__"},
    {"value 50", R"__({{ toYaml . }})__", R"__({"k": "%x", "l": ["%x"]})__", R"__(OK:k: '%x'
l:
- '%x')__"},
    {"key 50", R"__({{ toYaml . }})__", R"__({"%x": 1})__", R"__(OK:'%x': 1)__"},
    {"value 51", R"__({{ toYaml . }})__", R"__({"k": "@x", "l": ["@x"]})__", R"__(OK:k: '@x'
l:
- '@x')__"},
    {"key 51", R"__({{ toYaml . }})__", R"__({"@x": 1})__", R"__(OK:'@x': 1)__"},
    {"value 52", R"__({{ toYaml . }})__", R"__({"k": "`x", "l": ["`x"]})__", R"__(OK:k: '`x'
l:
- '`x')__"},
    {"key 52", R"__({{ toYaml . }})__", R"__({"`x": 1})__", R"__(OK:'`x': 1)__"},
    {"value 53", R"__({{ toYaml . }})__", R"__({"k": " lead", "l": [" lead"]})__",
     R"__(OK:k: ' lead'
l:
- ' lead')__"},
    {"key 53", R"__({{ toYaml . }})__", R"__({" lead": 1})__", R"__(OK:' lead': 1)__"},
    {"value 54", R"__({{ toYaml . }})__", R"__({"k": "trail ", "l": ["trail "]})__",
     R"__(OK:k: 'trail '
l:
- 'trail ')__"},
    {"key 54", R"__({{ toYaml . }})__", R"__({"trail ": 1})__", R"__(OK:'trail ': 1)__"},
    {"value 55", R"__({{ toYaml . }})__", R"__({"k": "it's", "l": ["it's"]})__", R"__(OK:k: it's
l:
- it's)__"},
    {"key 55", R"__({{ toYaml . }})__", R"__({"it's": 1})__", R"__(OK:it's: 1)__"},
    {"value 56", R"__({{ toYaml . }})__", R"__({"k": "a\nb", "l": ["a\nb"]})__", R"__(OK:k: |-
  a
  b
l:
- |-
  a
  b)__"},
    {"key 56", R"__({{ toYaml . }})__", R"__({"a\nb": 1})__", R"__(OK:? |-
  a
  b
: 1)__"},
    {"value 57", R"__({{ toYaml . }})__", R"__({"k": "a\nb\n", "l": ["a\nb\n"]})__", R"__(OK:k: |
  a
  b
l:
- |
  a
  b)__"},
    {"key 57", R"__({{ toYaml . }})__", R"__({"a\nb\n": 1})__", R"__(OK:? |
  a
  b
: 1)__"},
    {"value 58", R"__({{ toYaml . }})__", R"__({"k": "a\nb\n\n", "l": ["a\nb\n\n"]})__",
     R"__(OK:k: |+
  a
  b

l:
- |+
  a
  b
)__"},
    {"key 58", R"__({{ toYaml . }})__", R"__({"a\nb\n\n": 1})__", R"__(OK:? |+
  a
  b

: 1)__"},
    {"value 59", R"__({{ toYaml . }})__", R"__({"k": "\na", "l": ["\na"]})__", R"__(OK:k: |2-

  a
l:
- |2-

  a)__"},
    {"key 59", R"__({{ toYaml . }})__", R"__({"\na": 1})__", R"__(OK:? |2-

  a
: 1)__"},
    {"value 60", R"__({{ toYaml . }})__", R"__({"k": " a\nb", "l": [" a\nb"]})__", R"__(OK:k: |2-
   a
  b
l:
- |2-
   a
  b)__"},
    {"key 60", R"__({{ toYaml . }})__", R"__({" a\nb": 1})__", R"__(OK:? |2-
   a
  b
: 1)__"},
    {"value 61", R"__({{ toYaml . }})__", R"__({"k": "a \nb", "l": ["a \nb"]})__",
     R"__(OK:k: "a \nb"
l:
- "a \nb")__"},
    {"key 61", R"__({{ toYaml . }})__", R"__({"a \nb": 1})__", R"__(OK:? "a \nb"
: 1)__"},
    {"value 62", R"__({{ toYaml . }})__", R"__({"k": "a\n b", "l": ["a\n b"]})__", R"__(OK:k: |-
  a
   b
l:
- |-
  a
   b)__"},
    {"key 62", R"__({{ toYaml . }})__", R"__({"a\n b": 1})__", R"__(OK:? |-
  a
   b
: 1)__"},
    {"value 63", R"__({{ toYaml . }})__", R"__({"k": "tab\there", "l": ["tab\there"]})__",
     R"__(OK:k: "tab\there"
l:
- "tab\there")__"},
    {"key 63", R"__({{ toYaml . }})__", R"__({"tab\there": 1})__", R"__(OK:"tab\there": 1)__"},
    {"value 64", R"__({{ toYaml . }})__",
     R"__({"k": "uni \u00e9 \u00fc", "l": ["uni \u00e9 \u00fc"]})__", R"__(OK:k: uni é ü
l:
- uni é ü)__"},
    {"key 64", R"__({{ toYaml . }})__", R"__({"uni \u00e9 \u00fc": 1})__", R"__(OK:uni é ü: 1)__"},
    {"value 65", R"__({{ toYaml . }})__",
     R"__({"k": "emoji \ud83d\ude00", "l": ["emoji \ud83d\ude00"]})__",
     R"__(OK:k: "emoji \U0001F600"
l:
- "emoji \U0001F600")__"},
    {"key 65", R"__({{ toYaml . }})__", R"__({"emoji \ud83d\ude00": 1})__",
     R"__(OK:"emoji \U0001F600": 1)__"},
    {"value 66", R"__({{ toYaml . }})__", R"__({"k": "ctl\u0001x", "l": ["ctl\u0001x"]})__",
     R"__(OK:k: "ctl\x01x"
l:
- "ctl\x01x")__"},
    {"key 66", R"__({{ toYaml . }})__", R"__({"ctl\u0001x": 1})__", R"__(OK:"ctl\x01x": 1)__"},
    {"value 67", R"__({{ toYaml . }})__", R"__({"k": "del\u007f", "l": ["del\u007f"]})__",
     R"__(OK:k: "del\x7F"
l:
- "del\x7F")__"},
    {"key 67", R"__({{ toYaml . }})__", R"__({"del\u007f": 1})__", R"__(OK:"del\x7F": 1)__"},
    {"value 68", R"__({{ toYaml . }})__", R"__({"k": "---", "l": ["---"]})__", R"__(OK:k: '---'
l:
- '---')__"},
    {"key 68", R"__({{ toYaml . }})__", R"__({"---": 1})__", R"__(OK:'---': 1)__"},
    {"value 69", R"__({{ toYaml . }})__", R"__({"k": "...", "l": ["..."]})__", R"__(OK:k: '...'
l:
- '...')__"},
    {"key 69", R"__({{ toYaml . }})__", R"__({"...": 1})__", R"__(OK:'...': 1)__"},
    {"value 70", R"__({{ toYaml . }})__", R"__({"k": "--- x", "l": ["--- x"]})__",
     R"__(OK:k: '--- x'
l:
- '--- x')__"},
    {"key 70", R"__({{ toYaml . }})__", R"__({"--- x": 1})__", R"__(OK:'--- x': 1)__"},
    {"value 71", R"__({{ toYaml . }})__", R"__({"k": "a\\b", "l": ["a\\b"]})__", R"__(OK:k: a\b
l:
- a\b)__"},
    {"key 71", R"__({{ toYaml . }})__", R"__({"a\\b": 1})__", R"__(OK:a\b: 1)__"},
    {"value 72", R"__({{ toYaml . }})__", R"__({"k": "line1\r\nline2", "l": ["line1\r\nline2"]})__",
     R"__(OK:k: "line1\r\nline2"
l:
- "line1\r\nline2")__"},
    {"key 72", R"__({{ toYaml . }})__", R"__({"line1\r\nline2": 1})__", R"__(OK:? "line1\r\nline2"
: 1)__"},
    {"value 73", R"__({{ toYaml . }})__",
     R"__({"k": "This is a long line of text that goes on and on past the eighty column limit of yaml folding for sure", "l": ["This is a long line of text that goes on and on past the eighty column limit of yaml folding for sure"]})__",
     R"__(OK:k: This is a long line of text that goes on and on past the eighty column limit of
  yaml folding for sure
l:
- This is a long line of text that goes on and on past the eighty column limit of
  yaml folding for sure)__"},
    {"key 73", R"__({{ toYaml . }})__",
     R"__({"This is a long line of text that goes on and on past the eighty column limit of yaml folding for sure": 1})__",
     R"__(OK:This is a long line of text that goes on and on past the eighty column limit of yaml folding for sure: 1)__"},
    {"value 74", R"__({{ toYaml . }})__",
     R"__({"k": "averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongwordwithoutspaces and then some more words here", "l": ["averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongwordwithoutspaces and then some more words here"]})__",
     R"__(OK:k: averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongwordwithoutspaces
  and then some more words here
l:
- averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongwordwithoutspaces
  and then some more words here)__"},
    {"key 74", R"__({{ toYaml . }})__",
     R"__({"averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongwordwithoutspaces and then some more words here": 1})__",
     R"__(OK:averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongwordwithoutspaces and then some more words here: 1)__"},
    {"value 75", R"__({{ toYaml . }})__",
     R"__({"k": "long with 'quote' and: colon that must be single quoted since it has : in it and it is longer than eighty cols", "l": ["long with 'quote' and: colon that must be single quoted since it has : in it and it is longer than eighty cols"]})__",
     R"__(OK:k: 'long with ''quote'' and: colon that must be single quoted since it has : in it
  and it is longer than eighty cols'
l:
- 'long with ''quote'' and: colon that must be single quoted since it has : in it
  and it is longer than eighty cols')__"},
    {"key 75", R"__({{ toYaml . }})__",
     R"__({"long with 'quote' and: colon that must be single quoted since it has : in it and it is longer than eighty cols": 1})__",
     R"__(OK:'long with ''quote'' and: colon that must be single quoted since it has : in it and it is longer than eighty cols': 1)__"},
    {"value 76", R"__({{ toYaml . }})__",
     R"__({"k": "long \"double\" text\twith tab that goes past the eighty columns so that the double quoted folding kicks in here ok", "l": ["long \"double\" text\twith tab that goes past the eighty columns so that the double quoted folding kicks in here ok"]})__",
     R"__(OK:k: "long \"double\" text\twith tab that goes past the eighty columns so that the double
  quoted folding kicks in here ok"
l:
- "long \"double\" text\twith tab that goes past the eighty columns so that the double
  quoted folding kicks in here ok")__"},
    {"key 76", R"__({{ toYaml . }})__",
     R"__({"long \"double\" text\twith tab that goes past the eighty columns so that the double quoted folding kicks in here ok": 1})__",
     R"__(OK:"long \"double\" text\twith tab that goes past the eighty columns so that the double quoted folding kicks in here ok": 1)__"},
    {"value 77", R"__({{ toYaml . }})__", R"__({"k": ".inf", "l": [".inf"]})__", R"__(OK:k: ".inf"
l:
- ".inf")__"},
    {"key 77", R"__({{ toYaml . }})__", R"__({".inf": 1})__", R"__(OK:".inf": 1)__"},
    {"value 78", R"__({{ toYaml . }})__", R"__({"k": "-.inf", "l": ["-.inf"]})__",
     R"__(OK:k: "-.inf"
l:
- "-.inf")__"},
    {"key 78", R"__({{ toYaml . }})__", R"__({"-.inf": 1})__", R"__(OK:"-.inf": 1)__"},
    {"value 79", R"__({{ toYaml . }})__", R"__({"k": ".nan", "l": [".nan"]})__", R"__(OK:k: ".nan"
l:
- ".nan")__"},
    {"key 79", R"__({{ toYaml . }})__", R"__({".nan": 1})__", R"__(OK:".nan": 1)__"},
    {"value 80", R"__({{ toYaml . }})__", R"__({"k": "<<", "l": ["<<"]})__", R"__(OK:k: <<
l:
- <<)__"},
    {"key 80", R"__({{ toYaml . }})__", R"__({"<<": 1})__", R"__(OK:<<: 1)__"},
    {"value 81", R"__({{ toYaml . }})__", R"__({"k": "=", "l": ["="]})__", R"__(OK:k: =
l:
- =)__"},
    {"key 81", R"__({{ toYaml . }})__", R"__({"=": 1})__", R"__(OK:=: 1)__"},
    {"value 82", R"__({{ toYaml . }})__", R"__({"k": "a=b", "l": ["a=b"]})__", R"__(OK:k: a=b
l:
- a=b)__"},
    {"key 82", R"__({{ toYaml . }})__", R"__({"a=b": 1})__", R"__(OK:a=b: 1)__"},
    {"value 83", R"__({{ toYaml . }})__", R"__({"k": "0", "l": ["0"]})__", R"__(OK:k: "0"
l:
- "0")__"},
    {"key 83", R"__({{ toYaml . }})__", R"__({"0": 1})__", R"__(OK:"0": 1)__"},
    {"value 84", R"__({{ toYaml . }})__", R"__({"k": "00", "l": ["00"]})__", R"__(OK:k: "00"
l:
- "00")__"},
    {"key 84", R"__({{ toYaml . }})__", R"__({"00": 1})__", R"__(OK:"00": 1)__"},
    {"value 85", R"__({{ toYaml . }})__", R"__({"k": "-0", "l": ["-0"]})__", R"__(OK:k: "-0"
l:
- "-0")__"},
    {"key 85", R"__({{ toYaml . }})__", R"__({"-0": 1})__", R"__(OK:"-0": 1)__"},
    {"value 86", R"__({{ toYaml . }})__", R"__({"k": "1e", "l": ["1e"]})__", R"__(OK:k: 1e
l:
- 1e)__"},
    {"key 86", R"__({{ toYaml . }})__", R"__({"1e": 1})__", R"__(OK:1e: 1)__"},
    {"value 87", R"__({{ toYaml . }})__", R"__({"k": "e3", "l": ["e3"]})__", R"__(OK:k: e3
l:
- e3)__"},
    {"key 87", R"__({{ toYaml . }})__", R"__({"e3": 1})__", R"__(OK:e3: 1)__"},
    {"value 88", R"__({{ toYaml . }})__", R"__({"k": "infinity", "l": ["infinity"]})__",
     R"__(OK:k: infinity
l:
- infinity)__"},
    {"key 88", R"__({{ toYaml . }})__", R"__({"infinity": 1})__", R"__(OK:infinity: 1)__"},
    {"value 89", R"__({{ toYaml . }})__", R"__({"k": "NaN", "l": ["NaN"]})__", R"__(OK:k: NaN
l:
- NaN)__"},
    {"key 89", R"__({{ toYaml . }})__", R"__({"NaN": 1})__", R"__(OK:NaN: 1)__"},
    {"value 90", R"__({{ toYaml . }})__", R"__({"k": "\t :#'@", "l": ["\t :#'@"]})__",
     R"__(OK:k: "\t :#'@"
l:
- "\t :#'@")__"},
    {"key 90", R"__({{ toYaml . }})__", R"__({"\t :#'@": 1})__", R"__(OK:"\t :#'@": 1)__"},
    {"value 91", R"__({{ toYaml . }})__", R"__({"k": ":x] -10#}-", "l": [":x] -10#}-"]})__",
     R"__(OK:k: :x] -10#}-
l:
- :x] -10#}-)__"},
    {"key 91", R"__({{ toYaml . }})__", R"__({":x] -10#}-": 1})__", R"__(OK::x] -10#}-: 1)__"},
    {"value 92", R"__({{ toYaml . }})__", R"__({"k": "1:\"{: :{ ", "l": ["1:\"{: :{ "]})__",
     R"__(OK:k: '1:"{: :{ '
l:
- '1:"{: :{ ')__"},
    {"key 92", R"__({{ toYaml . }})__", R"__({"1:\"{: :{ ": 1})__", R"__(OK:'1:"{: :{ ': 1)__"},
    {"value 93", R"__({{ toYaml . }})__", R"__({"k": "\n|0\t\">,'[", "l": ["\n|0\t\">,'["]})__",
     R"__(OK:k: "\n|0\t\">,'["
l:
- "\n|0\t\">,'[")__"},
    {"key 93", R"__({{ toYaml . }})__", R"__({"\n|0\t\">,'[": 1})__", R"__(OK:? "\n|0\t\">,'["
: 1)__"},
    {"value 94", R"__({{ toYaml . }})__", R"__({"k": "'#:]+1", "l": ["'#:]+1"]})__",
     R"__(OK:k: '''#:]+1'
l:
- '''#:]+1')__"},
    {"key 94", R"__({{ toYaml . }})__", R"__({"'#:]+1": 1})__", R"__(OK:'''#:]+1': 1)__"},
    {"value 95", R"__({{ toYaml . }})__", R"__({"k": "ee@>},", "l": ["ee@>},"]})__",
     R"__(OK:k: ee@>},
l:
- ee@>},)__"},
    {"key 95", R"__({{ toYaml . }})__", R"__({"ee@>},": 1})__", R"__(OK:ee@>},: 1)__"},
    {"value 96", R"__({{ toYaml . }})__", R"__({"k": "}->+&.|#\"x0\\", "l": ["}->+&.|#\"x0\\"]})__",
     R"__(OK:k: '}->+&.|#"x0\'
l:
- '}->+&.|#"x0\')__"},
    {"key 96", R"__({{ toYaml . }})__", R"__({"}->+&.|#\"x0\\": 1})__",
     R"__(OK:'}->+&.|#"x0\': 1)__"},
    {"value 97", R"__({{ toYaml . }})__", R"__({"k": "\t+0 #*", "l": ["\t+0 #*"]})__",
     R"__(OK:k: "\t+0 #*"
l:
- "\t+0 #*")__"},
    {"key 97", R"__({{ toYaml . }})__", R"__({"\t+0 #*": 1})__", R"__(OK:"\t+0 #*": 1)__"},
    {"value 98", R"__({{ toYaml . }})__", R"__({"k": "%+e#-!", "l": ["%+e#-!"]})__",
     R"__(OK:k: '%+e#-!'
l:
- '%+e#-!')__"},
    {"key 98", R"__({{ toYaml . }})__", R"__({"%+e#-!": 1})__", R"__(OK:'%+e#-!': 1)__"},
    {"value 99", R"__({{ toYaml . }})__", R"__({"k": "#:>.|`%b", "l": ["#:>.|`%b"]})__",
     R"__(OK:k: '#:>.|`%b'
l:
- '#:>.|`%b')__"},
    {"key 99", R"__({{ toYaml . }})__", R"__({"#:>.|`%b": 1})__", R"__(OK:'#:>.|`%b': 1)__"},
    {"value 100", R"__({{ toYaml . }})__", R"__({"k": "%\\\"+:]|\n", "l": ["%\\\"+:]|\n"]})__",
     R"__(OK:k: |
  %\"+:]|
l:
- |
  %\"+:]|)__"},
    {"key 100", R"__({{ toYaml . }})__", R"__({"%\\\"+:]|\n": 1})__", R"__(OK:? |
  %\"+:]|
: 1)__"},
    {"value 101", R"__({{ toYaml . }})__",
     R"__({"k": "}  +-\\. !\n1!", "l": ["}  +-\\. !\n1!"]})__", R"__(OK:k: |-
  }  +-\. !
  1!
l:
- |-
  }  +-\. !
  1!)__"},
    {"key 101", R"__({{ toYaml . }})__", R"__({"}  +-\\. !\n1!": 1})__", R"__(OK:? |-
  }  +-\. !
  1!
: 1)__"},
    {"value 102", R"__({{ toYaml . }})__",
     R"__({"k": "0%`{\t-,\t{{a+", "l": ["0%`{\t-,\t{{a+"]})__", R"__(OK:k: "0%`{\t-,\t{{a+"
l:
- "0%`{\t-,\t{{a+")__"},
    {"key 102", R"__({{ toYaml . }})__", R"__({"0%`{\t-,\t{{a+": 1})__",
     R"__(OK:"0%`{\t-,\t{{a+": 1)__"},
    {"value 103", R"__({{ toYaml . }})__", R"__({"k": ",?|a\t0@*\nx", "l": [",?|a\t0@*\nx"]})__",
     R"__(OK:k: ",?|a\t0@*\nx"
l:
- ",?|a\t0@*\nx")__"},
    {"key 103", R"__({{ toYaml . }})__", R"__({",?|a\t0@*\nx": 1})__", R"__(OK:? ",?|a\t0@*\nx"
: 1)__"},
    {"value 104", R"__({{ toYaml . }})__", R"__({"k": ":e    'E :", "l": [":e    'E :"]})__",
     R"__(OK:k: ':e    ''E :'
l:
- ':e    ''E :')__"},
    {"key 104", R"__({{ toYaml . }})__", R"__({":e    'E :": 1})__", R"__(OK:':e    ''E :': 1)__"},
    {"value 105", R"__({{ toYaml . }})__", R"__({"k": "#].\\", "l": ["#].\\"]})__",
     R"__(OK:k: '#].\'
l:
- '#].\')__"},
    {"key 105", R"__({{ toYaml . }})__", R"__({"#].\\": 1})__", R"__(OK:'#].\': 1)__"},
    {"value 106", R"__({{ toYaml . }})__", R"__({"k": "&:", "l": ["&:"]})__", R"__(OK:k: '&:'
l:
- '&:')__"},
    {"key 106", R"__({{ toYaml . }})__", R"__({"&:": 1})__", R"__(OK:'&:': 1)__"},
    {"value 107", R"__({{ toYaml . }})__", R"__({"k": "a\t", "l": ["a\t"]})__", R"__(OK:k: "a\t"
l:
- "a\t")__"},
    {"key 107", R"__({{ toYaml . }})__", R"__({"a\t": 1})__", R"__(OK:"a\t": 1)__"},
    {"value 108", R"__({{ toYaml . }})__", R"__({"k": "'@b#]`\t?%", "l": ["'@b#]`\t?%"]})__",
     R"__(OK:k: "'@b#]`\t?%"
l:
- "'@b#]`\t?%")__"},
    {"key 108", R"__({{ toYaml . }})__", R"__({"'@b#]`\t?%": 1})__", R"__(OK:"'@b#]`\t?%": 1)__"},
    {"value 109", R"__({{ toYaml . }})__", R"__({"k": "@E\"\"+eEE>-", "l": ["@E\"\"+eEE>-"]})__",
     R"__(OK:k: '@E""+eEE>-'
l:
- '@E""+eEE>-')__"},
    {"key 109", R"__({{ toYaml . }})__", R"__({"@E\"\"+eEE>-": 1})__", R"__(OK:'@E""+eEE>-': 1)__"},
    {"value 110", R"__({{ toYaml . }})__", R"__({"k": "'&?", "l": ["'&?"]})__", R"__(OK:k: '''&?'
l:
- '''&?')__"},
    {"key 110", R"__({{ toYaml . }})__", R"__({"'&?": 1})__", R"__(OK:'''&?': 1)__"},
    {"value 111", R"__({{ toYaml . }})__", R"__({"k": "\\b]@\tb>-", "l": ["\\b]@\tb>-"]})__",
     R"__(OK:k: "\\b]@\tb>-"
l:
- "\\b]@\tb>-")__"},
    {"key 111", R"__({{ toYaml . }})__", R"__({"\\b]@\tb>-": 1})__", R"__(OK:"\\b]@\tb>-": 1)__"},
    {"value 112", R"__({{ toYaml . }})__", R"__({"k": "?@\\%{x&{[} {", "l": ["?@\\%{x&{[} {"]})__",
     R"__(OK:k: ?@\%{x&{[} {
l:
- ?@\%{x&{[} {)__"},
    {"key 112", R"__({{ toYaml . }})__", R"__({"?@\\%{x&{[} {": 1})__",
     R"__(OK:?@\%{x&{[} {: 1)__"},
    {"value 113", R"__({{ toYaml . }})__", R"__({"k": "+%bb", "l": ["+%bb"]})__", R"__(OK:k: +%bb
l:
- +%bb)__"},
    {"key 113", R"__({{ toYaml . }})__", R"__({"+%bb": 1})__", R"__(OK:+%bb: 1)__"},
    {"value 114", R"__({{ toYaml . }})__", R"__({"k": "E?[%.", "l": ["E?[%."]})__", R"__(OK:k: E?[%.
l:
- E?[%.)__"},
    {"key 114", R"__({{ toYaml . }})__", R"__({"E?[%.": 1})__", R"__(OK:E?[%.: 1)__"},
    {"value 115", R"__({{ toYaml . }})__", R"__({"k": "%@-{'{E[&]Ea", "l": ["%@-{'{E[&]Ea"]})__",
     R"__(OK:k: '%@-{''{E[&]Ea'
l:
- '%@-{''{E[&]Ea')__"},
    {"key 115", R"__({{ toYaml . }})__", R"__({"%@-{'{E[&]Ea": 1})__",
     R"__(OK:'%@-{''{E[&]Ea': 1)__"},
    {"value 116", R"__({{ toYaml . }})__", R"__({"k": "%-\"`[E,1", "l": ["%-\"`[E,1"]})__",
     R"__(OK:k: '%-"`[E,1'
l:
- '%-"`[E,1')__"},
    {"key 116", R"__({{ toYaml . }})__", R"__({"%-\"`[E,1": 1})__", R"__(OK:'%-"`[E,1': 1)__"},
    {"value 117", R"__({{ toYaml . }})__",
     R"__({"k": "&- e -\\\\\nb\t", "l": ["&- e -\\\\\nb\t"]})__", R"__(OK:k: "&- e -\\\\\nb\t"
l:
- "&- e -\\\\\nb\t")__"},
    {"key 117", R"__({{ toYaml . }})__", R"__({"&- e -\\\\\nb\t": 1})__",
     R"__(OK:? "&- e -\\\\\nb\t"
: 1)__"},
    {"value 118", R"__({{ toYaml . }})__",
     R"__({"k": "e\tE%\t\nba'\n", "l": ["e\tE%\t\nba'\n"]})__", R"__(OK:k: "e\tE%\t\nba'\n"
l:
- "e\tE%\t\nba'\n")__"},
    {"key 118", R"__({{ toYaml . }})__", R"__({"e\tE%\t\nba'\n": 1})__", R"__(OK:? "e\tE%\t\nba'\n"
: 1)__"},
    {"value 119", R"__({{ toYaml . }})__", R"__({"k": "[]b?]|x", "l": ["[]b?]|x"]})__",
     R"__(OK:k: '[]b?]|x'
l:
- '[]b?]|x')__"},
    {"key 119", R"__({{ toYaml . }})__", R"__({"[]b?]|x": 1})__", R"__(OK:'[]b?]|x': 1)__"},
    {"value 120", R"__({{ toYaml . }})__", R"__({"k": "*?0\n", "l": ["*?0\n"]})__", R"__(OK:k: |
  *?0
l:
- |
  *?0)__"},
    {"key 120", R"__({{ toYaml . }})__", R"__({"*?0\n": 1})__", R"__(OK:? |
  *?0
: 1)__"},
    {"value 121", R"__({{ toYaml . }})__", R"__({"k": "%", "l": ["%"]})__", R"__(OK:k: '%'
l:
- '%')__"},
    {"key 121", R"__({{ toYaml . }})__", R"__({"%": 1})__", R"__(OK:'%': 1)__"},
    {"value 122", R"__({{ toYaml . }})__", R"__({"k": "0x\n\txb.,", "l": ["0x\n\txb.,"]})__",
     R"__(OK:k: "0x\n\txb.,"
l:
- "0x\n\txb.,")__"},
    {"key 122", R"__({{ toYaml . }})__", R"__({"0x\n\txb.,": 1})__", R"__(OK:? "0x\n\txb.,"
: 1)__"},
    {"value 123", R"__({{ toYaml . }})__", R"__({"k": "a\t,\tE\":*E'", "l": ["a\t,\tE\":*E'"]})__",
     R"__(OK:k: "a\t,\tE\":*E'"
l:
- "a\t,\tE\":*E'")__"},
    {"key 123", R"__({{ toYaml . }})__", R"__({"a\t,\tE\":*E'": 1})__",
     R"__(OK:"a\t,\tE\":*E'": 1)__"},
    {"value 124", R"__({{ toYaml . }})__", R"__({"k": ":}[! 'x.b", "l": [":}[! 'x.b"]})__",
     R"__(OK:k: :}[! 'x.b
l:
- :}[! 'x.b)__"},
    {"key 124", R"__({{ toYaml . }})__", R"__({":}[! 'x.b": 1})__", R"__(OK::}[! 'x.b: 1)__"},
    {"value 125", R"__({{ toYaml . }})__", R"__({"k": ".*", "l": [".*"]})__", R"__(OK:k: .*
l:
- .*)__"},
    {"key 125", R"__({{ toYaml . }})__", R"__({".*": 1})__", R"__(OK:.*: 1)__"},
    {"value 126", R"__({{ toYaml . }})__", R"__({"k": "xx[!.xEx}?", "l": ["xx[!.xEx}?"]})__",
     R"__(OK:k: xx[!.xEx}?
l:
- xx[!.xEx}?)__"},
    {"key 126", R"__({{ toYaml . }})__", R"__({"xx[!.xEx}?": 1})__", R"__(OK:xx[!.xEx}?: 1)__"},
    {"value 127", R"__({{ toYaml . }})__", R"__({"k": "[.\n0\" .*#", "l": ["[.\n0\" .*#"]})__",
     R"__(OK:k: |-
  [.
  0" .*#
l:
- |-
  [.
  0" .*#)__"},
    {"key 127", R"__({{ toYaml . }})__", R"__({"[.\n0\" .*#": 1})__", R"__(OK:? |-
  [.
  0" .*#
: 1)__"},
    {"value 128", R"__({{ toYaml . }})__",
     R"__({"k": "}1#]>\"\t@\t?\n", "l": ["}1#]>\"\t@\t?\n"]})__", R"__(OK:k: "}1#]>\"\t@\t?\n"
l:
- "}1#]>\"\t@\t?\n")__"},
    {"key 128", R"__({{ toYaml . }})__", R"__({"}1#]>\"\t@\t?\n": 1})__",
     R"__(OK:? "}1#]>\"\t@\t?\n"
: 1)__"},
    {"value 129", R"__({{ toYaml . }})__", R"__({"k": "{' +\\{\\1", "l": ["{' +\\{\\1"]})__",
     R"__(OK:k: '{'' +\{\1'
l:
- '{'' +\{\1')__"},
    {"key 129", R"__({{ toYaml . }})__", R"__({"{' +\\{\\1": 1})__", R"__(OK:'{'' +\{\1': 1)__"},
    {"value 130", R"__({{ toYaml . }})__", R"__({"k": " &0[%*-@b", "l": [" &0[%*-@b"]})__",
     R"__(OK:k: ' &0[%*-@b'
l:
- ' &0[%*-@b')__"},
    {"key 130", R"__({{ toYaml . }})__", R"__({" &0[%*-@b": 1})__", R"__(OK:' &0[%*-@b': 1)__"},
    {"value 131", R"__({{ toYaml . }})__", R"__({"k": "e.b`&|", "l": ["e.b`&|"]})__",
     R"__(OK:k: e.b`&|
l:
- e.b`&|)__"},
    {"key 131", R"__({{ toYaml . }})__", R"__({"e.b`&|": 1})__", R"__(OK:e.b`&|: 1)__"},
    {"value 132", R"__({{ toYaml . }})__", R"__({"k": "#\"{'-?! ,", "l": ["#\"{'-?! ,"]})__",
     R"__(OK:k: '#"{''-?! ,'
l:
- '#"{''-?! ,')__"},
    {"key 132", R"__({{ toYaml . }})__", R"__({"#\"{'-?! ,": 1})__", R"__(OK:'#"{''-?! ,': 1)__"},
    {"value 133", R"__({{ toYaml . }})__", R"__({"k": "\n1? \t", "l": ["\n1? \t"]})__",
     R"__(OK:k: "\n1? \t"
l:
- "\n1? \t")__"},
    {"key 133", R"__({{ toYaml . }})__", R"__({"\n1? \t": 1})__", R"__(OK:? "\n1? \t"
: 1)__"},
    {"value 134", R"__({{ toYaml . }})__", R"__({"k": "x+*-!:,1#", "l": ["x+*-!:,1#"]})__",
     R"__(OK:k: x+*-!:,1#
l:
- x+*-!:,1#)__"},
    {"key 134", R"__({{ toYaml . }})__", R"__({"x+*-!:,1#": 1})__", R"__(OK:x+*-!:,1#: 1)__"},
    {"value 135", R"__({{ toYaml . }})__", R"__({"k": "b-?-{", "l": ["b-?-{"]})__", R"__(OK:k: b-?-{
l:
- b-?-{)__"},
    {"key 135", R"__({{ toYaml . }})__", R"__({"b-?-{": 1})__", R"__(OK:b-?-{: 1)__"},
    {"value 136", R"__({{ toYaml . }})__", R"__({"k": "?\"", "l": ["?\""]})__", R"__(OK:k: ?"
l:
- ?")__"},
    {"key 136", R"__({{ toYaml . }})__", R"__({"?\"": 1})__", R"__(OK:?": 1)__"},
    {"value 137", R"__({{ toYaml . }})__", R"__({"k": "a&0!\n }\"", "l": ["a&0!\n }\""]})__",
     R"__(OK:k: |-
  a&0!
   }"
l:
- |-
  a&0!
   }")__"},
    {"key 137", R"__({{ toYaml . }})__", R"__({"a&0!\n }\"": 1})__", R"__(OK:? |-
  a&0!
   }"
: 1)__"},
    {"value 138", R"__({{ toYaml . }})__", R"__({"k": "?:,", "l": ["?:,"]})__", R"__(OK:k: ?:,
l:
- ?:,)__"},
    {"key 138", R"__({{ toYaml . }})__", R"__({"?:,": 1})__", R"__(OK:?:,: 1)__"},
    {"value 139", R"__({{ toYaml . }})__", R"__({"k": ">>]|", "l": [">>]|"]})__", R"__(OK:k: '>>]|'
l:
- '>>]|')__"},
    {"key 139", R"__({{ toYaml . }})__", R"__({">>]|": 1})__", R"__(OK:'>>]|': 1)__"},
    {"value 140", R"__({{ toYaml . }})__", R"__({"k": "x,!%b? a", "l": ["x,!%b? a"]})__",
     R"__(OK:k: x,!%b? a
l:
- x,!%b? a)__"},
    {"key 140", R"__({{ toYaml . }})__", R"__({"x,!%b? a": 1})__", R"__(OK:x,!%b? a: 1)__"},
    {"value 141", R"__({{ toYaml . }})__", R"__({"k": "x", "l": ["x"]})__", R"__(OK:k: x
l:
- x)__"},
    {"key 141", R"__({{ toYaml . }})__", R"__({"x": 1})__", R"__(OK:x: 1)__"},
    {"value 142", R"__({{ toYaml . }})__", R"__({"k": "[xE}.'1+ ", "l": ["[xE}.'1+ "]})__",
     R"__(OK:k: '[xE}.''1+ '
l:
- '[xE}.''1+ ')__"},
    {"key 142", R"__({{ toYaml . }})__", R"__({"[xE}.'1+ ": 1})__", R"__(OK:'[xE}.''1+ ': 1)__"},
    {"value 143", R"__({{ toYaml . }})__", R"__({"k": ">]{&[\n %:", "l": [">]{&[\n %:"]})__",
     R"__(OK:k: |-
  >]{&[
   %:
l:
- |-
  >]{&[
   %:)__"},
    {"key 143", R"__({{ toYaml . }})__", R"__({">]{&[\n %:": 1})__", R"__(OK:? |-
  >]{&[
   %:
: 1)__"},
    {"value 144", R"__({{ toYaml . }})__", R"__({"k": "a#?", "l": ["a#?"]})__", R"__(OK:k: a#?
l:
- a#?)__"},
    {"key 144", R"__({{ toYaml . }})__", R"__({"a#?": 1})__", R"__(OK:a#?: 1)__"},
    {"value 145", R"__({{ toYaml . }})__", R"__({"k": "\\:-`x|}", "l": ["\\:-`x|}"]})__",
     R"__(OK:k: \:-`x|}
l:
- \:-`x|})__"},
    {"key 145", R"__({{ toYaml . }})__", R"__({"\\:-`x|}": 1})__", R"__(OK:\:-`x|}: 1)__"},
    {"value 146", R"__({{ toYaml . }})__", R"__({"k": "| e,\\!.a?@&*", "l": ["| e,\\!.a?@&*"]})__",
     R"__(OK:k: '| e,\!.a?@&*'
l:
- '| e,\!.a?@&*')__"},
    {"key 146", R"__({{ toYaml . }})__", R"__({"| e,\\!.a?@&*": 1})__",
     R"__(OK:'| e,\!.a?@&*': 1)__"},
    {"value 147", R"__({{ toYaml . }})__", R"__({"k": " >]%", "l": [" >]%"]})__", R"__(OK:k: ' >]%'
l:
- ' >]%')__"},
    {"key 147", R"__({{ toYaml . }})__", R"__({" >]%": 1})__", R"__(OK:' >]%': 1)__"},
    {"value 148", R"__({{ toYaml . }})__", R"__({"k": "a&`", "l": ["a&`"]})__", R"__(OK:k: a&`
l:
- a&`)__"},
    {"key 148", R"__({{ toYaml . }})__", R"__({"a&`": 1})__", R"__(OK:a&`: 1)__"},
    {"value 149", R"__({{ toYaml . }})__", R"__({"k": "E!", "l": ["E!"]})__", R"__(OK:k: E!
l:
- E!)__"},
    {"key 149", R"__({{ toYaml . }})__", R"__({"E!": 1})__", R"__(OK:E!: 1)__"},
    {"value 150", R"__({{ toYaml . }})__", R"__({"k": "[}xa-?-\t ", "l": ["[}xa-?-\t "]})__",
     R"__(OK:k: "[}xa-?-\t "
l:
- "[}xa-?-\t ")__"},
    {"key 150", R"__({{ toYaml . }})__", R"__({"[}xa-?-\t ": 1})__", R"__(OK:"[}xa-?-\t ": 1)__"},
    {"value 151", R"__({{ toYaml . }})__", R"__({"k": "  b>>{-\t`*", "l": ["  b>>{-\t`*"]})__",
     R"__(OK:k: "  b>>{-\t`*"
l:
- "  b>>{-\t`*")__"},
    {"key 151", R"__({{ toYaml . }})__", R"__({"  b>>{-\t`*": 1})__", R"__(OK:"  b>>{-\t`*": 1)__"},
    {"value 152", R"__({{ toYaml . }})__",
     R"__({"k": "+\t|\t x1x\nxb{", "l": ["+\t|\t x1x\nxb{"]})__", R"__(OK:k: "+\t|\t x1x\nxb{"
l:
- "+\t|\t x1x\nxb{")__"},
    {"key 152", R"__({{ toYaml . }})__", R"__({"+\t|\t x1x\nxb{": 1})__",
     R"__(OK:? "+\t|\t x1x\nxb{"
: 1)__"},
    {"value 153", R"__({{ toYaml . }})__", R"__({"k": "b ", "l": ["b "]})__", R"__(OK:k: 'b '
l:
- 'b ')__"},
    {"key 153", R"__({{ toYaml . }})__", R"__({"b ": 1})__", R"__(OK:'b ': 1)__"},
    {"value 154", R"__({{ toYaml . }})__", R"__({"k": "@'`", "l": ["@'`"]})__", R"__(OK:k: '@''`'
l:
- '@''`')__"},
    {"key 154", R"__({{ toYaml . }})__", R"__({"@'`": 1})__", R"__(OK:'@''`': 1)__"},
    {"value 155", R"__({{ toYaml . }})__", R"__({"k": ":b}+?ae#", "l": [":b}+?ae#"]})__",
     R"__(OK:k: :b}+?ae#
l:
- :b}+?ae#)__"},
    {"key 155", R"__({{ toYaml . }})__", R"__({":b}+?ae#": 1})__", R"__(OK::b}+?ae#: 1)__"},
    {"value 156", R"__({{ toYaml . }})__", R"__({"k": "x-#E?#?}]{e+", "l": ["x-#E?#?}]{e+"]})__",
     R"__(OK:k: x-#E?#?}]{e+
l:
- x-#E?#?}]{e+)__"},
    {"key 156", R"__({{ toYaml . }})__", R"__({"x-#E?#?}]{e+": 1})__", R"__(OK:x-#E?#?}]{e+: 1)__"},
    {"value 157", R"__({{ toYaml . }})__", R"__({"k": "#E| [#\t", "l": ["#E| [#\t"]})__",
     R"__(OK:k: "#E| [#\t"
l:
- "#E| [#\t")__"},
    {"key 157", R"__({{ toYaml . }})__", R"__({"#E| [#\t": 1})__", R"__(OK:"#E| [#\t": 1)__"},
    {"value 158", R"__({{ toYaml . }})__", R"__({"k": "?>\naE:", "l": ["?>\naE:"]})__",
     R"__(OK:k: |-
  ?>
  aE:
l:
- |-
  ?>
  aE:)__"},
    {"key 158", R"__({{ toYaml . }})__", R"__({"?>\naE:": 1})__", R"__(OK:? |-
  ?>
  aE:
: 1)__"},
    {"value 159", R"__({{ toYaml . }})__", R"__({"k": "!']+||ee", "l": ["!']+||ee"]})__",
     R"__(OK:k: '!'']+||ee'
l:
- '!'']+||ee')__"},
    {"key 159", R"__({{ toYaml . }})__", R"__({"!']+||ee": 1})__", R"__(OK:'!'']+||ee': 1)__"},
    {"value 160", R"__({{ toYaml . }})__", R"__({"k": "\"[>-Eb|e", "l": ["\"[>-Eb|e"]})__",
     R"__(OK:k: '"[>-Eb|e'
l:
- '"[>-Eb|e')__"},
    {"key 160", R"__({{ toYaml . }})__", R"__({"\"[>-Eb|e": 1})__", R"__(OK:'"[>-Eb|e': 1)__"},
    {"value 161", R"__({{ toYaml . }})__", R"__({"k": "x.", "l": ["x."]})__", R"__(OK:k: x.
l:
- x.)__"},
    {"key 161", R"__({{ toYaml . }})__", R"__({"x.": 1})__", R"__(OK:x.: 1)__"},
    {"value 162", R"__({{ toYaml . }})__", R"__({"k": "`]]#-", "l": ["`]]#-"]})__",
     R"__(OK:k: '`]]#-'
l:
- '`]]#-')__"},
    {"key 162", R"__({{ toYaml . }})__", R"__({"`]]#-": 1})__", R"__(OK:'`]]#-': 1)__"},
    {"value 163", R"__({{ toYaml . }})__", R"__({"k": "?@\n", "l": ["?@\n"]})__", R"__(OK:k: |
  ?@
l:
- |
  ?@)__"},
    {"key 163", R"__({{ toYaml . }})__", R"__({"?@\n": 1})__", R"__(OK:? |
  ?@
: 1)__"},
    {"value 164", R"__({{ toYaml . }})__", R"__({"k": "x!\"@{++ b\\", "l": ["x!\"@{++ b\\"]})__",
     R"__(OK:k: x!"@{++ b\
l:
- x!"@{++ b\)__"},
    {"key 164", R"__({{ toYaml . }})__", R"__({"x!\"@{++ b\\": 1})__", R"__(OK:x!"@{++ b\: 1)__"},
    {"value 165", R"__({{ toYaml . }})__", R"__({"k": "+", "l": ["+"]})__", R"__(OK:k: +
l:
- +)__"},
    {"key 165", R"__({{ toYaml . }})__", R"__({"+": 1})__", R"__(OK:+: 1)__"},
    {"value 166", R"__({{ toYaml . }})__", R"__({"k": ". >\t0%`*\"&a", "l": [". >\t0%`*\"&a"]})__",
     R"__(OK:k: ". >\t0%`*\"&a"
l:
- ". >\t0%`*\"&a")__"},
    {"key 166", R"__({{ toYaml . }})__", R"__({". >\t0%`*\"&a": 1})__",
     R"__(OK:". >\t0%`*\"&a": 1)__"},
    {"value 167", R"__({{ toYaml . }})__", R"__({"k": "& \"[a|", "l": ["& \"[a|"]})__",
     R"__(OK:k: '& "[a|'
l:
- '& "[a|')__"},
    {"key 167", R"__({{ toYaml . }})__", R"__({"& \"[a|": 1})__", R"__(OK:'& "[a|': 1)__"},
    {"value 168", R"__({{ toYaml . }})__", R"__({"k": "@# `#", "l": ["@# `#"]})__",
     R"__(OK:k: '@# `#'
l:
- '@# `#')__"},
    {"key 168", R"__({{ toYaml . }})__", R"__({"@# `#": 1})__", R"__(OK:'@# `#': 1)__"},
    {"value 169", R"__({{ toYaml . }})__", R"__({"k": "1!:!':", "l": ["1!:!':"]})__",
     R"__(OK:k: '1!:!'':'
l:
- '1!:!'':')__"},
    {"key 169", R"__({{ toYaml . }})__", R"__({"1!:!':": 1})__", R"__(OK:'1!:!'':': 1)__"},
    {"value 170", R"__({{ toYaml . }})__", R"__({"k": "|\t}!1x*[@1b", "l": ["|\t}!1x*[@1b"]})__",
     R"__(OK:k: "|\t}!1x*[@1b"
l:
- "|\t}!1x*[@1b")__"},
    {"key 170", R"__({{ toYaml . }})__", R"__({"|\t}!1x*[@1b": 1})__",
     R"__(OK:"|\t}!1x*[@1b": 1)__"},
    {"value 171", R"__({{ toYaml . }})__", R"__({"k": " ]-:0.\n|+:\n", "l": [" ]-:0.\n|+:\n"]})__",
     R"__(OK:k: |2
   ]-:0.
  |+:
l:
- |2
   ]-:0.
  |+:)__"},
    {"key 171", R"__({{ toYaml . }})__", R"__({" ]-:0.\n|+:\n": 1})__", R"__(OK:? |2
   ]-:0.
  |+:
: 1)__"},
    {"value 172", R"__({{ toYaml . }})__", R"__({"k": "E0&", "l": ["E0&"]})__", R"__(OK:k: E0&
l:
- E0&)__"},
    {"key 172", R"__({{ toYaml . }})__", R"__({"E0&": 1})__", R"__(OK:E0&: 1)__"},
    {"value 173", R"__({{ toYaml . }})__", R"__({"k": ">?? }", "l": [">?? }"]})__",
     R"__(OK:k: '>?? }'
l:
- '>?? }')__"},
    {"key 173", R"__({{ toYaml . }})__", R"__({">?? }": 1})__", R"__(OK:'>?? }': 1)__"},
    {"value 174", R"__({{ toYaml . }})__", R"__({"k": "E \"\\\\", "l": ["E \"\\\\"]})__",
     R"__(OK:k: E "\\
l:
- E "\\)__"},
    {"key 174", R"__({{ toYaml . }})__", R"__({"E \"\\\\": 1})__", R"__(OK:E "\\: 1)__"},
    {"value 175", R"__({{ toYaml . }})__", R"__({"k": "]x", "l": ["]x"]})__", R"__(OK:k: ']x'
l:
- ']x')__"},
    {"key 175", R"__({{ toYaml . }})__", R"__({"]x": 1})__", R"__(OK:']x': 1)__"},
    {"value 176", R"__({{ toYaml . }})__", R"__({"k": "{.&.1\n[}", "l": ["{.&.1\n[}"]})__",
     R"__(OK:k: |-
  {.&.1
  [}
l:
- |-
  {.&.1
  [})__"},
    {"key 176", R"__({{ toYaml . }})__", R"__({"{.&.1\n[}": 1})__", R"__(OK:? |-
  {.&.1
  [}
: 1)__"},
    {"value 177", R"__({{ toYaml . }})__", R"__({"k": ",&", "l": [",&"]})__", R"__(OK:k: ',&'
l:
- ',&')__"},
    {"key 177", R"__({{ toYaml . }})__", R"__({",&": 1})__", R"__(OK:',&': 1)__"},
    {"value 178", R"__({{ toYaml . }})__", R"__({"k": "-*}@?[b0`", "l": ["-*}@?[b0`"]})__",
     R"__(OK:k: -*}@?[b0`
l:
- -*}@?[b0`)__"},
    {"key 178", R"__({{ toYaml . }})__", R"__({"-*}@?[b0`": 1})__", R"__(OK:-*}@?[b0`: 1)__"},
    {"value 179", R"__({{ toYaml . }})__", R"__({"k": "]`!&:+!", "l": ["]`!&:+!"]})__",
     R"__(OK:k: ']`!&:+!'
l:
- ']`!&:+!')__"},
    {"key 179", R"__({{ toYaml . }})__", R"__({"]`!&:+!": 1})__", R"__(OK:']`!&:+!': 1)__"},
    {"value 180", R"__({{ toYaml . }})__", R"__({"k": "@\nx]-!}` .", "l": ["@\nx]-!}` ."]})__",
     R"__(OK:k: |-
  @
  x]-!}` .
l:
- |-
  @
  x]-!}` .)__"},
    {"key 180", R"__({{ toYaml . }})__", R"__({"@\nx]-!}` .": 1})__", R"__(OK:? |-
  @
  x]-!}` .
: 1)__"},
    {"value 181", R"__({{ toYaml . }})__", R"__({"k": ">b\n 1E+", "l": [">b\n 1E+"]})__",
     R"__(OK:k: |-
  >b
   1E+
l:
- |-
  >b
   1E+)__"},
    {"key 181", R"__({{ toYaml . }})__", R"__({">b\n 1E+": 1})__", R"__(OK:? |-
  >b
   1E+
: 1)__"},
    {"value 182", R"__({{ toYaml . }})__", R"__({"k": "#", "l": ["#"]})__", R"__(OK:k: '#'
l:
- '#')__"},
    {"key 182", R"__({{ toYaml . }})__", R"__({"#": 1})__", R"__(OK:'#': 1)__"},
    {"value 183", R"__({{ toYaml . }})__", R"__({"k": "e.}'{\t\t", "l": ["e.}'{\t\t"]})__",
     R"__(OK:k: "e.}'{\t\t"
l:
- "e.}'{\t\t")__"},
    {"key 183", R"__({{ toYaml . }})__", R"__({"e.}'{\t\t": 1})__", R"__(OK:"e.}'{\t\t": 1)__"},
    {"value 184", R"__({{ toYaml . }})__", R"__({"k": "'e- a\n{ >", "l": ["'e- a\n{ >"]})__",
     R"__(OK:k: |-
  'e- a
  { >
l:
- |-
  'e- a
  { >)__"},
    {"key 184", R"__({{ toYaml . }})__", R"__({"'e- a\n{ >": 1})__", R"__(OK:? |-
  'e- a
  { >
: 1)__"},
    {"value 185", R"__({{ toYaml . }})__", R"__({"k": "?1\"", "l": ["?1\""]})__", R"__(OK:k: ?1"
l:
- ?1")__"},
    {"key 185", R"__({{ toYaml . }})__", R"__({"?1\"": 1})__", R"__(OK:?1": 1)__"},
    {"value 186", R"__({{ toYaml . }})__", R"__({"k": "#>", "l": ["#>"]})__", R"__(OK:k: '#>'
l:
- '#>')__"},
    {"key 186", R"__({{ toYaml . }})__", R"__({"#>": 1})__", R"__(OK:'#>': 1)__"},
    {"value 187", R"__({{ toYaml . }})__", R"__({"k": "[`?{aa>e!", "l": ["[`?{aa>e!"]})__",
     R"__(OK:k: '[`?{aa>e!'
l:
- '[`?{aa>e!')__"},
    {"key 187", R"__({{ toYaml . }})__", R"__({"[`?{aa>e!": 1})__", R"__(OK:'[`?{aa>e!': 1)__"},
    {"value 188", R"__({{ toYaml . }})__", R"__({"k": "}E}}b0", "l": ["}E}}b0"]})__",
     R"__(OK:k: '}E}}b0'
l:
- '}E}}b0')__"},
    {"key 188", R"__({{ toYaml . }})__", R"__({"}E}}b0": 1})__", R"__(OK:'}E}}b0': 1)__"},
    {"value 189", R"__({{ toYaml . }})__", R"__({"k": ">:b[+0-?{1@{", "l": [">:b[+0-?{1@{"]})__",
     R"__(OK:k: '>:b[+0-?{1@{'
l:
- '>:b[+0-?{1@{')__"},
    {"key 189", R"__({{ toYaml . }})__", R"__({">:b[+0-?{1@{": 1})__",
     R"__(OK:'>:b[+0-?{1@{': 1)__"},
    {"value 190", R"__({{ toYaml . }})__", R"__({"k": " &0@ [a|", "l": [" &0@ [a|"]})__",
     R"__(OK:k: ' &0@ [a|'
l:
- ' &0@ [a|')__"},
    {"key 190", R"__({{ toYaml . }})__", R"__({" &0@ [a|": 1})__", R"__(OK:' &0@ [a|': 1)__"},
    {"value 191", R"__({{ toYaml . }})__", R"__({"k": "x#]+[>[{e{?|", "l": ["x#]+[>[{e{?|"]})__",
     R"__(OK:k: x#]+[>[{e{?|
l:
- x#]+[>[{e{?|)__"},
    {"key 191", R"__({{ toYaml . }})__", R"__({"x#]+[>[{e{?|": 1})__", R"__(OK:x#]+[>[{e{?|: 1)__"},
    {"value 192", R"__({{ toYaml . }})__", R"__({"k": "+,", "l": ["+,"]})__", R"__(OK:k: +,
l:
- +,)__"},
    {"key 192", R"__({{ toYaml . }})__", R"__({"+,": 1})__", R"__(OK:+,: 1)__"},
    {"value 193", R"__({{ toYaml . }})__", R"__({"k": "+0:\t", "l": ["+0:\t"]})__",
     R"__(OK:k: "+0:\t"
l:
- "+0:\t")__"},
    {"key 193", R"__({{ toYaml . }})__", R"__({"+0:\t": 1})__", R"__(OK:"+0:\t": 1)__"},
    {"value 194", R"__({{ toYaml . }})__", R"__({"k": ":]b\t0::", "l": [":]b\t0::"]})__",
     R"__(OK:k: ":]b\t0::"
l:
- ":]b\t0::")__"},
    {"key 194", R"__({{ toYaml . }})__", R"__({":]b\t0::": 1})__", R"__(OK:":]b\t0::": 1)__"},
    {"value 195", R"__({{ toYaml . }})__", R"__({"k": " .*", "l": [" .*"]})__", R"__(OK:k: ' .*'
l:
- ' .*')__"},
    {"key 195", R"__({{ toYaml . }})__", R"__({" .*": 1})__", R"__(OK:' .*': 1)__"},
    {"value 196", R"__({{ toYaml . }})__",
     R"__({"k": "\"-\\&[,e >`@&", "l": ["\"-\\&[,e >`@&"]})__", R"__(OK:k: '"-\&[,e >`@&'
l:
- '"-\&[,e >`@&')__"},
    {"key 196", R"__({{ toYaml . }})__", R"__({"\"-\\&[,e >`@&": 1})__",
     R"__(OK:'"-\&[,e >`@&': 1)__"},
    {"value 197", R"__({{ toYaml . }})__", R"__({"k": "\\'a-!-%0", "l": ["\\'a-!-%0"]})__",
     R"__(OK:k: \'a-!-%0
l:
- \'a-!-%0)__"},
    {"key 197", R"__({{ toYaml . }})__", R"__({"\\'a-!-%0": 1})__", R"__(OK:\'a-!-%0: 1)__"},
    {"value 198", R"__({{ toYaml . }})__", R"__({"k": "]`", "l": ["]`"]})__", R"__(OK:k: ']`'
l:
- ']`')__"},
    {"key 198", R"__({{ toYaml . }})__", R"__({"]`": 1})__", R"__(OK:']`': 1)__"},
    {"value 199", R"__({{ toYaml . }})__", R"__({"k": ">1-:E[", "l": [">1-:E["]})__",
     R"__(OK:k: '>1-:E['
l:
- '>1-:E[')__"},
    {"key 199", R"__({{ toYaml . }})__", R"__({">1-:E[": 1})__", R"__(OK:'>1-:E[': 1)__"},
    {"value 200", R"__({{ toYaml . }})__", R"__({"k": ".[*@Eb", "l": [".[*@Eb"]})__",
     R"__(OK:k: .[*@Eb
l:
- .[*@Eb)__"},
    {"key 200", R"__({{ toYaml . }})__", R"__({".[*@Eb": 1})__", R"__(OK:.[*@Eb: 1)__"},
    {"value 201", R"__({{ toYaml . }})__", R"__({"k": "0}  ` e#:?[", "l": ["0}  ` e#:?["]})__",
     R"__(OK:k: 0}  ` e#:?[
l:
- 0}  ` e#:?[)__"},
    {"key 201", R"__({{ toYaml . }})__", R"__({"0}  ` e#:?[": 1})__", R"__(OK:0}  ` e#:?[: 1)__"},
    {"value 202", R"__({{ toYaml . }})__", R"__({"k": "#&@!& ?*!>a#", "l": ["#&@!& ?*!>a#"]})__",
     R"__(OK:k: '#&@!& ?*!>a#'
l:
- '#&@!& ?*!>a#')__"},
    {"key 202", R"__({{ toYaml . }})__", R"__({"#&@!& ?*!>a#": 1})__",
     R"__(OK:'#&@!& ?*!>a#': 1)__"},
    {"value 203", R"__({{ toYaml . }})__", R"__({"k": "{", "l": ["{"]})__", R"__(OK:k: '{'
l:
- '{')__"},
    {"key 203", R"__({{ toYaml . }})__", R"__({"{": 1})__", R"__(OK:'{': 1)__"},
    {"value 204", R"__({{ toYaml . }})__", R"__({"k": "Ee", "l": ["Ee"]})__", R"__(OK:k: Ee
l:
- Ee)__"},
    {"key 204", R"__({{ toYaml . }})__", R"__({"Ee": 1})__", R"__(OK:Ee: 1)__"},
    {"value 205", R"__({{ toYaml . }})__", R"__({"k": "?1+\n+,a", "l": ["?1+\n+,a"]})__",
     R"__(OK:k: |-
  ?1+
  +,a
l:
- |-
  ?1+
  +,a)__"},
    {"key 205", R"__({{ toYaml . }})__", R"__({"?1+\n+,a": 1})__", R"__(OK:? |-
  ?1+
  +,a
: 1)__"},
    {"value 206", R"__({{ toYaml . }})__",
     R"__({"k": ">\t}**e@-x[ \\", "l": [">\t}**e@-x[ \\"]})__", R"__(OK:k: ">\t}**e@-x[ \\"
l:
- ">\t}**e@-x[ \\")__"},
    {"key 206", R"__({{ toYaml . }})__", R"__({">\t}**e@-x[ \\": 1})__",
     R"__(OK:">\t}**e@-x[ \\": 1)__"},
    {"value 207", R"__({{ toYaml . }})__", R"__({"k": "0# E", "l": ["0# E"]})__", R"__(OK:k: 0# E
l:
- 0# E)__"},
    {"key 207", R"__({{ toYaml . }})__", R"__({"0# E": 1})__", R"__(OK:0# E: 1)__"},
    {"value 208", R"__({{ toYaml . }})__", R"__({"k": "*\\1'#?-]'", "l": ["*\\1'#?-]'"]})__",
     R"__(OK:k: '*\1''#?-]'''
l:
- '*\1''#?-]''')__"},
    {"key 208", R"__({{ toYaml . }})__", R"__({"*\\1'#?-]'": 1})__", R"__(OK:'*\1''#?-]''': 1)__"},
    {"value 209", R"__({{ toYaml . }})__", R"__({"k": "+.,{\n0e", "l": ["+.,{\n0e"]})__",
     R"__(OK:k: |-
  +.,{
  0e
l:
- |-
  +.,{
  0e)__"},
    {"key 209", R"__({{ toYaml . }})__", R"__({"+.,{\n0e": 1})__", R"__(OK:? |-
  +.,{
  0e
: 1)__"},
    {"nested", R"__({{ toYaml . }})__",
     R"__({"a": {"b": [1, 2.5, true, null, {"c": [], "d": {}}], "e": [[1, 2], ["x"]]}, "n": 1e+21, "f": 1e-06, "big": 12345678901, "neg": -3.5})__",
     R"__(OK:a:
  b:
  - 1
  - 2.5
  - true
  - null
  - c: []
    d: {}
  e:
  - - 1
    - 2
  - - x
big: 12345678901
f: 1e-06
"n": 1e+21
neg: -3.5)__"},
    {"natural key order", R"__({{ toYaml . }})__",
     R"__({"a10": 1, "a2": 1, "a1": 1, "b": 1, "A": 1, "_x": 1, "1": 1, "10": 1, "9": 1, "a01": 1, "a001": 1, "\u00e9": 1, "z-1": 1, "z.1": 1})__",
     R"__(OK:_x: 1
"1": 1
"9": 1
"10": 1
A: 1
a1: 1
a01: 1
a001: 1
a2: 1
a10: 1
b: 1
z-1: 1
z.1: 1
é: 1)__"},
    {"list root", R"__({{ toYaml . }})__", R"__([1, "a", {"b": "c"}, [], {}])__", R"__(OK:- 1
- a
- b: c
- []
- {})__"},
    {"scalar root", R"__({{ toYaml . }})__", R"__("a\nb")__", R"__(OK:|-
  a
  b)__"},
    {"empty map", R"__({{ toYaml . }})__", R"__({})__", R"__(OK:{})__"},
    {"multiline in list", R"__({{ toYaml . }})__", R"__({"x": ["a\nb", "c"], "y": [["p\nq"]]})__",
     R"__(OK:x:
- |-
  a
  b
- c
"y":
- - |-
    p
    q)__"},

};

TEST(Functions, SprigMatchesGo) {
  ASSERT_GT(std::size(kFuncs), 40u);
  check(std::begin(kFuncs), std::end(kFuncs));
}

TEST(Functions, ToYamlMatchesYamlV2) {
  ASSERT_GT(std::size(kYaml), 400u);
  check(std::begin(kYaml), std::end(kYaml));
}

TEST(Functions, FromYamlResolvesAsYamlV2) {
  auto v = from_yaml("a: yes\nb: 1\nc: '1'\nd: 1.5\ne: ~\nf: 2024-01-02\ng: [on, off]\nh: 0x10\n");
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(go_sprint(*v), "map[a:true b:1 c:1 d:1.5 e:<nil> f:2024-01-02 g:[true false] h:16]");
  EXPECT_TRUE(v->map()["b"].is_float());  // numbers are float64, as Helm's values
  EXPECT_TRUE(v->map()["c"].is_string());
}

TEST(Functions, HelmFunctions) {
  EXPECT_EQ(run(R"({{ fromYaml "a: 1\nb: [x]" | toJson }})", Value()), R"(OK:{"a":1,"b":["x"]})");
  EXPECT_EQ(run(R"({{ (fromYaml "- a").Error }})", Value()),
            "OK:error unmarshaling JSON: json: cannot unmarshal array into Go value of type "
            "map[string]interface {}");
  EXPECT_EQ(run(R"({{ fromYamlArray "- a\n- 1" }})", Value()), "OK:[a 1]");
  EXPECT_EQ(run(R"({{ fromJson "{\"a\": [1, 2]}" }})", Value()), "OK:map[a:[1 2]]");
  EXPECT_EQ(run(R"({{ fromJsonArray "[1, \"x\"]" }})", Value()), "OK:[1 x]");
  EXPECT_EQ(run(R"({{ lookup "v1" "Secret" "ns" "name" }})", Value()), "OK:map[]");
  EXPECT_EQ(run(R"({{ required "need x" .x }})", from_json(json::parse(R"({"x":"v"})"))), "OK:v");
  std::string r = run(R"({{ required "need x" .x }})", Value(Map{}));
  EXPECT_NE(r.find("error calling required: need x"), std::string::npos) << r;
  r = run(R"({{ fail "boom" }})", Value());
  EXPECT_EQ(r, R"(ERR:template: x:1:3: executing "x" at <fail "boom">: error calling fail: boom)");
}

TEST(Functions, IncludeAndTpl) {
  static const FuncMap funcs = helm_funcs();
  TemplateSet set;
  ASSERT_TRUE(set.parse("h", R"({{define "greet"}}hi {{.name}}{{end}})", &funcs));
  ASSERT_TRUE(set.parse(
      "x",
      R"({{ include "greet" . | upper }}|{{ tpl "{{ include \"greet\" . }}!{{ .nope }}" . }}|)"
      R"({{ tpl "{{ define \"t2\" }}T{{ end }}{{ template \"t2\" }}" . }})",
      &funcs));
  Executor ex(set, funcs);
  auto r = ex.execute("x", from_json(json::parse(R"({"name":"bob"})")));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, "HI BOB|hi bob!|T");
}

TEST(Functions, IncludeRecursionIsBounded) {
  static const FuncMap funcs = helm_funcs();
  TemplateSet set;
  ASSERT_TRUE(set.parse("x", R"({{define "r"}}{{include "r" .}}{{end}}{{include "r" .}})", &funcs));
  Limits l;
  l.max_depth = 40;
  Executor ex(set, funcs, l);
  auto r = ex.execute("x", Value());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("exceeded maximum template depth (40)"), std::string::npos) << r.error();
}

TEST(Functions, RandomFunctionsHaveTheirShape) {
  std::string r = run(R"({{ randAlphaNum 12 }} {{ randNumeric 4 }} {{ uuidv4 }})", Value());
  EXPECT_TRUE(std::regex_match(
      r, std::regex("OK:[A-Za-z0-9]{12} [0-9]{4} "
                    "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << r;
}

TEST(Functions, CertificatesChainToTheirCa) {
  std::string r = run(
      R"({{ $ca := genCA "my-ca" 365 }}{{ $c := genSignedCert "svc" (list "10.0.0.1") (list "svc.ns") 30 $ca }})"
      R"({{ $ca.Cert | trunc 27 }}|{{ $c.Key | trunc 31 }}|{{ $c.Cert | b64enc | len | lt 100 }})",
      Value());
  EXPECT_EQ(r, "OK:-----BEGIN CERTIFICATE-----|-----BEGIN RSA PRIVATE KEY-----|true");
  r = run(R"({{ (genSelfSignedCert "x" nil nil 1).Cert | trunc 27 }})", Value());
  EXPECT_EQ(r, "OK:-----BEGIN CERTIFICATE-----");
}

TEST(Functions, JsonMatchesEncodingJson) {
  EXPECT_EQ(to_go_json(from_json(json::parse(R"({"f":1e-7,"g":1e21,"h":0.1,"i":100})"))),
            R"({"f":1e-7,"g":1e+21,"h":0.1,"i":100})");
}

}  // namespace
}  // namespace cairn::helm
