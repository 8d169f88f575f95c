#include "kube/informer.h"

#include <random>

#include "kube/util.h"
#include "kube/watch.h"

namespace cairn::kube {

// ---------------------------------------------------------------- Store

Store::Store() {
  // The namespace is not an indexer: by_index answers it from the key order.
  indexers_[kByOwner] = [](const json& o) {
    std::vector<std::string> out;
    const auto& md = o["metadata"];
    if (auto it = md.find("ownerReferences"); it != md.end() && it->is_array()) {
      for (const auto& ref : *it) out.push_back(ref.value("uid", ""));
    }
    return out;
  };
  indexers_[kByLabel] = [](const json& o) {
    std::vector<std::string> out;
    const auto& md = o["metadata"];
    if (auto it = md.find("labels"); it != md.end() && it->is_object()) {
      for (const auto& [k, v] : it->items()) {
        if (v.is_string()) out.push_back(k + "=" + v.get<std::string>());
      }
    }
    return out;
  };
}

Store::Key Store::key_of(const json& obj) {
  Key k;
  auto md = obj.find("metadata");
  if (md == obj.end() || !md->is_object()) return k;
  if (auto ns = md->find("namespace"); ns != md->end() && ns->is_string())
    k.ns = ns->get_ref<const std::string&>();
  if (auto name = md->find("name"); name != md->end() && name->is_string())
    k.name = name->get_ref<const std::string&>();
  return k;
}

Store::Key Store::parse_key(std::string_view key) {
  // Names and namespaces cannot contain '/'; a cluster-scoped key has none.
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return {{}, key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

std::string Store::key_string(const Key& k) {
  if (k.ns.empty()) return std::string(k.name);
  std::string s;
  s.reserve(k.ns.size() + 1 + k.name.size());
  s.append(k.ns).append(1, '/').append(k.name);
  return s;
}

void Store::add_index(const std::string& name, IndexFunc fn) {
  cairn::json_pool::Scope pooled;
  std::unique_lock lock(mu_);
  indexers_[name] = std::move(fn);
  auto& idx = indexes_[name];
  idx.clear();
  for (const auto& e : items_) {
    for (auto& v : indexers_[name](*e.obj)) idx[std::move(v)].insert(&e);
  }
}

void Store::index_locked(const Entry& e, bool add) {
  for (const auto& [name, fn] : indexers_) {
    auto& idx = indexes_[name];
    for (auto& v : fn(*e.obj)) {
      if (add) {
        idx[std::move(v)].insert(&e);
      } else if (auto it = idx.find(v); it != idx.end()) {
        it->second.erase(&e);
        if (it->second.empty()) idx.erase(it);
      }
    }
  }
}

ObjectPtr Store::get(const std::string& key) const {
  std::shared_lock lock(mu_);
  auto it = items_.find(parse_key(key));
  return it == items_.end() ? nullptr : it->obj;
}

std::vector<ObjectPtr> Store::list() const {
  std::shared_lock lock(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(items_.size());
  for (const auto& e : items_) out.push_back(e.obj);
  return out;
}

std::vector<ObjectPtr> Store::by_index(const std::string& index, const std::string& value) const {
  std::shared_lock lock(mu_);
  std::vector<ObjectPtr> out;
  auto idx = indexes_.find(index);
  if (idx == indexes_.end()) {
    if (index == kByNamespace) {
      // Keys sort by namespace first: the namespace is one run of them.
      for (auto it = items_.lower_bound(Key{value, {}}); it != items_.end() && it->key.ns == value;
           ++it) {
        out.push_back(it->obj);
      }
    }
    return out;
  }
  auto members = idx->second.find(value);
  if (members == idx->second.end()) return out;
  out.reserve(members->second.size());
  for (const Entry* e : members->second) out.push_back(e->obj);
  return out;
}

std::vector<std::string> Store::keys() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& e : items_) out.push_back(key_string(e.key));
  return out;
}

size_t Store::size() const {
  std::shared_lock lock(mu_);
  return items_.size();
}

ObjectPtr Store::upsert(ObjectPtr obj) {
  Key key = key_of(*obj);
  cairn::json_pool::Scope pooled;  // the entry's and index entries' nodes
  std::unique_lock lock(mu_);
  if (auto it = items_.find(key); it != items_.end()) {
    index_locked(*it, false);
    ObjectPtr old = std::move(it->obj);
    // Same namespace and name, so the same place in the order; the views
    // must now point into the new object, which outlives them.
    it->key = key;
    it->obj = std::move(obj);
    index_locked(*it, true);
    return old;
  }
  auto [it, inserted] = items_.insert(Entry{key, std::move(obj)});
  index_locked(*it, true);
  return nullptr;
}

ObjectPtr Store::erase(const std::string& key) {
  std::unique_lock lock(mu_);
  auto it = items_.find(parse_key(key));
  if (it == items_.end()) return nullptr;
  ObjectPtr old = it->obj;
  index_locked(*it, false);
  items_.erase(it);
  return old;
}

// ---------------------------------------------------------------- Informer

Informer::Informer(Client& client, InformerOptions opts)
    : client_(client), opts_(std::move(opts)) {}

Informer::~Informer() { stop(); }

void Informer::add_handlers(EventHandlers h) { handlers_.push_back(std::move(h)); }

void Informer::start() {
  if (thread_.joinable()) return;
  stopped_ = false;
  thread_ = std::thread([this] { run(); });
  if (opts_.resync.count() > 0) {
    resync_thread_ = std::thread([this] {
      while (sleep_for(opts_.resync)) {
        if (!synced_) continue;
        // A resync replays every cached object as an update, so a handler
        // that missed a change (or acts on time) gets another look.
        for (const auto& o : store_.list()) dispatch_update(o, o);
      }
    });
  }
}

void Informer::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    if (cancel_) cancel_->cancel();
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (resync_thread_.joinable()) resync_thread_.join();
}

bool Informer::wait_for_sync(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return synced_.load() || stopped_.load(); }) &&
         synced_.load();
}

std::string Informer::last_resource_version() const {
  std::lock_guard lock(mu_);
  return rv_;
}

std::string Informer::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void Informer::set_error(const std::string& e) {
  std::lock_guard lock(mu_);
  last_error_ = e;
}

bool Informer::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopped_.load(); });
}

ObjectPtr Informer::prepare(json obj) const {
  if (opts_.trim_managed_fields && obj.contains("metadata") && obj["metadata"].is_object()) {
    obj["metadata"].erase("managedFields");
  }
  // Lists return items without apiVersion/kind; restore them so handlers can
  // treat every object alike.
  if (!obj.contains("kind")) obj["kind"] = opts_.resource.kind;
  if (!obj.contains("apiVersion")) obj["apiVersion"] = opts_.resource.api_version();
  // The count and the object in one pooled block (the object's nodes are
  // already in the pool: it was parsed inside a Scope).
  cairn::json_pool::Scope pooled;
  return std::allocate_shared<const json>(cairn::json_pool::Allocator<json>(), std::move(obj));
}

void Informer::dispatch_add(const ObjectPtr& o) {
  std::lock_guard dispatch(dispatch_mu_);
  for (auto& h : handlers_) {
    if (h.on_add) h.on_add(o);
  }
}
void Informer::dispatch_update(const ObjectPtr& a, const ObjectPtr& b) {
  std::lock_guard dispatch(dispatch_mu_);
  for (auto& h : handlers_) {
    if (h.on_update) h.on_update(a, b);
  }
}
void Informer::dispatch_delete(const ObjectPtr& o) {
  std::lock_guard dispatch(dispatch_mu_);
  for (auto& h : handlers_) {
    if (h.on_delete) h.on_delete(o);
  }
}

Result<void> Informer::list_and_replace(bool first) {
  ListOptions lo;
  lo.label_selector = opts_.label_selector;
  lo.field_selector = opts_.field_selector;
  lo.limit = opts_.page_size;
  lo.without_managed_fields = opts_.trim_managed_fields;
  // The first list may be served from the apiserver's watch cache (rv=0); a
  // re-list after 410 must not, or it could go back in time: ask for a
  // consistent read.
  lo.resource_version = first ? "0" : "";
  // Parsed straight into the JSON pool (json/json.h): what the cache keeps
  // is most of what this allocates.
  auto all = [&] {
    cairn::json_pool::Scope pooled;
    return client_.list_all(opts_.resource, opts_.ns, lo);
  }();
  if (!all) return std::unexpected(all.error());
  std::set<std::string> seen;
  for (auto& item : (*all)["items"]) {
    ObjectPtr obj = prepare(std::move(item));
    seen.insert(object_key(*obj));
    ObjectPtr old = store_.upsert(obj);
    if (!old) {
      dispatch_add(obj);
    } else if ((*old)["metadata"].value("resourceVersion", "") !=
               (*obj)["metadata"].value("resourceVersion", "")) {
      dispatch_update(old, obj);
    }
  }
  for (const auto& key : store_.keys()) {
    if (!seen.contains(key)) {
      if (auto old = store_.erase(key)) dispatch_delete(old);
    }
  }
  {
    std::lock_guard lock(mu_);
    rv_ = (*all)["metadata"].value("resourceVersion", "");
    last_error_.clear();
  }
  synced_ = true;
  cv_.notify_all();
  return {};
}

void Informer::handle_event(std::string_view line, bool& gone, bool& stop) {
  auto ev = [&] {
    cairn::json_pool::Scope pooled;  // as for the list
    return parse_watch_event(line, opts_.trim_managed_fields);
  }();
  if (!ev) {
    set_error(ev.error() + "; re-watching");
    stop = true;
    return;
  }
  if (ev->type == "ERROR") {
    // A metav1.Status inside the stream; 410 means our resourceVersion is gone.
    if (ev->gone) {
      gone = true;
    } else {
      set_error("watch error: " + ev->message);
    }
    stop = true;
    return;
  }
  const std::string rv = ev->resource_version;
  events_++;
  if (ev->type == "BOOKMARK") {
    std::lock_guard lock(mu_);
    if (!rv.empty()) rv_ = rv;
    return;
  }
  ObjectPtr o = prepare(std::move(ev->object));
  if (ev->type == "ADDED" || ev->type == "MODIFIED") {
    ObjectPtr old = store_.upsert(o);
    if (old) {
      dispatch_update(old, o);
    } else {
      dispatch_add(o);
    }
  } else if (ev->type == "DELETED") {
    store_.erase(object_key(*o));
    dispatch_delete(o);  // the final state the server sent
  }
  std::lock_guard lock(mu_);
  if (!rv.empty()) rv_ = rv;
}

Result<void> Informer::watch_once() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> dist(
      opts_.watch_timeout_min.count(),
      std::max(opts_.watch_timeout_min, opts_.watch_timeout_max).count());
  std::string q = "watch=1&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(dist(rng));
  std::string rv = last_resource_version();
  if (!rv.empty()) q += "&resourceVersion=" + url_encode(rv);
  if (!opts_.label_selector.empty()) q += "&labelSelector=" + url_encode(opts_.label_selector);
  if (!opts_.field_selector.empty()) q += "&fieldSelector=" + url_encode(opts_.field_selector);

  auto token = std::make_shared<CancelToken>();
  {
    std::lock_guard lock(mu_);
    if (stopped_) return fail(Code::kCancelled, "stopped");
    cancel_ = token;
  }
  bool gone = false;
  bool bad = false;
  Request req{.path = opts_.resource.path(opts_.ns), .query = q};
  auto r = client_.stream(
      req,
      [&](std::string_view line) {
        bool stop = false;
        handle_event(line, gone, stop);
        if (stop && !gone) bad = true;
        return !stop;
      },
      token.get());
  {
    std::lock_guard lock(mu_);
    cancel_.reset();
  }
  if (gone) {
    Error e;
    e.code = Code::kGone;
    e.message = "resourceVersion " + rv + " is too old";
    return std::unexpected(e);
  }
  if (!r) return r;
  if (bad) return fail(Code::kDecode, last_error());
  return {};
}

void Informer::run() {
  Backoff backoff(opts_.backoff_initial, opts_.backoff_cap);
  bool need_list = true;
  bool first = true;
  while (!stopped_) {
    if (need_list) {
      auto r = list_and_replace(first);
      if (!r) {
        set_error("list " + opts_.resource.resource + ": " + r.error().to_string());
        if (!sleep_for(backoff.next())) return;
        continue;
      }
      if (!first) relists_++;
      first = false;
      need_list = false;
      backoff.reset();
    }
    auto started = Clock::now();
    auto r = watch_once();
    if (stopped_) return;
    if (!r) {
      if (r.error().code == Code::kGone) {
        need_list = true;
        continue;
      }
      if (r.error().code == Code::kCancelled) return;
      set_error("watch " + opts_.resource.resource + ": " + r.error().to_string());
      if (!sleep_for(backoff.next())) return;
    } else if (Clock::now() - started > std::chrono::seconds(1)) {
      backoff.reset();
    } else {
      // A watch that ends at once without an error would spin; pace it.
      if (!sleep_for(backoff.next())) return;
    }
  }
}

}  // namespace cairn::kube
