#include "serve/tool_parser.h"

#include <nlohmann/json.hpp>

#include "base/json.h"

namespace modelcar::serve {
namespace {

constexpr std::string_view kStart = "<tool_call>";
constexpr std::string_view kEnd = "</tool_call>";

// Length of the longest suffix of `s` that is a proper prefix of kStart.
size_t PartialTagSuffix(std::string_view s) {
  for (size_t n = std::min(s.size(), kStart.size() - 1); n > 0; --n) {
    if (s.substr(s.size() - n) == kStart.substr(0, n)) return n;
  }
  return 0;
}

}  // namespace

ParsedToolCalls ParseHermesToolCalls(std::string_view text) {
  ParsedToolCalls out;
  size_t first = text.find(kStart);
  if (first == std::string_view::npos) {
    out.content = std::string(text);
    return out;
  }
  size_t pos = first;
  while (pos != std::string_view::npos) {
    size_t body = pos + kStart.size();
    size_t end = text.find(kEnd, body);
    std::string_view block =
        text.substr(body, end == std::string_view::npos ? text.npos : end - body);
    // The model's output is untrusted too: depth-limited before the arguments are dumped.
    Result<nlohmann::json> parsed = ParseJsonLimited(block, "");
    nlohmann::json j = parsed.ok() ? std::move(*parsed) : nlohmann::json();
    bool ok = j.is_object() && j.contains("name") && j["name"].is_string();
    std::string args = "{}";
    if (ok && j.contains("arguments")) {
      const auto& a = j["arguments"];
      if (a.is_object()) {
        args = a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      } else if (a.is_string()) {
        args = a.get<std::string>();
      } else {
        ok = false;
      }
    }
    if (!ok) {
      ParsedToolCalls plain;
      plain.content = std::string(text);
      return plain;
    }
    out.calls.push_back({RandomId("chatcmpl-tool-"), j["name"].get<std::string>(), args});
    if (end == std::string_view::npos) break;
    pos = text.find(kStart, end + kEnd.size());
  }
  if (first > 0) out.content = std::string(text.substr(0, first));
  return out;
}

std::string HermesStreamer::Append(std::string_view text) {
  pending_ += text;
  if (in_tool_) return "";
  size_t tag = pending_.find(kStart);
  if (tag != std::string::npos) {
    std::string content = pending_.substr(0, tag);
    pending_.erase(0, tag);
    in_tool_ = true;
    return content;
  }
  size_t keep = PartialTagSuffix(pending_);
  std::string content = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
  return content;
}

ParsedToolCalls HermesStreamer::Finish() {
  ParsedToolCalls out;
  if (!in_tool_) {
    if (!pending_.empty()) out.content = pending_;
  } else {
    out = ParseHermesToolCalls(pending_);
  }
  pending_.clear();
  return out;
}

}  // namespace modelcar::serve
