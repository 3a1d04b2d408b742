#pragma once

// Syntax checks for the names and IDs the control API accepts: the Kubernetes rules for object
// names, container and port names (k8s.io/apimachinery/pkg/util/validation), and the sanity rules
// inplaced applies to runtime container IDs and pod UIDs.
//
// Each Check* function returns OK or INVALID_ARGUMENT whose message describes the rule and quotes
// the offending value, without a field path (the caller prefixes it: "spec.pod_name: <message>").
// Stateless and thread-safe.

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace inplaced::daemon {

// Kubernetes' length limits.
inline constexpr size_t kDns1123LabelMaxLength = 63;
inline constexpr size_t kDns1123SubdomainMaxLength = 253;
inline constexpr size_t kIanaSvcNameMaxLength = 15;
// inplaced's limits for runtime IDs (CRI IDs are 64 hex digits) and pod UIDs (UUIDs: 36
// characters).
inline constexpr size_t kContainerIdMaxLength = 128;
inline constexpr size_t kPodUidMaxLength = 128;

// A DNS-1123 label: 1-63 characters, lowercase alphanumerics or '-', starting and ending with an
// alphanumeric (namespaces, container names).
absl::Status CheckDns1123Label(absl::string_view value);

// A DNS-1123 subdomain: 1-253 characters, one or more DNS-1123 label syntaxes joined by '.' (labels
// are not length-limited individually, as in Kubernetes) (pod names, request names).
absl::Status CheckDns1123Subdomain(absl::string_view value);

// An IANA_SVC_NAME (RFC 6335), as Kubernetes checks port names: 1-15 characters, lowercase
// alphanumerics or '-', at least one letter, no leading, trailing or doubled '-'.
absl::Status CheckIanaSvcName(absl::string_view value);

// A runtime container ID, bare ("3f2a...") or in Kubernetes form ("containerd://3f2a..."): an
// optional scheme of lowercase alphanumerics, '-' or '.', then 1-128 characters of [A-Za-z0-9._-].
absl::Status CheckContainerId(absl::string_view value);

// The bare CRI ID of a container ID accepted by CheckContainerId: "containerd://abc" -> "abc",
// "abc" -> "abc".
absl::string_view BareContainerId(absl::string_view value);

// A pod UID: 1-128 characters of [A-Za-z0-9._-] (Kubernetes UIDs are UUIDs; static pods use 32 hex
// digits).
absl::Status CheckPodUid(absl::string_view value);

// A host for an httpGet/tcpSocket hook: 1-253 characters of [A-Za-z0-9.:_%[]-] (a host name, an
// IPv4 address or an IPv6 address, bracketed or not). Rejects anything that could change the
// meaning of a URL (whitespace, '/', '@', '?', '#').
absl::Status CheckHost(absl::string_view value);

// An HTTP header name: an RFC 9110 token (1 or more of the characters !#$%&'*+-.^_`|~ and
// alphanumerics).
absl::Status CheckHttpHeaderName(absl::string_view value);

// An HTTP header value: no CR, LF or NUL (they would smuggle extra headers into the request).
absl::Status CheckHttpHeaderValue(absl::string_view value);

// An HTTP request path: no whitespace or control characters.
absl::Status CheckHttpPath(absl::string_view value);

}  // namespace inplaced::daemon
