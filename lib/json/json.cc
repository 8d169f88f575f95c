#include "json/json.h"

#include <sys/mman.h>

#include <atomic>
#include <memory_resource>
#include <mutex>

// Present only when the process runs with AddressSanitizer.
extern "C" int __asan_address_is_poisoned(void const volatile* addr)  // NOLINT
    __attribute__((weak));

namespace cairn::json_pool {
namespace {

// Address space for the pool: 16 GiB, enough for millions of cached objects.
constexpr std::size_t kRange = std::size_t{16} << 30;

// Hands the pool chunks from the reserved range, bump-pointer; never frees
// (the pool keeps its chunks). Guarded by Pool::mu.
class RangeResource : public std::pmr::memory_resource {
 public:
  RangeResource(char* base, std::size_t size) : next_(base), end_(base + size) {}
  std::size_t used(const char* base) const { return static_cast<std::size_t>(next_ - base); }

 private:
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    auto at = reinterpret_cast<std::uintptr_t>(next_);
    at = (at + align - 1) & ~(static_cast<std::uintptr_t>(align) - 1);
    char* p = reinterpret_cast<char*>(at);
    if (p > end_ || static_cast<std::size_t>(end_ - p) < bytes) throw std::bad_alloc();
    next_ = p + bytes;
    return p;
  }
  void do_deallocate(void* /*p*/, std::size_t /*bytes*/, std::size_t /*align*/) override {}
  bool do_is_equal(const memory_resource& other) const noexcept override { return this == &other; }
  char* next_;
  char* end_;
};

struct Pool {
  char* base = nullptr;  // null: pooling is off
  std::mutex mu;
  RangeResource* range = nullptr;
  std::pmr::unsynchronized_pool_resource* blocks = nullptr;
  std::size_t in_use = 0;  // guarded by mu

  Pool() {
    if (&__asan_address_is_poisoned != nullptr) return;  // keep ASan's view of every block
    void* p = ::mmap(nullptr, kRange, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return;  // strict overcommit: no pool, same behaviour
    base = static_cast<char*>(p);
    range = new RangeResource(base, kRange);
    blocks = new std::pmr::unsynchronized_pool_resource(
        std::pmr::pool_options{.max_blocks_per_chunk = 1024,
                               .largest_required_pool_block = kLargestPooled},
        range);
  }
};

// The pool's range once it exists. A process that never pools (the webhook)
// never creates the pool or reserves the range: freeing only reads this.
std::atomic<const char*> g_base{nullptr};

bool owned(const void* p) {
  const char* base = g_base.load(std::memory_order_acquire);
  auto* c = static_cast<const char*>(p);
  return base != nullptr && c >= base && c < base + kRange;
}

// Never destroyed: a value freed during static destruction still finds it.
Pool& pool() {
  static auto* p = [] {
    auto* made = new Pool();
    g_base.store(made->base, std::memory_order_release);
    return made;
  }();
  return *p;
}

thread_local int scopes = 0;

}  // namespace

Scope::Scope() { ++scopes; }
Scope::~Scope() { --scopes; }

void* allocate(std::size_t bytes, std::size_t align) {
  if (scopes > 0 && bytes <= kLargestPooled) {
    Pool& p = pool();
    if (p.base != nullptr) {
      std::lock_guard lock(p.mu);
      try {
        void* b = p.blocks->allocate(bytes, align);
        p.in_use += bytes;
        return b;
      } catch (const std::bad_alloc&) {
        // The range is used up: from here on, operator new.
      }
    }
  }
  if (align <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) return ::operator new(bytes);
  return ::operator new(bytes, std::align_val_t(align));
}

void deallocate(void* ptr, std::size_t bytes, std::size_t align) noexcept {
  if (owned(ptr)) {
    Pool& p = pool();
    std::lock_guard lock(p.mu);
    p.blocks->deallocate(ptr, bytes, align);
    p.in_use -= bytes;
    return;
  }
  if (align <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) return ::operator delete(ptr);
  ::operator delete(ptr, std::align_val_t(align));
}

Stats stats() {
  Pool& p = pool();
  if (p.base == nullptr) return {};
  std::lock_guard lock(p.mu);
  return {.reserved = p.range->used(p.base), .in_use = p.in_use};
}

}  // namespace cairn::json_pool
