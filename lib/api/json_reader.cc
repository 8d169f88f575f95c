#include "api/json_reader.h"

#include <cmath>
#include <limits>

namespace cairn::api::detail {

void Errors::add(std::string field, std::string message) {
  if (errors_.size() >= kMax) {
    ++dropped_;
    return;
  }
  errors_.push_back({std::move(field), std::move(message)});
}

std::vector<FieldError> Errors::take() {
  std::vector<FieldError> out = std::move(errors_);
  if (dropped_ > 0) {
    out.push_back({"", std::to_string(dropped_) + " more errors not shown"});
  }
  errors_.clear();
  dropped_ = 0;
  return out;
}

std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "a list";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    default:
      return "an unsupported value";
  }
}

std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 64;
  bool cut = s.size() > kMax;
  if (cut) {
    // Never split a UTF-8 sequence: messages end up in JSON, which must stay valid.
    std::size_t n = kMax;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s = s.substr(0, n);
  }
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  if (cut) out += "...";
  return out + "\"";
}

std::string item_path(const std::string& list, std::size_t i) {
  return list + "[" + std::to_string(i) + "]";
}

Object::Object(const json* v, std::string path, Errors& errors)
    : path_(std::move(path)), errors_(&errors) {
  if (v == nullptr || v->is_null()) return;
  if (!v->is_object()) {
    errors.add(path_, "must be an object, not " + describe(*v));
    return;
  }
  v_ = v;
}

std::string Object::path(std::string_view key) const {
  std::string p = path_;
  if (!p.empty()) p += '.';
  p.append(key);
  return p;
}

const json* Object::get(std::string_view key) const {
  if (v_ == nullptr) return nullptr;
  auto it = v_->find(key);
  if (it == v_->end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string> Object::string(std::string_view key) const {
  const json* v = get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    errors_->add(path(key), "must be a string, not " + describe(*v));
    return std::nullopt;
  }
  return v->get_ref<const std::string&>();
}

std::optional<std::int64_t> Object::integer(std::string_view key) const {
  const json* v = get(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_unsigned()) {
    auto u = v->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      errors_->add(path(key), "is too large");
      return std::nullopt;
    }
    return static_cast<std::int64_t>(u);
  }
  if (v->is_number_integer()) return v->get<std::int64_t>();
  if (v->is_number_float()) {
    // Some clients write every number as a float; 3.0 is still 3.
    double d = v->get<double>();
    if (std::isfinite(d) && d == std::trunc(d)) {
      if (std::fabs(d) < 9.0e15) return static_cast<std::int64_t>(d);
      errors_->add(path(key), "is too large");
      return std::nullopt;
    }
    errors_->add(path(key), "must be an integer, not a fractional number");
    return std::nullopt;
  }
  errors_->add(path(key), "must be an integer, not " + describe(*v));
  return std::nullopt;
}

std::optional<double> Object::number(std::string_view key) const {
  const json* v = get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) {
    errors_->add(path(key), "must be a number, not " + describe(*v));
    return std::nullopt;
  }
  double d = v->get<double>();
  if (!std::isfinite(d)) {
    errors_->add(path(key), "must be a finite number");
    return std::nullopt;
  }
  return d;
}

std::optional<bool> Object::boolean(std::string_view key) const {
  const json* v = get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) {
    errors_->add(path(key), "must be a boolean (true or false), not " + describe(*v));
    return std::nullopt;
  }
  return v->get<bool>();
}

Object Object::object(std::string_view key) const { return Object(get(key), path(key), *errors_); }

const json* Object::array(std::string_view key) const {
  const json* v = get(key);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) {
    errors_->add(path(key), "must be a list, not " + describe(*v));
    return nullptr;
  }
  return v;
}

std::optional<std::vector<std::string>> Object::strings(std::string_view key) const {
  const json* v = array(key);
  if (v == nullptr) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(v->size());
  std::string p = path(key);
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& item = (*v)[i];
    if (!item.is_string()) {
      errors_->add(item_path(p, i), "must be a string, not " + describe(item));
      continue;
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::optional<std::map<std::string, std::string>> Object::string_map(std::string_view key) const {
  Object o = object(key);
  if (!o.present()) return std::nullopt;
  std::map<std::string, std::string> out;
  for (const auto& [k, item] : o.v_->items()) {
    if (item.is_null()) continue;
    if (!item.is_string()) {
      errors_->add(o.path(k), "must be a string, not " + describe(item));
      continue;
    }
    out.emplace(k, item.get<std::string>());
  }
  return out;
}

}  // namespace cairn::api::detail
