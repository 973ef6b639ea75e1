// ChoiceOutput and Session over the real Scheduler and a real (small, synthetic) byte-level BPE
// tokenizer. ScriptedRunner is a test double of the model: it "generates" the bytes of a fixed
// script (token id = byte value), so the text, stop strings and token counts are known exactly.
#include "serve/session.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "serve/byte_tokenizer_test_util.h"

namespace modelcar::serve {
namespace {

constexpr int32_t kEnd = 256;  // special "<|end|>"

llm::Tokenizer ByteTokenizer() { return ByteTestTokenizer(kEnd); }

// Emits script[i] as the i-th generated token of every sequence, then kEnd forever.
class ScriptedRunner : public ModelRunner {
 public:
  explicit ScriptedRunner(std::vector<int32_t> script) : script_(std::move(script)) {}
  int BlockTokens() const override { return 16; }
  int TotalBlocks() const override { return 1024; }
  int FreeBlocks() const override { return 1024; }
  Status AddSequence(uint64_t seq, const SamplingOptions&, std::span<const int32_t>) override {
    std::lock_guard l(mu_);
    generated_[seq] = 0;
    return Status();
  }
  void ClearKv(uint64_t) override {}
  void RemoveSequence(uint64_t seq) override {
    std::lock_guard l(mu_);
    generated_.erase(seq);
  }
  Status Step(std::span<const RunnerFeed> feeds, std::vector<RunnerSample>* out) override {
    std::lock_guard l(mu_);
    for (const RunnerFeed& f : feeds) {
      if (!f.sample) continue;
      size_t i = generated_[f.seq]++;
      int32_t t = i < script_.size() ? script_[i] : kEnd;
      out->push_back({t, -0.25f, {{t, -0.25f}}});
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    return Status();
  }
  int live() const {
    std::lock_guard l(mu_);
    return static_cast<int>(generated_.size());
  }

 private:
  std::vector<int32_t> script_;
  mutable std::mutex mu_;
  std::map<uint64_t, size_t> generated_;
};

std::vector<int32_t> Bytes(std::string_view s) {
  std::vector<int32_t> v;
  for (unsigned char c : s) v.push_back(c);
  return v;
}

TokenEvent Tok(int32_t t, std::optional<FinishReason> finish = std::nullopt) {
  TokenEvent e;
  e.has_token = true;
  e.sample.token = t;
  e.finish = std::move(finish);
  return e;
}

TEST(ChoiceOutput, Utf8StopStringAndLogprobs) {
  llm::Tokenizer tok = ByteTokenizer();
  SamplingOptions s;
  s.stop = {"END"};
  s.logprobs = 0;
  ChoiceOutput out(tok, s);
  std::string text;
  int i = 0;
  for (int32_t t : Bytes("h\xc3\xa9llo ENDmore")) {
    ChoiceOutput::Delta d = out.Consume(Tok(t));
    if (i == 1) {
      EXPECT_EQ(d.text, "");  // first byte of "é" is held
    }
    text += d.text;
    ASSERT_EQ(d.logprobs.size(), 1u);
    ++i;
    if (d.finish) {
      EXPECT_EQ(d.finish->reason, FinishReason::kStop);
      EXPECT_EQ(*d.finish->stop_string, "END");
      break;
    }
  }
  EXPECT_EQ(text, "h\xc3\xa9llo ");
  EXPECT_EQ(out.text(), text);
  EXPECT_EQ(out.completion_tokens(), 10);  // up to the "D" that completed the stop string
  EXPECT_TRUE(out.finished());
  EXPECT_EQ(out.Consume(Tok('x')).text, "");  // ignored after the finish
}

TEST(ChoiceOutput, EosIsCountedButNotPrinted) {
  llm::Tokenizer tok = ByteTokenizer();
  ChoiceOutput out(tok, SamplingOptions{});
  EXPECT_EQ(out.Consume(Tok('a')).text, "a");
  ChoiceOutput::Delta d = out.Consume(Tok(kEnd, FinishReason::kStop));
  EXPECT_EQ(d.text, "");
  EXPECT_EQ(d.finish->reason, FinishReason::kStop);
  EXPECT_FALSE(d.finish->stop_string.has_value());
  EXPECT_EQ(out.completion_tokens(), 2);
}

TEST(Session, StopStringEndsTheSequenceInTheScheduler) {
  llm::Tokenizer tok = ByteTokenizer();
  ScriptedRunner runner(Bytes("one two STOP three four five six seven eight nine ten"));
  Scheduler sched(&runner, nullptr, {});
  sched.Start();
  SamplingOptions s;
  s.max_tokens = 1000;
  s.stop = {"STOP"};
  s.n = 2;
  GenerationRequest g{{1, 2, 3}, s, {kEnd}, {}};
  Session session(tok, s);
  session.Add(*sched.Submit(g));
  std::map<int, FinishReason> finish;
  ASSERT_TRUE(session.Run(
      [&](int i, ChoiceOutput::Delta& d) {
        if (d.finish) finish[i] = d.finish->reason;
        return true;
      },
      nullptr));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(session.choice(i).text(), "one two ");
    EXPECT_EQ(finish[i], FinishReason::kStop);
  }
  EXPECT_EQ(session.completion_tokens(), 2 * 12);
  EXPECT_EQ(runner.live(), 0);
  sched.Stop();
}

TEST(Session, ClientGoneCancelsAndFrees) {
  llm::Tokenizer tok = ByteTokenizer();
  ScriptedRunner runner(std::vector<int32_t>(100000, 'a'));
  SchedulerOptions o;
  o.max_model_len = 200000;
  Scheduler sched(&runner, nullptr, o);
  sched.Start();
  SamplingOptions s;
  s.max_tokens = 100000;
  {
    Session session(tok, s);
    session.Add(*sched.Submit({{1}, s, {kEnd}, {}}));
    int seen = 0;
    EXPECT_FALSE(session.Run([&](int, ChoiceOutput::Delta&) { return ++seen < 5; }, nullptr));
  }
  {
    Session dropped(tok, s);  // destroyed without Run: its request is cancelled too
    dropped.Add(*sched.Submit({{1}, s, {kEnd}, {}}));
  }
  for (int i = 0; i < 300 && (runner.live() != 0 || sched.Stats().running != 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(runner.live(), 0);
  sched.Stop();
}

// vLLM runs the n choices of a prompt as n requests, each with its own prefix-cache hit, and
// reports one: the first output's when streamed, else the one that completes the last prompt.
TEST(Session, CachedTokensAreThoseOfTheChoiceVllmReports) {
  llm::Tokenizer tok = ByteTokenizer();
  SamplingOptions s;
  s.n = 2;
  auto first_token = [](int index, int32_t t, int cached) {
    TokenEvent e = Tok(t);
    e.index = index;
    e.cached_tokens = cached;
    return e;
  };
  auto last = [](int index) {
    TokenEvent e = Tok('z', FinishReason::kLength);
    e.index = index;
    return e;
  };
  // Prompt 0: choice 1 starts first (cached 16) and finishes first; choice 0 (cached 48) last.
  // Prompt 1: choice 0 (cached 32) finishes after choice 1 (cached 0).
  auto p0 = std::make_shared<RequestHandle>(2);
  p0->Push(first_token(1, 'a', 16));
  p0->Push(first_token(0, 'b', 48));
  p0->Push(last(1));
  p0->Push(last(0));
  auto p1 = std::make_shared<RequestHandle>(2);
  p1->Push(first_token(1, 'c', 0));
  p1->Push(first_token(0, 'd', 32));
  p1->Push(last(1));
  p1->Push(last(0));
  Session session(tok, s);
  session.Add(p0);
  session.Add(p1);
  ASSERT_TRUE(session.RunToEnd(nullptr));
  EXPECT_EQ(session.StreamedCachedTokens(), 16);
  EXPECT_EQ(session.FinalCachedTokens(), 32);

  // Nothing seen yet: 0 either way.
  Session empty(tok, s);
  EXPECT_EQ(empty.StreamedCachedTokens(), 0);
  EXPECT_EQ(empty.FinalCachedTokens(), 0);
}

}  // namespace
}  // namespace modelcar::serve
