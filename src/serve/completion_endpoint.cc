// POST /v1/completions.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <memory>

#include "serve/api_error.h"
#include "serve/endpoints.h"
#include "serve/prompt_logprobs.h"
#include "serve/response.h"
#include "serve/session.h"

namespace modelcar::serve {
namespace {

struct Prepared {
  CompletionRequest r;
  const llm::Tokenizer* tokenizer = nullptr;
  std::vector<std::string> echo;                 // per prompt: its text when echo is on
  std::vector<std::vector<int32_t>> prompt_ids;  // per prompt
  int prompt_tokens = 0;
  bool include_usage = false;
  bool token_details = false;

  // `streamed`: which choice's cached_tokens vLLM reports (Session); none when nothing was cached.
  Usage MakeUsage(const Session& session, bool streamed) const {
    const int completion_tokens = session.completion_tokens();
    Usage u{prompt_tokens, completion_tokens, std::nullopt};
    const int cached = streamed ? session.StreamedCachedTokens() : session.FinalCachedTokens();
    if (token_details && cached > 0) u.cached_tokens = cached;
    return u;
  }

  // echo + logprobs: the echoed prompt carries logprobs too (vLLM).
  bool echo_logprobs() const { return r.echo && r.sampling.logprobs >= 0; }
  std::vector<TokenLogprob> Echo(int prompt, std::span<const RunnerSample> scored) const {
    return EchoLogprobs(*tokenizer, prompt_ids[prompt], scored, r.sampling.logprobs);
  }
};

void StreamCompletion(const Prepared& p, const ResponseMeta& meta, Session& session,
                      http::StreamSink& sink) {
  const int n = p.r.sampling.n;
  const RequestExtras& x = p.r.extras;
  auto write = [&](CompletionDelta& d) {
    if (x.continuous_usage_stats) d.usage = p.MakeUsage(session, true);
    return sink.Write(SseEvent(CompletionChunkJson(meta, d)));
  };
  // Without logprobs the prompt is echoed at once; with logprobs it goes with the choice's first
  // delta (where its scores arrive), as vLLM does. The prompt's ids go with a choice's first chunk.
  std::vector<bool> echoed(session.num_choices(), !p.echo_logprobs());
  std::vector<bool> ids_sent(session.num_choices(), !x.return_token_ids);
  if (p.r.echo && !p.echo_logprobs()) {
    for (int i = 0; i < session.num_choices(); ++i) {
      CompletionDelta d;
      d.index = i;
      d.text = p.echo[i / n];
      if (!ids_sent[i]) d.prompt_token_ids = p.prompt_ids[i / n];
      ids_sent[i] = true;
      if (!write(d)) return;
    }
  }
  bool completed = session.Run(
      [&](int i, ChoiceOutput::Delta& od) {
        CompletionDelta d;
        d.index = i;
        if (p.r.sampling.logprobs >= 0 && !od.logprobs.empty()) d.logprobs = std::move(od.logprobs);
        d.text = std::move(od.text);
        d.finish = od.finish;
        if (!echoed[i]) {
          echoed[i] = true;
          std::vector<TokenLogprob> all = p.Echo(i / n, od.prompt_logprobs);
          if (d.logprobs) all.insert(all.end(), d.logprobs->begin(), d.logprobs->end());
          d.logprobs = std::move(all);
          d.text = p.echo[i / n] + d.text;
        }
        if (x.return_token_ids) d.token_ids = std::move(od.token_ids);
        if (d.text.empty() && !d.logprobs && !d.finish && !(d.token_ids && !d.token_ids->empty())) {
          return true;
        }
        if (!ids_sent[i]) d.prompt_token_ids = p.prompt_ids[i / n];
        ids_sent[i] = true;
        return write(d);
      },
      [&] { return sink.Alive(); });
  if (!completed) return;
  if (p.include_usage) {
    if (!sink.Write(SseEvent(UsageChunkJson(meta, false, p.MakeUsage(session, true))))) {
      return;
    }
  }
  sink.Write(kSseDone);
}

void WholeCompletion(const Prepared& p, const ResponseMeta& meta, Session& session,
                     http::StreamSink& sink) {
  const int n = p.r.sampling.n;
  const int total = session.num_choices();
  // JSON allows leading whitespace: one space a second notices a client that went away.
  std::optional<Session::Collected> run = session.RunToEnd([&] { return sink.Write(" "); });
  if (!run) return;
  std::vector<std::vector<TokenLogprob>>& logprobs = run->logprobs;
  std::vector<Finish>& finish = run->finish;
  std::vector<ChoiceResult> choices(total);
  for (int i = 0; i < total; ++i) {
    choices[i].index = i;
    choices[i].text = (p.r.echo ? p.echo[i / n] : std::string()) + session.choice(i).text();
    choices[i].finish = finish[i];
    if (p.echo_logprobs()) {
      std::vector<TokenLogprob> all = p.Echo(i / n, run->prompt_logprobs[i]);
      all.insert(all.end(), logprobs[i].begin(), logprobs[i].end());
      choices[i].logprobs = std::move(all);
    } else if (p.r.sampling.logprobs >= 0) {
      choices[i].logprobs = std::move(logprobs[i]);
    }
    if (p.r.prompt_logprobs >= 0) {
      choices[i].prompt_logprobs = MakePromptLogprobs(*p.tokenizer, p.prompt_ids[i / n],
                                                      run->prompt_logprobs[i], p.r.prompt_logprobs);
    }
    if (p.r.extras.return_token_ids) {
      choices[i].token_ids = session.choice(i).token_ids();
      choices[i].prompt_token_ids = p.prompt_ids[i / n];
    }
  }
  sink.Write(CompletionJson(meta, choices, p.MakeUsage(session, false)));
}

}  // namespace

http::ServerResponse Completions(ModelContext& m, const http::ServerRequest& req) {
  std::string param;
  auto parsed = ParseCompletionRequest(req.body, &param, m.request_defaults());
  if (!parsed.ok()) return ErrorResponse(parsed.status(), param);
  auto p = std::make_shared<Prepared>();
  p->r = std::move(*parsed);
  p->tokenizer = &m.tokenizer();
  p->include_usage = p->r.include_usage || m.force_include_usage();
  p->token_details = m.prompt_tokens_details();
  if (Status s = m.CheckModel(p->r.model); !s.ok()) return ErrorResponse(s, "model");
  if (Status s = m.PrepareLogitRules(&p->r.sampling, &param); !s.ok()) {
    return ErrorResponse(s, param);
  }
  ResponseMeta meta{ResponseId(req, p->r.extras.request_id, "cmpl-"),
                    static_cast<int64_t>(std::time(nullptr)), m.served_name(), m.fingerprint()};

  const int vocab = m.tokenizer().vocab_size();
  TokenConstraintFactory constraint;
  if (p->r.extras.structured.active()) {
    auto c = m.StructuredConstraint(p->r.extras.structured);
    if (!c.ok()) return ErrorResponse(c.status(), p->r.extras.structured.param);
    constraint = std::move(*c);
  }
  std::vector<GenerationRequest> gens;
  for (const PromptInput& in : p->r.prompts) {
    GenerationRequest g;
    if (in.is_tokens) {
      for (int32_t t : in.tokens) {
        if (t >= vocab) {
          return ErrorResponse(InvalidArgument(fmt::format(
                                   "prompt token id {} is out of vocabulary (size {})", t, vocab)),
                               "prompt");
        }
      }
      g.prompt = in.tokens;
    } else {
      auto ids = m.tokenizer().Encode(in.text, /*parse_special=*/true);
      if (!ids.ok()) return ErrorResponse(ids.status(), "prompt");
      g.prompt = std::move(*ids);
      // vLLM tokenizes a text prompt with add_special_tokens (default true); token ids as given.
      if (p->r.extras.add_special_tokens.value_or(true)) {
        g.prompt = m.WithSpecialTokens(std::move(g.prompt));
      }
    }
    if (g.prompt.empty()) return ErrorResponse(InvalidArgument("prompt is empty"), "prompt");
    if (Status s = m.TruncatePrompt(p->r.extras, &g.prompt); !s.ok()) {
      return ErrorResponse(s, "truncate_prompt_tokens");
    }
    m.LogRequest(meta.id + (p->r.prompts.size() > 1 ? fmt::format("-{}", gens.size()) : ""),
                 gens.empty() ? p->r.ignored_fields : std::vector<std::string>{},
                 in.is_tokens ? "" : in.text, g.prompt, p->r.sampling);
    g.sampling = p->r.sampling;
    g.sampling.prompt_logprobs =
        std::max(p->r.prompt_logprobs, p->echo_logprobs() ? p->r.sampling.logprobs : -1);
    if (Status s = m.FitContext(static_cast<int>(g.prompt.size()), &g.sampling); !s.ok()) {
      return ErrorResponse(s);
    }
    g.eos_token_ids = m.eos_token_ids();
    g.constraint = constraint;
    p->prompt_tokens += static_cast<int>(g.prompt.size());
    if (p->r.echo) p->echo.push_back(in.is_tokens ? m.tokenizer().Decode(in.tokens) : in.text);
    p->prompt_ids.push_back(g.prompt);
    gens.push_back(std::move(g));
  }
  auto session = std::make_shared<Session>(m.tokenizer(), p->r.sampling);
  for (GenerationRequest& g : gens) {
    auto handle = m.scheduler().Submit(std::move(g));
    if (!handle.ok()) return ErrorResponse(handle.status());  // ~Session cancels the others
    session->Add(std::move(*handle));
  }
  if (p->r.echo) {
    for (int i = 0; i < session->num_choices(); ++i) {
      session->choice(i).set_text_offset_base(
          static_cast<int>(p->echo[i / p->r.sampling.n].size()));
    }
  }

  http::ServerResponse resp;
  resp.status = 200;
  if (p->r.stream) {
    resp.content_type = "text/event-stream";
    resp.headers.emplace_back("Cache-Control", "no-cache");
    resp.stream = [p, meta, session](http::StreamSink& sink) {
      StreamCompletion(*p, meta, *session, sink);
    };
  } else {
    // Streamed with heartbeat spaces (JSON whitespace) while the answer is generated.
    resp.content_type = "application/json; charset=utf-8";
    resp.stream = [p, meta, session](http::StreamSink& sink) {
      WholeCompletion(*p, meta, *session, sink);
    };
  }
  return resp;
}

}  // namespace modelcar::serve
