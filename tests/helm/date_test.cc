// sprig's date functions against Go: every row of kDates was rendered by
// Go 1.19's text/template with sprig v3.2.3 under TZ=UTC, and of
// kDatesNewYork under TZ=America/New_York (the tests set TZ the same way;
// zones are read from the system's zoneinfo, as Go reads them). Functions
// of the current time (now, ago, a float as a date) are checked by their
// properties.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <regex>

#include "cases.h"
#include "helm/functions.h"
#include "helm/gotime.h"
#include "helm/template.h"

namespace cairn::helm {
namespace {

using test::Case;
using test::check;
using test::run;

const Case
    kDates[] =
        {
            {"dates 1",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05.999999999Z07:00" "2009-11-10T23:04:05.123456789-07:00" }}{{ $t }})__",
             R"__(null)__", R"__(OK:2009-11-10 23:04:05.123456789 -0700 -0700)__"},
            {"dates 2",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05Z07:00" "2009-11-10T23:04:05Z" }}{{ $t }}|{{ unixEpoch $t }})__",
             R"__(null)__", R"__(OK:2009-11-10 23:04:05 +0000 UTC|1257894245)__"},
            {"dates 3",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05.999999999Z07:00" "2009-11-10T23:04:05.123456789-07:00" }}{{ dateInZone "2006 06 01 1 Jan January 02 2 _2 002 __2" $t "UTC" }})__",
             R"__(null)__", R"__(OK:2009 09 11 11 Nov November 11 11 11 315 315)__"},
            {"dates 4",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05.999999999Z07:00" "2009-11-10T23:04:05.123456789-07:00" }}{{ dateInZone "15 03 3 04 4 05 5 PM pm Mon Monday MST" $t "UTC" }})__",
             R"__(null)__", R"__(OK:06 06 6 04 4 05 5 AM am Wed Wednesday UTC)__"},
            {"dates 5",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05.999999999Z07:00" "2009-11-10T23:04:05.123456789-07:00" }}{{ dateInZone "-0700|-07:00|-07|-070000|-07:00:00|Z07:00|Z0700|Z07|Z070000|Z07:00:00" $t "UTC" }})__",
             R"__(null)__", R"__(OK:+0000|+00:00|+00|+000000|+00:00:00|Z|Z|Z|Z|Z)__"},
            {"dates 6",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05.999999999Z07:00" "2009-11-10T23:04:05.123456789-07:00" }}{{ dateInZone "-0700|-07:00|-07|-070000|-07:00:00|Z07:00|Z0700|Z07|Z070000|Z07:00:00 MST" $t "Asia/Kathmandu" }})__",
             R"__(null)__",
             R"__(OK:+0545|+05:45|+05|+054500|+05:45:00|+05:45|+0545|+05|+054500|+05:45:00 +0545)__"},
            {"dates 7",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05.999999999Z07:00" "2009-11-10T23:04:05.123456789-07:00" }}{{ dateInZone "05.000|05.999|05,000|05.000000|05.999999999|05.9|05.0|.0001|05.00000000000" $t "UTC" }})__",
             R"__(null)__",
             R"__(OK:05.123|05.123|05,123|05.123456|05.123456789|05.1|05.1|.0011|05.123456789)__"},
            {"dates 8",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05.999999999Z07:00" "2009-11-10T23:04:05.120000000-07:00" }}{{ dateInZone "05.000|05.999|05.99|05,999" $t "UTC" }})__",
             R"__(null)__", R"__(OK:05.120|05.12|05.12|05,12)__"},
            {"dates 9",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05Z07:00" "2009-11-10T23:04:05Z" }}{{ dateInZone "05.999|05.000" $t "UTC" }})__",
             R"__(null)__", R"__(OK:05|05.000)__"},
            {"dates 10",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05Z07:00" "2009-01-02T00:04:05Z" }}{{ dateInZone "3 03 PM pm _2 2 002 __2 Janx Jana Monx Mona _2006 Jan2" $t "UTC" }})__",
             R"__(null)__", R"__(OK:12 12 AM am  2 2 002   2 Janx Jana Monx Mona _2009 Jan2)__"},
            {"dates 11",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05Z07:00" "2009-12-31T12:04:05Z" }}{{ dateInZone "3 03 PM pm 002 __2" $t "UTC" }})__",
             R"__(null)__", R"__(OK:12 12 PM pm 365 365)__"},
            {"dates 12",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05Z07:00" "2009-11-10T23:04:05Z" }}{{ dateInZone "Mon Jan _2 15:04:05 2006" $t "UTC" }}|{{ dateInZone "Mon Jan _2 15:04:05 MST 2006" $t "UTC" }}|{{ dateInZone "Mon Jan 02 15:04:05 -0700 2006" $t "UTC" }})__",
             R"__(null)__",
             R"__(OK:Tue Nov 10 23:04:05 2009|Tue Nov 10 23:04:05 UTC 2009|Tue Nov 10 23:04:05 +0000 2009)__"},
            {"dates 13",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05Z07:00" "2009-11-10T23:04:05Z" }}{{ dateInZone "02 Jan 06 15:04 MST" $t "UTC" }}|{{ dateInZone "02 Jan 06 15:04 -0700" $t "UTC" }}|{{ dateInZone "Monday, 02-Jan-06 15:04:05 MST" $t "UTC" }})__",
             R"__(null)__",
             R"__(OK:10 Nov 09 23:04 UTC|10 Nov 09 23:04 +0000|Tuesday, 10-Nov-09 23:04:05 UTC)__"},
            {"dates 14",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05Z07:00" "2009-11-10T23:04:05Z" }}{{ dateInZone "Mon, 02 Jan 2006 15:04:05 MST" $t "UTC" }}|{{ dateInZone "Mon, 02 Jan 2006 15:04:05 -0700" $t "UTC" }}|{{ dateInZone "2006-01-02T15:04:05Z07:00" $t "UTC" }}|{{ dateInZone "3:04PM" $t "UTC" }})__",
             R"__(null)__",
             R"__(OK:Tue, 10 Nov 2009 23:04:05 UTC|Tue, 10 Nov 2009 23:04:05 +0000|2009-11-10T23:04:05Z|11:04PM)__"},
            {"dates 15",
             R"__({{ $t := mustToDate "2006-01-02T15:04:05.999999999Z07:00" "2009-11-10T23:04:05.000012345Z" }}{{ dateInZone "Jan _2 15:04:05" $t "UTC" }}|{{ dateInZone "Jan _2 15:04:05.000" $t "UTC" }}|{{ dateInZone "Jan _2 15:04:05.000000" $t "UTC" }}|{{ dateInZone "Jan _2 15:04:05.000000000" $t "UTC" }}|{{ dateInZone "2006-01-02T15:04:05.999999999Z07:00" $t "UTC" }})__",
             R"__(null)__",
             R"__(OK:Nov 10 23:04:05|Nov 10 23:04:05.000|Nov 10 23:04:05.000012|Nov 10 23:04:05.000012345|2009-11-10T23:04:05.000012345Z)__"},
            {"dates 16",
             R"__({{ dateInZone "2006-01-02 15:04:05 MST -07:00" 1688000000 "America/New_York" }}|{{ dateInZone "2006-01-02 15:04:05 MST -07:00" 1700000000 "America/New_York" }}|{{ dateInZone "2006-01-02 15:04:05 MST" 1700000000 "Asia/Kolkata" }})__",
             R"__(null)__",
             R"__(OK:2023-06-28 20:53:20 EDT -04:00|2023-11-14 17:13:20 EST -05:00|2023-11-15 03:43:20 IST)__"},
            {"dates 17",
             R"__({{ dateInZone "2006-01-02 15:04:05 MST" 1700000000 "Nowhere/Zone" }}|{{ dateInZone "2006-01-02 15:04:05 MST" 1700000000 "" }}|{{ dateInZone "2006-01-02 15:04:05 MST" 1700000000 "../etc/passwd" }})__",
             R"__(null)__",
             R"__(OK:2023-11-14 22:13:20 UTC|2023-11-14 22:13:20 UTC|2023-11-14 22:13:20 UTC)__"},
            {"dates 18",
             R"__({{ dateInZone "2006-01-02 15:04:05 MST" 1700000000 "Europe/London" }}|{{ dateInZone "2006-01-02 15:04:05 MST" 1690000000 "Europe/London" }}|{{ dateInZone "2006-01-02 15:04 -07:00 MST" -2000000000 "Europe/Amsterdam" }}|{{ dateInZone "2006-01-02 15:04 -07:00 MST" 2000000000 "Australia/Sydney" }})__",
             R"__(null)__",
             R"__(OK:2023-11-14 22:13:20 GMT|2023-07-22 05:26:40 BST|1906-08-16 20:46 +00:19 AMT|2033-05-18 13:33 +10:00 AEST)__"},
            {"dates 19",
             R"__({{ date "2006-01-02 15:04:05" 1257894245 }}|{{ date "2006-01-02 15:04:05" (int64 1257894245) }}|{{ htmlDate 0 }}|{{ htmlDateInZone 0 "Asia/Tokyo" }}|{{ htmlDateInZone -1 "UTC" }})__",
             R"__(null)__",
             R"__(OK:2009-11-10 23:04:05|2009-11-10 23:04:05|1970-01-01|1970-01-01|1969-12-31)__"},
            {"dates 20",
             R"__({{ $t := toDate "2006-01-02" "2017-12-31" }}{{ $t }}|{{ htmlDate $t }}|{{ date "Jan 2, 2006" $t }}|{{ unixEpoch $t }}|{{ typeOf $t }}|{{ kindOf $t }})__",
             R"__(null)__",
             R"__(OK:2017-12-31 00:00:00 +0000 UTC|2017-12-31|Dec 31, 2017|1514678400|time.Time|struct)__"},
            {"dates 21",
             R"__({{ toDate "2006-01-02" "2017-13-31" }}|{{ toDate "2006-01-02" "x" }}|{{ unixEpoch (toDate "2006-01-02" "x") }})__",
             R"__(null)__",
             R"__(OK:0001-01-01 00:00:00 +0000 UTC|0001-01-01 00:00:00 +0000 UTC|-62135596800)__"},
            {"dates 22", R"__({{ mustToDate "2006-01-02" "x" }})__", R"__(null)__",
             R"__(ERR:template: x:1:3: executing "x" at <mustToDate "2006-01-02" "x">: error calling mustToDate: parsing time "x" as "2006-01-02": cannot parse "x" as "2006")__"},
            {"dates 23", R"__({{ mustToDate "2006-01-02" "2017-13-31" }})__", R"__(null)__",
             R"__(ERR:template: x:1:3: executing "x" at <mustToDate "2006-01-02" "2017-13-31">: error calling mustToDate: parsing time "2017-13-31": month out of range)__"},
            {"dates 24", R"__({{ mustToDate "2006-01-02" "2017-02-30" }})__", R"__(null)__",
             R"__(ERR:template: x:1:3: executing "x" at <mustToDate "2006-01-02" "2017-02-30">: error calling mustToDate: parsing time "2017-02-30": day out of range)__"},
            {"dates 25", R"__({{ mustToDate "2006-01-02" "2017-02-03 junk" }})__", R"__(null)__",
             R"__(ERR:template: x:1:3: executing "x" at <mustToDate "2006-01-02" "2017-02-03 junk">: error calling mustToDate: parsing time "2017-02-03 junk": extra text: " junk")__"},
            {"dates 26", R"__({{ mustToDate "15:04" "25:00" }})__", R"__(null)__",
             R"__(ERR:template: x:1:3: executing "x" at <mustToDate "15:04" "25:00">: error calling mustToDate: parsing time "25:00": hour out of range)__"},
            {"dates 27", R"__({{ mustToDate "Jan 2 2006" "Fab 2 2006" }})__", R"__(null)__",
             R"__(ERR:template: x:1:3: executing "x" at <mustToDate "Jan 2 2006" "Fab 2 2006">: error calling mustToDate: parsing time "Fab 2 2006" as "Jan 2 2006": cannot parse "Fab 2 2006" as "Jan")__"},
            {"dates 28",
             R"__({{ mustToDate "2006-01-02 15:04:05 MST" "2023-07-01 12:00:00 EDT" }}|{{ mustToDate "2006-01-02 15:04:05 MST" "2023-07-01 12:00:00 UTC" }}|{{ mustToDate "2006-01-02 15:04:05 MST" "2023-07-01 12:00:00 GMT+3" }})__",
             R"__(null)__",
             R"__(OK:2023-07-01 12:00:00 +0000 EDT|2023-07-01 12:00:00 +0000 UTC|2023-07-01 15:00:00 +0300 GMT+3)__"},
            {"dates 29",
             R"__({{ mustToDate "2006-01-02 15:04:05 -0700" "2023-07-01 12:00:00 +0530" }}|{{ mustToDate "2006-01-02 15:04:05 Z07:00" "2023-07-01 12:00:00 Z" }}|{{ mustToDate "2006-01-02 15:04:05 -0700" "2023-07-01 12:00:00 +0000" }})__",
             R"__(null)__",
             R"__(OK:2023-07-01 12:00:00 +0530 +0530|2023-07-01 12:00:00 +0000 UTC|2023-07-01 12:00:00 +0000 UTC)__"},
            {"dates 30",
             R"__({{ mustToDate "Monday, 02-Jan-06 03:04:05 PM" "Tuesday, 10-Nov-09 11:04:05 pm" }}|{{ mustToDate "Jan _2 2006 3pm" "Feb  3 2013 12am" }}|{{ mustToDate "January 2 06" "march 4 70" }})__",
             R"__(null)__",
             R"__(ERR:template: x:1:3: executing "x" at <mustToDate "Monday, 02-Jan-06 03:04:05 PM" "Tuesday, 10-Nov-09 11:04:05 pm">: error calling mustToDate: parsing time "Tuesday, 10-Nov-09 11:04:05 pm" as "Monday, 02-Jan-06 03:04:05 PM": cannot parse "" as "PM")__"},
            {"dates 31",
             R"__({{ mustToDate "002 2006" "060 2012" }}|{{ mustToDate "__2 2006" " 60 2013" }}|{{ mustToDate "2006-01-02 15:04:05" "2023-07-01 12:00:00.123456" }}|{{ mustToDate "2006-01-02 15:04:05.000" "2023-07-01 12:00:00.120" }}|{{ mustToDate "05.999" "05" }})__",
             R"__(null)__",
             R"__(OK:2012-02-29 00:00:00 +0000 UTC|2013-03-01 00:00:00 +0000 UTC|2023-07-01 12:00:00.123456 +0000 UTC|2023-07-01 12:00:00.12 +0000 UTC|0000-01-01 00:00:05 +0000 UTC)__"},
            {"dates 32", R"__({{ mustToDate "002 2006" "366 2013" }})__", R"__(null)__", R"__(ERR:template: x:1:3: executing "x" at <mustToDate "002 2006" "366 2013">: error calling mustToDate: parsing time "366 2013": day-of-year out of range)__"},
            {"dates 33",
             R"__({{ mustToDate "2006-01-02 15:04:05.000" "2023-07-01 12:00:00.12" }})__",
             R"__(null)__",
             R"__(ERR:template: x:1:3: executing "x" at <mustToDate "2006-01-02 15:04:05.000" "2023-07-01 12:00:00.12">: error calling mustToDate: parsing time "2023-07-01 12:00:00.12" as "2006-01-02 15:04:05.000": cannot parse ".12" as ".000")__"},
            {"dates 34",
             R"__({{ $t := toDate "2006-01-02 15:04" "2020-02-29 10:30" }}{{ dateModify "-1.5h" $t }}|{{ dateModify "1h30m" $t }}|{{ dateModify "bad" $t }}|{{ date_modify "24h" $t }}|{{ dateModify ".5s" $t }}|{{ dateModify "1.5µs" $t }}|{{ dateModify "+3us" $t }}|{{ dateModify "-1ns" $t }}|{{ mustDateModify "2562047h" $t }})__",
             R"__(null)__",
             R"__(OK:2020-02-29 09:00:00 +0000 UTC|2020-02-29 12:00:00 +0000 UTC|2020-02-29 10:30:00 +0000 UTC|2020-03-01 10:30:00 +0000 UTC|2020-02-29 10:30:00.5 +0000 UTC|2020-02-29 10:30:00.0000015 +0000 UTC|2020-02-29 10:30:00.000003 +0000 UTC|2020-02-29 10:29:59.999999999 +0000 UTC|2312-06-10 09:30:00 +0000 UTC)__"},
            {"dates 35",
             R"__({{ $t := toDate "2006-01-02" "2020-02-29" }}{{ mustDateModify "1d" $t }})__",
             R"__(null)__",
             R"__(ERR:template: x:1:47: executing "x" at <mustDateModify "1d" $t>: error calling mustDateModify: time: unknown unit "d" in duration "1d")__"},
            {"dates 36",
             R"__({{ $t := toDate "2006-01-02" "2020-02-29" }}{{ must_date_modify "" $t }})__",
             R"__(null)__",
             R"__(ERR:template: x:1:47: executing "x" at <must_date_modify "" $t>: error calling must_date_modify: time: invalid duration "")__"},
            {"dates 37",
             R"__({{ $t := toDate "2006-01-02" "2020-02-29" }}{{ mustDateModify "1h1" $t }})__",
             R"__(null)__",
             R"__(ERR:template: x:1:47: executing "x" at <mustDateModify "1h1" $t>: error calling mustDateModify: time: missing unit in duration "1h1")__"},
            {"dates 38",
             R"__({{ $t := toDate "2006-01-02" "2020-02-29" }}{{ mustDateModify "9999999999h" $t }})__",
             R"__(null)__",
             R"__(ERR:template: x:1:47: executing "x" at <mustDateModify "9999999999h" $t>: error calling mustDateModify: time: invalid duration "9999999999h")__"},
            {"dates 39", R"__({{ dateModify "1h" "2020-01-01" }})__", R"__(null)__",
             R"__(ERR:template: x:1:19: executing "x" at <"2020-01-01">: can't handle "2020-01-01" for arg of type time.Time)__"},
            {"dates 40", R"__({{ unixEpoch 5 }})__", R"__(null)__",
             R"__(ERR:template: x:1:13: executing "x" at <5>: can't handle 5 for arg of type time.Time)__"},
            {"dates 41",
             R"__({{ duration "95" }}|{{ duration 95 }}|{{ duration (int64 95) }}|{{ duration "-3661" }}|{{ duration "x" }}|{{ duration "0" }}|{{ duration (int64 86400) }}|{{ duration "+7" }}|{{ duration 95.0 }})__",
             R"__(null)__", R"__(OK:1m35s|0s|1m35s|-1h1m1s|0s|0s|24h0m0s|7s|0s)__"},
            {"dates 42",
             R"__({{ durationRound "2h30m" }}|{{ durationRound "25h" }}|{{ durationRound "800h" }}|{{ durationRound "9000h" }}|{{ durationRound "-90m" }}|{{ durationRound "1s" }}|{{ durationRound "61s" }}|{{ durationRound (int64 3600000000001) }}|{{ durationRound 3601 }}|{{ durationRound "x" }})__",
             R"__(null)__", R"__(OK:2h|1d|1mo|1y|1h|0s|1m|1h|0s|0s)__"},
            {"dates 43",
             R"__({{ $t := toDate "2006-01-02 15:04:05.000000" "2017-12-31 01:02:03.456789" }}{{ $t.Year }} {{ $t.Month }} {{ $t.Day }} {{ $t.YearDay }} {{ $t.Weekday }} {{ $t.Hour }} {{ $t.Minute }} {{ $t.Second }} {{ $t.Nanosecond }} {{ $t.Unix }} {{ $t.UnixNano }} {{ $t.Format "Jan 2" }} {{ $t.UTC }} {{ $t.IsZero }} {{ (toDate "x" "y").IsZero }})__",
             R"__(null)__",
             R"__(OK:2017 December 31 365 Sunday 1 2 3 456789000 1514682123 1514682123456789000 Dec 31 2017-12-31 01:02:03.456789 +0000 UTC false true)__"},
            {"dates 44",
             R"__({{ toJson (toDate "2006-01-02" "2017-12-31") }}|{{ toJson (dict "t" (mustToDate "2006-01-02 -07:00" "2017-12-31 +01:00")) }}|{{ print (toDate "2006-01-02" "2017-12-31") }}|{{ printf "%v|%s" (toDate "2006-01-02" "2017-12-31") (toDate "2006-01-02" "2017-12-31") }})__", R"__(null)__",
             R"__(OK:"2017-12-31T00:00:00Z"|{"t":"2017-12-31T00:00:00+01:00"}|2017-12-31 00:00:00 +0000 UTC|2017-12-31 00:00:00 +0000 UTC|2017-12-31 00:00:00 +0000 UTC)__"},
            {"dates 45",
             R"__({{ dateInZone "2006-01-02 15:04:05" (mustToDate "2006-01-02" "0001-01-01") "UTC" }}|{{ dateInZone "2006-01-02 Mon" -62135596800 "UTC" }}|{{ dateInZone "2006-01-02 Mon 002" 253402300799 "UTC" }}|{{ dateInZone "06|2006" (mustToDate "2006" "0005") "UTC" }})__",
             R"__(null)__",
             R"__(OK:0001-01-01 00:00:00|0001-01-01 Mon|9999-12-31 Fri 365|05|0005)__"},
};

const Case kDatesNewYork[] = {
    {"dates in New York 1",
     R"__({{ date "2006-01-02 15:04:05 MST" 1688000000 }}|{{ date "2006-01-02 15:04:05 MST" 1700000000 }}|{{ htmlDate 1700010000 }}|{{ dateInZone "15:04 MST" 1700000000 "Local" }}|{{ dateInZone "15:04 MST" 1700000000 "UTC" }})__",
     R"__(null)__",
     R"__(OK:2023-06-28 20:53:20 EDT|2023-11-14 17:13:20 EST|2023-11-14|17:13 EST|22:13 UTC)__"},
    {"dates in New York 2",
     R"__({{ toDate "2006-01-02 15:04" "2023-07-01 12:00" }}|{{ toDate "2006-01-02 15:04" "2023-01-01 12:00" }}|{{ unixEpoch (toDate "2006-01-02 15:04" "2023-07-01 12:00") }}|{{ toDate "2006-01-02 15:04 MST" "2023-07-01 12:00 EST" }}|{{ toDate "2006-01-02 15:04 MST" "2023-01-01 12:00 EDT" }}|{{ toDate "2006-01-02 15:04 -0700" "2023-07-01 12:00 -0400" }}|{{ toDate "2006-01-02 15:04 -0700" "2023-07-01 12:00 -0500" }})__",
     R"__(null)__",
     R"__(OK:2023-07-01 12:00:00 -0400 EDT|2023-01-01 12:00:00 -0500 EST|1688227200|2023-07-01 13:00:00 -0400 EDT|2023-01-01 11:00:00 -0500 EST|2023-07-01 12:00:00 -0400 EDT|2023-07-01 12:00:00 -0500 -0500)__"},
    {"dates in New York 3",
     R"__({{ toDate "2006-01-02 15:04" "2023-03-12 02:30" }}|{{ toDate "2006-01-02 15:04" "2023-11-05 01:30" }}|{{ dateModify "24h" (toDate "2006-01-02 15:04" "2023-03-11 12:00") }}|{{ toDate "2006-01-02" "2023-07-01" | toJson }}|{{ (toDate "2006-01-02" "2023-07-01").UTC }})__",
     R"__(null)__",
     R"__(OK:2023-03-12 01:30:00 -0500 EST|2023-11-05 01:30:00 -0400 EDT|2023-03-12 13:00:00 -0400 EDT|"2023-07-01T00:00:00-04:00"|2023-07-01 04:00:00 +0000 UTC)__"},
};

// Sets $TZ for one test (Local is read from it on each call, as Go reads it
// once at start).
class Dates : public ::testing::Test {
 protected:
  void SetTZ(const char* tz) { ::setenv("TZ", tz, 1); }
  void SetUp() override {
    const char* old = std::getenv("TZ");
    had_ = old != nullptr;
    if (had_) old_ = old;
    SetTZ("UTC");
  }
  void TearDown() override {
    if (had_)
      ::setenv("TZ", old_.c_str(), 1);
    else
      ::unsetenv("TZ");
  }

 private:
  bool had_ = false;
  std::string old_;
};

std::int64_t this_year() {
  auto days = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  return static_cast<int>(std::chrono::year_month_day(days).year());
}

TEST_F(Dates, MatchGo) { check(std::begin(kDates), std::end(kDates)); }

TEST_F(Dates, LocalIsTz) {
  SetTZ("America/New_York");
  check(std::begin(kDatesNewYork), std::end(kDatesNewYork));
}

TEST_F(Dates, NowIsTheCurrentTime) {
  std::string year = std::to_string(this_year());
  // Go's String() of time.Now(): the monotonic reading at the end.
  std::string r = run("{{ now }}");
  EXPECT_TRUE(std::regex_match(
      r, std::regex(R"(OK:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})? \+0000 UTC m=\+\d+\.\d{9})")))
      << r;
  EXPECT_EQ(run(R"({{ now | date "2006" }})"), "OK:" + year);
  EXPECT_EQ(run(R"({{ now | typeOf }})"), "OK:time.Time");
  // A float (every number in values) or a string is not a date to sprig: now.
  EXPECT_EQ(run(R"({{ date "2006" 1.5 }} {{ date "2006" "x" }} {{ htmlDate .x | len }})",
                from_json(json::parse(R"({"x": 0})"))),
            "OK:" + year + " " + year + " 10");
  // Ordering: a later time formats later, now is after the epoch.
  r = run(
      R"({{ $n := now }}{{ lt (unixEpoch $n | atoi) (unixEpoch ($n | dateModify "1s") | atoi) }} {{ gt (unixEpoch now | atoi) 1700000000 }})");
  EXPECT_EQ(r, "OK:true true");
  // dateModify keeps the monotonic reading, In drops it.
  r = run(R"({{ now | dateModify "1h" }}|{{ now | date "2006" }}|{{ $n := now }}{{ $n.UTC }})");
  EXPECT_TRUE(std::regex_search(r, std::regex(R"( m=\+\d+\.\d{9}\|)"))) << r;
  EXPECT_EQ(r.find("m=", r.rfind('|')), std::string::npos) << r;
}

TEST_F(Dates, AgoAndDurationRoundOfTheCurrentTime) {
  EXPECT_EQ(run("{{ ago now }}"), "OK:0s");
  EXPECT_EQ(run(R"({{ now | dateModify "-90m" | ago }})"), "OK:1h30m0s");
  EXPECT_EQ(run(R"({{ now | dateModify "-49h" | durationRound }})"), "OK:2d");
  EXPECT_EQ(run(R"({{ now | dateModify "49h" | durationRound }})"), "OK:2d");
  std::string r = run(R"({{ ago (sub (unixEpoch now | atoi) 3600 | int64) }})");
  EXPECT_TRUE(r == "OK:1h0m0s" || r == "OK:1h0m1s") << r;
  r = run(R"({{ ago (toDate "2006-01-02" "2000-01-01") }})");
  EXPECT_TRUE(std::regex_match(r, std::regex(R"(OK:\d{5,6}h\d+m\d+s)"))) << r;
  EXPECT_EQ(run(R"({{ ago "x" }}|{{ durationRound (toDate "2006" "2001") }})").substr(0, 6),
            "OK:0s|");
}

TEST(GoTime, DurationStringAsGo) {
  using gotime::duration_string;
  // time.Duration's String examples.
  EXPECT_EQ(duration_string(1 * 3600 * gotime::kSecond + 15 * 60 * gotime::kSecond +
                            30 * gotime::kSecond + 918273645),
            "1h15m30.918273645s");
  EXPECT_EQ(duration_string(1), "1ns");
  EXPECT_EQ(duration_string(1100), "1.1\xc2\xb5s");
  EXPECT_EQ(duration_string(2200000), "2.2ms");
  EXPECT_EQ(duration_string(3300000000), "3.3s");
  EXPECT_EQ(duration_string(-(4 * 60 + 5) * gotime::kSecond), "-4m5s");
  EXPECT_EQ(duration_string(5 * 3600 * gotime::kSecond + 6 * 60 * gotime::kSecond + 7001000000),
            "5h6m7.001s");
  EXPECT_EQ(duration_string(0), "0s");
  EXPECT_EQ(duration_string(INT64_MIN), "-2562047h47m16.854775808s");
  EXPECT_EQ(duration_string(INT64_MAX), "2562047h47m16.854775807s");
  EXPECT_EQ(duration_string(95 * gotime::kSecond), "1m35s");
}

TEST(GoTime, ParseDurationAsGo) {
  using gotime::parse_duration;
  EXPECT_EQ(*parse_duration("10h"), 10 * 3600 * gotime::kSecond);
  EXPECT_EQ(*parse_duration("1h10m10s"), 4210 * gotime::kSecond);
  EXPECT_EQ(*parse_duration("1.5h"), 5400 * gotime::kSecond);
  EXPECT_EQ(*parse_duration("-1.5h"), -5400 * gotime::kSecond);
  EXPECT_EQ(*parse_duration("1\xc2\xb5s"), 1000);
  EXPECT_EQ(*parse_duration("1\xce\xbcs"), 1000);
  EXPECT_EQ(*parse_duration("1us"), 1000);
  EXPECT_EQ(*parse_duration("0"), 0);
  EXPECT_EQ(*parse_duration("-9223372036854775808ns"), INT64_MIN);
  EXPECT_EQ(*parse_duration("9223372036854775807ns"), INT64_MAX);
  EXPECT_EQ(parse_duration("9223372036854775808ns").error(),
            "time: invalid duration \"9223372036854775808ns\"");
  EXPECT_EQ(parse_duration("3").error(), "time: missing unit in duration \"3\"");
  EXPECT_EQ(parse_duration("3x").error(), "time: unknown unit \"x\" in duration \"3x\"");
  EXPECT_EQ(parse_duration(".").error(), "time: invalid duration \".\"");
  EXPECT_EQ(parse_duration("-").error(), "time: invalid duration \"-\"");
}

TEST(GoTime, FormatAsGoDocumentation) {
  // The reference time, and the examples of time.Format's documentation
  // (Tue Nov 10 23:00:00 2009 UTC and "Mon Jan 2 15:04:05 MST 2006").
  auto ref =
      gotime::parse("Mon Jan _2 15:04:05 MST 2006", "Mon Jan  2 15:04:05 MST 2006", gotime::utc());
  ASSERT_TRUE(ref) << ref.error();
  EXPECT_EQ(gotime::format(*ref, "2006-01-02T15:04:05Z07:00"), "2006-01-02T15:04:05Z");
  auto t = gotime::date(2009, 11, 10, 23, 0, 0, 0, gotime::utc());
  EXPECT_EQ(gotime::format(t, "Mon Jan _2 15:04:05 2006"), "Tue Nov 10 23:00:00 2009");
  EXPECT_EQ(gotime::format(t, "Jan 2, 2006 at 3:04pm (MST)"), "Nov 10, 2009 at 11:00pm (UTC)");
  EXPECT_EQ(gotime::format(t, "2006-01-02T15:04:05Z07:00"), "2009-11-10T23:00:00Z");
  EXPECT_EQ(gotime::format(t, "Monday"), "Tuesday");
  EXPECT_EQ(gotime::format(t, "Mon"), "Tue");
  EXPECT_EQ(gotime::format(t, "January"), "November");
  EXPECT_EQ(gotime::format(t, "Jan"), "Nov");
  EXPECT_EQ(gotime::format(t, "01 1"), "11 11");
  EXPECT_EQ(gotime::format(t, "02 2 _2 002"), "10 10 10 314");
  EXPECT_EQ(gotime::format(t, "15 3 03 PM pm"), "23 11 11 PM pm");
  EXPECT_EQ(gotime::format(t, "2006 06"), "2009 09");
  // Fractional seconds: 0s keep their width, 9s drop trailing zeros.
  auto f = gotime::date(2015, 2, 25, 11, 6, 39, 1234567, gotime::utc());
  EXPECT_EQ(gotime::format(f, "15:04:05.00000"), "11:06:39.00123");
  EXPECT_EQ(gotime::format(f, "15:04:05.999"), "11:06:39.001");
  EXPECT_EQ(gotime::format(f, "15:04:05.000000000"), "11:06:39.001234567");
  EXPECT_EQ(gotime::format(f, "15:04:05,999999999"), "11:06:39,001234567");
  // Zones: fixed offsets and a zone with seconds in its offset.
  auto z =
      gotime::date(2009, 11, 10, 23, 0, 0, 0, gotime::fixed_zone("", -(7 * 3600 + 30 * 60 + 15)));
  EXPECT_EQ(gotime::format(z, "-0700 -07:00 -07 -070000 -07:00:00 MST"),
            "-0730 -07:30 -07 -073015 -07:30:15 -0730");
  EXPECT_EQ(gotime::format(z, "Z0700 Z07:00 Z07 Z070000 Z07:00:00"),
            "-0730 -07:30 -07 -073015 -07:30:15");
  EXPECT_EQ(gotime::to_string(z), "2009-11-10 23:00:00 -0730 -0730");
}

TEST(GoTime, ZonesLoadLikeGo) {
  EXPECT_EQ(gotime::load_location("UTC").value()->name, "UTC");
  EXPECT_EQ(gotime::load_location("").value()->name, "UTC");
  EXPECT_EQ(gotime::load_location("No/Such").error(), "unknown time zone No/Such");
  EXPECT_EQ(gotime::load_location("../x").error(), "time: invalid location name");
  auto ny = gotime::load_location("America/New_York");
  ASSERT_TRUE(ny) << ny.error();
  auto t = gotime::date(2023, 7, 1, 12, 0, 0, 0, *ny);
  EXPECT_EQ(gotime::to_string(t), "2023-07-01 12:00:00 -0400 EDT");
  EXPECT_EQ(t.unix, 1688227200);
}

}  // namespace
}  // namespace cairn::helm
