// The parser's entry point (internal to lib/helm).
#pragma once

#include <expected>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "helm/parse.h"

namespace cairn::helm {

struct ParseResult {
  std::shared_ptr<ListNode> root;
  std::map<std::string, std::shared_ptr<ListNode>> defines;
};

// Parses one file's text. With `funcs`, an unknown function is a parse
// error (as Go's parser reports it).
std::expected<ParseResult, std::string> parse_template(
    const std::string& name, const std::string& text,
    const std::set<std::string, std::less<>>* funcs);

// Only whitespace text (Go's parse.IsEmptyTree): such a tree does not
// replace a template of the same name.
bool is_empty_tree(const ListNode& l);

}  // namespace cairn::helm
