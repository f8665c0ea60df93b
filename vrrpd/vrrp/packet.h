// VRRP advertisement codec: bytes in, bytes out, no sockets.
//   RFC 3768 (VRRPv2, IPv4 only): checksum over the VRRP message; 8-byte
//     authentication data after the addresses; advert interval in seconds.
//   RFC 5798 (VRRPv3): checksum over the IPv4 or IPv6 pseudo-header plus the
//     message; 12-bit Max Adver Int in centiseconds.
// The IPv4 pseudo-header for v3 can be switched off (keepalived's
// v3_checksum_as_v2) for peers that checksum the message only.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "vrrpd/base/ip_address.h"

namespace vrrpd::vrrp {

inline constexpr std::uint8_t kIpProtoVrrp = 112;
inline constexpr std::uint8_t kTypeAdvertisement = 1;
inline constexpr std::uint8_t kRequiredTtl = 255;  // TTL / hop limit on send and receive
inline constexpr std::uint8_t kPriorityStop = 0;    // "I am leaving": backups take over after skew
inline constexpr std::uint8_t kPriorityOwner = 255; // address owner
inline constexpr std::uint8_t kAuthNone = 0;
inline constexpr std::uint8_t kAuthSimplePassword = 1;  // v2 auth_type PASS
inline constexpr std::size_t kHeaderSize = 8;
inline constexpr std::size_t kV2AuthDataSize = 8;

enum class ChecksumMode {
  kPseudoHeader,  // RFC 5798 (and keepalived's default) for v3 over IPv4
  kMessageOnly,   // v3_checksum_as_v2; ignored for IPv6 and v2
};

struct Advert {
  std::uint8_t version = 3;  // 2 or 3
  std::uint8_t type = kTypeAdvertisement;
  std::uint8_t vrid = 0;
  std::uint8_t priority = 0;
  // v3: Max Adver Int (10 ms steps); v2: Adver Int (whole seconds).
  std::chrono::milliseconds advert_interval{1000};
  std::uint8_t auth_type = kAuthNone;            // v2 only
  std::array<std::uint8_t, kV2AuthDataSize> auth_data{};  // v2 only
  std::vector<IpAddress> addresses;              // all of one family
};

// Builds the VRRP message (no IP header) with its checksum. `src`/`dst` are
// the IP header's addresses, needed for the pseudo-header. The family is that
// of src.
std::vector<std::uint8_t> encode(const Advert& advert, const IpAddress& src, const IpAddress& dst,
                                 ChecksumMode mode);

enum class DecodeError {
  kNone,
  kTooShort,           // shorter than the header or than count_ip says
  kBadVersion,         // not 2 or 3, or v2 over IPv6
  kBadType,            // not an advertisement
  kBadChecksum,
  kBadAddressFamily,   // address count does not fit the payload length for this family
};

const char* decode_error_name(DecodeError e);

struct DecodeResult {
  DecodeError error = DecodeError::kNone;
  Advert advert;
  // With kBadChecksum over v3/IPv4: the other checksum mode would have
  // matched, i.e. the peer disagrees on v3_checksum_as_v2. Lets the log say so.
  bool other_checksum_mode_matches = false;
};

// Parses a VRRP message received from `src` to `dst` (the IP header's
// addresses; the family follows src). Checks version, type, length and
// checksum; semantic checks (VRID, TTL, auth, interval) are the receiver's.
DecodeResult decode(std::span<const std::uint8_t> message, const IpAddress& src,
                    const IpAddress& dst, ChecksumMode mode);

// RFC 1071 Internet checksum of the concatenation of the given byte ranges.
std::uint16_t internet_checksum(std::initializer_list<std::span<const std::uint8_t>> parts);

}  // namespace vrrpd::vrrp
