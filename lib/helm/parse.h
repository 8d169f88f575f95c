// The parse tree of text/template (internal to lib/helm).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "helm/value.h"

namespace cairn::helm {

struct Pipe;

// Where a node is, for errors: the file it was parsed from, line and
// 0-based byte column within the line (as Go's ErrorContext).
struct Loc {
  std::shared_ptr<const std::string> file;
  int line = 1;
  int col = 0;
};

struct Arg {
  enum class Kind { kField, kVar, kIdent, kDot, kNil, kLiteral, kPipe };
  Kind kind = Kind::kNil;
  std::string name;                 // variable ("$x") or function name
  std::vector<std::string> fields;  // chained fields after it
  Value literal;                    // kLiteral: bool, number or string
  bool number = false;              // kLiteral from a number (typed by its use)
  std::shared_ptr<Pipe> pipe;       // kPipe
  std::string text;                 // as Go's String() prints it
  Loc loc;
};

struct Cmd {
  std::vector<Arg> args;
  std::string text;
  Loc loc;
};

struct Pipe {
  std::vector<std::string> decl;  // variables declared or assigned
  bool assign = false;            // `=` rather than `:=`
  std::vector<Cmd> cmds;
  std::string text;
  Loc loc;
};

struct ListNode;

struct Node {
  enum class Kind { kText, kAction, kIf, kWith, kRange, kTemplate, kBreak, kContinue };
  Kind kind = Kind::kText;
  std::string text;  // kText: the text; kTemplate: the name called
  std::shared_ptr<Pipe> pipe;
  std::shared_ptr<ListNode> list, else_list;
  Loc loc;
};

struct ListNode {
  std::vector<Node> nodes;
};

}  // namespace cairn::helm
