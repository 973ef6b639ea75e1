// POST /v1/completions.
#include <ctime>
#include <memory>

#include "serve/api_error.h"
#include "serve/endpoints.h"
#include "serve/response.h"
#include "serve/session.h"

namespace modelcar::serve {
namespace {

struct Prepared {
  CompletionRequest r;
  std::vector<std::string> echo;  // per prompt: its text when echo is on
  int prompt_tokens = 0;
};

void StreamCompletion(const Prepared& p, const ResponseMeta& meta, Session& session,
                      http::StreamSink& sink) {
  const int n = p.r.sampling.n;
  auto write = [&](const std::string& json) { return sink.Write(SseEvent(json)); };
  if (p.r.echo) {
    for (int i = 0; i < session.num_choices(); ++i) {
      if (!write(CompletionChunkJson(meta, i, p.echo[i / n], std::nullopt, std::nullopt))) return;
    }
  }
  bool completed = session.Run(
      [&](int i, ChoiceOutput::Delta& d) {
        std::optional<std::vector<TokenLogprob>> lps;
        if (p.r.sampling.logprobs >= 0 && !d.logprobs.empty()) lps = std::move(d.logprobs);
        if (d.text.empty() && !lps && !d.finish) return true;
        return write(CompletionChunkJson(meta, i, d.text, lps, d.finish));
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
    if (p.r.sampling.logprobs >= 0) choices[i].logprobs = std::move(logprobs[i]);
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
    if (Status s = m.FitContext(static_cast<int>(g.prompt.size()), &g.sampling); !s.ok()) {
      return ErrorResponse(s);
    }
    g.eos_token_ids = m.eos_token_ids();
    p->prompt_tokens += static_cast<int>(g.prompt.size());
    if (p->r.echo) p->echo.push_back(in.is_tokens ? m.tokenizer().Decode(in.tokens) : in.text);
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
    // Exactly "text/event-stream": cpp-httplib never gzips it (a compressor would hold chunks).
    resp.content_type = "text/event-stream";
    resp.headers.emplace_back("Cache-Control", "no-cache");
    resp.stream = [p, meta, session](http::StreamSink& sink) {
      StreamCompletion(*p, meta, *session, sink);
    };
  } else {
    // Not plain "application/json", which cpp-httplib gzips for clients that accept it: the
    // compressor would swallow the heartbeat spaces that detect a client gone away.
    resp.content_type = "application/json; charset=utf-8";
    resp.stream = [p, meta, session](http::StreamSink& sink) {
      WholeCompletion(*p, meta, *session, sink);
    };
  }
  return resp;
}

}  // namespace modelcar::serve
