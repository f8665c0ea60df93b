// SHA-256 of a data block; see block_digest.h.
#include "replication/block_digest.h"

#include <openssl/evp.h>

#include <cassert>

namespace vrrpd::replication {

wire::Digest block_digest(std::span<const uint8_t> data) {
  wire::Digest d{};
  unsigned int len = 0;
  const int ok = EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr);
  assert(ok == 1 && len == d.size());
  (void)ok;
  return d;
}

}  // namespace vrrpd::replication
