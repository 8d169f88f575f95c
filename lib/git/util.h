// Internal helpers of lib/git: encodings and hashes (OpenSSL), big-endian
// readers for SSH and OpenPGP wire formats, and RAII for libgit2 objects.
#pragma once

#include <git2.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::git::detail {

using Bytes = std::string;  // binary data; std::string for cheap slicing and comparison

std::optional<Bytes> base64_decode(
    std::string_view text);  // ignores whitespace; nullopt if invalid
std::string base64_encode(std::string_view data, bool pad = true);
Bytes sha256(std::string_view data);
std::string hex(std::string_view data);
bool is_hex(std::string_view s);

// The text of libgit2's last error for this thread, or `fallback`.
std::string last_git_error(std::string_view fallback = "unknown libgit2 error");

// A reader over a byte string; every read checks the bounds and reports
// failure through ok() rather than reading past the end.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ >= data_.size(); }
  size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  size_t pos() const { return pos_; }
  uint8_t u8();
  uint16_t u16();
  uint32_t u32();
  std::string_view bytes(size_t n);
  // SSH wire "string": uint32 length + bytes.
  std::string_view ssh_string() { return bytes(u32()); }
  std::string_view rest() { return bytes(remaining()); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

template <class T, void (*Free)(T*)>
struct GitDeleter {
  void operator()(T* p) const {
    if (p) Free(p);
  }
};
template <class T, void (*Free)(T*)>
using GitPtr = std::unique_ptr<T, GitDeleter<T, Free>>;

using RepoPtr = GitPtr<git_repository, git_repository_free>;
using RemotePtr = GitPtr<git_remote, git_remote_free>;
using CommitPtr = GitPtr<git_commit, git_commit_free>;
using TreePtr = GitPtr<git_tree, git_tree_free>;
using TreeEntryPtr = GitPtr<git_tree_entry, git_tree_entry_free>;
using BlobPtr = GitPtr<git_blob, git_blob_free>;
using ObjectPtr = GitPtr<git_object, git_object_free>;
using ReferencePtr = GitPtr<git_reference, git_reference_free>;
using ConfigPtr = GitPtr<git_config, git_config_free>;

// A git_buf that is disposed of.
struct Buf {
  git_buf buf = GIT_BUF_INIT;
  Buf() = default;
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() { git_buf_dispose(&buf); }
  std::string_view view() const { return {buf.ptr ? buf.ptr : "", buf.size}; }
};

}  // namespace cairn::git::detail
