#include "api/duration.h"

#include <gtest/gtest.h>

namespace cairn::api {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(ParseDuration, GoForms) {
  EXPECT_EQ(parse_duration("30s").value(), seconds(30));
  EXPECT_EQ(parse_duration("1m").value(), minutes(1));
  EXPECT_EQ(parse_duration("1h30m").value(), minutes(90));
  EXPECT_EQ(parse_duration("500ms").value(), milliseconds(500));
  EXPECT_EQ(parse_duration("1.5h").value(), minutes(90));
  EXPECT_EQ(parse_duration("2h45m30.25s").value(), hours(2) + minutes(45) + milliseconds(30250));
  EXPECT_EQ(parse_duration("1500us").value(), milliseconds(1));
  EXPECT_EQ(parse_duration("1500\xC2\xB5s").value(), milliseconds(1));  // µs
  EXPECT_EQ(parse_duration("2000000ns").value(), milliseconds(2));
  EXPECT_EQ(parse_duration("0s").value(), milliseconds(0));
  EXPECT_EQ(parse_duration("1m1m").value(), minutes(2));  // Go adds repeated units
}

TEST(ParseDuration, RejectsWhatTheCrdPatternRejects) {
  for (const char* bad : {"", "1", "0", "m", "-1s", "+1s", "1 m", "1min", "1d", "1.s", ".5s", "1s ",
                          "1S", "1h-30m"}) {
    auto r = parse_duration(bad);
    EXPECT_FALSE(r.has_value()) << bad;
  }
}

TEST(ParseDuration, ErrorsSayWhatIsWrong) {
  EXPECT_EQ(parse_duration("10").error(),
            "\"10\" is not a duration: missing unit (ns, us, ms, s, m or h) (use e.g. 30s, 5m, "
            "1h30m, 500ms)");
  EXPECT_NE(parse_duration("3d").error().find("unknown unit \"d\""), std::string::npos);
  EXPECT_NE(parse_duration("-5s").error().find("a sign is not allowed"), std::string::npos);
}

TEST(ParseDuration, HugeValuesAreErrorsNotOverflow) {
  EXPECT_NE(parse_duration("99999999999999999999999h").error().find("too large"),
            std::string::npos);
  EXPECT_NE(parse_duration("2562048h").error().find("too large"), std::string::npos);
  EXPECT_TRUE(parse_duration("2562047h").has_value());  // just under Go's limit
  EXPECT_NE(parse_duration("2562047h2562047h").error().find("too large"), std::string::npos);
}

TEST(FormatDuration, LikeGo) {
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(500)), "500ms");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(format_duration(milliseconds(1050)), "1.05s");
  EXPECT_EQ(format_duration(seconds(30)), "30s");
  EXPECT_EQ(format_duration(minutes(1)), "1m0s");
  EXPECT_EQ(format_duration(minutes(90)), "1h30m0s");
  EXPECT_EQ(format_duration(hours(2) + seconds(5)), "2h0m5s");
  EXPECT_EQ(format_duration(milliseconds(-1500)), "-1.5s");
}

TEST(FormatDuration, RoundTrips) {
  for (long long ms : {1LL, 999LL, 1000LL, 1001LL, 59999LL, 60000LL, 3599999LL, 3600000LL,
                       86400000LL, 123456789LL}) {
    auto d = milliseconds(ms);
    EXPECT_EQ(parse_duration(format_duration(d)).value(), d) << format_duration(d);
  }
}

}  // namespace
}  // namespace cairn::api
