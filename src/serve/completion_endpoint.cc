// POST /v1/completions.
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

  // echo + logprobs: the echoed prompt carries logprobs too (vLLM).
  bool echo_logprobs() const { return r.echo && r.sampling.logprobs >= 0; }
  std::vector<TokenLogprob> Echo(int prompt, std::span<const RunnerSample> scored) const {
    return EchoLogprobs(*tokenizer, prompt_ids[prompt], scored, r.sampling.logprobs);
  }
};

void StreamCompletion(const Prepared& p, const ResponseMeta& meta, Session& session,
                      http::StreamSink& sink) {
  const int n = p.r.sampling.n;
  auto write = [&](const std::string& json) { return sink.Write(SseEvent(json)); };
  // Without logprobs the prompt is echoed at once; with logprobs it goes with the choice's first
  // delta (where its scores arrive), as vLLM does.
  std::vector<bool> echoed(session.num_choices(), !p.echo_logprobs());
  if (p.r.echo && !p.echo_logprobs()) {
    for (int i = 0; i < session.num_choices(); ++i) {
      if (!write(CompletionChunkJson(meta, i, p.echo[i / n], std::nullopt, std::nullopt))) return;
    }
  }
  bool completed = session.Run(
      [&](int i, ChoiceOutput::Delta& d) {
        std::optional<std::vector<TokenLogprob>> lps;
        if (p.r.sampling.logprobs >= 0 && !d.logprobs.empty()) lps = std::move(d.logprobs);
        std::string text = std::move(d.text);
        if (!echoed[i]) {
          echoed[i] = true;
          std::vector<TokenLogprob> all = p.Echo(i / n, d.prompt_logprobs);
          if (lps) all.insert(all.end(), lps->begin(), lps->end());
          lps = std::move(all);
          text = p.echo[i / n] + text;
        }
        if (text.empty() && !lps && !d.finish) return true;
        return write(CompletionChunkJson(meta, i, text, lps, d.finish));
      },
      [&] { return sink.Alive(); });
  if (!completed) return;
  if (p.r.include_usage) {
    if (!write(UsageChunkJson(meta, false, {p.prompt_tokens, session.completion_tokens()}))) {
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
  }
  sink.Write(CompletionJson(meta, choices, {p.prompt_tokens, session.completion_tokens()}));
}

}  // namespace

http::ServerResponse Completions(ModelContext& m, const http::ServerRequest& req) {
  std::string param;
  auto parsed = ParseCompletionRequest(req.body, &param);
  if (!parsed.ok()) return ErrorResponse(parsed.status(), param);
  auto p = std::make_shared<Prepared>();
  p->r = std::move(*parsed);
  p->tokenizer = &m.tokenizer();
  if (Status s = m.CheckModel(p->r.model); !s.ok()) return ErrorResponse(s, "model");

  const int vocab = m.tokenizer().vocab_size();
  std::vector<GenerationRequest> gens;
  for (const PromptInput& in : p->r.prompts) {
    GenerationRequest g;
    if (in.is_tokens) {
      for (int32_t t : in.tokens) {
        if (t >= vocab) {
          return ErrorResponse(
              InvalidArgument("prompt token id " + std::to_string(t) +
                              " is out of vocabulary (size " + std::to_string(vocab) + ")"),
              "prompt");
        }
      }
      g.prompt = in.tokens;
    } else {
      auto ids = m.tokenizer().Encode(in.text, /*parse_special=*/true);
      if (!ids.ok()) return ErrorResponse(ids.status(), "prompt");
      g.prompt = std::move(*ids);
    }
    if (g.prompt.empty()) return ErrorResponse(InvalidArgument("prompt is empty"), "prompt");
    g.sampling = p->r.sampling;
    g.sampling.prompt_logprobs =
        std::max(p->r.prompt_logprobs, p->echo_logprobs() ? p->r.sampling.logprobs : -1);
    if (Status s = m.FitContext(static_cast<int>(g.prompt.size()), &g.sampling); !s.ok()) {
      return ErrorResponse(s);
    }
    g.eos_token_ids = m.eos_token_ids();
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

  ResponseMeta meta{RandomId("cmpl-"), static_cast<int64_t>(std::time(nullptr)), m.served_name(),
                    m.fingerprint()};
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
