#include "render.h"

#include <sstream>

#include "git/git.h"
#include "kube/util.h"

namespace cairn::cli {

using cairn::json;

namespace {

constexpr size_t kLabelWidth = 14;  // "  " + the label column of the trace's sections

std::string str(const json& o, std::string_view key) {
  if (!o.is_object()) return {};
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& member(const json& o, std::string_view key) {
  static const json kNull;
  if (!o.is_object()) return kNull;
  auto it = o.find(key);
  return it != o.end() ? *it : kNull;
}

std::string pad(std::string_view s, size_t width) {
  std::string out(s);
  size_t w = visible_width(s);
  if (w < width) out.append(width - w, ' ');
  return out;
}

// "  label       value"
std::string kv(const Style& st, std::string_view label, const std::string& value) {
  return "  " + paint(st, pad(label, kLabelWidth - 2), Tone::kDim) + value + "\n";
}

// A table whose first line carries `label` in the label column.
std::string labelled_table(const Style& st, std::string_view label,
                           const std::vector<std::vector<Cell>>& rows) {
  std::string t = table(st, rows, kLabelWidth);
  if (t.empty()) return t;
  return "  " + paint(st, pad(label, kLabelWidth - 2), Tone::kDim) + t.substr(kLabelWidth);
}

// "2024-05-01T12:00:00Z (5m ago)"
std::string when(const Style& st, const std::string& t) {
  if (t.empty()) return {};
  auto tp = kube::parse_rfc3339(t);
  if (!tp) return t;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(st.now - *tp).count();
  if (secs < 0) return t;
  return t + paint(st, " (" + format_age(secs) + " ago)", Tone::kDim);
}

std::string person(const json& p) {
  std::string s = str(p, "name");
  if (std::string e = str(p, "email"); !e.empty()) s += " <" + e + ">";
  return s;
}

std::string ready_text(const json& ready) {
  if (ready.is_null()) return "Ready=Unknown";
  return "Ready=" + str(ready, "status");
}

Tone ready_tone(const json& ready) {
  if (ready.is_null()) return Tone::kBusy;
  return tone_of(str(ready, "status"));
}

void problems(std::ostringstream& out, const json& doc, const Style& st) {
  bool first = true;
  for (const char* key : {"errors", "warnings"}) {
    const json& list = member(doc, key);
    if (!list.is_array()) continue;
    for (const auto& p : list) {
      if (first) out << "\n";
      first = false;
      bool error = std::string_view(key) == "errors";
      out << paint(st, error ? "error: " : "warning: ", error ? Tone::kBad : Tone::kBusy)
          << (p.is_string() ? p.get<std::string>() : p.dump()) << "\n";
    }
  }
}

}  // namespace

std::string paint(const Style& st, std::string_view text, Tone tone) {
  if (!st.color || tone == Tone::kPlain || text.empty()) return std::string(text);
  const char* code = "";
  switch (tone) {
    case Tone::kBold:
      code = "\033[1m";
      break;
    case Tone::kDim:
      code = "\033[2m";
      break;
    case Tone::kGood:
      code = "\033[32m";
      break;
    case Tone::kBad:
      code = "\033[31m";
      break;
    case Tone::kBusy:
      code = "\033[33m";
      break;
    case Tone::kId:
      code = "\033[36m";
      break;
    case Tone::kPlain:
      break;
  }
  return std::string(code) + std::string(text) + "\033[0m";
}

Tone tone_of(std::string_view v) {
  for (std::string_view good : {"Succeeded", "Deployed", "True", "Valid"}) {
    if (v == good) return Tone::kGood;
  }
  for (std::string_view bad : {"Failed", "False", "Invalid", "UntrustedKey", "Unsigned",
                               "Unsupported", "Cancelled", "RolledBack"}) {
    if (v == bad) return Tone::kBad;
  }
  if (v == "NotRequired" || v == "Skipped") return Tone::kDim;
  return Tone::kBusy;
}

std::string format_duration(int64_t s) {
  if (s < 0) s = 0;
  auto two = [](int64_t v) { return (v < 10 ? "0" : "") + std::to_string(v); };
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + two(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h" + two(s % 3600 / 60) + "m";
  return std::to_string(s / 86400) + "d" + std::to_string(s % 86400 / 3600) + "h";
}

std::string format_age(int64_t s) {
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 2 * 3600) return std::to_string(s / 60) + "m";
  if (s < 48 * 3600) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

size_t visible_width(std::string_view s) {
  size_t w = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0x1b && i + 1 < s.size() && s[i + 1] == '[') {
      // CSI: parameters, then one final byte in @..~
      i += 2;
      while (i < s.size() && !(s[i] >= '@' && s[i] <= '~')) ++i;
      continue;
    }
    if ((c & 0xC0) != 0x80) ++w;  // not a UTF-8 continuation byte
  }
  return w;
}

std::string table(const Style& st, const std::vector<std::vector<Cell>>& rows, size_t indent) {
  std::vector<size_t> widths;
  for (const auto& r : rows) {
    if (widths.size() < r.size()) widths.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) {
      widths[i] = std::max(widths[i], visible_width(r[i].text));
    }
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line(indent, ' ');
    // The last non-empty cell ends the line: no trailing blanks.
    size_t last = r.size();
    while (last > 0 && r[last - 1].text.empty()) --last;
    for (size_t i = 0; i < last; ++i) {
      line += paint(st, r[i].text, r[i].tone);
      if (i + 1 < last) line.append(widths[i] - visible_width(r[i].text) + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string render_trace(const json& doc, const Style& st) {
  std::ostringstream out;

  // ---------------------------------------------------------------- object
  const json& o = member(doc, "object");
  const std::string ns = str(o, "namespace");
  out << paint(st, str(o, "kind") + " " + str(o, "name"), Tone::kBold)
      << paint(st, "  " + str(o, "apiVersion") + (ns.empty() ? "" : ", namespace " + ns),
               Tone::kDim)
      << "\n";
  const json& stamp = member(o, "stamp");
  const bool is_release =
      str(o, "kind") == "Release" && str(o, "apiVersion").starts_with("cairn.dev/");
  if (stamp.is_object()) {
    out << kv(st, "commit", paint(st, str(stamp, "commit"), Tone::kId));
    if (std::string p = str(stamp, "path"); !p.empty()) out << kv(st, "path", p);
    if (std::string s = str(stamp, "source"); !s.empty()) out << kv(st, "source", s);
    if (std::string r = str(stamp, "release"); !r.empty()) out << kv(st, "release", r);
  } else if (!is_release) {
    out << kv(st, "stamp", paint(st, "none", Tone::kBad));
  }

  // --------------------------------------------------------------- release
  const json& r = member(doc, "release");
  out << "\n";
  if (r.is_object()) {
    std::string phase = str(r, "phase");
    out << paint(st, "Release " + str(r, "namespace") + "/" + str(r, "name"), Tone::kBold) << "  "
        << paint(st, phase.empty() ? "NoPhase" : phase, tone_of(phase)) << "  "
        << paint(st, ready_text(member(r, "ready")), ready_tone(member(r, "ready"))) << "\n";
    if (std::string m = str(member(r, "ready"), "message"); !m.empty()) {
      out << kv(st, "status", str(member(r, "ready"), "reason") + ": " + m);
    }
    if (const json& s = member(r, "stalled"); s.is_object()) {
      out << kv(st, "stalled", paint(st, str(s, "reason") + ": " + str(s, "message"), Tone::kBad));
    }
    const json& src = member(r, "source");
    std::string path = str(r, "path");
    out << kv(st, "source",
              str(src, "url") + (str(src, "ref").empty() ? "" : " (" + str(src, "ref") + ")") +
                  ", path " + (path.empty() ? "/" : path));
    out << kv(st, "gate",
              member(r, "gate").is_string() ? "Pipeline " + r["gate"].get<std::string>()
                                            : paint(st, "none", Tone::kDim));
    if (member(r, "suspended").is_boolean()) out << kv(st, "suspended", "yes");
    std::string current = str(r, "currentCommit");
    std::string note;
    if (member(r, "objectCommitIsCurrent").is_boolean()) {
      note = r["objectCommitIsCurrent"].get<bool>()
                 ? paint(st, "  this object's commit", Tone::kGood)
                 : paint(st, "  not this object's commit", Tone::kBusy);
    }
    out << kv(st, "current",
              (current.empty() ? paint(st, "none", Tone::kDim)
                               : paint(st, git::short_sha(current), Tone::kId)) +
                  note);
    if (std::string d = str(r, "desiredCommit"); !d.empty() && d != current) {
      out << kv(st, "desired", paint(st, git::short_sha(d), Tone::kId));
    }
    if (std::string p = str(r, "pinnedCommit"); !p.empty()) {
      out << kv(st, "pinned", paint(st, git::short_sha(p), Tone::kId) + " (manual rollback)");
    }
    if (member(r, "inInventory").is_boolean() && !r["inInventory"].get<bool>()) {
      out << kv(st, "inventory", paint(st, "this object is not listed", Tone::kBusy));
    }
    const std::string followed = str(member(doc, "commit"), "id");
    std::vector<std::vector<Cell>> rows;
    const json& hist = member(r, "history");
    if (hist.is_array()) {
      for (const auto& h : hist) {
        std::string c = str(h, "commit");
        std::string lead = member(h, "leadTimeSeconds").is_number_integer()
                               ? "lead " + format_duration(h["leadTimeSeconds"].get<int64_t>())
                               : "";
        std::string mark = c == followed ? "<- traced" : "";
        rows.push_back({{git::short_sha(c), Tone::kId},
                        {str(h, "result"), tone_of(str(h, "result"))},
                        {str(h, "finishedAt").empty() ? str(h, "startedAt") : str(h, "finishedAt"),
                         Tone::kDim},
                        {lead},
                        {mark, Tone::kBold},
                        {str(h, "reason"), Tone::kDim}});
      }
    }
    if (!rows.empty()) out << labelled_table(st, "history", rows);
  } else {
    out << paint(st, "Release", Tone::kBold) << "  " << paint(st, "not found", Tone::kBad) << "\n";
  }

  // ---------------------------------------------------------------- commit
  const json& c = member(doc, "commit");
  out << "\n";
  if (c.is_object()) {
    out << paint(st, "Commit ", Tone::kBold) << paint(st, str(c, "id"), Tone::kId) << "\n";
    if (member(c, "title").is_string()) out << kv(st, "title", str(c, "title"));
    if (member(c, "author").is_object()) {
      std::string a = person(c["author"]);
      if (std::string t = str(c, "authorTime"); !t.empty()) a += ", " + when(st, t);
      out << kv(st, "author", a);
    }
    if (member(c, "committer").is_object() &&
        person(c["committer"]) != person(member(c, "author"))) {
      std::string a = person(c["committer"]);
      if (std::string t = str(c, "commitTime"); !t.empty()) a += ", " + when(st, t);
      out << kv(st, "committer", a);
    }
    if (str(c, "from") == "pipeline") {
      out << kv(st, "note",
                paint(st, "title and author as the Pipeline run recorded them", Tone::kDim));
    } else if (member(c, "from").is_null()) {
      out << kv(st, "title", paint(st, "unknown (git unreachable, no Pipeline run)", Tone::kBusy));
    }
    const json& sig = member(c, "signature");
    std::string status = str(sig, "status");
    std::string sig_text;
    if (status == "NotRequired") {
      const json& s = member(sig, "signed");
      sig_text = paint(st, "not required", Tone::kDim) +
                 (s.is_boolean() ? (s.get<bool>() ? " (signed)" : " (unsigned)") : "");
    } else {
      sig_text = paint(st, status, tone_of(status));
      if (std::string k = str(sig, "key"); !k.empty()) sig_text += " key " + k;
      if (std::string m = str(sig, "message"); !m.empty())
        sig_text += paint(st, " - " + m, Tone::kDim);
    }
    out << kv(st, "signature", sig_text);
    const json& repo = member(c, "repository");
    std::string rt = str(repo, "url");
    std::string rs = str(repo, "status");
    if (rs == "offline") {
      rt += paint(st, " (not contacted)", Tone::kDim);
    } else if (rs == "cached") {
      rt += paint(st, " (commit from the local cache)", Tone::kDim);
    } else if (rs == "unreachable") {
      rt += paint(st, " (unreachable: " + str(repo, "error") + ")", Tone::kBad);
    } else if (!str(repo, "error").empty()) {
      rt += paint(st, " (" + str(repo, "error") + ")", Tone::kBad);
    }
    out << kv(st, "repository", rt);
  } else {
    out << paint(st, "Commit", Tone::kBold) << "  " << paint(st, "none", Tone::kBad) << "\n";
  }

  // -------------------------------------------------------------- pipeline
  const json& p = member(doc, "pipeline");
  out << "\n";
  if (p.is_object()) {
    const json& run = member(p, "run");
    out << paint(st, "Pipeline " + str(p, "namespace") + "/" + str(p, "name"), Tone::kBold)
        << paint(st,
                 str(p, "matchedBy") == "gate" ? "  (the Release's gate)"
                                               : "  (same repository and ref)",
                 Tone::kDim)
        << "\n";
    if (run.is_object()) {
      std::string took = member(run, "durationSeconds").is_number_integer()
                             ? ", took " + format_duration(run["durationSeconds"].get<int64_t>())
                             : "";
      out << kv(st, "run",
                str(run, "id") + "  " + paint(st, str(run, "phase"), tone_of(str(run, "phase"))) +
                    paint(st, "  " + str(run, "trigger") + took, Tone::kDim));
      if (std::string t = str(run, "startTime"); !t.empty()) out << kv(st, "started", when(st, t));
      if (std::string m = str(run, "message"); !m.empty()) out << kv(st, "message", m);
      std::vector<std::vector<Cell>> rows;
      for (const auto& s : member(run, "steps")) {
        std::string dur = member(s, "durationSeconds").is_number_integer()
                              ? format_duration(s["durationSeconds"].get<int64_t>())
                              : "";
        int attempts = member(s, "attempts").is_number_integer() ? s["attempts"].get<int>() : 0;
        std::string extra;
        if (const json& res = member(s, "results"); res.is_object()) {
          for (const auto& [k, v] : res.items()) {
            extra += (extra.empty() ? "" : " ") + k + "=" +
                     (v.is_string() ? v.get<std::string>() : v.dump());
          }
        }
        if (std::string m = str(s, "message"); !m.empty()) {
          extra += (extra.empty() ? "" : "  ") + m;
        }
        rows.push_back({{str(s, "name")},
                        {str(s, "phase"), tone_of(str(s, "phase"))},
                        {dur},
                        {attempts > 1 ? std::to_string(attempts) + " attempts" : "", Tone::kBusy},
                        {extra, Tone::kDim}});
      }
      if (!rows.empty()) out << labelled_table(st, "steps", rows);
    } else {
      out << kv(st, "run", paint(st, "none for this commit", Tone::kBusy));
    }
    for (const auto& other : member(p, "otherRuns")) {
      out << kv(st, "also",
                str(other, "id") + "  " +
                    paint(st, str(other, "phase"), tone_of(str(other, "phase"))) +
                    paint(st, "  " + str(other, "trigger"), Tone::kDim));
    }
  } else {
    out << paint(st, "Pipeline", Tone::kBold) << "  "
        << paint(st, "none tests this Release's source", Tone::kDim) << "\n";
  }

  problems(out, doc, st);
  return out.str();
}

std::string render_history(const json& doc, const Style& st) {
  std::ostringstream out;
  const json& r = member(doc, "release");
  std::string phase = str(r, "phase");
  out << paint(st, "Release " + str(r, "namespace") + "/" + str(r, "name"), Tone::kBold) << "  "
      << paint(st, phase.empty() ? "NoPhase" : phase, tone_of(phase));
  if (std::string p = str(r, "pinnedCommit"); !p.empty()) {
    out << paint(st, "  pinned to " + git::short_sha(p) + " (manual rollback)", Tone::kBusy);
  }
  out << "\n";
  std::vector<std::vector<Cell>> rows = {{{"", Tone::kPlain},
                                          {"COMMIT", Tone::kBold},
                                          {"RESULT", Tone::kBold},
                                          {"FINISHED", Tone::kBold},
                                          {"LEAD", Tone::kBold},
                                          {"TITLE", Tone::kBold},
                                          {"AUTHOR", Tone::kBold},
                                          {"REASON", Tone::kBold}}};
  for (const auto& h : member(doc, "history")) {
    std::string lead = member(h, "leadTimeSeconds").is_number_integer()
                           ? format_duration(h["leadTimeSeconds"].get<int64_t>())
                           : "-";
    std::string fin = str(h, "finishedAt").empty() ? "-" : str(h, "finishedAt");
    bool current = member(h, "current").is_boolean() && h["current"].get<bool>();
    rows.push_back(
        {{current ? "*" : " ", Tone::kGood},
         {git::short_sha(str(h, "commit")), Tone::kId},
         {str(h, "result"), tone_of(str(h, "result"))},
         {fin},
         {lead},
         {str(h, "title").empty() ? "-" : str(h, "title")},
         {str(member(h, "author"), "name").empty() ? "-" : str(member(h, "author"), "name"),
          Tone::kDim},
         {str(h, "reason"), Tone::kDim}});
  }
  if (rows.size() == 1) {
    out << paint(st, "no rollouts yet\n", Tone::kDim);
  } else {
    out << table(st, rows);
    out << paint(st, "* the current commit\n", Tone::kDim);
  }
  problems(out, doc, st);
  return out.str();
}

std::string render_status(const json& doc, const Style& st) {
  std::ostringstream out;
  auto age = [&](const json& o) -> std::string {
    auto tp = kube::parse_rfc3339(str(o, "creationTimestamp"));
    if (!tp) return "-";
    return format_age(std::chrono::duration_cast<std::chrono::seconds>(st.now - *tp).count());
  };
  const std::string ns = str(doc, "namespace");
  const json& rels = member(doc, "releases");
  const json& pls = member(doc, "pipelines");
  if ((!rels.is_array() || rels.empty()) && (!pls.is_array() || pls.empty())) {
    out << "No Cairn Releases or Pipelines in namespace " << ns << ".\n";
    return out.str();
  }
  std::vector<std::vector<Cell>> rows = {{{"RELEASE", Tone::kBold},
                                          {"PHASE", Tone::kBold},
                                          {"READY", Tone::kBold},
                                          {"COMMIT", Tone::kBold},
                                          {"AGE", Tone::kBold},
                                          {"MESSAGE", Tone::kBold}}};
  for (const auto& r : rels) {
    std::string phase = str(r, "phase");
    const json& ready = member(r, "ready");
    std::string ready_status = ready.is_object() ? str(ready, "status") : "Unknown";
    std::string msg = ready.is_object() ? str(ready, "message") : "";
    if (member(r, "suspended").is_boolean()) msg = "suspended; " + msg;
    if (std::string p = str(r, "pinnedCommit"); !p.empty()) {
      msg = "pinned to " + git::short_sha(p) + " (manual rollback); " + msg;
    }
    std::string current = str(r, "currentCommit");
    rows.push_back({{str(r, "name")},
                    {phase.empty() ? "-" : phase, tone_of(phase)},
                    {ready_status, tone_of(ready_status)},
                    {current.empty() ? "-" : git::short_sha(current), Tone::kId},
                    {age(r)},
                    {msg, Tone::kDim}});
  }
  if (rows.size() > 1) out << table(st, rows);

  rows = {{{"PIPELINE", Tone::kBold},
           {"READY", Tone::kBold},
           {"LATEST", Tone::kBold},
           {"LAST RUN", Tone::kBold},
           {"TRIGGER", Tone::kBold},
           {"PHASE", Tone::kBold},
           {"STARTED", Tone::kBold},
           {"AGE", Tone::kBold},
           {"MESSAGE", Tone::kBold}}};
  for (const auto& p : pls) {
    const json& ready = member(p, "ready");
    std::string ready_status = ready.is_object() ? str(ready, "status") : "Unknown";
    const json& run = member(p, "lastRun");
    std::string started = "-";
    if (auto tp = kube::parse_rfc3339(str(run, "startTime"))) {
      started = format_age(std::chrono::duration_cast<std::chrono::seconds>(st.now - *tp).count()) +
                " ago";
    }
    std::string latest = str(p, "latestCommit");
    rows.push_back({{str(p, "name")},
                    {ready_status, tone_of(ready_status)},
                    {latest.empty() ? "-" : git::short_sha(latest), Tone::kId},
                    {run.is_object() ? str(run, "id") : "-"},
                    {run.is_object() ? str(run, "trigger") : "-"},
                    {run.is_object() ? str(run, "phase") : "-", tone_of(str(run, "phase"))},
                    {started},
                    {age(p)},
                    {ready.is_object() ? str(ready, "message") : "", Tone::kDim}});
  }
  if (rows.size() > 1) {
    if (rels.is_array() && !rels.empty()) out << "\n";
    out << table(st, rows);
  }
  return out.str();
}

}  // namespace cairn::cli
