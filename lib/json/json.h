// cairn::json — the JSON value every Cairn library and binary passes around:
// nlohmann::json's basic_json, same behaviour and API, with one difference in
// where the small pieces of long-lived values can live.
//
// A Kubernetes object held as JSON is mostly small fixed-size allocations: a
// std::map node per member (80 bytes), a std::string per string value (32),
// a std::map per object (48). glibc's malloc rounds each up and adds a
// header, 16 bytes on every one; for a 1 KiB ConfigMap that is about 400
// bytes, an eighth of what an informer's cache holds per object
// (bench/informer_memory). A value made inside a json_pool::Scope (the
// informer parses every list page and watch event inside one) takes those
// pieces from a size-class pool instead: no header, no rounding. Everything
// else (other values being built, parsed, patched; string contents; anything
// over 256 bytes) uses operator new as before.
//
// The pool's memory comes from one address range reserved at first use
// (MAP_NORESERVE: address space, not memory), so freeing a block anywhere,
// on any thread, finds its owner by address. One pool for the process,
// behind a mutex (std::pmr::synchronized_pool_resource keeps per-thread pools
// whose memory is never reused once their thread exits). Freed pool blocks
// are reused by later pooled values and are not given back to the system:
// the pool stays at the informers' peak. Under AddressSanitizer, or when the range cannot be
// reserved, nothing is pooled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cairn {

namespace json_pool {

// Blocks up to this size can come from the pool.
inline constexpr std::size_t kLargestPooled = 256;

// While one is alive on a thread, that thread's small JSON allocations come
// from the pool. Scopes nest.
class Scope {
 public:
  Scope();
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
};

// Out of line (json.cc), so that one program has one pool whatever flags
// each of its parts was compiled with.
void* allocate(std::size_t bytes, std::size_t align);
void deallocate(void* p, std::size_t bytes, std::size_t align) noexcept;

// Bytes the pool has taken from its range, and bytes of it in use (tests).
struct Stats {
  std::size_t reserved = 0;
  std::size_t in_use = 0;
};
Stats stats();

// A stateless std allocator over allocate/deallocate, for basic_json.
template <class T>
struct Allocator {
  using value_type = T;
  Allocator() noexcept = default;
  template <class U>
  Allocator(const Allocator<U>& /*unused*/) noexcept {}  // NOLINT(google-explicit-constructor)
  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(json_pool::allocate(n * sizeof(T), alignof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    json_pool::deallocate(p, n * sizeof(T), alignof(T));
  }
  template <class U>
  bool operator==(const Allocator<U>& /*unused*/) const noexcept {
    return true;
  }
};

}  // namespace json_pool

using json = nlohmann::basic_json<std::map, std::vector, std::string, bool, std::int64_t,
                                  std::uint64_t, double, json_pool::Allocator>;

}  // namespace cairn
