#include "webhook/admission.h"

#include <array>

namespace cairn::webhook {

namespace {

// Reads a string field; absent and null are empty, any other type an error.
bool str(const json& obj, const char* key, std::string& out, std::string& err, const char* where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_string()) {
    err = std::string(where) + "." + key + " must be a string";
    return false;
  }
  out = it->get<std::string>();
  return true;
}

std::string printable(std::string s, size_t max) {
  for (char& c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  if (s.size() > max) {
    s.resize(max - 3);
    // do not cut a UTF-8 sequence in half
    while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
    if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80)) s.pop_back();
    s += "...";
  }
  return s;
}

// Arrays and objects nested deeper than this are refused. Parsing needs no
// recursion, but copying a document does (the policy copies the object), and
// a 7 MiB body nests a million levels deep: enough to overflow any thread's
// stack. Kubernetes objects come nowhere near this.
constexpr size_t kMaxReviewDepth = 1000;

// Whether a JSON text nests arrays and objects deeper than `max` (brackets in
// strings do not count; the text need not be valid).
bool nested_deeper_than(std::string_view s, size_t max) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max) return true;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return false;
}

// Leaves out, while parsing, what no decision reads, so it is never built:
// metadata.managedFields of request.object and request.oldObject (often most
// of an object), and request.oldObject itself when the operation is CREATE or
// UPDATE of the object (not a subresource), seen earlier in the request, as
// the apiserver writes it. A decision on an UPDATE looks at the new object
// only; DELETE and subresource requests keep oldObject.
class ReviewTrimmer {
 public:
  bool operator()(int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key) {
      if (depth < 1 || depth >= kDepth || !parsed.is_string()) return true;
      const auto& key = parsed.get_ref<const std::string&>();
      keys_[depth] = key;
      if (depth == 2 && keys_[1] == "request" && key == "oldObject")
        return !(object_update_ && !subresource_);
      if (depth == 4 && key == "managedFields" && keys_[3] == "metadata" && keys_[1] == "request" &&
          (keys_[2] == "object" || keys_[2] == "oldObject"))
        return false;
      return true;
    }
    if (event == json::parse_event_t::value && depth == 2 && keys_[1] == "request" &&
        parsed.is_string()) {
      const auto& v = parsed.get_ref<const std::string&>();
      if (keys_[2] == "operation") object_update_ = v == "CREATE" || v == "UPDATE";
      if (keys_[2] == "subResource") subresource_ = !v.empty();
    }
    return true;
  }

 private:
  static constexpr int kDepth = 5;
  std::array<std::string, kDepth> keys_;
  bool object_update_ = false, subresource_ = false;
};

}  // namespace

std::expected<Review, std::string> parse_review(std::string_view body) {
  if (body.empty()) return std::unexpected("empty body: expected an AdmissionReview");
  if (body.size() > kMaxReviewBytes)
    return std::unexpected("body larger than " + std::to_string(kMaxReviewBytes) + " bytes");
  if (nested_deeper_than(body, kMaxReviewDepth))
    return std::unexpected("body nests arrays and objects deeper than " +
                           std::to_string(kMaxReviewDepth) + " levels");
  json doc = json::parse(body, ReviewTrimmer{}, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    return std::unexpected("body is not valid JSON (truncated?): expected an AdmissionReview");
  if (!doc.is_object()) return std::unexpected("body is not a JSON object");
  Review r;
  std::string err, kind;
  if (!str(doc, "apiVersion", r.api_version, err, "") || !str(doc, "kind", kind, err, ""))
    return std::unexpected(err.substr(1));
  if (kind != "AdmissionReview")
    return std::unexpected("kind is \"" + printable(kind, 60) + "\", expected AdmissionReview");
  if (r.api_version != "admission.k8s.io/v1" && r.api_version != "admission.k8s.io/v1beta1")
    return std::unexpected("apiVersion \"" + printable(r.api_version, 60) +
                           "\" is not admission.k8s.io/v1 or v1beta1");
  auto req_it = doc.find("request");
  if (req_it == doc.end() || !req_it->is_object())
    return std::unexpected("request is missing or not an object");
  json& req = *req_it;  // not const: object and oldObject are moved out of it
  if (!str(req, "uid", r.uid, err, "request") || !str(req, "namespace", r.ns, err, "request") ||
      !str(req, "name", r.name, err, "request") ||
      !str(req, "operation", r.operation, err, "request") ||
      !str(req, "subResource", r.sub_resource, err, "request"))
    return std::unexpected(err);
  if (r.uid.empty()) return std::unexpected("request.uid is missing");
  if (r.operation != "CREATE" && r.operation != "UPDATE" && r.operation != "DELETE" &&
      r.operation != "CONNECT")
    return std::unexpected("request.operation \"" + printable(r.operation, 30) +
                           "\" is not CREATE, UPDATE, DELETE or CONNECT");

  auto gvk = req.find("kind");
  if (gvk == req.end() || !gvk->is_object()) return std::unexpected("request.kind is missing");
  if (!str(*gvk, "group", r.group, err, "request.kind") ||
      !str(*gvk, "version", r.version, err, "request.kind") ||
      !str(*gvk, "kind", r.kind, err, "request.kind"))
    return std::unexpected(err);
  if (r.kind.empty()) return std::unexpected("request.kind.kind is missing");
  if (auto res = req.find("resource"); res != req.end() && !res->is_null()) {
    if (!res->is_object()) return std::unexpected("request.resource must be an object");
    if (!str(*res, "resource", r.resource, err, "request.resource") ||
        !str(*res, "group", r.resource_group, err, "request.resource"))
      return std::unexpected(err);
  }

  if (auto ui = req.find("userInfo"); ui != req.end() && !ui->is_null()) {
    if (!ui->is_object()) return std::unexpected("request.userInfo must be an object");
    if (!str(*ui, "username", r.username, err, "request.userInfo")) return std::unexpected(err);
    if (auto g = ui->find("groups"); g != ui->end() && !g->is_null()) {
      if (!g->is_array()) return std::unexpected("request.userInfo.groups must be a list");
      for (const auto& v : *g) {
        if (!v.is_string())
          return std::unexpected("request.userInfo.groups must be a list of strings");
        r.groups.push_back(v.get<std::string>());
      }
    }
  }
  for (const char* key : {"object", "oldObject"}) {
    auto it = req.find(key);
    if (it == req.end() || it->is_null()) continue;
    if (!it->is_object())
      return std::unexpected(std::string("request.") + key + " must be an object");
    if (auto md = it->find("metadata"); md != it->end() && !md->is_null() && !md->is_object())
      return std::unexpected(std::string("request.") + key + ".metadata must be an object");
    (std::string_view(key) == "object" ? r.object : r.old_object) = std::move(*it);
  }
  if (auto d = req.find("dryRun"); d != req.end() && !d->is_null()) {
    if (!d->is_boolean()) return std::unexpected("request.dryRun must be a boolean");
    r.dry_run = d->get<bool>();
  }
  if ((r.operation == "CREATE" || r.operation == "UPDATE") && r.object.is_null())
    return std::unexpected("request.object is missing for " + r.operation);
  return r;
}

std::string answer(const Review& review, const Verdict& v) {
  json resp = {{"uid", review.uid}, {"allowed", v.allowed}};
  if (!v.allowed) {
    resp["status"] = {{"code", v.code}, {"reason", v.reason}, {"message", v.message}};
    if (!v.causes.empty()) {
      json causes = json::array();
      for (const auto& c : v.causes)
        causes.push_back(
            {{"reason", "FieldValueInvalid"}, {"field", c.field}, {"message", c.message}});
      std::string group = review.group;
      resp["status"]["details"] = {
          {"name", review.name},
          {"group", group},
          {"kind", review.resource.empty() ? review.kind : review.resource},
          {"causes", std::move(causes)}};
    }
  }
  if (!v.warnings.empty()) {
    json w = json::array();
    size_t total = 0;
    for (const auto& s : v.warnings) {
      std::string p = printable(s, 256);
      if (total + p.size() > 4096) break;
      total += p.size();
      w.push_back(std::move(p));
    }
    resp["warnings"] = std::move(w);
  }
  json out = {
      {"apiVersion", review.api_version.empty() ? "admission.k8s.io/v1" : review.api_version},
      {"kind", "AdmissionReview"},
      {"response", std::move(resp)}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace cairn::webhook
