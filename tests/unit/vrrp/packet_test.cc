// Codec tests against packets whose checksums were computed by hand (the
// arithmetic is in the comments) for VRRPv2, VRRPv3/IPv4 and VRRPv3/IPv6.
#include "vrrpd/vrrp/packet.h"

#include <gtest/gtest.h>

namespace vrrpd::vrrp {
namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

// v2, VRID 51, priority 100, one address 192.0.2.10, 1 s, no auth.
// 16-bit words 2133 6401 0001 c000 020a (auth data is zero):
// 2133+6401=8534, +0001=8535, +c000=14535 -> fold 4536, +020a=4740; ~4740 = b8bf.
const std::vector<std::uint8_t> kV2Packet = {0x21, 0x33, 0x64, 0x01, 0x00, 0x01, 0xb8, 0xbf,
                                             0xc0, 0x00, 0x02, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0};

// v3/IPv4, VRID 51, priority 100, 192.0.2.10, 100 cs, from 192.0.2.1 to 224.0.0.18.
// Message words 3133+6401+0064+c000+020a = 157a2; pseudo-header words
// c000+0201+e000+0012+0070+000c = 1a28f; total 2fa31 -> fa33; ~ = 05cc.
// Message only: 157a2 -> 57a3; ~ = a85c.
const std::vector<std::uint8_t> kV3v4Packet = {0x31, 0x33, 0x64, 0x01, 0x00, 0x64,
                                               0x05, 0xcc, 0xc0, 0x00, 0x02, 0x0a};

// v3/IPv6, VRID 1, priority 255, 2001:db8::10, 100 cs, fe80::1 -> ff02::12.
const std::vector<std::uint8_t> kV3v6Packet = {0x31, 0x01, 0xff, 0x01, 0x00, 0x64, 0xa3, 0xb0,
                                               0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,    0,
                                               0,    0,    0,    0,    0,    0,    0,    0x10};

Advert v2_advert() {
  Advert a;
  a.version = 2;
  a.vrid = 51;
  a.priority = 100;
  a.advert_interval = std::chrono::seconds(1);
  a.addresses = {ip("192.0.2.10")};
  return a;
}

TEST(Packet, EncodesV2AsHandChecked) {
  EXPECT_EQ(encode(v2_advert(), ip("192.0.2.1"), ip("224.0.0.18"), ChecksumMode::kPseudoHeader),
            kV2Packet);
}

TEST(Packet, EncodesV3Ipv4WithPseudoHeader) {
  Advert a;
  a.vrid = 51;
  a.priority = 100;
  a.advert_interval = std::chrono::milliseconds(1000);
  a.addresses = {ip("192.0.2.10")};
  EXPECT_EQ(encode(a, ip("192.0.2.1"), ip("224.0.0.18"), ChecksumMode::kPseudoHeader), kV3v4Packet);
  auto msg_only = encode(a, ip("192.0.2.1"), ip("224.0.0.18"), ChecksumMode::kMessageOnly);
  EXPECT_EQ(msg_only[6], 0xa8);
  EXPECT_EQ(msg_only[7], 0x5c);
}

TEST(Packet, EncodesV3Ipv6) {
  Advert a;
  a.vrid = 1;
  a.priority = 255;
  a.advert_interval = std::chrono::milliseconds(1000);
  a.addresses = {ip("2001:db8::10")};
  EXPECT_EQ(encode(a, ip("fe80::1"), ip("ff02::12"), ChecksumMode::kPseudoHeader), kV3v6Packet);
}

TEST(Packet, DecodesV2) {
  auto r = decode(kV2Packet, ip("192.0.2.1"), ip("224.0.0.18"), ChecksumMode::kPseudoHeader);
  ASSERT_EQ(r.error, DecodeError::kNone);
  EXPECT_EQ(r.advert.version, 2);
  EXPECT_EQ(r.advert.vrid, 51);
  EXPECT_EQ(r.advert.priority, 100);
  EXPECT_EQ(r.advert.advert_interval, std::chrono::seconds(1));
  EXPECT_EQ(r.advert.auth_type, kAuthNone);
  ASSERT_EQ(r.advert.addresses.size(), 1u);
  EXPECT_EQ(r.advert.addresses[0], ip("192.0.2.10"));
}

TEST(Packet, DecodesV3Ipv4AndV6) {
  auto r4 = decode(kV3v4Packet, ip("192.0.2.1"), ip("224.0.0.18"), ChecksumMode::kPseudoHeader);
  ASSERT_EQ(r4.error, DecodeError::kNone);
  EXPECT_EQ(r4.advert.advert_interval, std::chrono::milliseconds(1000));
  EXPECT_EQ(r4.advert.addresses[0], ip("192.0.2.10"));
  auto r6 = decode(kV3v6Packet, ip("fe80::1"), ip("ff02::12"), ChecksumMode::kPseudoHeader);
  ASSERT_EQ(r6.error, DecodeError::kNone);
  EXPECT_EQ(r6.advert.priority, 255);
  EXPECT_EQ(r6.advert.addresses[0], ip("2001:db8::10"));
}

TEST(Packet, V3ChecksumCoversPseudoHeaderSource) {
  // The same bytes from another source fail: the pseudo-header is included.
  auto r = decode(kV3v4Packet, ip("192.0.2.2"), ip("224.0.0.18"), ChecksumMode::kPseudoHeader);
  EXPECT_EQ(r.error, DecodeError::kBadChecksum);
  EXPECT_FALSE(r.other_checksum_mode_matches);
}

TEST(Packet, ReportsChecksumModeDisagreement) {
  // A peer using v3_checksum_as_v2 sends a message-only checksum.
  auto pkt = kV3v4Packet;
  pkt[6] = 0xa8;
  pkt[7] = 0x5c;
  auto r = decode(pkt, ip("192.0.2.1"), ip("224.0.0.18"), ChecksumMode::kPseudoHeader);
  EXPECT_EQ(r.error, DecodeError::kBadChecksum);
  EXPECT_TRUE(r.other_checksum_mode_matches);
  auto ok = decode(pkt, ip("192.0.2.1"), ip("224.0.0.18"), ChecksumMode::kMessageOnly);
  EXPECT_EQ(ok.error, DecodeError::kNone);
}

TEST(Packet, RejectsCorruptedByte) {
  auto pkt = kV3v6Packet;
  pkt[2] = 0xfe;  // priority changed in flight
  EXPECT_EQ(decode(pkt, ip("fe80::1"), ip("ff02::12"), ChecksumMode::kPseudoHeader).error,
            DecodeError::kBadChecksum);
}

TEST(Packet, RejectsBadVersionTypeAndLength) {
  auto pkt = kV3v4Packet;
  pkt[0] = 0x41;
  EXPECT_EQ(decode(pkt, ip("192.0.2.1"), ip("224.0.0.18"), ChecksumMode::kPseudoHeader).error,
            DecodeError::kBadVersion);
  pkt[0] = 0x32;
  EXPECT_EQ(decode(pkt, ip("192.0.2.1"), ip("224.0.0.18"), ChecksumMode::kPseudoHeader).error,
            DecodeError::kBadType);
  std::vector<std::uint8_t> short_pkt(kV3v4Packet.begin(), kV3v4Packet.begin() + 10);
  EXPECT_EQ(decode(short_pkt, ip("192.0.2.1"), ip("224.0.0.18"), ChecksumMode::kPseudoHeader).error,
            DecodeError::kTooShort);
  std::vector<std::uint8_t> tiny(kV3v4Packet.begin(), kV3v4Packet.begin() + 4);
  EXPECT_EQ(decode(tiny, ip("192.0.2.1"), ip("224.0.0.18"), ChecksumMode::kPseudoHeader).error,
            DecodeError::kTooShort);
  // v2 is IPv4 only.
  EXPECT_EQ(decode(kV2Packet, ip("fe80::1"), ip("ff02::12"), ChecksumMode::kPseudoHeader).error,
            DecodeError::kBadVersion);
}

TEST(Packet, RejectsCountThatDisagreesWithLength) {
  // An IPv4-sized count in an IPv6 packet: 4 bytes of address where 16 are needed.
  auto pkt = kV3v4Packet;
  EXPECT_EQ(decode(pkt, ip("fe80::1"), ip("ff02::12"), ChecksumMode::kPseudoHeader).error,
            DecodeError::kTooShort);
  pkt.push_back(0);
  pkt.push_back(0);
  pkt.push_back(0);
  pkt.push_back(0);
  EXPECT_EQ(decode(pkt, ip("192.0.2.1"), ip("224.0.0.18"), ChecksumMode::kPseudoHeader).error,
            DecodeError::kBadAddressFamily);
}

TEST(Packet, RoundTripsManyAddressesAndMaxInterval) {
  Advert a;
  a.vrid = 255;
  a.priority = 1;
  a.advert_interval = std::chrono::milliseconds(40950);  // 4095 cs, the 12-bit maximum
  for (int i = 1; i <= 20; ++i) a.addresses.push_back(ip(("2001:db8::" + std::to_string(i)).c_str()));
  auto bytes = encode(a, ip("fe80::2"), ip("ff02::12"), ChecksumMode::kPseudoHeader);
  auto r = decode(bytes, ip("fe80::2"), ip("ff02::12"), ChecksumMode::kPseudoHeader);
  ASSERT_EQ(r.error, DecodeError::kNone);
  EXPECT_EQ(r.advert.advert_interval, std::chrono::milliseconds(40950));
  EXPECT_EQ(r.advert.addresses, a.addresses);
}

TEST(Packet, V2PasswordRoundTrips) {
  Advert a = v2_advert();
  a.auth_type = kAuthSimplePassword;
  a.auth_data = {'s', 'e', 'c', 'r', 'e', 't', 0, 0};
  auto bytes = encode(a, ip("192.0.2.1"), ip("224.0.0.18"), ChecksumMode::kPseudoHeader);
  auto r = decode(bytes, ip("192.0.2.1"), ip("224.0.0.18"), ChecksumMode::kPseudoHeader);
  ASSERT_EQ(r.error, DecodeError::kNone);
  EXPECT_EQ(r.advert.auth_type, kAuthSimplePassword);
  EXPECT_EQ(r.advert.auth_data, a.auth_data);
}

}  // namespace
}  // namespace vrrpd::vrrp
