// Splits a byte stream into newline-terminated records. A chunk of an HTTP
// body is not an event: a watch event may span chunks, and one chunk may hold
// several events.
#pragma once

#include <string>
#include <string_view>

namespace cairn::kube {

class LineSplitter {
 public:
  // `max_line` bounds memory: a line longer than that is an error (a watch
  // event is at most an object, and the apiserver caps objects well below).
  explicit LineSplitter(size_t max_line = 64u << 20) : max_line_(max_line) {}

  // Feeds bytes; calls `emit(line)` for each complete line (without '\n'; a
  // trailing '\r' is dropped; empty lines skipped). Returns false if a line
  // exceeded the limit or `emit` asked to stop.
  template <typename F>
  bool feed(std::string_view chunk, F&& emit) {
    while (!chunk.empty()) {
      auto nl = chunk.find('\n');
      if (nl == std::string_view::npos) {
        if (partial_.size() + chunk.size() > max_line_) return overflow();
        partial_.append(chunk);
        return true;
      }
      std::string_view line;
      if (partial_.empty()) {
        // The same limit whether or not the line came in one chunk.
        if (nl > max_line_) return overflow();
        line = chunk.substr(0, nl);
      } else {
        if (partial_.size() + nl > max_line_) return overflow();
        partial_.append(chunk.substr(0, nl));
        line = partial_;
      }
      chunk.remove_prefix(nl + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      bool go_on = line.empty() ? true : static_cast<bool>(emit(line));
      partial_.clear();
      if (!go_on) return false;
    }
    return true;
  }

  // Bytes of an unfinished line still held.
  size_t pending() const { return partial_.size(); }
  bool overflowed() const { return overflowed_; }

 private:
  bool overflow() {
    overflowed_ = true;
    partial_.clear();
    return false;
  }
  size_t max_line_;
  std::string partial_;
  bool overflowed_ = false;
};

}  // namespace cairn::kube
