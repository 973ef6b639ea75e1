// The two readers of tokenizer.json: the fast one handles the usual documents and gives what the
// general one gives; on anything else it gives up and the general one decides.
#include "llm/tokenizer/tokenizer_json.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "llm/tokenizer/tiny_tokenizer_test_util.h"

namespace modelcar::llm {
namespace {

using json = nlohmann::json;

json Tiny() {
  json j = testing::TinyTokenizerJson(/*nfc=*/false, /*llama=*/false);
  j["model"]["merges"][2] = json::array({"he", "ll"});         // both forms of a merge
  j["model"]["vocab"]["\"\\/\n\t\x01\u00e9\U0001F600"] = 300;  // escapes in the output
  return j;
}

// The fast reader gives a result equal to the general reader's.
void ExpectFastEqualsGeneral(const std::string& text) {
  auto fast = ParseTokenizerJsonFast(text);
  ASSERT_TRUE(fast.has_value()) << text.substr(0, 200);
  auto general = ParseTokenizerJsonSax(text);
  ASSERT_TRUE(general.ok()) << general.status().ToString();
  EXPECT_TRUE(testing::SameTokenizerJson(*fast, *general));
}

// Whatever the fast reader does with `text`, ParseTokenizerJson answers as the general reader.
void ExpectSameAnswer(const std::string& text) {
  auto fast = ParseTokenizerJsonFast(text);
  auto general = ParseTokenizerJsonSax(text);
  if (fast.has_value()) {
    ASSERT_TRUE(general.ok()) << "the fast reader accepted what the general one refuses ("
                              << general.status().ToString() << "): " << json(text).dump();
    EXPECT_TRUE(testing::SameTokenizerJson(*fast, *general)) << json(text).dump();
  }
  auto either = ParseTokenizerJson(text);
  ASSERT_EQ(either.ok(), general.ok()) << json(text).dump();
  if (!general.ok()) {
    EXPECT_EQ(either.status().ToString(), general.status().ToString());
  }
}

TEST(TokenizerJsonTest, FastReaderReadsUsualDocuments) {
  const json j = Tiny();
  ExpectFastEqualsGeneral(j.dump());   // keys sorted: merges before vocab
  ExpectFastEqualsGeneral(j.dump(2));  // indented
  // Key order as HF tokenizers writes it (vocab, then merges), and \u escapes in any case.
  ExpectFastEqualsGeneral(
      R"({"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2,)"
      R"( "\u00E9\ud83d\ude00": 3, "-": -4, "z": 0, "a\/b": 5}, "merges": ["a b", ["a", "b"]],)"
      R"( "dropout": null}, "decoder": {"type": "ByteLevel"}})");
  ExpectFastEqualsGeneral(R"({"model": {"vocab": {}, "merges": []}})");
  auto fast = ParseTokenizerJsonFast(j.dump());
  ASSERT_TRUE(fast.has_value());
  EXPECT_EQ(fast->vocab.size(), j["model"]["vocab"].size());
  EXPECT_EQ(fast->View(fast->merges[2].first), "he");
  EXPECT_EQ(fast->rest["model"]["vocab"], json::object());
  EXPECT_EQ(fast->rest["model"]["merges"], json::array());
}

TEST(TokenizerJsonTest, FastReaderGivesUpOnTheUnusual) {
  for (const char* text : {
           R"({"mod\u0065l": {"vocab": {"a": 0}, "merges": []}})",          // an escaped key
           R"({"model": {"vocab": {"a": 0}, "merges": []}, "model": 1})",   // model twice
           R"({"model": {"vocab": {"a": 0}, "vocab": {}, "merges": []}})",  // vocab twice
           R"({"model": {"vocab": {"a": 1.0}, "merges": []}})",             // a float id
           R"({"model": {"vocab": {"a": 1e2}, "merges": []}})",
           R"({"model": {"vocab": {"a": 12345678901234567890}, "merges": []}})",
           R"({"model": {"vocab": {"a": 0}, "merges": ["a  b"]}})",  // two spaces
           R"({"model": {"vocab": {"a": 0}, "merges": [["a", "b", "c"]]}})",
           R"({"model": {"vocab": {"a": 0}}})",  // no merges
           R"({"model": [], "x": {"vocab": {}, "merges": []}})",
       }) {
    EXPECT_FALSE(ParseTokenizerJsonFast(text).has_value()) << text;
    ExpectSameAnswer(text);
  }
}

TEST(TokenizerJsonTest, InvalidDocumentsGetTheGeneralReadersError) {
  for (const std::string& text : {
           std::string(R"({"model": {"vocab": {"a": 0,}, "merges": []}})"),
           std::string(R"({"model": {"vocab": {"a": 01}, "merges": []}})"),
           std::string(R"({"model": {"vocab": {"\ud800": 0}, "merges": []}})"),
           std::string(R"({"model": {"vocab": {"\udc00x": 0}, "merges": []}})"),
           std::string(R"({"model": {"vocab": {"\q": 0}, "merges": []}})"),
           std::string("{\"model\": {\"vocab\": {\"a\tb\": 0}, \"merges\": []}}"),
           std::string("{\"model\": {\"vocab\": {\"\xC3\x28\": 0}, \"merges\": []}}"),
           std::string("{\"model\": {\"vocab\": {\"\xED\xA0\x80\": 0}, \"merges\": []}}"),
           std::string(R"({"model": {"vocab": {"a": 0}, "merges": ["a b"]} "x": 1})"),
           std::string(R"({"model": {"vocab": {"a": 0}, "merges": ["a b"]}, "x": [1}})"),
           std::string(R"({"model": {"vocab": {"a": 0}, "merges": ["a b"]}} trailing)"),
       }) {
    EXPECT_FALSE(ParseTokenizerJsonFast(text).has_value()) << text;
    ExpectSameAnswer(text);
  }
}

// Every prefix, and random single-byte changes, of a small document: the fast reader never
// accepts what the general one refuses, nor reads it differently.
TEST(TokenizerJsonTest, TruncatedAndMutatedDocuments) {
  const std::string text = Tiny().dump(1);
  for (size_t n = 0; n < text.size(); ++n) ExpectSameAnswer(text.substr(0, n));
  std::mt19937 rng(7);
  const std::string alphabet = "{}[]\",: \\u0a-1.e\n\x80\xC3\xA9";
  for (int i = 0; i < 3000; ++i) {
    std::string m = text;
    for (int k = 0; k < 1 + i % 3; ++k) {
      m[rng() % m.size()] = alphabet[rng() % alphabet.size()];
    }
    ExpectSameAnswer(m);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace modelcar::llm
