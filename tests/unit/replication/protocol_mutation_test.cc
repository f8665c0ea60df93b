// Mutation tests of the replication wire decoder (replication/protocol.h):
// valid frames of every type, corrupted in fixed-seed ways (bit flips, byte
// overwrites, truncation at every length, length fields grown and shrunk,
// random suffixes), must be rejected with a message or, where the decoder
// accepts them, re-encode to the very same bytes. The fuzz target
// tests/fuzz/fuzz_replication_frame.cc explores the same properties without
// a fixed budget; this is the part that runs in CI.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "replication/crc32c.h"
#include "replication/protocol.h"
#include "tests/unit/replication/protocol_samples.h"

namespace vrrpd::replication::wire {
namespace {

using Bytes = std::vector<uint8_t>;

// Offsets in the 32-byte header (PROTOCOL.md).
constexpr size_t kPayloadLengthOffset = 20;
constexpr size_t kPayloadCrcOffset = 24;
constexpr size_t kHeaderCrcOffset = 28;

// One message of every type (protocol_samples.h), with a one-sector Data
// so that flipping every bit stays fast, and a raw BitmapChunk besides the
// run-length one (3 padding bits).
std::vector<Message> one_of_each() {
  std::vector<Message> all = testing::one_of_each_message(kSectorSize);
  all.push_back(make_bitmap_chunk(64, Bytes{0x5A, 0x3C}, 13));
  return all;
}

std::vector<Bytes> frames_of_each() {
  std::vector<Bytes> frames;
  uint64_t sequence = 1000;
  for (const Message& m : one_of_each()) frames.push_back(encode_frame(Frame{sequence++, m}, kProtocolVersion));
  return frames;
}

uint32_t get_be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
void put_be32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// Rewrites both CRCs after a mutation, so that it reaches the field checks
// behind them. The payload CRC covers what the (maybe mutated) length says,
// as far as there are bytes.
void reseal(Bytes& f) {
  if (f.size() < kHeaderSize) return;
  const size_t length = std::min<size_t>(get_be32(&f[kPayloadLengthOffset]), f.size() - kHeaderSize);
  put_be32(&f[kPayloadCrcOffset], crc32c(std::span<const uint8_t>(f).subspan(kHeaderSize, length)));
  put_be32(&f[kHeaderCrcOffset], crc32c(std::span<const uint8_t>(f).first(kHeaderCrcOffset)));
}

// Tallies of a batch of mutated frames; the checks of every decode are in
// decode_and_check().
struct Outcome {
  int accepted = 0;
  int rejected = 0;
  std::set<DecodeError> errors;
};

// Decodes `bytes`; an error must say what it is, and an accepted frame must
// re-encode to exactly the bytes it came from and decode to itself again.
void decode_and_check(const Bytes& bytes, Outcome& out) {
  DecodeResult r;
  ASSERT_NO_THROW(r = decode_frame(bytes));
  if (!r.status.ok()) {
    ++out.rejected;
    out.errors.insert(r.status.error);
    EXPECT_FALSE(r.status.message().empty());
    EXPECT_NE(r.status.message(), "ok");
    EXPECT_EQ(r.consumed, 0u);
    return;
  }
  ++out.accepted;
  ASSERT_GE(r.consumed, kHeaderSize);
  ASSERT_LE(r.consumed, bytes.size());
  FrameHeader h;
  ASSERT_TRUE(decode_header(bytes, h).ok());
  const Bytes encoded = encode_frame(r.frame, h.version);
  EXPECT_EQ(encoded, Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(r.consumed)))
      << to_string(type_of(r.frame.message)) << " frame accepted in a non-canonical encoding";
  const DecodeResult again = decode_frame(encoded);
  ASSERT_TRUE(again.status.ok()) << again.status.message();
  EXPECT_EQ(again.frame, r.frame);
}

TEST(ProtocolMutation, SamplesCoverEveryFrameType) {
  std::set<size_t> indices;
  for (const Message& m : one_of_each()) indices.insert(m.index());
  EXPECT_EQ(indices.size(), std::variant_size_v<Message>);
  for (const Bytes& f : frames_of_each()) {
    Outcome o;
    decode_and_check(f, o);
    EXPECT_EQ(o.accepted, 1);
  }
}

TEST(ProtocolMutation, EveryTruncationIsReportedAsTruncated) {
  int truncations = 0, reported = 0;
  for (const Bytes& f : frames_of_each()) {
    for (size_t n = 0; n < f.size(); ++n) {
      const Bytes cut(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
      ++truncations;
      const DecodeResult r = decode_frame(cut);
      if (r.status.error == DecodeError::kTruncated) ++reported;
      else ADD_FAILURE() << "frame cut to " << n << " of " << f.size() << " bytes: " << r.status.message();
      // The stream reader waits for the rest instead of failing or yielding.
      FrameReader reader;
      ASSERT_TRUE(reader.feed(cut));
      Frame out;
      EXPECT_EQ(reader.next(out), FrameReader::Next::kNeedMore) << n << " of " << f.size();
    }
  }
  EXPECT_EQ(reported, truncations);
  EXPECT_GT(truncations, 2000);
}

// CRC32C catches every single-bit error; the header fields before the CRC
// check (magic) catch theirs first. Not one flip may get through.
TEST(ProtocolMutation, EverySingleBitFlipIsRejected) {
  Outcome o;
  int flips = 0;
  for (const Bytes& f : frames_of_each()) {
    for (size_t bit = 0; bit < f.size() * 8; ++bit) {
      Bytes m = f;
      m[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      ++flips;
      decode_and_check(m, o);
    }
  }
  EXPECT_EQ(o.accepted, 0);
  EXPECT_EQ(o.rejected, flips);
  EXPECT_TRUE(o.errors.count(DecodeError::kBadMagic));
  EXPECT_TRUE(o.errors.count(DecodeError::kBadHeaderCrc));
  EXPECT_TRUE(o.errors.count(DecodeError::kBadPayloadCrc));
}

// With the CRCs rewritten the flips reach the field checks: some become
// other valid frames (a flipped offset, node id or digest byte), which must
// then re-encode byte for byte; the others are caught by a field check.
TEST(ProtocolMutation, BitFlipsBehindResealedCrcsRoundTripOrAreRejected) {
  Outcome o;
  for (const Bytes& f : frames_of_each()) {
    for (size_t bit = 0; bit < f.size() * 8; ++bit) {
      if (bit / 8 >= kPayloadCrcOffset && bit / 8 < kHeaderSize) continue;  // the CRCs themselves
      Bytes m = f;
      m[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      reseal(m);
      decode_and_check(m, o);
    }
  }
  EXPECT_GT(o.accepted, 1000);
  EXPECT_GT(o.rejected, 1000);
  for (DecodeError e : {DecodeError::kBadMagic, DecodeError::kUnsupportedVersion, DecodeError::kUnknownType,
                        DecodeError::kReservedNonZero, DecodeError::kBadField, DecodeError::kTruncated,
                        DecodeError::kPayloadLengthMismatch})
    EXPECT_TRUE(o.errors.count(e)) << "no flip was caught as " << to_string(e);
}

// The header's payload length grown or shrunk by 1..8 bytes (with bytes
// added so that a grown frame is complete): every payload is checked for its
// exact length, so no such frame is accepted.
TEST(ProtocolMutation, PayloadLengthGrownOrShrunkIsRejected) {
  std::mt19937 rng(20240611);
  Outcome o;
  int mutations = 0;
  for (const Bytes& f : frames_of_each()) {
    const uint32_t length = get_be32(&f[kPayloadLengthOffset]);
    for (int delta = -8; delta <= 8; ++delta) {
      if (delta == 0 || (delta < 0 && static_cast<uint32_t>(-delta) > length)) continue;
      Bytes m = f;
      put_be32(&m[kPayloadLengthOffset], length + static_cast<uint32_t>(delta));
      for (int i = 0; i < delta; ++i) m.push_back(static_cast<uint8_t>(rng()));
      reseal(m);
      ++mutations;
      decode_and_check(m, o);
    }
  }
  EXPECT_EQ(o.accepted, 0);
  EXPECT_EQ(o.rejected, mutations);
  EXPECT_EQ(o.errors, (std::set<DecodeError>{DecodeError::kPayloadLengthMismatch, DecodeError::kBadField}));
}

// Bytes after a payload's last field: every payload type has an exact length
// (a Data block's length field, a bitmap's bit count), so a suffix of any
// length or content is refused, never ignored.
TEST(ProtocolMutation, RandomPayloadSuffixesAreRejected) {
  std::mt19937 rng(7);
  int suffixes = 0, rejected = 0;
  for (const Message& msg : one_of_each()) {
    const Bytes payload = encode_payload(msg);
    const uint16_t type = static_cast<uint16_t>(type_of(msg));
    for (int i = 0; i < 100; ++i) {
      Bytes m = payload;
      const size_t extra = 1 + rng() % 16;
      for (size_t k = 0; k < extra; ++k) m.push_back(static_cast<uint8_t>(rng()));
      Message out;
      const DecodeStatus s = decode_payload(type, m, out);
      ++suffixes;
      if (!s.ok()) ++rejected;
      else ADD_FAILURE() << to_string(type_of(msg)) << " accepted " << extra << " trailing bytes";
      EXPECT_FALSE(s.message().empty());
    }
  }
  EXPECT_EQ(rejected, suffixes);
}

// Random overwrites of 1..4 bytes anywhere in the frame, CRCs rewritten, a
// few thousand per frame type: whatever the decoder accepts round-trips.
TEST(ProtocolMutation, RandomByteOverwritesRoundTripOrAreRejected) {
  std::mt19937 rng(12345);
  Outcome o;
  for (const Bytes& f : frames_of_each()) {
    Outcome per_frame;
    for (int i = 0; i < 2000; ++i) {
      Bytes m = f;
      const int writes = 1 + static_cast<int>(rng() % 4);
      for (int w = 0; w < writes; ++w) {
        // Half of the writes go to the header, where the fields are dense.
        const size_t at = (rng() % 2) ? rng() % kHeaderSize : rng() % m.size();
        m[at] = static_cast<uint8_t>(rng());
      }
      reseal(m);
      decode_and_check(m, per_frame);
    }
    EXPECT_GT(per_frame.rejected, 0) << to_string(static_cast<FrameType>(get_be32(&f[4]) & 0xffff));
    o.accepted += per_frame.accepted;
    o.rejected += per_frame.rejected;
  }
  EXPECT_GT(o.accepted, 1000);
  EXPECT_GT(o.rejected, 10000);
}

// A stream of every frame, one mutated at random, fed in random chunk sizes:
// FrameReader yields exactly the frames before the damage, then the error
// decode_frame() reports for the damaged one, or the same frames in full.
TEST(ProtocolMutation, FrameReaderStopsAtTheFirstDamagedFrame) {
  std::mt19937 rng(99);
  const std::vector<Bytes> frames = frames_of_each();
  for (int round = 0; round < 200; ++round) {
    const size_t damaged = rng() % frames.size();
    Bytes stream;
    std::vector<Frame> expected;
    DecodeStatus expected_error;
    for (size_t i = 0; i < frames.size(); ++i) {
      Bytes f = frames[i];
      if (i == damaged) {
        f[rng() % f.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
        if (rng() % 2) reseal(f);
      }
      stream.insert(stream.end(), f.begin(), f.end());
    }
    // What the frame-by-frame decoder makes of the stream.
    for (size_t pos = 0; pos < stream.size();) {
      DecodeResult r = decode_frame(std::span<const uint8_t>(stream).subspan(pos));
      if (!r.status.ok()) {
        expected_error = r.status;
        break;
      }
      pos += r.consumed;
      expected.push_back(std::move(r.frame));
    }
    FrameReader reader;
    std::vector<Frame> read;
    FrameReader::Next last = FrameReader::Next::kNeedMore;
    for (size_t pos = 0; pos < stream.size() && last != FrameReader::Next::kError;) {
      const size_t chunk = std::min<size_t>(1 + rng() % 200, stream.size() - pos);
      ASSERT_TRUE(reader.feed(std::span<const uint8_t>(stream).subspan(pos, chunk)));
      pos += chunk;
      Frame out;
      while ((last = reader.next(out)) == FrameReader::Next::kFrame) read.push_back(std::move(out));
    }
    EXPECT_EQ(read, expected) << "round " << round;
    if (expected_error.ok() || expected_error.error == DecodeError::kTruncated) {
      EXPECT_EQ(last, FrameReader::Next::kNeedMore) << "round " << round;
    } else {
      EXPECT_EQ(last, FrameReader::Next::kError) << "round " << round;
      EXPECT_EQ(reader.error().error, expected_error.error) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace vrrpd::replication::wire
