#include "webhook/admission.h"

#include <simdjson.h>

namespace cairn::webhook {

namespace {

namespace dom = simdjson::dom;

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

// Arrays and objects nested deeper than this are refused (simdjson checks it
// while parsing). Converting a document to cairn::json recurses, and a
// 7 MiB body could nest a million levels deep: enough to overflow any
// thread's stack. Kubernetes objects come nowhere near this.
constexpr size_t kMaxReviewDepth = 1000;

// Bodies up to this size are parsed by a parser kept per thread (its buffers
// reused); larger ones by a parser of their own, freed afterwards, so a rare
// multi-megabyte review does not pin its buffers in every thread.
constexpr size_t kReusedParserBytes = 1u << 20;

// Reads a string field; absent and null are empty, any other type an error.
bool str(dom::object obj, std::string_view key, std::string& out, std::string& err,
         const char* where) {
  dom::element v;
  if (obj.at_key(key).get(v) != simdjson::SUCCESS || v.is_null()) return true;
  std::string_view sv;
  if (v.get(sv) != simdjson::SUCCESS) {
    err = std::string(where) + "." + std::string(key) + " must be a string";
    return false;
  }
  out.assign(sv);
  return true;
}

// What an element is, for to_json: any value, a Kubernetes object (its
// "metadata" key is kMetadata), or an object's metadata (its managedFields,
// often most of an object and read by no decision, are left out).
enum class Part { kValue, kObject, kMetadata };

json to_json(dom::element e, Part part = Part::kValue) {
  switch (e.type()) {
    case dom::element_type::OBJECT: {
      json out = json::object();
      auto& map = out.get_ref<json::object_t&>();
      for (auto field : dom::object(e)) {
        if (part == Part::kMetadata && field.key == "managedFields") continue;
        const Part child =
            part == Part::kObject && field.key == "metadata" ? Part::kMetadata : Part::kValue;
        map.emplace(std::string(field.key), to_json(field.value, child));
      }
      return out;
    }
    case dom::element_type::ARRAY: {
      json out = json::array();
      auto& arr = out.get_ref<json::array_t&>();
      for (auto v : dom::array(e)) arr.push_back(to_json(v));
      return out;
    }
    case dom::element_type::STRING:
      return std::string(std::string_view(e));
    case dom::element_type::INT64:
      return int64_t(e);
    case dom::element_type::UINT64:
      return uint64_t(e);
    case dom::element_type::DOUBLE:
      return double(e);
    case dom::element_type::BOOL:
      return bool(e);
    case dom::element_type::NULL_VALUE:
      break;
  }
  return nullptr;
}

std::expected<Review, std::string> parse_document(dom::element doc_el) {
  dom::object doc;
  if (doc_el.get(doc) != simdjson::SUCCESS) return std::unexpected("body is not a JSON object");
  Review r;
  std::string err, kind;
  if (!str(doc, "apiVersion", r.api_version, err, "") || !str(doc, "kind", kind, err, ""))
    return std::unexpected(err.substr(1));
  if (kind != "AdmissionReview")
    return std::unexpected("kind is \"" + printable(kind, 60) + "\", expected AdmissionReview");
  if (r.api_version != "admission.k8s.io/v1" && r.api_version != "admission.k8s.io/v1beta1")
    return std::unexpected("apiVersion \"" + printable(r.api_version, 60) +
                           "\" is not admission.k8s.io/v1 or v1beta1");
  dom::object req;
  if (doc["request"].get(req) != simdjson::SUCCESS)
    return std::unexpected("request is missing or not an object");
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

  dom::object gvk;
  if (req["kind"].get(gvk) != simdjson::SUCCESS) return std::unexpected("request.kind is missing");
  if (!str(gvk, "group", r.group, err, "request.kind") ||
      !str(gvk, "version", r.version, err, "request.kind") ||
      !str(gvk, "kind", r.kind, err, "request.kind"))
    return std::unexpected(err);
  if (r.kind.empty()) return std::unexpected("request.kind.kind is missing");
  if (dom::element res; req["resource"].get(res) == simdjson::SUCCESS && !res.is_null()) {
    dom::object ro;
    if (res.get(ro) != simdjson::SUCCESS)
      return std::unexpected("request.resource must be an object");
    if (!str(ro, "resource", r.resource, err, "request.resource") ||
        !str(ro, "group", r.resource_group, err, "request.resource"))
      return std::unexpected(err);
  }

  if (dom::element ui; req["userInfo"].get(ui) == simdjson::SUCCESS && !ui.is_null()) {
    dom::object uo;
    if (ui.get(uo) != simdjson::SUCCESS)
      return std::unexpected("request.userInfo must be an object");
    if (!str(uo, "username", r.username, err, "request.userInfo")) return std::unexpected(err);
    if (dom::element g; uo["groups"].get(g) == simdjson::SUCCESS && !g.is_null()) {
      dom::array ga;
      if (g.get(ga) != simdjson::SUCCESS)
        return std::unexpected("request.userInfo.groups must be a list");
      for (auto v : ga) {
        std::string_view sv;
        if (v.get(sv) != simdjson::SUCCESS)
          return std::unexpected("request.userInfo.groups must be a list of strings");
        r.groups.emplace_back(sv);
      }
    }
  }
  // Every UPDATE is diffed oldObject -> object (who changed what), DELETE
  // and subresource requests read oldObject; a CREATE has none.
  const bool needs_old = r.operation != "CREATE" || !r.sub_resource.empty();
  for (const char* key : {"object", "oldObject"}) {
    dom::element e;
    if (req[key].get(e) != simdjson::SUCCESS || e.is_null()) continue;
    dom::object o;
    if (e.get(o) != simdjson::SUCCESS)
      return std::unexpected(std::string("request.") + key + " must be an object");
    if (dom::element md;
        o["metadata"].get(md) == simdjson::SUCCESS && !md.is_null() && !md.is_object())
      return std::unexpected(std::string("request.") + key + ".metadata must be an object");
    if (std::string_view(key) == "object")
      r.object = to_json(e, Part::kObject);
    else if (needs_old)
      r.old_object = to_json(e, Part::kObject);
  }
  if (dom::element d; req["dryRun"].get(d) == simdjson::SUCCESS && !d.is_null()) {
    bool b = false;
    if (d.get(b) != simdjson::SUCCESS) return std::unexpected("request.dryRun must be a boolean");
    r.dry_run = b;
  }
  if ((r.operation == "CREATE" || r.operation == "UPDATE") && r.object.is_null())
    return std::unexpected("request.object is missing for " + r.operation);
  return r;
}

}  // namespace

std::expected<Review, std::string> parse_review(std::string_view body) {
  if (body.empty()) return std::unexpected("empty body: expected an AdmissionReview");
  if (body.size() > kMaxReviewBytes)
    return std::unexpected("body larger than " + std::to_string(kMaxReviewBytes) + " bytes");
  auto parse = [&](dom::parser& parser) -> std::expected<Review, std::string> {
    dom::element doc;
    auto error = parser.parse(body.data(), body.size()).get(doc);
    if (error == simdjson::DEPTH_ERROR)
      return std::unexpected("body nests arrays and objects deeper than " +
                             std::to_string(kMaxReviewDepth) + " levels");
    if (error != simdjson::SUCCESS)
      return std::unexpected("body is not valid JSON (truncated?): expected an AdmissionReview");
    return parse_document(doc);
  };
  if (body.size() > kReusedParserBytes) {
    dom::parser own;
    if (own.allocate(body.size(), kMaxReviewDepth) != simdjson::SUCCESS)
      return std::unexpected("body too large to parse");
    return parse(own);
  }
  thread_local dom::parser parser = [] {
    dom::parser p;
    // On failure parse() allocates what it needs itself (default depth 1024).
    [[maybe_unused]] auto e = p.allocate(64 * 1024, kMaxReviewDepth);
    return p;
  }();
  return parse(parser);
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
