#include "serve/tool_call_stream.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "base/json.h"
#include "serve/partial_json.h"

namespace modelcar::serve {
namespace {

constexpr std::string_view kStart = "<tool_call>";
constexpr std::string_view kEnd = "</tool_call>";
constexpr std::string_view kPythonTag = "<|python_tag|>";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view Strip(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Length of the longest suffix of `s` that is a proper prefix of `tag`.
size_t PartialTagSuffix(std::string_view s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n) {
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  }
  return 0;
}

// The end of `"key"\s*:\s*` at the first place it occurs in `s` (the regex vLLM searches).
std::optional<size_t> AfterKey(std::string_view s, std::string_view quoted_key) {
  for (size_t at = s.find(quoted_key); at != std::string_view::npos;
       at = s.find(quoted_key, at + 1)) {
    size_t i = at + quoted_key.size();
    while (i < s.size() && IsSpace(s[i])) ++i;
    if (i >= s.size() || s[i] != ':') continue;
    for (++i; i < s.size() && IsSpace(s[i]);) ++i;
    return i;
  }
  return std::nullopt;
}

// hermes: the first `"name"\s*:\s*"([^"]+)"` of a region.
std::optional<std::string> HermesName(std::string_view tc) {
  for (size_t at = tc.find("\"name\""); at != std::string_view::npos;
       at = tc.find("\"name\"", at + 1)) {
    std::optional<size_t> v = AfterKey(tc.substr(at), "\"name\"");
    if (!v || at + *v >= tc.size() || tc[at + *v] != '"') continue;
    const size_t begin = at + *v + 1;
    const size_t end = tc.find('"', begin);
    if (end == std::string_view::npos || end == begin) continue;
    return std::string(tc.substr(begin, end - begin));
  }
  return std::nullopt;
}

// hermes: the raw arguments text of a region (see the header); nullopt before "arguments":.
std::optional<std::string_view> HermesArguments(std::string_view tc, bool complete) {
  std::optional<size_t> at = AfterKey(tc, "\"arguments\"");
  if (!at) return std::nullopt;
  std::string_view raw = tc.substr(*at);
  if (raw.empty() || (raw[0] != '{' && raw[0] != '[')) {
    // A scalar: the region's closing brace is left out once the region is whole JSON.
    if (complete) {
      raw = Strip(raw);
      if (raw.ends_with('}')) raw = Strip(raw.substr(0, raw.size() - 1));
    }
    return raw;
  }
  bool malformed = false;
  const size_t end = ScanJsonValue(raw, &malformed);
  return end == std::string_view::npos ? raw : raw.substr(0, end);
}

bool IsCompleteJson(std::string_view text) {
  return ParseJsonLimited<nlohmann::json>(text, "").ok();
}

}  // namespace

void ToolCallStreamer::Name(int i, std::string name, Delta* d) {
  calls_[i].named = true;
  ToolCallDelta t;
  t.index = i;
  t.id = RandomId("chatcmpl-tool-");
  t.name = std::move(name);
  d->calls.push_back(std::move(t));
}

void ToolCallStreamer::Arguments(int i, std::string now, Delta* d) {
  Call& c = calls_[i];
  if (now.size() <= c.sent.size()) return;
  ToolCallDelta t;
  t.index = i;
  t.arguments = now.substr(c.sent.size());
  c.sent = std::move(now);
  d->calls.push_back(std::move(t));
}

void ToolCallStreamer::HermesCalls(Delta* d) {
  const std::string_view text = text_;
  // Content: up to the first tag, or up to a possible partial tag at the end.
  const size_t tag = text.find(kStart);
  const size_t sendable =
      tag == std::string_view::npos ? text.size() - PartialTagSuffix(text, kStart) : tag;
  if (sendable > sent_content_) {
    d->content += text.substr(sent_content_, sendable - sent_content_);
    sent_content_ = sendable;
  }
  size_t pos = 0;
  for (int i = 0;; ++i) {
    const size_t start = text.find(kStart, pos);
    if (start == std::string_view::npos) break;
    const size_t body = start + kStart.size();
    const size_t end = text.find(kEnd, body);
    std::string_view tc;
    bool complete = true;
    if (end != std::string_view::npos) {
      tc = Strip(text.substr(body, end - body));
      pos = end + kEnd.size();
    } else {
      std::string_view raw = text.substr(body);
      raw.remove_suffix(PartialTagSuffix(raw, kEnd));
      tc = Strip(raw);
      complete = false;  // computed only where it matters (a scalar value)
    }
    if (i >= static_cast<int>(calls_.size())) calls_.emplace_back();
    if (!calls_[i].named) {
      std::optional<std::string> name = HermesName(tc);
      if (!name) break;  // a later call cannot go before this one
      Name(i, std::move(*name), d);
    }
    if (!complete) {
      std::optional<std::string_view> peek = HermesArguments(tc, false);
      complete = peek && !peek->empty() && peek->front() != '{' && peek->front() != '[' &&
                 IsCompleteJson(tc);
    }
    if (std::optional<std::string_view> args = HermesArguments(tc, complete)) {
      Arguments(i, std::string(*args), d);
    }
    if (end == std::string_view::npos) break;
  }
}

void ToolCallStreamer::LlamaCalls(Delta* d) {
  if (mode_ == Mode::kUndecided) {
    const size_t n = std::min(text_.size(), kPythonTag.size());
    const bool tag = text_.compare(0, n, kPythonTag, 0, n) == 0;
    if (tag && n < kPythonTag.size()) return;  // maybe the tag: wait for more
    mode_ = tag || text_[0] == '{' ? Mode::kCalls : Mode::kContent;
  }
  if (mode_ == Mode::kContent) {
    d->content += text_.substr(sent_content_);
    sent_content_ = text_.size();
    return;
  }
  const std::string_view text = text_;
  size_t pos = text.starts_with(kPythonTag) ? kPythonTag.size() : 0;
  for (int i = 0; pos < text.size(); ++i) {
    const PartialObject obj = ScanPartialObject(text.substr(pos));
    if (obj.malformed) break;
    if (i >= static_cast<int>(calls_.size())) calls_.emplace_back();
    const PartialMember* name = nullptr;
    const PartialMember* args = nullptr;
    const PartialMember* arguments = nullptr;
    for (const PartialMember& m : obj.members) {
      if (m.key == "name" && !name) name = &m;
      if (m.key == "parameters" && !args) args = &m;
      if (m.key == "arguments" && !arguments) arguments = &m;
    }
    if (!args) args = arguments;
    if (!calls_[i].named) {
      if (!name || !name->complete || !name->value.starts_with('"')) break;
      const auto decoded = nlohmann::json::parse(name->value, nullptr, false);
      // An empty name starts no call (vLLM's streaming parser sends a name only when it is not
      // empty); the text then ends as content, as a text without a call does.
      if (!decoded.is_string() || decoded.get_ref<const std::string&>().empty()) break;
      Name(i, decoded.get<std::string>(), d);
    }
    if (args && !args->value.empty()) {
      Arguments(i, args->complete ? VllmArguments(args->value) : DumpsPrefix(args->value), d);
    }
    if (!obj.closed) break;
    pos += obj.end;
    while (pos < text.size() && IsSpace(text[pos])) ++pos;
    if (pos < text.size() && text[pos] == ';') ++pos;
    while (pos < text.size() && IsSpace(text[pos])) ++pos;
  }
}

ToolCallStreamer::Delta ToolCallStreamer::Append(std::string_view text) {
  Delta d;
  text_ += text;
  if (text_.empty()) return d;
  if (format_ == ToolCallFormat::kHermes) {
    HermesCalls(&d);
  } else {
    LlamaCalls(&d);
  }
  return d;
}

ToolCallStreamer::Delta ToolCallStreamer::Finish() {
  Delta d;
  // Held back as a possible tag, or tool text that gave no call: content after all.
  if (!called() && sent_content_ < text_.size()) d.content = text_.substr(sent_content_);
  sent_content_ = text_.size();
  return d;
}

}  // namespace modelcar::serve
