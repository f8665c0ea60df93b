// SHA-256 of a data block, for checksum-based resync (ChecksumReply) and
// online verify (VerifyReply): both sides hash their copy of a block and only
// the 32-byte digests cross the link.
#pragma once

#include <cstdint>
#include <span>

#include "replication/protocol.h"

namespace vrrpd::replication {

// SHA-256 of `data` (OpenSSL).
wire::Digest block_digest(std::span<const uint8_t> data);

}  // namespace vrrpd::replication
