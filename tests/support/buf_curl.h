#pragma once

// `buf curl` (grpcurl's stand-in, installed by scripts/install-deps.sh) against a unix socket, for
// the tests that run the README's manual walkthroughs with server reflection.

#include <string>
#include <vector>

namespace inplaced::testing {

// Runs `<buf> curl --protocol grpc --http2-prior-knowledge --unix-socket <socket> <args...>` and
// returns its stdout. Adds a gtest failure when buf cannot start or does not exit 0.
std::string RunBufCurl(const std::string& buf, const std::string& socket,
                       const std::vector<std::string>& args);

}  // namespace inplaced::testing
