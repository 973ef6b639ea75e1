// KubeApi against an HTTPS http::Server on 127.0.0.1 standing in for the API server (no real one
// runs here), with a self-signed certificate as the cluster CA.
#include "peer/kube_api.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <mutex>

#include "base/file.h"
#include "base/temp_dir.h"
#include "http/server.h"

namespace modelcar::peer {
namespace {

class KubeApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeCert("api");
    ASSERT_TRUE(MakeDirs(sa_).ok());
    Write("token", "tok-1\n");
    Write("namespace", "modelcar-system\n");
    ASSERT_TRUE(WriteFileAtomic(sa_ + "/ca.crt", *ReadFile(dir_ + "/api.pem")).ok());
    http::ServerOptions so;
    so.tls_cert_file = dir_ + "/api.pem";
    so.tls_key_file = dir_ + "/api.key";
    server_ = std::make_unique<http::Server>(so);
    server_->Handle("GET", "/apis/*", [this](const http::ServerRequest& r) {
      std::lock_guard<std::mutex> l(mu_);
      path_ = r.path;
      selector_ = std::string(r.Query("labelSelector").value_or(""));
      auth_ = std::string(r.Header("Authorization").value_or(""));
      return http::ServerResponse::Json(status_, body_);
    });
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override { server_->Stop(); }

  // A self-signed pair NAME.pem / NAME.key for 127.0.0.1.
  void MakeCert(const std::string& name) {
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=" +
        name + " -addext subjectAltName=IP:127.0.0.1 -keyout " + dir_ + "/" + name + ".key -out " +
        dir_ + "/" + name + ".pem 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  void Write(const std::string& file, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomic(sa_ + "/" + file, text).ok());
  }
  void Answer(int status, std::string body) {
    std::lock_guard<std::mutex> l(mu_);
    status_ = status;
    body_ = std::move(body);
  }
  KubeApi Api() {
    KubeApiOptions o;
    o.api_url = "https://127.0.0.1:" + std::to_string(server_->port());
    o.sa_dir = sa_;
    o.timeout_s = 5;
    return KubeApi(o);
  }
  std::string Auth() {
    std::lock_guard<std::mutex> l(mu_);
    return auth_;
  }
  std::string Seen() {
    std::lock_guard<std::mutex> l(mu_);
    return path_ + "?" + selector_;
  }

  TempDir tmp_{"kube-api-test"};
  std::string dir_ = tmp_.path(), sa_ = dir_ + "/sa";
  std::unique_ptr<http::Server> server_;
  std::mutex mu_;
  int status_ = 200;
  std::string body_ = R"({"kind":"EndpointSliceList","items":[]})";
  std::string path_, selector_, auth_;
};

TEST_F(KubeApiTest, ListsWithTheTokenOverTlsVerifiedAgainstTheClusterCa) {
  auto body = Api().ListEndpointSlices("", "agents");
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_EQ(*body, R"({"kind":"EndpointSliceList","items":[]})");
  EXPECT_EQ(Seen(),
            "/apis/discovery.k8s.io/v1/namespaces/modelcar-system/endpointslices?"
            "kubernetes.io/service-name=agents");
  EXPECT_EQ(Auth(), "Bearer tok-1");
  ASSERT_TRUE(Api().ListEndpointSlices("other", "agents").ok());
  EXPECT_EQ(Seen(),
            "/apis/discovery.k8s.io/v1/namespaces/other/endpointslices?"
            "kubernetes.io/service-name=agents");
}

TEST_F(KubeApiTest, TheTokenIsReadAgainOnEveryCall) {
  KubeApi api = Api();
  ASSERT_TRUE(api.ListEndpointSlices("", "agents").ok());
  EXPECT_EQ(Auth(), "Bearer tok-1");
  Write("token", "tok-2");  // a projected token rotated
  ASSERT_TRUE(api.ListEndpointSlices("", "agents").ok());
  EXPECT_EQ(Auth(), "Bearer tok-2");
}

TEST_F(KubeApiTest, AServerTheClusterCaDidNotSignIsRefused) {
  MakeCert("other");
  ASSERT_TRUE(WriteFileAtomic(sa_ + "/ca.crt", *ReadFile(dir_ + "/other.pem")).ok());
  auto r = Api().ListEndpointSlices("", "agents");
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << r.status().ToString();
  EXPECT_NE(r.status().message().find("not trusted"), std::string::npos) << r.status().message();
  EXPECT_EQ(Auth(), "");  // the token never reached the server
  EXPECT_EQ(r.status().message().find("tok-1"), std::string::npos);
  Write("ca.crt", "");
  EXPECT_EQ(Api().ListEndpointSlices("", "agents").status().code(), Code::kFailedPrecondition);
}

TEST_F(KubeApiTest, ErrorStatusesAreNamedAndNeverQuoteTheToken) {
  Answer(401, R"({"kind":"Status","message":"Unauthorized tok-1"})");
  auto r = Api().ListEndpointSlices("", "agents");
  EXPECT_EQ(r.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(r.status().message().find("tok-1"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("HTTP 401"), std::string::npos) << r.status().message();
  Answer(403, R"({"kind":"Status","message":"endpointslices.discovery.k8s.io is forbidden"})");
  r = Api().ListEndpointSlices("", "agents");
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  EXPECT_NE(r.status().message().find("is forbidden"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("deploy/cache-agent/rbac.yaml"), std::string::npos);
  Answer(404, "not json");
  EXPECT_EQ(Api().ListEndpointSlices("", "agents").status().code(), Code::kNotFound);
  Answer(503, "{}");
  r = Api().ListEndpointSlices("", "agents");
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("HTTP 503"), std::string::npos) << r.status().message();
}

TEST_F(KubeApiTest, MissingOrBadServiceAccountFiles) {
  auto code = [this] { return Api().ListEndpointSlices("", "agents").status().code(); };
  Write("namespace", "Not A Namespace");
  EXPECT_EQ(code(), Code::kFailedPrecondition);
  EXPECT_EQ(Api().Namespace().status().message(), sa_ + "/namespace: not a namespace name");
  Write("namespace", "ns");
  for (const char* bad : {"", "\n", "tok 1", "tok\r\nX-Evil: 1"}) {
    Write("token", bad);
    auto r = Api().ListEndpointSlices("", "agents");
    EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << bad;
    EXPECT_EQ(r.status().message(), sa_ + "/token: not a bearer token");
  }
  std::filesystem::remove(sa_ + "/token");
  EXPECT_EQ(code(), Code::kFailedPrecondition);
  Write("token", "tok-1");
  std::filesystem::remove(sa_ + "/ca.crt");
  EXPECT_EQ(code(), Code::kFailedPrecondition);
  EXPECT_EQ(Auth(), "");
}

TEST_F(KubeApiTest, NotInAClusterOrNotHttps) {
  KubeApiOptions o;
  o.sa_dir = sa_;
  auto r = KubeApi(o).ListEndpointSlices("", "agents");  // said before the namespace is read
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("KUBERNETES_SERVICE_HOST"), std::string::npos);
  o.api_url = "http://127.0.0.1:" + std::to_string(server_->port());
  r = KubeApi(o).ListEndpointSlices("ns", "agents");
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("https only"), std::string::npos);
  EXPECT_EQ(Api().ListEndpointSlices("ns", "../x").status().code(), Code::kInvalidArgument);
}

TEST(KubeApiOptionsTest, FromTheEnvironment) {
  unsetenv("MODELCAR_KUBE_API");
  unsetenv("MODELCAR_KUBE_SA_DIR");
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  EXPECT_EQ(InClusterOptions().api_url, "");
  EXPECT_EQ(InClusterOptions().sa_dir, "/var/run/secrets/kubernetes.io/serviceaccount");
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  EXPECT_EQ(InClusterOptions().api_url, "https://10.96.0.1:443");
  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  EXPECT_EQ(InClusterOptions().api_url, "https://[fd00::1]:443");
  setenv("MODELCAR_KUBE_API", "https://127.0.0.1:6443/", 1);
  setenv("MODELCAR_KUBE_SA_DIR", "/tmp/sa", 1);
  EXPECT_EQ(InClusterOptions().api_url, "https://127.0.0.1:6443");
  EXPECT_EQ(InClusterOptions().sa_dir, "/tmp/sa");
  for (const char* v : {"MODELCAR_KUBE_API", "MODELCAR_KUBE_SA_DIR", "KUBERNETES_SERVICE_HOST",
                        "KUBERNETES_SERVICE_PORT"}) {
    unsetenv(v);
  }
}

TEST(NamespacedNameTest, NamespaceOptional) {
  auto n = ParseNamespacedName("agents", "--peer-service");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->ns, "");
  EXPECT_EQ(n->name, "agents");
  n = ParseNamespacedName("modelcar-system/agents", "--peer-service");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->ns, "modelcar-system");
  EXPECT_EQ(n->name, "agents");
  for (const char* bad :
       {"", "/agents", "ns/", "a/b/c", "Agents", "-a", "a-", "a_b", "a.b", "ns/a b",
        "0123456789012345678901234567890123456789012345678901234567890123"}) {
    auto r = ParseNamespacedName(bad, "--peer-service");
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("--peer-service"), std::string::npos);
  }
}

}  // namespace
}  // namespace modelcar::peer
