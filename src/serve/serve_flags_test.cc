#include "serve/serve_flags.h"

#include <gtest/gtest.h>

namespace modelcar::serve {
namespace {

TEST(TakeRemainingArgs, ShortFormsModelAndUnknownFlags) {
  ServeFlags f;
  std::string model;
  ASSERT_TRUE(TakeRemainingArgs({"-tp", "2", "/mnt/models", "-O3", "-pp=4"}, &f, &model).ok());
  EXPECT_EQ(model, "/mnt/models");
  EXPECT_EQ(f.table_value["--tensor-parallel-size"], "2");
  EXPECT_EQ(f.table_value["--compilation-config"], "3");
  EXPECT_EQ(f.table_value["--pipeline-parallel-size"], "4");
  EXPECT_EQ(f.table_given.size(), 3u);

  ServeFlags g;
  std::string m2;
  Status s = TakeRemainingArgs({"--foo", "x"}, &g, &m2);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unrecognized argument: --foo"), std::string::npos);
  s = TakeRemainingArgs({"a", "b"}, &g, &m2);
  EXPECT_NE(s.message().find("unexpected argument 'b'"), std::string::npos) << s.message();
  ServeFlags h;
  std::string m3;
  s = TakeRemainingArgs({"-tp"}, &h, &m3);
  EXPECT_NE(s.message().find("-tp needs a value"), std::string::npos) << s.message();
}

TEST(CheckTableFlags, WarnsOncePerIgnoredFlagAndRefusesHarmfulValues) {
  ServeFlags f;
  f.table_given = {"--dtype", "--enforce-eager"};
  f.table_value["--dtype"] = "auto";
  f.table_switch["--enforce-eager"] = true;
  std::vector<std::string> warnings;
  ASSERT_TRUE(CheckTableFlags(f, [&](std::string w) { warnings.push_back(w); }).ok());
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0].rfind("--dtype auto has no effect", 0), 0u) << warnings[0];
  EXPECT_NE(warnings[1].find("--enforce-eager"), std::string::npos);

  ServeFlags q;
  q.table_given = {"--kv-cache-dtype"};
  q.table_value["--kv-cache-dtype"] = "auto";  // harmless: accepted silently
  EXPECT_TRUE(CheckTableFlags(q, [](std::string) {}).ok());
  q.table_value["--kv-cache-dtype"] = "fp8";
  Status s = CheckTableFlags(q, [](std::string) {});
  EXPECT_NE(s.message().find("--kv-cache-dtype fp8 is not supported"), std::string::npos)
      << s.message();
  ServeFlags lora;
  lora.table_given = {"--enable-lora"};
  lora.table_switch["--enable-lora"] = false;  // --no-enable-lora
  EXPECT_TRUE(CheckTableFlags(lora, [](std::string) {}).ok());
  lora.table_switch["--enable-lora"] = true;
  EXPECT_FALSE(CheckTableFlags(lora, [](std::string) {}).ok());
}

TEST(ApplyServeFlags, VllmValueForms) {
  ServeFlags f;
  f.served_names = {"a", "b"};
  f.max_model_len = "4k";
  f.max_num_batched_tokens = "2K";
  f.kv_cache_memory_bytes = "1G";
  f.seed = "None";
  f.allowed_origins = R"(["https://x"])";
  f.access_log_exclude = "/health,,/metrics";
  f.log_requests = true;
  f.enable_auto_tool_choice = true;
  f.tool_call_parser = "hermes";
  ServeOptions s;
  ASSERT_TRUE(ApplyServeFlags(f, "envkey", &s).ok());
  EXPECT_EQ(s.model.served_model_name, "a");
  EXPECT_EQ(s.model.extra_served_names, std::vector<std::string>{"b"});
  EXPECT_EQ(s.model.max_model_len, 4000);
  EXPECT_EQ(s.model.max_num_batched_tokens, 2048);
  EXPECT_EQ(s.model.kv_cache_bytes, uint64_t{1} << 30);
  EXPECT_FALSE(s.model.seed.has_value());
  EXPECT_EQ(s.cors.allowed_origins, std::vector<std::string>{"https://x"});
  EXPECT_EQ(s.access_log_exclude, (std::vector<std::string>{"/health", "/metrics"}));
  EXPECT_TRUE(s.access_log);
  EXPECT_TRUE(s.model.log_requests);
  EXPECT_TRUE(s.model.enable_auto_tool_choice);
  EXPECT_EQ(s.api_keys, std::vector<std::string>{"envkey"});

  ServeOptions keyed;
  keyed.api_keys = {"given"};
  ASSERT_TRUE(ApplyServeFlags(ServeFlags{}, "envkey", &keyed).ok());
  EXPECT_EQ(keyed.api_keys, std::vector<std::string>{"given"}) << "--api-key wins over the env";
  ServeFlags minus;
  minus.max_model_len = "-1";
  minus.seed = "7";
  minus.uvicorn_log_level = "warning";
  ServeOptions m;
  ASSERT_TRUE(ApplyServeFlags(minus, "", &m).ok());
  EXPECT_EQ(m.model.max_model_len, 0) << "-1: the model's own";
  EXPECT_EQ(m.model.seed, 7u);
  EXPECT_FALSE(m.access_log) << "uvicorn logs access at info";
}

TEST(ApplyServeFlags, BadValuesNameTheFlag) {
  auto error = [](ServeFlags f) {
    ServeOptions s;
    Status st = ApplyServeFlags(f, "", &s);
    EXPECT_FALSE(st.ok());
    return std::string(st.message());
  };
  ServeFlags f;
  f.max_model_len = "1.5K";
  EXPECT_NE(error(f).find("--max-model-len"), std::string::npos);
  f = {};
  f.max_num_batched_tokens = "0";
  EXPECT_NE(error(f).find("--max-num-batched-tokens"), std::string::npos);
  f = {};
  f.allowed_origins = "*";
  EXPECT_NE(error(f).find("--allowed-origins must be a JSON list"), std::string::npos);
  f = {};
  f.uvicorn_log_level = "loud";
  EXPECT_NE(error(f).find("--uvicorn-log-level"), std::string::npos);
  f = {};
  f.precision = "half";
  EXPECT_EQ(error(f), "--precision must be exact or fast");
  f = {};
  f.enable_auto_tool_choice = true;
  EXPECT_EQ(error(f), "--enable-auto-tool-choice requires --tool-call-parser");
  f.tool_call_parser = "mistral";
  EXPECT_NE(error(f).find("--tool-call-parser mistral is not supported"), std::string::npos);
  ServeOptions tls;
  tls.tls_cert_file = "c.pem";
  EXPECT_FALSE(ApplyServeFlags(ServeFlags{}, "", &tls).ok());
}

// The HTTP limit flags set their http::ServerOptions fields; those not given keep serve's
// defaults; a value that is not a whole number in range is an error naming the flag and the range.
TEST(ApplyServeFlags, HttpLimits) {
  ServeOptions s;
  const http::ServerOptions defaults = s.http;
  EXPECT_EQ(defaults.write_timeout_s, 60);
  ServeFlags f;
  f.http_limits = {{"--max-connections", "4096"},
                   {"--max-body-bytes", "32M"},
                   {"--h11-max-incomplete-event-size", "1M"},
                   {"--h11-max-header-count", "256"},
                   {"--header-timeout", "3"},
                   {"--keep-alive-timeout", "75"},
                   {"--max-keep-alive-requests", "10k"},
                   {"--body-timeout", ""}};
  ASSERT_TRUE(ApplyServeFlags(f, "", &s).ok());
  EXPECT_EQ(s.http.max_connections, 4096u);
  EXPECT_EQ(s.http.max_body_bytes, size_t{32} << 20);
  EXPECT_EQ(s.http.max_header_bytes, size_t{1} << 20);
  EXPECT_EQ(s.http.max_header_count, 256u);
  EXPECT_EQ(s.http.header_timeout_s, 3);
  EXPECT_EQ(s.http.keep_alive_timeout_s, 75);
  EXPECT_EQ(s.http.keep_alive_max_requests, 10000u);
  EXPECT_EQ(s.http.body_timeout_s, defaults.body_timeout_s);  // empty: not given
  EXPECT_EQ(s.http.write_timeout_s, 60);
  EXPECT_EQ(s.http.max_body_buffer_bytes, defaults.max_body_buffer_bytes);

  auto error = [](std::string flag, std::string value) {
    ServeFlags bad;
    bad.http_limits[flag] = value;
    ServeOptions o;
    Status st = ApplyServeFlags(bad, "", &o);
    EXPECT_FALSE(st.ok()) << flag << " " << value;
    return std::string(st.message());
  };
  EXPECT_EQ(error("--max-connections", "0"), "--max-connections: 0 is out of range (1 to 1000000)");
  EXPECT_EQ(error("--max-body-bytes", "-5"),
            "--max-body-bytes: -5 is out of range (1024 to 1073741824)");
  EXPECT_EQ(error("--max-body-bytes", "2G"),
            "--max-body-bytes: 2147483648 is out of range (1024 to 1073741824)");
  EXPECT_NE(error("--header-timeout", "ten").find("--header-timeout: 'ten' is not an integer"),
            std::string::npos);
  EXPECT_NE(error("--write-timeout", "1.5").find("--write-timeout: '1.5' has a decimal point"),
            std::string::npos);
  EXPECT_NE(error("--h11-max-header-count", "99999999999999999999").find("is too large"),
            std::string::npos);
}

TEST(ModelIds, HubIdsAndOciNames) {
  EXPECT_TRUE(LooksLikeHubId("Qwen/Qwen2.5-0.5B-Instruct"));
  EXPECT_FALSE(LooksLikeHubId("/mnt/models"));
  EXPECT_FALSE(LooksLikeHubId("./models/x"));
  EXPECT_FALSE(LooksLikeHubId("a/b/c"));
  EXPECT_EQ(OciModelName("reg:5000/org/qwen:v1"), "qwen");
  EXPECT_EQ(OciModelName("reg/org/qwen@sha256:abc"), "qwen");
}

}  // namespace
}  // namespace modelcar::serve
