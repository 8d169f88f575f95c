// List+watch informer with client-go's semantics (tools/cache/reflector.go):
// the first list asks for resourceVersion=0 (the watch cache), the watch asks
// for bookmarks with a random 5–10 minute timeout, the resourceVersion is an
// opaque string, "410 Gone" re-lists, failures reconnect with backoff
// 800 ms → 30 s, and the stream is split into events on newlines.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "json/json.h"
#include "kube/client.h"

namespace cairn::kube {

using ObjectPtr = std::shared_ptr<const json>;

// Returns the index values of an object (e.g. its namespace, owner uids).
using IndexFunc = std::function<std::vector<std::string>(const json&)>;

// A thread-safe cache of objects by "namespace/name", with secondary indexes.
//
// Laid out for memory (bench/informer_memory): an entry's key is a pair of
// views into the object's own metadata (no copy of the name), the namespace
// lookup is a range of the key order (no index to keep), and an index entry
// is a pointer to the store's entry (not a copy of its key). Those nodes,
// and the objects the informer caches, are in the JSON pool (json/json.h).
class Store {
 public:
  Store();
  void add_index(const std::string& name, IndexFunc fn);

  ObjectPtr get(const std::string& key) const;
  std::vector<ObjectPtr> list() const;
  // Objects whose index `index` has `value`, in key order.
  std::vector<ObjectPtr> by_index(const std::string& index, const std::string& value) const;
  std::vector<std::string> keys() const;
  size_t size() const;

  // Mutations used by the informer; return the previous object (or null).
  ObjectPtr upsert(ObjectPtr obj);
  ObjectPtr erase(const std::string& key);

  // Built-in index names. The namespace one is answered from the key order.
  static constexpr const char* kByNamespace = "namespace";
  static constexpr const char* kByOwner = "owner";  // owner reference uid
  static constexpr const char* kByLabel = "label";  // "key=value" for each label

 private:
  struct Key {
    std::string_view ns, name;
    auto operator<=>(const Key&) const = default;
  };
  // The key views point into `obj`; both are replaced together. They are
  // mutable so that an update can swap in the new object without moving the
  // node: its place in the order does not change.
  struct Entry {
    mutable Key key;
    mutable ObjectPtr obj;
  };
  struct EntryOrder {
    using is_transparent = void;
    bool operator()(const Entry& a, const Entry& b) const { return a.key < b.key; }
    bool operator()(const Entry& a, const Key& b) const { return a.key < b; }
    bool operator()(const Key& a, const Entry& b) const { return a < b.key; }
  };
  struct PtrOrder {
    bool operator()(const Entry* a, const Entry* b) const { return a->key < b->key; }
  };
  using Entries = std::set<Entry, EntryOrder, cairn::json_pool::Allocator<Entry>>;
  using Members = std::set<const Entry*, PtrOrder, cairn::json_pool::Allocator<const Entry*>>;
  using Index = std::map<std::string, Members, std::less<>>;

  static Key key_of(const json& obj);
  static Key parse_key(std::string_view key);
  static std::string key_string(const Key& k);
  void index_locked(const Entry& e, bool add);

  mutable std::shared_mutex mu_;
  Entries items_;  // guarded by mu_
  std::map<std::string, IndexFunc> indexers_;
  std::map<std::string, Index> indexes_;  // index name -> value -> entries; guarded by mu_
};

struct InformerOptions {
  ApiResource resource;
  std::string ns;  // empty: all namespaces
  std::string label_selector;
  std::string field_selector;
  std::chrono::seconds resync{0};  // 0: never
  bool trim_managed_fields = true;
  int64_t page_size = 500;
  std::chrono::milliseconds backoff_initial{800};
  std::chrono::milliseconds backoff_cap{30000};
  // Range of the watch's server-side timeout, randomised per watch.
  std::chrono::seconds watch_timeout_min{300};
  std::chrono::seconds watch_timeout_max{600};
};

struct EventHandlers {
  std::function<void(const ObjectPtr&)> on_add;
  std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)> on_update;
  std::function<void(const ObjectPtr&)> on_delete;
};

class Informer {
 public:
  Informer(Client& client, InformerOptions opts);
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Handlers run on the informer's thread, in event order; keep them short
  // (enqueue a key). Add handlers before start().
  void add_handlers(EventHandlers h);
  Store& store() { return store_; }
  const ApiResource& resource() const { return opts_.resource; }

  void start();
  // Ends the watch promptly (the stream is cancelled) and joins the thread.
  void stop();
  bool has_synced() const { return synced_.load(); }
  // Waits for the first list to be in the store; false on timeout or stop.
  bool wait_for_sync(std::chrono::milliseconds timeout);

  // Counters, for metrics and tests.
  uint64_t relists() const { return relists_.load(); }
  uint64_t events() const { return events_.load(); }
  std::string last_resource_version() const;
  // The last error seen by the list or watch, empty when healthy.
  std::string last_error() const;

 private:
  void run();
  Result<void> list_and_replace(bool first);
  Result<void> watch_once();
  void handle_event(std::string_view line, bool& gone, bool& stop);
  void dispatch_add(const ObjectPtr& o);
  void dispatch_update(const ObjectPtr& a, const ObjectPtr& b);
  void dispatch_delete(const ObjectPtr& o);
  void set_error(const std::string& e);
  bool sleep_for(std::chrono::milliseconds d);  // false if stopped meanwhile
  ObjectPtr prepare(json obj) const;

  Client& client_;
  InformerOptions opts_;
  Store store_;
  std::vector<EventHandlers> handlers_;
  std::thread thread_;
  std::thread resync_thread_;
  std::mutex dispatch_mu_;  // handlers never run concurrently
  std::atomic<bool> stopped_{false};
  std::atomic<bool> synced_{false};
  std::atomic<uint64_t> relists_{0};
  std::atomic<uint64_t> events_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string rv_;                       // guarded by mu_
  std::string last_error_;               // guarded by mu_
  std::shared_ptr<CancelToken> cancel_;  // guarded by mu_
};

}  // namespace cairn::kube
