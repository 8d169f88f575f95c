// The functions a Helm chart's templates can call: sprig's (the subset charts
// use, measured on popular charts) and Helm's own (include, tpl, required,
// toYaml, ...). Functions not provided are a parse error naming them.
#pragma once

#include <functional>
#include <string>

#include "helm/template.h"
#include "helm/value.h"

namespace cairn::helm {

// sprig.TxtFuncMap() without env/expandenv (as Helm), for the functions
// implemented.
FuncMap sprig_funcs();
// sprig_funcs() plus Helm's: include, tpl, required, fail, toYaml,
// fromYaml, fromYamlArray, toJson, fromJson, fromJsonArray, lookup.
FuncMap helm_funcs();

// Helpers shared by the function files (sprig's strval/toInt64/...).
std::string strval(const Value& v);
std::int64_t to_int64(const Value& v);
double to_float64(const Value& v);
bool sprig_empty(const Value& v);
std::vector<std::string> strslice(const Value& v);

// Crypto functions (genCA, genSignedCert, ...), in crypto.cc.
void add_crypto_funcs(FuncMap& m);
// Date functions (now, date, dateInZone, toDate, duration, ...), in date.cc.
void add_date_funcs(FuncMap& m);
// semver/semverCompare (Masterminds/semver v3 constraints), in semver.cc.
void add_semver_funcs(FuncMap& m);
std::expected<bool, std::string> semver_check(const std::string& constraint,
                                              const std::string& version);

}  // namespace cairn::helm
