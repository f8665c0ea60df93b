// Mutation tests of the VRRP advertisement decoder (vrrpd/vrrp/packet.h),
// which reads whatever any host on the LAN sends: valid adverts of every
// kind, corrupted in fixed-seed ways (bit flips, byte overwrites, truncation
// at every length, count_ip grown and shrunk, random suffixes), must be
// rejected or, where accepted, re-encode to an advert that decodes equal.
// The fuzz target tests/fuzz/fuzz_vrrp_packet.cc explores the same
// properties without a fixed budget; this is the part that runs in CI.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "vrrpd/vrrp/packet.h"

namespace vrrpd::vrrp {
namespace {

using Bytes = std::vector<std::uint8_t>;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

// An advert as sent: the message plus the IP header fields the checksum
// covers and the receiver's checksum mode.
struct Sample {
  std::string name;
  Advert advert;
  IpAddress src;
  IpAddress dst;
  ChecksumMode mode;
  Bytes message;
};

std::vector<Sample> samples() {
  Advert v2;
  v2.version = 2;
  v2.vrid = 51;
  v2.priority = 100;
  v2.advert_interval = std::chrono::seconds(1);
  v2.auth_type = kAuthSimplePassword;
  v2.auth_data = {'s', 'e', 'c', 'r', 'e', 't', '!', 0};
  v2.addresses = {ip("192.0.2.10"), ip("192.0.2.11"), ip("198.51.100.7")};
  Advert v3 = v2;
  v3.version = 3;
  v3.auth_type = kAuthNone;
  v3.auth_data = {};
  v3.advert_interval = std::chrono::milliseconds(350);
  Advert v3v6 = v3;
  v3v6.vrid = 1;
  v3v6.priority = kPriorityOwner;
  v3v6.addresses = {ip("2001:db8::10"), ip("fe80::1:2")};
  Advert stop = v3;
  stop.priority = kPriorityStop;
  stop.addresses.clear();
  const IpAddress v4 = ip("192.0.2.1"), v6 = ip("fe80::1");
  const IpAddress g4 = vrrp_multicast_group(Family::kIPv4), g6 = vrrp_multicast_group(Family::kIPv6);
  std::vector<Sample> s = {
      {"v2", v2, v4, g4, ChecksumMode::kPseudoHeader, {}},
      {"v3-ipv4", v3, v4, g4, ChecksumMode::kPseudoHeader, {}},
      {"v3-ipv4-message-only", v3, v4, g4, ChecksumMode::kMessageOnly, {}},
      {"v3-ipv6", v3v6, v6, g6, ChecksumMode::kPseudoHeader, {}},
      {"v3-ipv4-stop-no-address", stop, v4, g4, ChecksumMode::kPseudoHeader, {}},
  };
  for (Sample& x : s) x.message = encode(x.advert, x.src, x.dst, x.mode);
  return s;
}

bool same_advert(const Advert& a, const Advert& b) {
  if (a.version != b.version || a.type != b.type || a.vrid != b.vrid || a.priority != b.priority ||
      a.advert_interval != b.advert_interval || a.addresses != b.addresses)
    return false;
  return a.version != 2 || (a.auth_type == b.auth_type && a.auth_data == b.auth_data);
}

// Writes the checksum that makes `m` verify as the decoder computes it
// (RFC 5798 5.2.8: pseudo-header for v3 unless message-only over IPv4).
void fix_checksum(Bytes& m, const Sample& s) {
  if (m.size() < kHeaderSize) return;
  m[6] = m[7] = 0;
  Bytes ph;
  const bool v2 = (m[0] >> 4) == 2;
  const auto len = static_cast<std::uint32_t>(m.size());
  if (!v2 && s.src.is_v4() && s.mode == ChecksumMode::kPseudoHeader) {
    ph.insert(ph.end(), s.src.bytes(), s.src.bytes() + 4);
    ph.insert(ph.end(), s.dst.bytes(), s.dst.bytes() + 4);
    ph.insert(ph.end(), {0, kIpProtoVrrp, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)});
  } else if (!v2 && s.src.is_v6()) {
    ph.insert(ph.end(), s.src.bytes(), s.src.bytes() + 16);
    ph.insert(ph.end(), s.dst.bytes(), s.dst.bytes() + 16);
    ph.insert(ph.end(), {static_cast<std::uint8_t>(len >> 24), static_cast<std::uint8_t>(len >> 16),
                         static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len), 0, 0, 0, kIpProtoVrrp});
  }
  const std::uint16_t sum = internet_checksum({ph, m});
  m[6] = static_cast<std::uint8_t>(sum >> 8);
  m[7] = static_cast<std::uint8_t>(sum);
}

struct Outcome {
  int accepted = 0;
  int rejected = 0;
};

// Decodes; an error must have a name, an accepted advert must re-encode to a
// message that decodes to the same advert, and re-encoding that is stable.
// Returns the result for further checks.
DecodeResult decode_and_check(const Bytes& m, const Sample& s, Outcome& out) {
  DecodeResult r;
  EXPECT_NO_THROW(r = decode(m, s.src, s.dst, s.mode));
  if (r.error != DecodeError::kNone) {
    ++out.rejected;
    EXPECT_STRNE(decode_error_name(r.error), "?");
    EXPECT_STRNE(decode_error_name(r.error), "");
    return r;
  }
  ++out.accepted;
  EXPECT_EQ(r.advert.addresses.size(), m[3]);
  const Bytes encoded = encode(r.advert, s.src, s.dst, s.mode);
  const DecodeResult again = decode(encoded, s.src, s.dst, s.mode);
  EXPECT_EQ(again.error, DecodeError::kNone) << s.name;
  EXPECT_TRUE(same_advert(again.advert, r.advert)) << s.name;
  EXPECT_EQ(encode(again.advert, s.src, s.dst, s.mode), encoded) << s.name;
  // Canonical but for what the RFCs let a receiver ignore: v3's 4 reserved
  // bits before Max Adver Int, and bytes after v2's authentication data.
  Bytes canonical = m;
  if (r.advert.version == 3) canonical[4] &= 0x0f;
  else canonical.resize(kHeaderSize + m[3] * s.src.size() + kV2AuthDataSize);
  fix_checksum(canonical, s);
  EXPECT_EQ(encoded, canonical) << s.name;
  return r;
}

TEST(PacketMutation, SamplesDecodeToTheirAdverts) {
  for (const Sample& s : samples()) {
    Outcome o;
    const DecodeResult r = decode_and_check(s.message, s, o);
    EXPECT_EQ(o.accepted, 1) << s.name;
    EXPECT_TRUE(same_advert(r.advert, s.advert)) << s.name;
  }
}

TEST(PacketMutation, EveryTruncationIsTooShort) {
  int truncations = 0, too_short = 0;
  for (const Sample& s : samples()) {
    for (std::size_t n = 0; n < s.message.size(); ++n) {
      // With the checksum repaired too, so that it is the length that fails.
      for (bool repair : {false, true}) {
        Bytes m(s.message.begin(), s.message.begin() + static_cast<std::ptrdiff_t>(n));
        if (repair) fix_checksum(m, s);
        ++truncations;
        const DecodeResult r = decode(m, s.src, s.dst, s.mode);
        if (r.error == DecodeError::kTooShort) ++too_short;
        else ADD_FAILURE() << s.name << " cut to " << n << " bytes: " << decode_error_name(r.error);
      }
    }
  }
  EXPECT_EQ(too_short, truncations);
  EXPECT_GT(truncations, 200);
}

// The Internet checksum changes with any single bit, so every flip is
// rejected; most as kBadChecksum, those in version/type/count earlier.
TEST(PacketMutation, EverySingleBitFlipIsRejected) {
  Outcome o;
  int flips = 0, bad_checksum = 0;
  for (const Sample& s : samples()) {
    for (std::size_t bit = 0; bit < s.message.size() * 8; ++bit) {
      Bytes m = s.message;
      m[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      ++flips;
      if (decode_and_check(m, s, o).error == DecodeError::kBadChecksum) ++bad_checksum;
    }
  }
  EXPECT_EQ(o.rejected, flips);
  EXPECT_GT(bad_checksum, flips / 2);
}

// With the checksum repaired, a flip in the version/type byte or in count_ip
// is still caught (v3 needs the exact length; a v2 count may only shrink,
// into the tolerated trailing bytes); a flip anywhere else is another valid
// advert and must round-trip.
TEST(PacketMutation, BitFlipsBehindARepairedChecksumAreCaughtOnlyInTheHeaderFields) {
  Outcome o;
  for (const Sample& s : samples()) {
    for (std::size_t bit = 0; bit < s.message.size() * 8; ++bit) {
      const std::size_t byte = bit / 8;
      if (byte == 6 || byte == 7) continue;  // the checksum itself
      Bytes m = s.message;
      m[byte] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      fix_checksum(m, s);
      const bool v2_count_shrinks = s.advert.version == 2 && byte == 3 && m[3] < s.message[3];
      const bool expect_accept = byte != 0 && (byte != 3 || v2_count_shrinks);
      const DecodeResult r = decode_and_check(m, s, o);
      EXPECT_EQ(r.error == DecodeError::kNone, expect_accept)
          << s.name << " bit " << bit << ": " << decode_error_name(r.error);
    }
  }
  EXPECT_GT(o.accepted, 500);
  EXPECT_GT(o.rejected, 50);
}

// count_ip grown or shrunk by 1..4 with the checksum repaired: v3 fixes the
// length by the count, so every change is refused; v2 refuses a count the
// message cannot hold and reads a smaller one with trailing bytes.
TEST(PacketMutation, CountGrownOrShrunkIsRejectedUnlessV2Shrinks) {
  Outcome o;
  for (const Sample& s : samples()) {
    for (int delta = -4; delta <= 4; ++delta) {
      const int count = s.message[3] + delta;
      if (delta == 0 || count < 0) continue;
      Bytes m = s.message;
      m[3] = static_cast<std::uint8_t>(count);
      fix_checksum(m, s);
      const DecodeResult r = decode_and_check(m, s, o);
      if (s.advert.version == 2 && delta < 0) {
        EXPECT_EQ(r.error, DecodeError::kNone) << s.name << " count " << count;
        EXPECT_EQ(r.advert.addresses.size(), static_cast<std::size_t>(count));
      } else {
        EXPECT_NE(r.error, DecodeError::kNone) << s.name << " count " << count;
        EXPECT_TRUE(r.error == DecodeError::kTooShort || r.error == DecodeError::kBadAddressFamily)
            << decode_error_name(r.error);
      }
    }
  }
  EXPECT_GT(o.rejected, 20);
}

// Random bytes after the message, checksum repaired: v3 refuses them (the
// count disagrees with the length); v2 ignores them and reads the same advert.
TEST(PacketMutation, RandomSuffixesAreRefusedByV3AndIgnoredByV2) {
  std::mt19937 rng(4242);
  int v3_suffixes = 0, v3_refused = 0;
  for (const Sample& s : samples()) {
    for (int i = 0; i < 300; ++i) {
      Bytes m = s.message;
      const std::size_t extra = 1 + rng() % 20;
      for (std::size_t k = 0; k < extra; ++k) m.push_back(static_cast<std::uint8_t>(rng()));
      fix_checksum(m, s);
      Outcome o;
      const DecodeResult r = decode_and_check(m, s, o);
      if (s.advert.version == 3) {
        ++v3_suffixes;
        if (r.error == DecodeError::kBadAddressFamily) ++v3_refused;
      } else {
        ASSERT_EQ(r.error, DecodeError::kNone) << s.name << " with " << extra << " trailing bytes";
        EXPECT_TRUE(same_advert(r.advert, s.advert));
      }
    }
  }
  EXPECT_EQ(v3_refused, v3_suffixes);
  EXPECT_GT(v3_suffixes, 1000);
}

// Random overwrites of 1..3 bytes, half with the checksum repaired, a few
// thousand per sample: never a crash, and whatever is accepted round-trips.
TEST(PacketMutation, RandomByteOverwritesRoundTripOrAreRejected) {
  std::mt19937 rng(31337);
  for (const Sample& s : samples()) {
    Outcome o;
    for (int i = 0; i < 3000; ++i) {
      Bytes m = s.message;
      const int writes = 1 + static_cast<int>(rng() % 3);
      for (int w = 0; w < writes; ++w) m[rng() % m.size()] = static_cast<std::uint8_t>(rng());
      const bool repair = rng() % 2;
      if (repair) fix_checksum(m, s);
      decode_and_check(m, s, o);
    }
    EXPECT_GT(o.accepted, 300) << s.name;
    EXPECT_GT(o.rejected, 300) << s.name;
  }
}

}  // namespace
}  // namespace vrrpd::vrrp
