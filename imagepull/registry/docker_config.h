#pragma once

// Pull secrets given as docker config JSON, and the keyring that picks the credentials for an image
// the way kubelet's credential keyring does.
//
// Accepted forms (kubernetes.io/dockerconfigjson and the legacy kubernetes.io/dockercfg):
//   {"auths": {"<key>": {"auth": "<base64 user:pass>", "username": "...", "password": "...",
//                        "identitytoken": "...", "registrytoken": "...", "email": "..."}}}
//   {"<key>": {...same entry...}}
// Other top-level members ("credHelpers", "HttpHeaders", ...) are ignored.
//
// Secrets never reach logs, statuses or error messages: errors name the secret by its index and the
// registry key, never a field value; RegistryCredential prints only its server and which fields are
// set.

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "imagepull/registry/image_reference.h"

namespace inplaced::imagepull {

// One registry credential from a pull secret: the fields of the CRI AuthConfig.
struct RegistryCredential {
  std::string username;
  std::string password;
  std::string auth;  // base64("user:pass") as given; username/password then hold its decoded parts
  std::string identity_token;
  std::string registry_token;
  std::string server_address;  // the registry key of the secret entry, as written

  // True when no credential field (username .. registry_token) is set.
  bool empty() const;
  // "RegistryCredential{server=\"reg.io\" set=[username,password,auth]}": never a secret value.
  std::string DebugString() const;

  friend bool operator==(const RegistryCredential& a, const RegistryCredential& b) {
    return a.username == b.username && a.password == b.password && a.auth == b.auth &&
           a.identity_token == b.identity_token && a.registry_token == b.registry_token &&
           a.server_address == b.server_address;
  }
};

// Prints DebugString(); gtest uses it too, so failing tests do not print secrets either.
std::ostream& operator<<(std::ostream& os, const RegistryCredential& credential);

// A normalised registry key: "https://Reg.IO:5000/team/v2/" -> host "reg.io", port "5000", path
// "team". Docker Hub aliases (index.docker.io, registry-1.docker.io, "https://index.docker.io/v1/")
// become host "docker.io". The host may hold '*' / '?' wildcards, each within one dot-separated
// component ("*.example.com").
struct RegistryKey {
  std::string host;  // lowercase, without port; "[::1]" for IPv6
  std::string port;  // empty when the key names none
  std::string path;  // without leading or trailing '/', empty for the whole registry

  // host[:port][/path]; its length is the key's specificity.
  std::string ToString() const;
  // kubelet's rule: the hosts have the same number of components and each matches (wildcards
  // allowed in the key), the ports are equal (a key without a port matches only images without
  // one), and the key's path is the image's repository path or a prefix of it that ends at a '/'.
  bool Matches(const ImageReference& image) const;
};

// Parses a key: optional "https://" or "http://" scheme (dropped), host, optional ":port", optional
// path; a trailing "/v1/" or "/v2/" is dropped. INVALID_ARGUMENT for an empty host or a bad port.
absl::StatusOr<RegistryKey> ParseRegistryKey(absl::string_view key);

// Parses one docker config JSON into its credentials, in key order. Entries without any credential
// field (only "email", say) are skipped. INVALID_ARGUMENT, never quoting a value, for: not valid
// JSON; a top level or "auths" that is not an object; an entry that is not an object; a field that
// is not a string; "auth" that is not base64 or does not decode to "<user>:<password>"; a bad key.
absl::StatusOr<std::vector<RegistryCredential>> ParseDockerConfig(absl::string_view json);

// The credentials of several pull secrets, looked up by image. Immutable after construction;
// thread-safe for concurrent Lookup calls; copyable.
class CredentialKeyring {
 public:
  // An empty keyring: every lookup is anonymous.
  CredentialKeyring() = default;

  // Builds a keyring from docker config JSON secrets, in order. An invalid secret fails the whole
  // build: INVALID_ARGUMENT "pull secret <index>: <problem>" (the index is 0-based).
  static absl::StatusOr<CredentialKeyring> FromDockerConfigs(absl::Span<const std::string> secrets);

  // Every credential whose key matches `image`, most specific key first (longest host[:port]/path;
  // ties: a key without wildcards first, then secret order, then key order). Identical credentials
  // matched through several keys are returned once, at their most specific position. Empty when
  // nothing matches: the caller then pulls anonymously (and after every credential has failed).
  //
  // Unlike kubelet, which orders per secret, the order is global across secrets, so a secret for
  // "reg.io/team" is tried before another secret's "reg.io".
  std::vector<RegistryCredential> Lookup(const ImageReference& image) const;

  // Number of credential entries held.
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    RegistryKey key;
    RegistryCredential credential;
  };
  std::vector<Entry> entries_;  // in secret order, then key order
};

}  // namespace inplaced::imagepull
