// libFuzzer target for the VRRP advertisement decoder (vrrpd/vrrp/packet.h):
// the bytes any host on the LAN can send to 224.0.0.18 / ff02::12.
//
// Input: one control byte, then the VRRP message.
//   bit 0: source family IPv6 (fe80::1 -> ff02::12), else IPv4
//          (192.0.2.1 -> 224.0.0.18)
//   bit 1: ChecksumMode::kMessageOnly, else kPseudoHeader
//   bit 2: write a correct checksum into bytes 6-7 before decoding, so that
//          mutations reach the code behind the checksum check
// Properties: decode never crashes; an error has a name; a decoded advert
// re-encodes to a message that decodes to the same advert, and re-encoding
// is canonical (the second encoding equals the first).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "vrrpd/vrrp/packet.h"

namespace {

using namespace vrrpd;
using namespace vrrpd::vrrp;

bool same_advert(const Advert& a, const Advert& b) {
  if (a.version != b.version || a.type != b.type || a.vrid != b.vrid || a.priority != b.priority ||
      a.advert_interval != b.advert_interval || a.addresses != b.addresses)
    return false;
  // Authentication fields exist only in v2.
  return a.version != 2 || (a.auth_type == b.auth_type && a.auth_data == b.auth_data);
}

// Puts a checksum into bytes 6-7 that makes the message verify, computed as
// the decoder does (pseudo-header unless v2 or message-only over IPv4).
void fix_checksum(std::vector<std::uint8_t>& m, const IpAddress& src, const IpAddress& dst,
                  ChecksumMode mode) {
  if (m.size() < kHeaderSize) return;
  m[6] = m[7] = 0;
  std::vector<std::uint8_t> ph;
  const bool v2 = (m[0] >> 4) == 2;
  if (!v2 && src.is_v4() && mode == ChecksumMode::kPseudoHeader) {
    ph.insert(ph.end(), src.bytes(), src.bytes() + 4);
    ph.insert(ph.end(), dst.bytes(), dst.bytes() + 4);
    ph.insert(ph.end(), {0, kIpProtoVrrp, static_cast<std::uint8_t>(m.size() >> 8),
                         static_cast<std::uint8_t>(m.size())});
  } else if (!v2 && src.is_v6()) {
    ph.insert(ph.end(), src.bytes(), src.bytes() + 16);
    ph.insert(ph.end(), dst.bytes(), dst.bytes() + 16);
    ph.insert(ph.end(), {static_cast<std::uint8_t>(m.size() >> 24), static_cast<std::uint8_t>(m.size() >> 16),
                         static_cast<std::uint8_t>(m.size() >> 8), static_cast<std::uint8_t>(m.size()), 0, 0, 0,
                         kIpProtoVrrp});
  }
  const std::uint16_t sum = internet_checksum({ph, m});
  m[6] = static_cast<std::uint8_t>(sum >> 8);
  m[7] = static_cast<std::uint8_t>(sum);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t control = data[0];
  const bool v6 = control & 1;
  const ChecksumMode mode = (control & 2) ? ChecksumMode::kMessageOnly : ChecksumMode::kPseudoHeader;
  const IpAddress src = *IpAddress::parse(v6 ? "fe80::1" : "192.0.2.1");
  const IpAddress dst = vrrp_multicast_group(v6 ? Family::kIPv6 : Family::kIPv4);
  std::vector<std::uint8_t> message(data + 1, data + size);
  if (control & 4) fix_checksum(message, src, dst, mode);

  const DecodeResult first = decode(message, src, dst, mode);
  if (first.error != DecodeError::kNone) {
    const char* name = decode_error_name(first.error);
    FUZZ_CHECK(name != nullptr && std::strcmp(name, "?") != 0 && *name != '\0', "error without a name");
    return 0;
  }
  const Advert& a = first.advert;
  FUZZ_CHECK(a.version == 2 || a.version == 3, "accepted an unknown version");
  FUZZ_CHECK(a.type == kTypeAdvertisement, "accepted a type other than advertisement");
  FUZZ_CHECK(a.addresses.size() == message[3], "address count differs from count_ip");
  for (const IpAddress& addr : a.addresses) FUZZ_CHECK(addr.family() == src.family(), "address of the wrong family");
  // v3 is exact; v2 may carry trailing bytes after the auth data.
  FUZZ_CHECK(a.version == 2 || message.size() == kHeaderSize + a.addresses.size() * src.size(),
             "v3 message length differs from its count");

  const std::vector<std::uint8_t> encoded = encode(a, src, dst, mode);
  const DecodeResult second = decode(encoded, src, dst, mode);
  FUZZ_CHECK(second.error == DecodeError::kNone, "re-encoded advert does not decode");
  FUZZ_CHECK(same_advert(a, second.advert), "round trip changed the advert");
  FUZZ_CHECK(encode(second.advert, src, dst, mode) == encoded, "encoding is not canonical");
  return 0;
}
