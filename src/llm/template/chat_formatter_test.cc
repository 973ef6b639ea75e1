#include "llm/template/chat_formatter.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "base/file.h"
#include "base/temp_dir.h"

namespace modelcar {
namespace {

using nlohmann::ordered_json;

const ordered_json kMessages = ordered_json::parse(R"([{"role": "user", "content": "Hi"}])");

TEST(ChatFormatterTest, StringTemplateAndAddedTokenObjects) {
  Result<ChatFormatter> f = ChatFormatter::FromConfig(
      R"({"chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}{{ eos_token }}{{ tools }}{{ add_generation_prompt }}",
          "bos_token": {"content": "<s>", "__type": "AddedToken"}, "eos_token": "</s>", "unk_token": null})",
      "", "cfg");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->bos_token(), "<s>");
  EXPECT_EQ(f->eos_token(), "</s>");
  Result<std::string> r = f->Apply(kMessages, nullptr, true, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "<s>Hi</s>NoneTrue");
}

TEST(ChatFormatterTest, NamedTemplatesPickToolUseWhenToolsAreGiven) {
  Result<ChatFormatter> f = ChatFormatter::FromConfig(
      R"({"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T{{ tools|length }}"}]})",
      "", "cfg");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(*f->Apply(kMessages, nullptr, true, nullptr), "D");
  EXPECT_EQ(*f->Apply(kMessages, ordered_json::parse("[{}, {}]"), true, nullptr), "T2");
  EXPECT_EQ(*f->Apply(kMessages, ordered_json::array(), true, nullptr, "tool_use"), "T0");
  EXPECT_EQ(f->Apply(kMessages, nullptr, true, nullptr, "nope").status().code(), Code::kNotFound);
}

TEST(ChatFormatterTest, KwargsAddVariablesButCannotReplaceMessages) {
  Result<ChatFormatter> f =
      ChatFormatter::FromConfig(R"({"chat_template": "{{ enable_thinking }}"})", "", "cfg");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(
      *f->Apply(kMessages, nullptr, true, ordered_json::parse(R"({"enable_thinking": false})")),
      "False");
  EXPECT_FALSE(f->Apply(kMessages, nullptr, true, ordered_json::parse(R"({"messages": []})")).ok());
  EXPECT_FALSE(f->Apply(ordered_json::object(), nullptr, true, nullptr).ok());
}

TEST(ChatFormatterTest, BadConfigsAreClearErrors) {
  EXPECT_EQ(ChatFormatter::FromConfig(R"({"eos_token": "x"})", "", "cfg").status().code(),
            Code::kNotFound);
  Status s = ChatFormatter::FromConfig("{not json", "", "my/tokenizer_config.json").status();
  EXPECT_NE(s.message().find("my/tokenizer_config.json"), std::string::npos) << s.ToString();
  s = ChatFormatter::FromConfig(R"({"chat_template": "{% if %}"})", "", "cfg").status();
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(ChatFormatter::FromConfig(R"({"chat_template": 5})", "", "cfg").ok());
}

TEST(ChatFormatterTest, LoadPrefersChatTemplateJinja) {
  TempDir tmp("modelcar-fmt");
  const std::string& dir = tmp.path();
  ASSERT_TRUE(WriteFileAtomic(dir + "/tokenizer_config.json", R"({"chat_template": "cfg"})").ok());
  Result<ChatFormatter> f = ChatFormatter::Load(dir);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(*f->Apply(kMessages, nullptr, true, nullptr), "cfg");
  ASSERT_TRUE(WriteFileAtomic(dir + "/chat_template.jinja", "jinja\n").ok());
  f = ChatFormatter::Load(dir);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(*f->Apply(kMessages, nullptr, true, nullptr), "jinja");
  EXPECT_FALSE(ChatFormatter::Load(dir + "/missing").ok());
}

}  // namespace
}  // namespace modelcar
