// RegistryClient against an in-process registry on 127.0.0.1 (cpp-httplib). A test double on
// purpose: the real registry (docker-registry, tests/registry/) cannot be made to send damaged
// manifests, refuse monolithic uploads or fail a set number of times, and these
// tests are about how the client reacts to exactly that.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "oci/digest.h"
#include "oci/media_types.h"
#include "registry/client.h"

namespace modelcar::registry {
namespace {

// A small /v2/ registry for one repository "lib/m": manifests by tag and digest, blobs with
// Range, monolithic and chunked uploads, tags with Link pagination. Switches make it misbehave.
class FakeRegistry {
 public:
  FakeRegistry() {
    svr_.Get(R"(/v2/lib/m/manifests/(.+))", [this](const auto& req, auto& res) {
      std::lock_guard l(mu_);
      ++manifest_gets_;
      if (fail_manifest_gets_ > 0) {
        --fail_manifest_gets_;
        res.status = 503;
        return;
      }
      auto it = manifests_.find(req.matches[1]);
      if (it == manifests_.end()) {
        res.status = 404;
        res.set_content(R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"no such"}]})",
                        "application/json");
        return;
      }
      std::string body = damage_manifests_ ? it->second + " " : it->second;
      res.set_header("Docker-Content-Digest", oci::Sha256Of(it->second).ToString());
      res.set_content(body, std::string(oci::kOciManifest));
    });
    svr_.Put(R"(/v2/lib/m/manifests/(.+))", [this](const auto& req, auto& res) {
      std::lock_guard l(mu_);
      manifests_[req.matches[1]] = req.body;
      manifests_[oci::Sha256Of(req.body).ToString()] = req.body;
      res.set_header("Docker-Content-Digest", oci::Sha256Of(req.body).ToString());
      res.status = 201;
    });
    svr_.Get(R"(/v2/lib/m/blobs/(sha256:[0-9a-f]{64}))", [this](const auto& req, auto& res) {
      std::lock_guard l(mu_);
      auto it = blobs_.find(req.matches[1]);
      if (it == blobs_.end()) {
        res.status = 404;
        return;
      }
      std::string b = it->second;
      res.set_content(b, "application/octet-stream");  // httplib answers Range with 206
    });
    svr_.Post("/v2/lib/m/blobs/uploads/", [this](const auto& req, auto& res) {
      std::lock_guard l(mu_);
      if (req.has_param("mount")) {
        if (blobs_.count(req.get_param_value("mount"))) {
          res.status = 201;
          return;
        }
      }
      std::string id = std::to_string(++uploads_started_);
      uploads_[id] = "";
      res.status = 202;
      res.set_header("Location", "/upload/" + id);
      res.set_header("Range", "0-0");
    });
    svr_.Patch(R"(/upload/(\d+))", [this](const auto& req, auto& res) {
      std::lock_guard l(mu_);
      ++patches_;
      std::string& u = uploads_[req.matches[1]];
      u += req.body;
      res.status = 202;
      res.set_header("Location", "/upload/" + std::string(req.matches[1]));
      res.set_header("Range", fmt::format("0-{}", u.size() - 1));
    });
    svr_.Put(R"(/upload/(\d+))", [this](const auto& req, auto& res) {
      std::lock_guard l(mu_);
      if (refuse_monolithic_ && !req.body.empty()) {
        ++refused_puts_;
        res.status = 413;
        return;
      }
      std::string content = uploads_[req.matches[1]] + req.body;
      std::string digest = req.get_param_value("digest");
      if (oci::Sha256Of(content).ToString() != digest) {
        res.status = 400;
        res.set_content(R"({"errors":[{"code":"DIGEST_INVALID"}]})", "application/json");
        return;
      }
      blobs_[digest] = content;
      res.status = 201;
    });
    svr_.Get("/v2/lib/m/tags/list", [this](const auto& req, auto& res) {
      std::lock_guard l(mu_);
      if (req.has_param("last")) {
        res.set_content(R"({"name":"lib/m","tags":["c"]})", "application/json");
        return;
      }
      res.set_header("Link", R"(</v2/lib/m/tags/list?n=2&last=b>; rel="next")");
      res.set_content(R"({"name":"lib/m","tags":["a","b"]})", "application/json");
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (!svr_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeRegistry() {
    svr_.stop();
    thread_.join();
  }

  std::shared_ptr<RegistryClient> Client() {
    auto ref = oci::Reference::Parse(fmt::format("127.0.0.1:{}/lib/m:v1", port_));
    EXPECT_TRUE(ref.ok());
    RegistryOptions o;
    o.retry = RetryPolicy{.max_attempts = 3,
                          .base_delay = std::chrono::milliseconds(1),
                          .max_delay = std::chrono::milliseconds(2)};
    auto c = RegistryClient::Create(*ref, o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return *c;
  }
  void AddBlob(const std::string& content) {
    std::lock_guard l(mu_);
    blobs_[oci::Sha256Of(content).ToString()] = content;
  }
  std::string Blob(const oci::Digest& d) {
    std::lock_guard l(mu_);
    auto it = blobs_.find(d.ToString());
    return it == blobs_.end() ? "<absent>" : it->second;
  }

  std::mutex mu_;
  std::map<std::string, std::string> manifests_, blobs_, uploads_;
  bool damage_manifests_ = false, refuse_monolithic_ = false;
  int fail_manifest_gets_ = 0, manifest_gets_ = 0, uploads_started_ = 0, patches_ = 0;
  int refused_puts_ = 0;

 private:
  httplib::Server svr_;
  std::thread thread_;
  int port_ = 0;
};

const std::string kManifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
    R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
    std::string(64, 'c') + R"(","size":2},"layers":[]})";

TEST(RegistryClientOpsTest, ManifestPutThenGetByTagAndDigest) {
  FakeRegistry reg;
  auto c = reg.Client();
  Result<oci::Digest> put =
      c->PutManifest("lib/m", "v1", std::string(oci::kOciManifest), kManifest);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(*put, oci::Sha256Of(kManifest));
  for (const std::string& id : {std::string("v1"), put->ToString()}) {
    Result<ManifestBytes> got = c->GetManifest("lib/m", id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->bytes, kManifest);
    EXPECT_EQ(got->digest, *put);
    EXPECT_EQ(got->media_type, oci::kOciManifest);
  }
  Result<std::optional<oci::Descriptor>> head = c->HeadManifest("lib/m", "v1");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  ASSERT_TRUE(head->has_value());
  EXPECT_EQ((*head)->digest, *put);
  EXPECT_EQ((*head)->size, static_cast<int64_t>(kManifest.size()));
  Result<std::optional<oci::Descriptor>> none = c->HeadManifest("lib/m", "nope");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(RegistryClientOpsTest, MissingManifestIsNotFoundWithTheRegistrysWords) {
  FakeRegistry reg;
  Result<ManifestBytes> got = reg.Client()->GetManifest("lib/m", "v9");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kNotFound);
  EXPECT_NE(got.status().message().find("lib/m:v9"), std::string::npos);
  EXPECT_NE(got.status().message().find("MANIFEST_UNKNOWN: no such"), std::string::npos);
}

TEST(RegistryClientOpsTest, TransientFailuresAreRetriedDamageIsDataLoss) {
  FakeRegistry reg;
  auto c = reg.Client();
  ASSERT_TRUE(c->PutManifest("lib/m", "v1", std::string(oci::kOciManifest), kManifest).ok());
  reg.fail_manifest_gets_ = 2;  // two 503s, then the manifest: within 3 attempts
  Result<ManifestBytes> got = c->GetManifest("lib/m", "v1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(reg.manifest_gets_, 3);

  reg.manifest_gets_ = 0;
  reg.fail_manifest_gets_ = 5;  // more than the policy allows
  got = c->GetManifest("lib/m", "v1");
  EXPECT_EQ(got.status().code(), Code::kUnavailable);
  EXPECT_EQ(reg.manifest_gets_, 3);

  reg.fail_manifest_gets_ = 0;
  reg.manifest_gets_ = 0;
  reg.damage_manifests_ = true;  // bytes that do not hash to the digest asked for, every time
  got = c->GetManifest("lib/m", oci::Sha256Of(kManifest).ToString());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kDataLoss);
  EXPECT_EQ(reg.manifest_gets_, 3);
}

TEST(RegistryClientOpsTest, BlobHeadAndRanges) {
  FakeRegistry reg;
  std::string blob = "0123456789abcdefghij";
  reg.AddBlob(blob);
  oci::Digest d = oci::Sha256Of(blob);
  auto c = reg.Client();
  Result<std::optional<int64_t>> size = c->HeadBlob("lib/m", d);
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_EQ(size->value_or(-2), 20);
  Result<std::optional<int64_t>> absent = c->HeadBlob("lib/m", oci::Sha256Of("x"));
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());

  auto fetch = [&](uint64_t off, std::optional<uint64_t> end, std::string* out) {
    out->clear();
    return c->GetBlobRange("lib/m", d, off, end, [out](std::string_view b) {
      out->append(b);
      return Status();
    });
  };
  std::string got;
  ASSERT_TRUE(fetch(0, std::nullopt, &got).ok());
  EXPECT_EQ(got, blob);
  ASSERT_TRUE(fetch(5, 9, &got).ok());
  EXPECT_EQ(got, "5678");
  ASSERT_TRUE(fetch(15, std::nullopt, &got).ok());
  EXPECT_EQ(got, "fghij");
}

BlobOpener OpenString(const std::string& content) {
  return [&content](uint64_t offset) -> Result<http::BodyReader> {
    auto pos = std::make_shared<size_t>(offset);
    return http::BodyReader([&content, pos](char* buf, size_t n) -> Result<size_t> {
      size_t k = std::min(n, content.size() - *pos);
      content.copy(buf, k, *pos);
      *pos += k;
      return k;
    });
  };
}

TEST(RegistryClientOpsTest, PushBlobMonolithicAndChunkedFallback) {
  FakeRegistry reg;
  auto c = reg.Client();
  std::string a(5000, 'a');
  oci::Digest da = oci::Sha256Of(a);
  std::atomic<int64_t> counted{0};
  Status s = c->PushBlob("lib/m", da, a.size(), OpenString(a), UploadMode::kAuto, 1024,
                         [&](int64_t d) { counted += d; });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(reg.Blob(da), a);
  EXPECT_EQ(reg.patches_, 0);  // one streamed PUT
  EXPECT_EQ(counted.load(), 5000);

  reg.refuse_monolithic_ = true;  // 413 for a PUT with a body: chunked PATCHes instead
  std::string b;
  for (int i = 0; i < 5000; ++i) b.push_back(static_cast<char>('a' + i % 26));
  oci::Digest db = oci::Sha256Of(b);
  counted = 0;
  s = c->PushBlob("lib/m", db, b.size(), OpenString(b), UploadMode::kAuto, 1024,
                  [&](int64_t d) { counted += d; });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(reg.Blob(db), b);
  EXPECT_EQ(reg.refused_puts_, 1);
  EXPECT_EQ(reg.patches_, 5);       // 5000 bytes in 1024-byte pieces
  EXPECT_EQ(counted.load(), 5000);  // the refused attempt's bytes were taken back

  // Monolithic only: the refusal is the answer.
  std::string z(10, 'z');
  s = c->PushBlob("lib/m", oci::Sha256Of(z), z.size(), OpenString(z), UploadMode::kMonolithic,
                  1024);
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
}

TEST(RegistryClientOpsTest, MountAndTags) {
  FakeRegistry reg;
  reg.AddBlob("present");
  auto c = reg.Client();
  Result<bool> m = c->MountBlob("lib/m", oci::Sha256Of("present"), "other/repo");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(*m);
  m = c->MountBlob("lib/m", oci::Sha256Of("absent"), "other/repo");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_FALSE(*m);  // an ordinary upload was started instead
  Result<std::vector<std::string>> tags = c->ListTags("lib/m");
  ASSERT_TRUE(tags.ok()) << tags.status().ToString();
  EXPECT_EQ(*tags, (std::vector<std::string>{"a", "b", "c"}));  // two pages, via Link
}

}  // namespace
}  // namespace modelcar::registry
