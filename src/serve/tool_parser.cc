#include "serve/tool_parser.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "base/json.h"
#include "llm/template/value.h"
#include "serve/tool_choice.h"

namespace modelcar::serve {
namespace {

using ojson = nlohmann::ordered_json;

constexpr std::string_view kStart = "<tool_call>";
constexpr std::string_view kEnd = "</tool_call>";

// A call from a parsed object: a string "name" and the value of the first of `arg_keys` present.
std::optional<ToolCall> CallOf(const ojson& j, std::initializer_list<const char*> arg_keys) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return std::nullopt;
  for (const char* key : arg_keys) {
    if (j.contains(key)) {
      return ToolCall{RandomId("chatcmpl-tool-"), j["name"].get<std::string>(),
                      tmpl::PyJsonDumps(j[key])};
    }
  }
  return std::nullopt;
}

// The model's output is untrusted too: depth-limited before the arguments are dumped.
std::optional<ojson> ParseObject(std::string_view text) {
  Result<ojson> parsed = ParseJsonLimited<ojson>(text, "");
  if (!parsed.ok()) return std::nullopt;
  return std::move(*parsed);
}

// The end (one past the closing brace) of the JSON object starting at text[start] == '{', found
// by matching braces outside strings; npos when it does not close.
size_t ObjectEnd(std::string_view text, size_t start) {
  JsonObjectScanner scanner;
  const size_t n = scanner.Feed(text.substr(start + 1));
  return n == std::string_view::npos ? n : start + 1 + n;
}

ParsedToolCalls PlainText(std::string_view text) {
  ParsedToolCalls plain;
  plain.content = std::string(text);
  return plain;
}

}  // namespace

Result<ToolCallFormat> ToolCallFormatNamed(std::string_view parser) {
  if (parser == "hermes") return ToolCallFormat::kHermes;
  if (parser == "llama3_json") return ToolCallFormat::kLlama3Json;
  return InvalidArgument("--tool-call-parser " + std::string(parser) +
                         " is not supported (supported: hermes, the format of Qwen2.5 and "
                         "Qwen3's chat templates; llama3_json, Llama 3.x's JSON tool calls)");
}

ParsedToolCalls ParseHermesToolCalls(std::string_view text) {
  ParsedToolCalls out;
  size_t first = text.find(kStart);
  if (first == std::string_view::npos) return PlainText(text);
  size_t pos = first;
  while (pos != std::string_view::npos) {
    size_t body = pos + kStart.size();
    size_t end = text.find(kEnd, body);
    std::string_view block =
        text.substr(body, end == std::string_view::npos ? text.npos : end - body);
    std::optional<ojson> j = ParseObject(block);
    std::optional<ToolCall> call = j ? CallOf(*j, {"arguments"}) : std::nullopt;
    if (!call) return PlainText(text);
    out.calls.push_back(std::move(*call));
    if (end == std::string_view::npos) break;
    pos = text.find(kStart, end + kEnd.size());
  }
  if (first > 0) out.content = std::string(text.substr(0, first));
  return out;
}

ParsedToolCalls ParseLlama3JsonToolCalls(std::string_view text) {
  ParsedToolCalls out;
  for (size_t at = text.find('{'); at != std::string_view::npos; at = text.find('{', at)) {
    const size_t end = ObjectEnd(text, at);
    if (end == std::string_view::npos) return PlainText(text);
    std::optional<ojson> j = ParseObject(text.substr(at, end - at));
    std::optional<ToolCall> call = j ? CallOf(*j, {"arguments", "parameters"}) : std::nullopt;
    if (!call) return PlainText(text);
    out.calls.push_back(std::move(*call));
    at = end;
  }
  if (out.calls.empty()) return PlainText(text);
  return out;
}

std::string VllmArguments(std::string_view json_text) {
  std::optional<ojson> j = ParseObject(json_text);
  return j ? tmpl::PyJsonDumps(*j) : std::string(json_text);
}

ParsedToolCalls ParseToolCalls(ToolCallFormat format, std::string_view text) {
  return format == ToolCallFormat::kHermes ? ParseHermesToolCalls(text)
                                           : ParseLlama3JsonToolCalls(text);
}

}  // namespace modelcar::serve
