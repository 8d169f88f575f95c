// libFuzzer target over Job termination messages (issue #9): what a step's
// container writes to /dev/termination-log (or the tail of its log) becomes
// the step's results (pipeline::parse_results) or is quoted in its failure
// message (pipeline::failure_excerpt), both written into the Pipeline's
// status as JSON.
//
// Invariants: at most 32 results; every key is [A-Za-z0-9_.-]{1,63} and
// appears as `key=` at the start of a line of the input; values hold no
// newline and at most 1024 bytes; the excerpt is at most 512 bytes and a
// prefix of the trimmed message, shorter only
// by the part of a character. The apiserver only ever sends UTF-8 (it is
// JSON), so for UTF-8 input the results and the excerpt must be UTF-8 too
// (cut at a character boundary), or the status could not be written.
#include <string>

#include "common.h"
#include "kube/util.h"
#include "operator/pipeline/job.h"

namespace {

constexpr const char* kTarget = "termination_fuzz";

bool valid_key(const std::string& k) {
  if (k.empty() || k.size() > 63) return false;
  for (char c : k) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cairn::fuzz::fail;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const bool utf8 = cairn::fuzz::is_utf8(input);

  std::map<std::string, std::string> results;
  std::string excerpt;
  try {
    results = cairn::pipeline::parse_results(input);
    excerpt = cairn::pipeline::failure_excerpt(input);
  } catch (const std::exception& e) {
    fail(kTarget, std::string("threw: ") + e.what(), input);
  }
  if (results.size() > 32) fail(kTarget, std::to_string(results.size()) + " results", input);
  for (const auto& [k, v] : results) {
    if (!valid_key(k)) fail(kTarget, "bad key \"" + k + "\"", input);
    if (input.rfind(k + "=", 0) != 0 && input.find("\n" + k + "=") == std::string::npos)
      fail(kTarget, "key \"" + k + "\" is not at the start of a line", input);
    if (v.size() > 1024) fail(kTarget, "value of " + k + " has " + std::to_string(v.size()), input);
    if (v.find('\n') != std::string::npos) fail(kTarget, "value of " + k + " has a newline", input);
    if (utf8 && !cairn::fuzz::is_utf8(v))
      fail(kTarget, "UTF-8 message, but the value of " + k + " is not UTF-8", input);
  }
  if (excerpt.size() > 512) fail(kTarget, "excerpt of " + std::to_string(excerpt.size()), input);
  const std::string_view trimmed = cairn::kube::trim(input);
  if (trimmed.substr(0, excerpt.size()) != excerpt)
    fail(kTarget, "the excerpt is not a prefix of the trimmed message", input);
  if (trimmed.size() > 512 && excerpt.size() < 509)
    fail(kTarget, "the excerpt was cut by more than a character", input);
  if (utf8 && !cairn::fuzz::is_utf8(excerpt))
    fail(kTarget, "UTF-8 message, but the excerpt is not UTF-8", input);
  if (utf8 && !cairn::fuzz::dumps(cairn::json(results)))
    fail(kTarget, "the results cannot be written as JSON", input);
  return 0;
}
