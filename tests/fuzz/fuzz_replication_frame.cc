// libFuzzer target for the replication wire decoder (replication/protocol.h):
// the bytes a peer, or anyone who can reach the replication port before
// authentication (the Hello), sends.
//
// Input: one control byte, then data.
//   bit 0 clear: the data is a TCP stream of frames. decode_frame() walks it
//     frame by frame, and FrameReader reassembles it from chunks of
//     1 + (control >> 4) * 37 bytes; both must agree.
//   bit 0 set: payload mode. Two bytes of frame type (big-endian), then the
//     payload for decode_payload(), which skips the CRCs and the header.
//   bit 1 (stream): rewrite both CRCs of every frame before decoding, so that
//     mutations reach the payload decoders.
//   bits 2-3 (stream): the FrameReader's staging buffer size (16 KiB, 48,
//     64 or 509 bytes), so that short inputs reach its big-frame path.
// Properties: nothing crashes or throws; an error has a message; a decoded
// frame re-encodes to exactly the bytes it came from (the encoding is
// canonical: every reserved byte, flag and length is checked) and decodes
// again to an equal frame; a frame cut short by one byte is never accepted;
// FrameReader yields the same frames and the same error as decode_frame();
// a BitmapChunk's set bits lie inside the chunk and survive re-chunking.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "replication/crc32c.h"
#include "replication/protocol.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace vrrpd::replication;
using namespace vrrpd::replication::wire;

uint32_t get_be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
void put_be32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// Header layout (PROTOCOL.md): payload_length at 20, payload_crc at 24,
// header_crc at 28 over bytes 0..27.
void fix_crcs(std::vector<uint8_t>& s) {
  for (size_t pos = 0; s.size() - pos >= kHeaderSize;) {
    uint8_t* h = s.data() + pos;
    const uint32_t length = get_be32(h + 20);
    const size_t available = std::min<size_t>(length, s.size() - pos - kHeaderSize);
    put_be32(h + 24, crc32c(std::span<const uint8_t>(h + kHeaderSize, available)));
    put_be32(h + 28, crc32c(std::span<const uint8_t>(h, 28)));
    if (length > s.size() - pos - kHeaderSize) break;  // the last, incomplete frame
    pos += kHeaderSize + length;
  }
}

// The set bits of a chunk, relative to offset_bits, as for_each_set_run
// reports them; checks the runs are non-empty, ordered and inside the chunk.
std::vector<bool> expand(const BitmapChunk& c) {
  std::vector<bool> bits(c.bit_count);
  uint64_t next_free = 0;  // runs must start at or after this relative bit
  for_each_set_run(c, [&](uint64_t first, uint64_t count) {
    const uint64_t rel = first - c.offset_bits;  // wraps back for huge offsets
    FUZZ_CHECK(count > 0, "empty set run");
    FUZZ_CHECK(rel >= next_free && rel < c.bit_count && count <= c.bit_count - rel, "run outside the chunk");
    for (uint64_t i = 0; i < count; ++i) bits[rel + i] = true;
    next_free = rel + count;
  });
  return bits;
}

void check_bitmap_chunk(const BitmapChunk& c) {
  // Expanding 2^27 bits per input would make the target too slow to explore.
  if (c.bit_count > (1u << 16)) return;
  const std::vector<bool> bits = expand(c);
  std::vector<uint8_t> packed((c.bit_count + 7) / 8);
  for (uint64_t i = 0; i < c.bit_count; ++i)
    if (bits[i]) packed[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
  const BitmapChunk again = make_bitmap_chunk(c.offset_bits, packed, c.bit_count);
  FUZZ_CHECK(expand(again) == bits, "re-chunked bitmap has other bits");
  // The decoder promises one encoding per bitmap (rle_valid): where both
  // chose run lengths, the bytes must be the same.
  if (c.encoding == BitmapEncoding::kRle && again.encoding == BitmapEncoding::kRle)
    FUZZ_CHECK(again.bytes == c.bytes, "two run-length encodings of one bitmap accepted");
}

void check_message(const Message& m) {
  if (const auto* d = std::get_if<Data>(&m)) {
    FUZZ_CHECK(!d->data.empty() && d->data.size() <= kMaxDataBytes && d->data.size() % kSectorSize == 0 &&
                   d->offset % kSectorSize == 0,
               "Data block out of limits");
  } else if (const auto* r = std::get_if<ResyncReply>(&m)) {
    FUZZ_CHECK(!r->data.empty() && r->data.size() <= kMaxDataBytes && r->data.size() % kSectorSize == 0,
               "ResyncReply block out of limits");
  } else if (const auto* h = std::get_if<Hello>(&m)) {
    FUZZ_CHECK(h->node_name.size() <= kMaxNodeNameBytes && h->min_version >= 1 && h->min_version <= h->max_version,
               "Hello out of limits");
  } else if (const auto* b = std::get_if<BitmapChunk>(&m)) {
    check_bitmap_chunk(*b);
  }
}

void payload_mode(std::span<const uint8_t> in) {
  if (in.size() < 2) return;
  const uint16_t type = static_cast<uint16_t>(in[0] << 8 | in[1]);
  const auto payload = in.subspan(2);
  Message m;
  const DecodeStatus s = decode_payload(type, payload, m);
  if (!s.ok()) {
    FUZZ_CHECK(!s.message().empty(), "error without a message");
    return;
  }
  FUZZ_CHECK(static_cast<uint16_t>(type_of(m)) == type, "decoded as another type");
  check_message(m);
  const std::vector<uint8_t> encoded = encode_payload(m);
  FUZZ_CHECK(std::equal(encoded.begin(), encoded.end(), payload.begin(), payload.end()),
             "payload encoding is not canonical");
  Message again;
  FUZZ_CHECK(decode_payload(type, encoded, again).ok() && again == m, "payload round trip changed the message");
}

void stream_mode(std::span<const uint8_t> s, size_t chunk, size_t staging) {
  std::vector<Frame> frames;
  DecodeStatus end;  // why the walk stopped: kNone at the exact end, kTruncated for a partial frame
  for (size_t pos = 0; pos < s.size();) {
    const auto rest = s.subspan(pos);
    DecodeResult r = decode_frame(rest);
    if (!r.status.ok()) {
      FUZZ_CHECK(!r.status.message().empty(), "error without a message");
      end = r.status;
      break;
    }
    FUZZ_CHECK(r.consumed >= kHeaderSize && r.consumed <= rest.size(), "consumed out of range");
    const auto bytes = rest.first(r.consumed);
    FrameHeader h;
    FUZZ_CHECK(decode_header(bytes, h).ok(), "header of a good frame does not decode");
    // A frame one byte short is truncated: never taken for a whole one.
    FUZZ_CHECK(decode_frame(bytes.first(r.consumed - 1)).status.error == DecodeError::kTruncated,
               "frame short by one byte not reported as truncated");
    check_message(r.frame.message);
    const std::vector<uint8_t> encoded = encode_frame(r.frame, h.version);
    FUZZ_CHECK(std::equal(encoded.begin(), encoded.end(), bytes.begin(), bytes.end()),
               "frame encoding is not canonical");
    DecodeResult again = decode_frame(encoded);
    FUZZ_CHECK(again.status.ok() && again.frame == r.frame && again.consumed == r.consumed,
               "frame round trip changed the frame");
    frames.push_back(std::move(r.frame));
    pos += bytes.size();
  }

  FrameReader reader(2 * kMaxFrameSize, staging);
  std::vector<Frame> read;
  FrameReader::Next last = FrameReader::Next::kNeedMore;
  for (size_t pos = 0; pos < s.size() && last != FrameReader::Next::kError; pos += chunk) {
    FUZZ_CHECK(reader.feed(s.subspan(pos, std::min(chunk, s.size() - pos))), "FrameReader refused a small chunk");
    Frame f;
    while ((last = reader.next(f)) == FrameReader::Next::kFrame) read.push_back(std::move(f));
  }
  FUZZ_CHECK(read == frames, "FrameReader and decode_frame disagree on the frames");
  if (end.ok() || end.error == DecodeError::kTruncated) {
    FUZZ_CHECK(last == FrameReader::Next::kNeedMore, "FrameReader failed where the stream is only incomplete");
  } else {
    FUZZ_CHECK(last == FrameReader::Next::kError && reader.error().error == end.error,
               "FrameReader and decode_frame disagree on the error");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t control = data[0];
  std::vector<uint8_t> in(data + 1, data + size);
  if (control & 1) {
    payload_mode(in);
    return 0;
  }
  if (control & 2) fix_crcs(in);
  // The reader's staging buffer: frames bigger than it take the path of a
  // big Data frame (block read apart from its fields), which only a small
  // buffer lets short inputs reach.
  constexpr size_t kStaging[] = {FrameReader::kStagingBytes, kDataFrameHeadSize, 64, 509};
  stream_mode(in, 1 + static_cast<size_t>(control >> 4) * 37, kStaging[(control >> 2) & 3]);
  return 0;
}
