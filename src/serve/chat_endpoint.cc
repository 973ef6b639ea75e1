// POST /v1/chat/completions.
#include <ctime>
#include <functional>
#include <memory>
#include <optional>

#include "serve/api_error.h"
#include "serve/endpoints.h"
#include "serve/prompt_logprobs.h"
#include "serve/reasoning.h"
#include "serve/response.h"
#include "serve/session.h"
#include "serve/tool_call_stream.h"
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
  if (r.tool_choice == ToolChoice::kRequired && f->reason == FinishReason::kStop) {
    f->reason = FinishReason::kToolCalls;
  }
}

// Everything the response of one chat request needs besides the session.
struct ChatJob {
  ChatRequest r;
  ResponseMeta meta;
  std::vector<int32_t> prompt;
  std::string prompt_text;
  std::string echo;  // echo: the last message's content, prepended to each choice's content
  bool include_usage = false;
  bool token_details = false;  // usage.prompt_tokens_details
  const llm::Tokenizer* tokenizer = nullptr;
  const ReasoningParser* reasoning = nullptr;            // --reasoning-parser (null: none)
  ToolCallFormat tool_format = ToolCallFormat::kHermes;  // --tool-call-parser
  ReasoningParser::Start reasoning_start = ReasoningParser::Start::kContent;

  // The choice's text split into reasoning and content (all content without a parser).
  ReasoningSplitter Splitter() const {
    return ReasoningSplitter(reasoning ? reasoning_start : ReasoningParser::Start::kContent);
  }

  int prompt_tokens() const { return static_cast<int>(prompt.size()); }
  // `streamed`: which choice's cached_tokens vLLM reports (Session); none when nothing was cached.
  Usage MakeUsage(const Session& session, bool streamed) const {
    const int completion_tokens = session.completion_tokens();
    Usage u{prompt_tokens(), completion_tokens, std::nullopt};
    const int cached = streamed ? session.StreamedCachedTokens() : session.FinalCachedTokens();
    if (token_details && cached > 0) u.cached_tokens = cached;
    return u;
  }
};

// The SSE frame of a streamed chat: a role chunk per choice (then the echoed content), then one
// chunk per delta that `to_chunk` turns into something to send (nullopt: nothing), then usage if
// asked and [DONE]. Returns early when the client is gone (~Session cancels).
using ToChunk = std::function<std::optional<ChatDelta>(int i, ChoiceOutput::Delta& d)>;
void StreamChatFrame(const ChatJob& job, Session& session, http::StreamSink& sink,
                     const ToChunk& to_chunk) {
  const ChatRequest& r = job.r;
  auto write = [&](const std::string& json) { return sink.Write(SseEvent(json)); };
  auto usage_now = [&] { return job.MakeUsage(session, true); };
  for (int i = 0; i < r.sampling.n; ++i) {
    ChatDelta d;
    d.index = i;
    d.role = true;
    d.content = "";
    if (i == 0 && r.extras.return_token_ids) d.prompt_token_ids = job.prompt;
    if (i == 0 && r.return_prompt_text) d.prompt_text = job.prompt_text;
    if (r.extras.continuous_usage_stats) d.usage = usage_now();
    if (!write(ChatChunkJson(job.meta, d))) return;
  }
  if (!job.echo.empty()) {
    for (int i = 0; i < r.sampling.n; ++i) {
      ChatDelta d;
      d.index = i;
      d.content = job.echo;
      if (r.extras.continuous_usage_stats) d.usage = usage_now();
      if (!write(ChatChunkJson(job.meta, d))) return;
    }
  }
  bool completed = session.Run(
      [&](int i, ChoiceOutput::Delta& d) {
        std::vector<int32_t> ids = std::move(d.token_ids);
        std::optional<ChatDelta> cd = to_chunk(i, d);
        if (!cd && r.extras.return_token_ids && !ids.empty()) {
          cd.emplace();
          cd->index = i;
        }
        if (!cd) return true;
        if (r.extras.return_token_ids) cd->token_ids = std::move(ids);
        if (r.extras.continuous_usage_stats) cd->usage = usage_now();
        return write(ChatChunkJson(job.meta, *cd));
      },
      [&] { return sink.Alive(); });
  if (!completed) return;
  if (job.include_usage) {
    if (!write(UsageChunkJson(job.meta, true, usage_now()))) return;
  }
  sink.Write(kSseDone);
}

// Forced tool calls (tool_choice required or named) streamed: a call's first chunk has its
// index, id, name and arguments so far, later chunks more arguments; no content.
void StreamForcedChat(const ChatJob& job, Session& session, http::StreamSink& sink) {
  const ChatRequest& r = job.r;
  const bool logprobs = r.sampling.logprobs >= 0;
  std::vector<ForcedToolStreamer> streamers(
      r.sampling.n, ForcedToolStreamer(ForcedNames(r), r.tool_choice == ToolChoice::kNamed));
  StreamChatFrame(job, session, sink,
                  [&](int i, ChoiceOutput::Delta& d) -> std::optional<ChatDelta> {
                    ChatDelta cd;
                    cd.index = i;
                    ForcedToolStreamer::Delta sd = streamers[i].Append(d.text);
                    if (!sd.arguments.empty()) {
                      cd.tool_arguments = std::move(sd.arguments);
                      cd.tool_arguments_index = sd.arguments_index;
                    }
                    cd.tool_calls = std::move(sd.started);
                    cd.first_tool_index = sd.first_started;
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

// parallel_tool_calls false: only the first call the model wrote.
void LimitCalls(const ChatRequest& r, std::vector<ToolCall>* calls) {
  if (!r.parallel_tool_calls && calls->size() > 1) calls->resize(1);
}

void StreamChat(const ChatJob& job, Session& session, http::StreamSink& sink) {
  const ChatRequest& r = job.r;
  const bool tools = r.tool_choice == ToolChoice::kAuto;
  // vLLM hides the per-token metadata of a hidden reasoning.
  const bool logprobs = r.sampling.logprobs >= 0 && (r.include_reasoning || !job.reasoning);
  std::vector<ToolCallStreamer> streamers(r.sampling.n, ToolCallStreamer(job.tool_format));
  std::vector<ReasoningSplitter> splitters(r.sampling.n, job.Splitter());
  StreamChatFrame(job, session, sink,
                  [&](int i, ChoiceOutput::Delta& d) -> std::optional<ChatDelta> {
                    ChatDelta cd;
                    cd.index = i;
                    ReasoningSplitter::Delta rd = splitters[i].Append(d.text);
                    if (d.finish) {
                      ReasoningSplitter::Delta rest = splitters[i].Finish();
                      rd.reasoning += rest.reasoning;
                      rd.content += rest.content;
                    }
                    if (!rd.reasoning.empty() && r.include_reasoning) {
                      cd.reasoning = std::move(rd.reasoning);
                    }
                    std::string content = rd.content;
                    if (tools) {
                      ToolCallStreamer::Delta td = streamers[i].Append(rd.content);
                      if (d.finish) {
                        ToolCallStreamer::Delta end = streamers[i].Finish();
                        td.content += end.content;
                      }
                      content = std::move(td.content);
                      cd.tool_deltas = std::move(td.calls);
                      // parallel_tool_calls false: vLLM keeps the deltas of call 0.
                      if (!r.parallel_tool_calls) {
                        std::erase_if(cd.tool_deltas,
                                      [](const ToolCallDelta& t) { return t.index != 0; });
                      }
                    }
                    if (logprobs && !d.logprobs.empty()) cd.logprobs = std::move(d.logprobs);
                    if (d.finish) {
                      Finish f = *d.finish;
                      // vLLM: a stream that sent a call and stopped ends with "tool_calls".
                      if (tools && streamers[i].called() && f.reason == FinishReason::kStop) {
                        f.reason = FinishReason::kToolCalls;
                      }
                      cd.finish = f;
                    }
                    if (content.empty() && !cd.reasoning && cd.tool_deltas.empty() && !cd.finish &&
                        !cd.logprobs) {
                      return std::nullopt;
                    }
                    if (!content.empty() || (!cd.reasoning && cd.tool_deltas.empty())) {
                      cd.content = std::move(content);
                    }
                    return cd;
                  });
}

void WholeChat(const ChatJob& job, Session& session, http::StreamSink& sink) {
  const ChatRequest& r = job.r;
  const int n = r.sampling.n;
  // JSON allows leading whitespace: one space a second notices a client that went away.
  std::optional<Session::Collected> run = session.RunToEnd([&] { return sink.Write(" "); });
  if (!run) return;
  std::vector<ChoiceResult> choices(n);
  for (int i = 0; i < n; ++i) {
    ChoiceResult& c = choices[i];
    c.index = i;
    c.finish = run->finish[i];
    const std::string& full = session.choice(i).text();
    ReasoningSplitter splitter = job.Splitter();
    ReasoningSplitter::Delta rd = splitter.Append(full);
    ReasoningSplitter::Delta rest = splitter.Finish();
    rd.reasoning += rest.reasoning;
    rd.content += rest.content;
    if (job.reasoning && r.include_reasoning && !rd.reasoning.empty()) {
      c.reasoning = std::move(rd.reasoning);
    }
    const std::string& text = rd.content;
    if (Forced(r)) {
      ForcedToolStreamer st(ForcedNames(r), r.tool_choice == ToolChoice::kNamed);
      st.Append(text);
      st.Finish();
      c.text = "";
      c.tool_calls = st.calls();
      // vLLM re-serializes the arguments of "required" (a named call's text is kept as it is).
      if (r.tool_choice == ToolChoice::kRequired) {
        for (ToolCall& call : c.tool_calls) call.arguments = VllmArguments(call.arguments);
      }
      ForcedFinish(r, &c.finish);
    } else if (r.tool_choice == ToolChoice::kAuto) {
      ParsedToolCalls p = ParseToolCalls(job.tool_format, text);
      c.text = std::move(p.content);
      c.tool_calls = std::move(p.calls);
      LimitCalls(r, &c.tool_calls);
      if (!c.tool_calls.empty()) c.finish.reason = FinishReason::kToolCalls;
    } else if (job.reasoning && text.empty()) {
      c.text = std::nullopt;  // vLLM's reasoning parsers: no content is null
    } else {
      c.text = text;
    }
    if (!job.echo.empty()) c.text = job.echo + c.text.value_or("");
    if (r.sampling.logprobs >= 0) c.logprobs = std::move(run->logprobs[i]);
    if (r.extras.return_token_ids) c.token_ids = session.choice(i).token_ids();
  }
  if (!choices.empty()) {
    if (r.prompt_logprobs >= 0) {
      choices[0].prompt_logprobs = MakePromptLogprobs(*job.tokenizer, job.prompt,
                                                      run->prompt_logprobs[0], r.prompt_logprobs);
    }
    if (r.extras.return_token_ids) choices[0].prompt_token_ids = job.prompt;
    if (r.return_prompt_text) choices[0].prompt_text = job.prompt_text;
  }
  sink.Write(ChatCompletionJson(job.meta, choices, job.MakeUsage(session, false)));
}

}  // namespace

http::ServerResponse ChatCompletions(ModelContext& m, const http::ServerRequest& req) {
  std::string param;
  auto parsed = ParseChatRequest(req.body, &param, m.request_defaults());
  if (!parsed.ok()) return ErrorResponse(parsed.status(), param);
  auto job = std::make_shared<ChatJob>();
  job->r = std::move(*parsed);
  ChatRequest& r = job->r;
  if (Status s = m.CheckModel(r.model); !s.ok()) return ErrorResponse(s, "model");
  if (r.tool_choice == ToolChoice::kAuto && !m.auto_tool_choice()) {
    // vLLM's check, for "auto" given or implied by `tools`.
    return ErrorResponse(
        InvalidArgument("\"auto\" tool choice requires --enable-auto-tool-choice "
                        "and --tool-call-parser to be set"));
  }
  if (Status s = m.PrepareLogitRules(&r.sampling, &param); !s.ok()) return ErrorResponse(s, param);
  ChatPromptInput in;
  in.messages_json = r.messages_json;
  if (r.tool_choice != ToolChoice::kNone || !m.exclude_tools_when_tool_choice_none()) {
    in.tools_json = r.tools_json;
  }
  in.kwargs_json = r.chat_template_kwargs_json;
  in.chat_template = r.chat_template;
  in.add_generation_prompt = r.add_generation_prompt;
  in.continue_final_message = r.continue_final_message;
  in.add_special_tokens = r.extras.add_special_tokens.value_or(false);
  auto prompt = m.RenderChat(in);
  if (!prompt.ok()) {
    return ErrorResponse(prompt.status(), r.chat_template.empty() ? "messages" : "chat_template");
  }
  job->prompt = std::move(prompt->tokens);
  job->prompt_text = std::move(prompt->text);
  if (Status s = m.TruncatePrompt(r.extras, &job->prompt); !s.ok()) {
    return ErrorResponse(s, "truncate_prompt_tokens");
  }
  if (Status s = m.FitContext(job->prompt_tokens(), &r.sampling); !s.ok()) return ErrorResponse(s);

  job->meta = {ResponseId(req, r.extras.request_id, "chatcmpl-"),
               static_cast<int64_t>(std::time(nullptr)), m.served_name(), m.fingerprint(),
               r.add_generation_prompt ? m.response_role() : r.last_role};
  if (r.echo && r.last_role == job->meta.role) job->echo = r.last_content;
  job->include_usage = r.include_usage || m.force_include_usage();
  job->token_details = m.prompt_tokens_details();
  job->tokenizer = &m.tokenizer();
  job->reasoning = m.reasoning_parser();
  job->tool_format = m.tool_call_format();
  if (job->reasoning) job->reasoning_start = job->reasoning->StartFor(job->prompt);
  m.LogRequest(job->meta.id, r.ignored_fields, job->prompt_text, job->prompt, r.sampling);

  GenerationRequest g;
  g.prompt = job->prompt;
  g.sampling = r.sampling;
  g.sampling.prompt_logprobs = r.prompt_logprobs;
  g.eos_token_ids = m.eos_token_ids();
  if (Forced(r)) {
    // "required" may return several calls (vLLM), unless parallel_tool_calls is false.
    const bool several = r.tool_choice == ToolChoice::kRequired && r.parallel_tool_calls;
    std::vector<int32_t> end_ids;
    if (several) end_ids.assign(m.eos_token_ids().begin(), m.eos_token_ids().end());
    g.constraint = ToolCallConstraintFactory(m.tokenizer(), ForcedNames(r), std::move(end_ids));
  } else if (r.extras.structured.active()) {
    // vLLM: the constraint starts once the reasoning has ended.
    const bool reasoning = job->reasoning && r.include_reasoning &&
                           job->reasoning_start != ReasoningParser::Start::kContent;
    auto c =
        m.StructuredConstraint(r.extras.structured, reasoning ? job->reasoning->end_token() : -1);
    if (!c.ok()) return ErrorResponse(c.status(), r.extras.structured.param);
    g.constraint = std::move(*c);
  }
  auto handle = m.scheduler().Submit(std::move(g));
  if (!handle.ok()) return ErrorResponse(handle.status());
  auto session = std::make_shared<Session>(m.tokenizer(), r.sampling);
  session->Add(std::move(*handle));

  http::ServerResponse resp;
  resp.status = 200;
  if (r.stream) {
    resp.content_type = "text/event-stream";
    resp.headers.emplace_back("Cache-Control", "no-cache");
    resp.stream = [job, session](http::StreamSink& sink) {
      if (Forced(job->r)) {
        StreamForcedChat(*job, *session, sink);
      } else {
        StreamChat(*job, *session, sink);
      }
    };
  } else {
    // Streamed with heartbeat spaces (JSON whitespace) while the answer is generated.
    resp.content_type = "application/json; charset=utf-8";
    resp.stream = [job, session](http::StreamSink& sink) { WholeChat(*job, *session, sink); };
  }
  return resp;
}

}  // namespace modelcar::serve
