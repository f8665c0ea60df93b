#include "vrrpd/vrrp/packet.h"

#include <cstring>

namespace vrrpd::vrrp {
namespace {

// Builds the pseudo-header for the checksum: empty for v2 and for v3/IPv4 in
// message-only mode.
std::vector<std::uint8_t> pseudo_header(std::uint8_t version, const IpAddress& src,
                                        const IpAddress& dst, std::size_t length,
                                        ChecksumMode mode) {
  std::vector<std::uint8_t> ph;
  if (version == 2) return ph;
  if (src.is_v4()) {
    if (mode == ChecksumMode::kMessageOnly) return ph;
    // src(4) dst(4) zero(1) protocol(1) length(2)
    ph.insert(ph.end(), src.bytes(), src.bytes() + 4);
    ph.insert(ph.end(), dst.bytes(), dst.bytes() + 4);
    ph.push_back(0);
    ph.push_back(kIpProtoVrrp);
    ph.push_back(static_cast<std::uint8_t>(length >> 8));
    ph.push_back(static_cast<std::uint8_t>(length));
  } else {
    // src(16) dst(16) upper-layer length(4) zero(3) next header(1)
    ph.insert(ph.end(), src.bytes(), src.bytes() + 16);
    ph.insert(ph.end(), dst.bytes(), dst.bytes() + 16);
    ph.push_back(static_cast<std::uint8_t>(length >> 24));
    ph.push_back(static_cast<std::uint8_t>(length >> 16));
    ph.push_back(static_cast<std::uint8_t>(length >> 8));
    ph.push_back(static_cast<std::uint8_t>(length));
    ph.insert(ph.end(), {0, 0, 0, kIpProtoVrrp});
  }
  return ph;
}

std::uint16_t checksum_for(std::span<const std::uint8_t> message, const IpAddress& src,
                           const IpAddress& dst, ChecksumMode mode) {
  auto ph = pseudo_header(message[0] >> 4, src, dst, message.size(), mode);
  return internet_checksum({ph, message});
}

}  // namespace

std::uint16_t internet_checksum(std::initializer_list<std::span<const std::uint8_t>> parts) {
  std::uint32_t sum = 0;
  bool odd = false;  // a part of odd length shifts the next part by one byte
  for (auto part : parts) {
    for (std::uint8_t b : part) {
      sum += odd ? b : static_cast<std::uint32_t>(b) << 8;
      odd = !odd;
    }
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

const char* decode_error_name(DecodeError e) {
  switch (e) {
    case DecodeError::kNone: return "none";
    case DecodeError::kTooShort: return "too short";
    case DecodeError::kBadVersion: return "bad version";
    case DecodeError::kBadType: return "bad type";
    case DecodeError::kBadChecksum: return "bad checksum";
    case DecodeError::kBadAddressFamily: return "address count does not match length";
  }
  return "?";
}

std::vector<std::uint8_t> encode(const Advert& advert, const IpAddress& src, const IpAddress& dst,
                                 ChecksumMode mode) {
  const std::size_t addr_size = src.size();
  std::vector<std::uint8_t> out(kHeaderSize);
  out[0] = static_cast<std::uint8_t>((advert.version << 4) | (advert.type & 0x0f));
  out[1] = advert.vrid;
  out[2] = advert.priority;
  out[3] = static_cast<std::uint8_t>(advert.addresses.size());
  if (advert.version == 2) {
    out[4] = advert.auth_type;
    out[5] = static_cast<std::uint8_t>(advert.advert_interval.count() / 1000);
  } else {
    // 4 reserved bits, then 12 bits of centiseconds.
    auto cs = static_cast<std::uint16_t>((advert.advert_interval.count() / 10) & 0x0fff);
    out[4] = static_cast<std::uint8_t>(cs >> 8);
    out[5] = static_cast<std::uint8_t>(cs);
  }
  for (const auto& a : advert.addresses) out.insert(out.end(), a.bytes(), a.bytes() + addr_size);
  if (advert.version == 2) out.insert(out.end(), advert.auth_data.begin(), advert.auth_data.end());
  std::uint16_t sum = checksum_for(out, src, dst, mode);
  out[6] = static_cast<std::uint8_t>(sum >> 8);
  out[7] = static_cast<std::uint8_t>(sum);
  return out;
}

DecodeResult decode(std::span<const std::uint8_t> message, const IpAddress& src,
                    const IpAddress& dst, ChecksumMode mode) {
  DecodeResult r;
  if (message.size() < kHeaderSize) {
    r.error = DecodeError::kTooShort;
    return r;
  }
  Advert& a = r.advert;
  a.version = message[0] >> 4;
  a.type = message[0] & 0x0f;
  a.vrid = message[1];
  a.priority = message[2];
  const std::size_t count = message[3];
  if (a.version != 2 && a.version != 3) {
    r.error = DecodeError::kBadVersion;
    return r;
  }
  if (a.version == 2 && src.is_v6()) {
    r.error = DecodeError::kBadVersion;
    return r;
  }
  if (a.type != kTypeAdvertisement) {
    r.error = DecodeError::kBadType;
    return r;
  }
  const std::size_t addr_size = src.size();
  const std::size_t needed =
      kHeaderSize + count * addr_size + (a.version == 2 ? kV2AuthDataSize : 0);
  if (message.size() < needed) {
    r.error = DecodeError::kTooShort;
    return r;
  }
  // Trailing bytes beyond the addresses are tolerated only for v2's auth data
  // variants; for v3 a longer message means the count disagrees with the
  // length (for example an IPv4 count in an IPv6 packet).
  if (a.version == 3 && message.size() != needed) {
    r.error = DecodeError::kBadAddressFamily;
    return r;
  }
  const std::uint16_t checksum = checksum_for(message, src, dst, mode);
  if (checksum != 0) {
    r.error = DecodeError::kBadChecksum;
    if (a.version == 3 && src.is_v4()) {
      ChecksumMode other =
          mode == ChecksumMode::kPseudoHeader ? ChecksumMode::kMessageOnly : ChecksumMode::kPseudoHeader;
      r.other_checksum_mode_matches = checksum_for(message, src, dst, other) == 0;
    }
    return r;
  }
  if (a.version == 2) {
    a.auth_type = message[4];
    a.advert_interval = std::chrono::seconds(message[5]);
  } else {
    const unsigned cs = ((message[4] & 0x0f) << 8) | message[5];
    a.advert_interval = std::chrono::milliseconds(cs * 10);
  }
  const std::uint8_t* p = message.data() + kHeaderSize;
  for (std::size_t i = 0; i < count; ++i, p += addr_size)
    a.addresses.push_back(src.is_v4() ? IpAddress::v4_from_bytes(p) : IpAddress::v6_from_bytes(p));
  if (a.version == 2) std::memcpy(a.auth_data.data(), p, kV2AuthDataSize);
  return r;
}

}  // namespace vrrpd::vrrp
