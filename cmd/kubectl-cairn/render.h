// Text output of `kubectl cairn`, rendered from the documents of chain.h:
// aligned columns, and ANSI colours only when asked to (a terminal). Pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "json/json.h"

namespace cairn::cli {

struct Style {
  bool color = false;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

enum class Tone { kPlain, kBold, kDim, kGood, kBad, kBusy, kId };

// The text wrapped in the escape codes of `tone` (unchanged without colour).
std::string paint(const Style& st, std::string_view text, Tone tone);

// The tone of an API value: Succeeded, Deployed, True and Valid are good;
// Failed, False, Invalid, Cancelled, RolledBack... bad; the rest busy.
Tone tone_of(std::string_view value);

// "45s", "3m12s", "1h02m", "3d4h".
std::string format_duration(int64_t seconds);
// "45s", "12m", "5h", "3d" (kubectl's AGE column).
std::string format_age(int64_t seconds);

// One cell of a table: text and tone.
struct Cell {
  std::string text;
  Tone tone = Tone::kPlain;
};
// Rows aligned on columns (width by visible characters, not bytes or escape
// codes), two spaces apart, trailing blanks trimmed; each line indented.
std::string table(const Style& st, const std::vector<std::vector<Cell>>& rows, size_t indent = 0);

std::string render_trace(const cairn::json& doc, const Style& st);
std::string render_history(const cairn::json& doc, const Style& st);
std::string render_status(const cairn::json& doc, const Style& st);

// The number of characters a terminal shows for `s` (UTF-8 code points,
// escape sequences not counted).
size_t visible_width(std::string_view s);

}  // namespace cairn::cli
