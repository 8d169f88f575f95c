// libFuzzer target over AdmissionReview parsing, the admission policy and the
// answer (issue #6). Built with clang and run for a bounded time by
// hack/fuzz.sh (-fsanitize=fuzzer,address,undefined; tests/fuzz/CMakeLists.txt).
//
// Per input: parse_review must not throw, and a refusal must say why. A
// review that parses is decided as /validate (Policy::decide) and as
// /validate-cairn (Policy::validate_spec) against the fixture of fixture.h:
// a std::exception from there is what the handler answers 400, so it is
// caught (and its first occurrences logged); anything else is a crash. Each
// verdict must be consistent (allowed exactly when the result is not
// "denied") and its answer() a well-formed AdmissionReview echoing the uid
// with a boolean allowed. manifest::first_difference runs on the request's
// objects: an object never differs from itself.
//
// LLVMFuzzerInitialize checks that the fixture means something (every sample
// review gets the verdict it must get) and, when CAIRN_FUZZ_WRITE_SEEDS names
// a directory, writes the samples and truncated copies there (how
// tests/fuzz/corpus/admission/ was made).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>

#include "fixture.h"
#include "manifest/match.h"

namespace {

using cairn::fuzz::World;
namespace webhook = cairn::webhook;

World* g_world = nullptr;

[[noreturn]] void fail(const std::string& what, std::string_view input) {
  std::fprintf(stderr, "admission_fuzz: %s\n  input: %s\n", what.c_str(),
               cairn::fuzz::excerpt(input, 2000).c_str());
  __builtin_trap();
}

void check_decision(const webhook::Review& review, const webhook::Decision& d,
                    std::string_view input) {
  if (d.verdict.allowed != (d.result != "denied"))
    fail("verdict allowed=" + std::to_string(d.verdict.allowed) + " with result \"" + d.result +
             "\" (rule " + d.rule + ")",
         input);
  const std::string out = webhook::answer(review, d.verdict);
  if (auto why = cairn::fuzz::check_answer(out, review.uid); !why.empty())
    fail(why + "; answer: " + cairn::fuzz::excerpt(out, 2000), input);
}

void write_seeds(const World& world, const std::string& dir) {
  auto put = [&](const std::string& name, std::string_view body) {
    std::ofstream(dir + "/" + name, std::ios::binary).write(body.data(), body.size());
  };
  for (const auto& s : world.samples()) put(s.name + ".json", s.body);
  // Truncated ones: inside the request, inside the object, one byte short.
  for (const auto& s : world.samples()) {
    if (s.name != "deployment-update-stamped" && s.name != "pipeline-create") continue;
    put(s.name + "-truncated-request.json", std::string_view(s.body).substr(0, 120));
    put(s.name + "-truncated-object.json", std::string_view(s.body).substr(0, s.body.size() / 2));
    put(s.name + "-truncated-end.json", std::string_view(s.body).substr(0, s.body.size() - 1));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string error;
  static std::unique_ptr<World> world = World::create(&error);
  if (!world) {
    std::fprintf(stderr, "admission_fuzz: cannot build the fixture: %s\n", error.c_str());
    std::abort();
  }
  for (const auto& s : world->samples()) {
    auto review = webhook::parse_review(s.body);
    if (!review) {
      std::fprintf(stderr, "admission_fuzz: sample %s does not parse: %s\n", s.name.c_str(),
                   review.error().c_str());
      std::abort();
    }
    auto d = s.path == "/validate-cairn" ? world->policy().validate_spec(*review)
                                         : world->policy().decide(*review);
    if (s.allowed && d.verdict.allowed != *s.allowed) {
      std::fprintf(stderr, "admission_fuzz: sample %s: allowed=%d (rule %s: %s), want %d\n",
                   s.name.c_str(), d.verdict.allowed, d.rule.c_str(), d.verdict.message.c_str(),
                   *s.allowed);
      std::abort();
    }
    check_decision(*review, d, s.body);
  }
  if (const char* dir = std::getenv("CAIRN_FUZZ_WRITE_SEEDS"); dir && *dir)
    write_seeds(*world, dir);
  g_world = world.get();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto review = webhook::parse_review(input);
  if (!review) {
    if (review.error().empty()) fail("parse_review refused the input without a reason", input);
    return 0;
  }
  for (bool specs : {false, true}) {
    webhook::Decision d;
    try {
      d = specs ? g_world->policy().validate_spec(*review) : g_world->policy().decide(*review);
    } catch (const std::exception& e) {
      // The handler answers these 400 ("malformed object in the review").
      static std::set<std::string> seen;
      if (seen.size() < 20 && seen.insert(e.what()).second)
        std::fprintf(stderr, "admission_fuzz: note: %s threw: %s\n",
                     specs ? "validate_spec" : "decide", e.what());
      continue;
    }
    check_decision(*review, d, input);
  }
  for (const auto* obj : {&review->object, &review->old_object}) {
    if (auto diff = cairn::manifest::first_difference(*obj, *obj))
      fail("an object differs from itself: " + diff->to_string(), input);
  }
  (void)cairn::manifest::first_difference(review->old_object, review->object,
                                          {"spec.replicas", "metadata.annotations"});
  return 0;
}
