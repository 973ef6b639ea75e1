// A small reader of the Kubernetes API from inside a pod (the in-cluster config client-go uses):
// what the cache agent needs to find its peers (`cache-agent --peer-service`), nothing more.
//
// Config (InClusterOptions): the API server at https://$KUBERNETES_SERVICE_HOST:
// $KUBERNETES_SERVICE_PORT (an IPv6 host in brackets), or $MODELCAR_KUBE_API (tests: an https://
// URL); the service account's files in /var/run/secrets/kubernetes.io/serviceaccount, or
// $MODELCAR_KUBE_SA_DIR: `token` (the bearer token), `ca.crt` (the cluster CA), `namespace`.
//
// Every call reads `token` and `ca.crt` again (projected tokens rotate, about hourly), speaks
// HTTPS only, verifies the server against ca.crt alone (not the system CAs), never uses a proxy
// from the environment, and never puts the token in a message or a log: errors name the file or
// the HTTP status and quote at most the API's own Status message.
//
// Errors: FailedPrecondition (not in a cluster: no API address or service account files; an
// http:// API URL; a server certificate ca.crt does not vouch for), Unauthenticated (401: the token
// was refused), PermissionDenied (403: the RBAC rules do not allow the read; the message says
// which), NotFound (404), InvalidArgument (a namespace or name that is not a DNS label),
// Unavailable (transport errors, other statuses). Thread safety: const methods, safe from any
// thread.
#ifndef MODELCAR_PEER_KUBE_API_H_
#define MODELCAR_PEER_KUBE_API_H_

#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar::peer {

inline constexpr std::string_view kServiceAccountDir =
    "/var/run/secrets/kubernetes.io/serviceaccount";

struct KubeApiOptions {
  std::string api_url;  // https://HOST:PORT ("" = not in a cluster: every call fails)
  std::string sa_dir = std::string(kServiceAccountDir);
  long timeout_s = 10;  // connect timeout and stall limit of one call
};

// The options from the environment, as described above (no file is read yet).
KubeApiOptions InClusterOptions();

// "NS/NAME" or "NAME": the namespace ("" when not given) and the name, each a DNS label
// (RFC 1123: lower-case letters, digits and '-', at most 63); InvalidArgument naming `flag`.
struct NamespacedName {
  std::string ns, name;
};
Result<NamespacedName> ParseNamespacedName(std::string_view text, std::string_view flag);

class KubeApi {
 public:
  explicit KubeApi(KubeApiOptions options) : options_(std::move(options)) {}

  // The namespace of the service account (its `namespace` file, trimmed and checked).
  Result<std::string> Namespace() const;

  // The body of GET /apis/discovery.k8s.io/v1/namespaces/NS/endpointslices?labelSelector=
  // kubernetes.io/service-name=SERVICE (an EndpointSliceList; endpoint_slices.h reads it).
  // `ns` "" = Namespace().
  Result<std::string> ListEndpointSlices(const std::string& ns, const std::string& service) const;

  const KubeApiOptions& options() const { return options_; }

 private:
  // FailedPrecondition unless the API URL is set and https.
  Status CheckApiUrl() const;
  // GET of `path` (starting with '/') with the bearer token; the 200 body.
  Result<std::string> Get(const std::string& path, const std::string& what) const;

  KubeApiOptions options_;
};

}  // namespace modelcar::peer

#endif  // MODELCAR_PEER_KUBE_API_H_
