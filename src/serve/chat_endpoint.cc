// POST /v1/chat/completions.
#include <ctime>
#include <functional>
#include <memory>
#include <optional>

#include "serve/api_error.h"
#include "serve/endpoints.h"
#include "serve/prompt_logprobs.h"
#include "serve/response.h"
#include "serve/session.h"
#include "serve/tool_choice.h"
#include "serve/tool_parser.h"

namespace modelcar::serve {
namespace {

bool Forced(const ChatRequest& r) {
  return r.tool_choice == ToolChoice::kRequired || r.tool_choice == ToolChoice::kNamed;
}

std::vector<std::string> ForcedNames(const ChatRequest& r) {
  return r.tool_choice == ToolChoice::kNamed ? std::vector<std::string>{r.tool_choice_name}
                                             : r.tool_names;
}

// vLLM: a completed "required" call ends with "tool_calls"; a named call keeps "stop".
void ForcedFinish(const ChatRequest& r, Finish* f) {
  if (r.tool_choice == ToolChoice::kRequired && f->reason == "stop") f->reason = "tool_calls";
}

// The SSE frame of a streamed chat: a role chunk per choice, then one chunk per delta that
// `to_chunk` turns into something to send (nullopt: nothing), then usage if asked and [DONE].
// Returns early when the client is gone (~Session cancels).
using ToChunk = std::function<std::optional<ChatDelta>(int i, ChoiceOutput::Delta& d)>;
void StreamChatFrame(const ChatRequest& r, const ResponseMeta& meta, int prompt_tokens,
                     Session& session, http::StreamSink& sink, const ToChunk& to_chunk) {
  auto write = [&](const std::string& json) { return sink.Write(SseEvent(json)); };
  for (int i = 0; i < r.sampling.n; ++i) {
    ChatDelta d;
    d.index = i;
    d.role = true;
    d.content = "";
    if (!write(ChatChunkJson(meta, d))) return;
  }
  bool completed = session.Run(
      [&](int i, ChoiceOutput::Delta& d) {
        std::optional<ChatDelta> cd = to_chunk(i, d);
        return !cd || write(ChatChunkJson(meta, *cd));
      },
      [&] { return sink.Alive(); });
  if (!completed) return;
  if (r.include_usage) {
    if (!write(UsageChunkJson(meta, true, {prompt_tokens, session.completion_tokens()}))) return;
  }
  sink.Write(kSseDone);
}

// A forced tool call (tool_choice required or named) streamed: the call's first chunk has its
// id, name and arguments so far, later chunks more arguments; no content.
void StreamForcedChat(const ChatRequest& r, const ResponseMeta& meta, int prompt_tokens,
                      Session& session, http::StreamSink& sink) {
  const bool logprobs = r.sampling.logprobs >= 0;
  std::vector<ForcedToolStreamer> streamers(
      r.sampling.n, ForcedToolStreamer(ForcedNames(r), r.tool_choice == ToolChoice::kNamed));
  StreamChatFrame(r, meta, prompt_tokens, session, sink,
                  [&](int i, ChoiceOutput::Delta& d) -> std::optional<ChatDelta> {
                    ChatDelta cd;
                    cd.index = i;
                    ForcedToolStreamer::Delta sd = streamers[i].Append(d.text);
                    if (sd.start) {
                      cd.tool_calls.push_back(std::move(*sd.start));
                    } else if (!sd.arguments.empty()) {
                      cd.tool_arguments = std::move(sd.arguments);
                    }
                    if (d.finish) {
                      if (std::optional<ToolCall> late = streamers[i].Finish()) {
                        cd.tool_calls.push_back(std::move(*late));
                      }
                      Finish f = *d.finish;
                      ForcedFinish(r, &f);
                      cd.finish = f;
                    }
                    if (logprobs && !d.logprobs.empty()) cd.logprobs = std::move(d.logprobs);
                    if (cd.tool_calls.empty() && !cd.tool_arguments && !cd.finish && !cd.logprobs) {
                      return std::nullopt;
                    }
                    return cd;
                  });
}

void StreamChat(const ChatRequest& r, const ResponseMeta& meta, int prompt_tokens, Session& session,
                http::StreamSink& sink) {
  const bool tools = r.tool_choice == ToolChoice::kAuto;
  const bool logprobs = r.sampling.logprobs >= 0;
  std::vector<HermesStreamer> streamers(r.sampling.n);
  StreamChatFrame(r, meta, prompt_tokens, session, sink,
                  [&](int i, ChoiceOutput::Delta& d) -> std::optional<ChatDelta> {
                    ChatDelta cd;
                    cd.index = i;
                    std::string content = tools ? streamers[i].Append(d.text) : d.text;
                    if (d.finish && tools) {
                      ParsedToolCalls p = streamers[i].Finish();
                      if (p.content) content += *p.content;
                      cd.tool_calls = std::move(p.calls);
                    }
                    if (logprobs && !d.logprobs.empty()) cd.logprobs = std::move(d.logprobs);
                    if (d.finish) {
                      Finish f = *d.finish;
                      if (!cd.tool_calls.empty()) f.reason = "tool_calls";
                      cd.finish = f;
                    }
                    if (content.empty() && cd.tool_calls.empty() && !cd.finish && !cd.logprobs) {
                      return std::nullopt;
                    }
                    cd.content = std::move(content);
                    return cd;
                  });
}

void WholeChat(const ChatRequest& r, const ResponseMeta& meta, const llm::Tokenizer& tokenizer,
               const std::vector<int32_t>& prompt, Session& session, http::StreamSink& sink) {
  const int prompt_tokens = static_cast<int>(prompt.size());
  const int n = r.sampling.n;
  // JSON allows leading whitespace: one space a second notices a client that went away.
  std::optional<Session::Collected> run = session.RunToEnd([&] { return sink.Write(" "); });
  if (!run) return;
  std::vector<std::vector<TokenLogprob>>& logprobs = run->logprobs;
  std::vector<Finish>& finish = run->finish;
  std::vector<ChoiceResult> choices(n);
  for (int i = 0; i < n; ++i) {
    ChoiceResult& c = choices[i];
    c.index = i;
    c.finish = finish[i];
    const std::string& text = session.choice(i).text();
    if (Forced(r)) {
      ForcedToolStreamer st(ForcedNames(r), r.tool_choice == ToolChoice::kNamed);
      st.Append(text);
      std::optional<ToolCall> call = st.started() ? st.call() : st.Finish();
      c.text = "";
      if (call) c.tool_calls.push_back(std::move(*call));
      ForcedFinish(r, &c.finish);
    } else if (r.tool_choice == ToolChoice::kAuto) {
      ParsedToolCalls p = ParseHermesToolCalls(text);
      c.text = std::move(p.content);
      c.tool_calls = std::move(p.calls);
      if (!c.tool_calls.empty()) c.finish.reason = "tool_calls";
    } else {
      c.text = text;
    }
    if (r.sampling.logprobs >= 0) c.logprobs = std::move(logprobs[i]);
  }
  if (r.prompt_logprobs >= 0 && !choices.empty()) {
    choices[0].prompt_logprobs =
        MakePromptLogprobs(tokenizer, prompt, run->prompt_logprobs[0], r.prompt_logprobs);
  }
  sink.Write(ChatCompletionJson(meta, choices, {prompt_tokens, session.completion_tokens()}));
}

}  // namespace

http::ServerResponse ChatCompletions(ModelContext& m, const http::ServerRequest& req) {
  std::string param;
  auto parsed = ParseChatRequest(req.body, &param);
  if (!parsed.ok()) return ErrorResponse(parsed.status(), param);
  auto r = std::make_shared<ChatRequest>(std::move(*parsed));
  if (Status s = m.CheckModel(r->model); !s.ok()) return ErrorResponse(s, "model");
  auto prompt = m.ChatPromptTokens(r->messages_json, r->tools_json, r->chat_template_kwargs_json,
                                   r->add_generation_prompt, r->continue_final_message);
  if (!prompt.ok()) return ErrorResponse(prompt.status(), "messages");
  const int prompt_tokens = static_cast<int>(prompt->size());
  if (Status s = m.FitContext(prompt_tokens, &r->sampling); !s.ok()) return ErrorResponse(s);

  auto prompt_ids = std::make_shared<const std::vector<int32_t>>(*prompt);
  GenerationRequest g;
  g.prompt = std::move(*prompt);
  g.sampling = r->sampling;
  g.sampling.prompt_logprobs = r->prompt_logprobs;
  g.eos_token_ids = m.eos_token_ids();
  if (Forced(*r)) g.constraint = ToolCallConstraintFactory(m.tokenizer(), ForcedNames(*r));
  auto handle = m.scheduler().Submit(std::move(g));
  if (!handle.ok()) return ErrorResponse(handle.status());
  auto session = std::make_shared<Session>(m.tokenizer(), r->sampling);
  session->Add(std::move(*handle));

  ResponseMeta meta{RandomId("chatcmpl-"), static_cast<int64_t>(std::time(nullptr)),
                    m.served_name(), m.fingerprint()};
  http::ServerResponse resp;
  resp.status = 200;
  if (r->stream) {
    resp.content_type = "text/event-stream";
    resp.headers.emplace_back("Cache-Control", "no-cache");
    resp.stream = [r, meta, prompt_tokens, session](http::StreamSink& sink) {
      if (Forced(*r)) {
        StreamForcedChat(*r, meta, prompt_tokens, *session, sink);
      } else {
        StreamChat(*r, meta, prompt_tokens, *session, sink);
      }
    };
  } else {
    // Streamed with heartbeat spaces (JSON whitespace) while the answer is generated.
    resp.content_type = "application/json; charset=utf-8";
    const llm::Tokenizer* tokenizer = &m.tokenizer();
    resp.stream = [r, meta, tokenizer, prompt_ids, session](http::StreamSink& sink) {
      WholeChat(*r, meta, *tokenizer, *prompt_ids, *session, sink);
    };
  }
  return resp;
}

}  // namespace modelcar::serve
