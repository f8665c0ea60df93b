// Tests of the replication wire codec (replication/protocol.h): every frame
// type round-trips, the header sits at the offsets PROTOCOL.md documents,
// every decode error is reported precisely, FrameReader reassembles frames
// from arbitrary TCP chunks with bounded memory, and bitmap chunks encode.
#include "replication/protocol.h"

#include <gtest/gtest.h>

#include <set>

#include "replication/crc32c.h"
#include "tests/unit/replication/protocol_samples.h"

namespace vrrpd::replication::wire {
namespace {

using testing::filled;

std::vector<Message> one_of_each() { return testing::one_of_each_message(); }

// Rewrites the header CRC after a test has patched header bytes, so the
// decoder gets past the CRC check to the check under test.
void reseal(std::vector<uint8_t>& f) {
  uint32_t c = crc32c(std::span<const uint8_t>(f).first(28));
  for (int i = 0; i < 4; ++i) f[28 + i] = static_cast<uint8_t>(c >> (24 - 8 * i));
}

std::vector<uint8_t> raw(uint16_t type, std::vector<uint8_t> payload, uint16_t version = 1) {
  FrameHeader h;
  h.version = version;
  h.type = type;
  h.sequence = 5;
  return encode_raw_frame(h, payload);
}

DecodeError error_of(const std::vector<uint8_t>& bytes) { return decode_frame(bytes).status.error; }

TEST(ProtocolCodec, EveryFrameTypeRoundTrips) {
  std::set<FrameType> seen;
  uint64_t seq = 1000;
  for (const Message& m : one_of_each()) {
    SCOPED_TRACE(to_string(type_of(m)));
    Frame f{seq++, m};
    std::vector<uint8_t> bytes = encode_frame(f);
    DecodeResult r = decode_frame(bytes);
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    EXPECT_EQ(r.consumed, bytes.size());
    EXPECT_EQ(r.frame, f);
    seen.insert(type_of(m));
  }
  // The sample must cover every alternative, or a new type would go untested.
  EXPECT_EQ(seen.size(), std::variant_size_v<Message>);
}

TEST(ProtocolCodec, HeaderFieldsAreBigEndianAtDocumentedOffsets) {
  std::vector<uint8_t> f = encode_frame({0x0102030405060708, DataAck{0x1122334455667788,
                                                                     AckKind::kWritten}}, 1);
  ASSERT_EQ(f.size(), kHeaderSize + 12);
  const std::vector<uint8_t> head(f.begin(), f.begin() + 24);
  EXPECT_EQ(head, (std::vector<uint8_t>{0x56, 0x52, 0x45, 0x50,  // magic "VREP"
                                        0x00, 0x01,              // version 1
                                        0x00, 17,                // type DataAck
                                        0x00, 0x00, 0x00, 0x00,  // flags, reserved
                                        1, 2, 3, 4, 5, 6, 7, 8,  // sequence
                                        0x00, 0x00, 0x00, 12}));  // payload length
  auto span = std::span<const uint8_t>(f);
  uint32_t payload_crc = crc32c(span.subspan(32));
  uint32_t header_crc = crc32c(span.first(28));
  EXPECT_EQ(f[24], payload_crc >> 24);
  EXPECT_EQ(f[27], payload_crc & 0xFF);
  EXPECT_EQ(f[28], header_crc >> 24);
  EXPECT_EQ(f[31], header_crc & 0xFF);
  // DataAck payload: sequence u64, kind u8, 3 reserved bytes.
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 32, f.end()),
            (std::vector<uint8_t>{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 2, 0, 0, 0}));
}

TEST(ProtocolCodec, PayloadSizesMatchTheDocumentedTable) {
  // PROTOCOL.md's "Frame types" table; variable parts set to known sizes.
  auto size = [](const Message& m) { return encode_payload(m).size(); };
  Hello h;
  h.node_name = "abc";
  EXPECT_EQ(size(h), 58u + 3);
  EXPECT_EQ(size(AuthChallenge{}), 32u);
  EXPECT_EQ(size(AuthResponse{}), 32u);
  EXPECT_EQ(size(AuthResult{false, "ab"}), 4u + 2);
  EXPECT_EQ(size(Data{0, 0, filled(512, 0)}), 16u + 512);
  EXPECT_EQ(size(DataAck{}), 12u);
  EXPECT_EQ(size(Barrier{}), 4u);
  EXPECT_EQ(size(BarrierAck{}), 8u);
  EXPECT_EQ(size(BitmapChunk{0, 8, BitmapEncoding::kRaw, {0}}), 20u + 1);
  EXPECT_EQ(size(ResyncRequest{}), 16u);
  EXPECT_EQ(size(ResyncReply{0, filled(512, 0)}), 12u + 512);
  EXPECT_EQ(size(ChecksumReply{}), 44u);
  EXPECT_EQ(size(VerifyRequest{}), 12u);
  EXPECT_EQ(size(VerifyReply{}), 44u);
  EXPECT_EQ(size(VerifyEnd{}), 16u);
  EXPECT_EQ(size(StateChange{}), 4u);
  EXPECT_EQ(size(Ping{}), 0u);
  EXPECT_EQ(size(PingAck{}), 0u);
  EXPECT_EQ(size(Disconnect{DisconnectCode::kShutdown, "x"}), 4u + 1);
  EXPECT_EQ(size(ResizeRequest{}), 16u);
  EXPECT_EQ(size(ResizeReply{4096, "ab"}), 10u + 2);
  EXPECT_EQ(size(SyncPause{}), 4u);
  EXPECT_EQ(size(SkipInitialSync{}), 8u);
  EXPECT_EQ(size(Discard{}), 16u);
  EXPECT_EQ(size(PullAhead{}), 8u);
  EXPECT_EQ(size(ResizeWithOptions{}), 24u);
  EXPECT_EQ(size(NewGeneration{}), 32u);
}

TEST(ProtocolCodec, DataPayloadLayout) {
  std::vector<uint8_t> f = encode_frame({1, Data{0x200, kDataFua, filled(512, 1)}});
  ASSERT_EQ(f.size(), kHeaderSize + 16 + 512);
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 32, f.begin() + 48),
            (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0x02, 0x00,  // offset
                                  0, 0, 0, 1,                    // flags FUA
                                  0, 0, 0x02, 0x00}));           // length 512
}

TEST(ProtocolCodec, DirectDataFrameEncodingIsByteForByteTheGenericOne) {
  for (const Data& d : {Data{0x200, kDataFua, filled(512, 1)}, Data{0, kDataFlush, filled(kMaxDataBytes, 7)},
                        Data{uint64_t{1} << 40, 0, filled(4096, 9)}}) {
    EXPECT_EQ(encode_data_frame(77, d.offset, d.flags, d.data), encode_frame({77, d}));
    std::vector<uint8_t> parts = encode_data_frame_head(77, d.offset, d.flags, d.data);
    EXPECT_EQ(parts.size(), kDataFrameHeadSize);
    parts.insert(parts.end(), d.data.begin(), d.data.end());
    EXPECT_EQ(parts, encode_frame({77, d}));
    DecodeResult r = decode_frame(encode_data_frame(77, d.offset, d.flags, d.data));
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    EXPECT_EQ(std::get<Data>(r.frame.message), d);
  }
}

TEST(ProtocolCodec, TruncatedHeaderAndPayloadAreReported) {
  std::vector<uint8_t> f = encode_frame({1, Data{0, 0, filled(1024, 0)}});
  EXPECT_EQ(error_of({f.begin(), f.begin() + 31}), DecodeError::kTruncated);
  DecodeResult r = decode_frame(std::span<const uint8_t>(f).first(f.size() - 1));
  EXPECT_EQ(r.status.error, DecodeError::kTruncated);
  EXPECT_NE(r.status.detail.find("1039 of 1040 payload bytes"), std::string::npos)
      << r.status.detail;
}

TEST(ProtocolCodec, BadMagicIsReportedBeforeCrc) {
  std::vector<uint8_t> f = encode_frame({1, Ping{}});
  f[0] = 'X';
  DecodeResult r = decode_frame(f);
  EXPECT_EQ(r.status.error, DecodeError::kBadMagic);
  EXPECT_NE(r.status.detail.find("want 0x56524550"), std::string::npos) << r.status.detail;
}

TEST(ProtocolCodec, UnsupportedVersionNamesBothVersions) {
  const uint16_t next = kMaxProtocolVersion + 1;
  DecodeResult r = decode_frame(raw(static_cast<uint16_t>(FrameType::kPing), {}, next));
  EXPECT_EQ(r.status.error, DecodeError::kUnsupportedVersion);
  EXPECT_EQ(r.status.detail,
            "frame version " + std::to_string(next) + ", this node speaks 1.." + std::to_string(kMaxProtocolVersion));
}

TEST(ProtocolCodec, FramesOfBothVersionsAreReadAndWrittenWithTheGivenVersion) {
  for (uint16_t v : {uint16_t{1}, uint16_t{2}, uint16_t{3}, uint16_t{4}}) {
    std::vector<uint8_t> f = encode_frame({5, Ping{}}, v);
    EXPECT_EQ((f[4] << 8) | f[5], v);
    EXPECT_TRUE(decode_frame(f).status.ok()) << v;
    std::vector<uint8_t> d = encode_data_frame(6, 4096, 0, filled(512, 1), v);
    EXPECT_EQ((d[4] << 8) | d[5], v);
    EXPECT_TRUE(decode_frame(d).status.ok()) << v;
  }
  // Hello keeps its frozen header version whatever the connection speaks.
  std::vector<uint8_t> h = encode_frame({0, Hello{}}, 2);
  EXPECT_EQ((h[4] << 8) | h[5], 1);
}

TEST(ProtocolCodec, ResizeRequestMustGrowByWholeBlocks) {
  EXPECT_EQ(error_of(raw(static_cast<uint16_t>(FrameType::kResizeRequest), encode_payload(ResizeRequest{8192, 8192}), 3)),
            DecodeError::kBadField);
  EXPECT_EQ(error_of(raw(static_cast<uint16_t>(FrameType::kResizeRequest), encode_payload(ResizeRequest{8192, 10000}), 3)),
            DecodeError::kBadField);
  EXPECT_EQ(error_of(raw(static_cast<uint16_t>(FrameType::kResizeReply), encode_payload(ResizeReply{4097, ""}), 3)),
            DecodeError::kBadField);
}

TEST(ProtocolCodec, ResizeWithOptionsLayoutAndLimits) {
  std::vector<uint8_t> f = encode_frame({3, ResizeWithOptions{0x1000, 0x3000, true, false}}, 5);
  ASSERT_EQ(f.size(), kHeaderSize + 24);
  EXPECT_EQ((f[6] << 8) | f[7], 57);  // frame type
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 32, f.end()),
            (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0x10, 0x00,  // current size
                                  0, 0, 0, 0, 0, 0, 0x30, 0x00,  // max size
                                  0, 0, 0, 1,                    // flags: exact
                                  0, 0, 0, 0}));                 // reserved
  auto assume_clean = encode_payload(ResizeWithOptions{0x1000, 0x3000, false, true});
  EXPECT_EQ(assume_clean[19], 2);
  const uint16_t t = static_cast<uint16_t>(FrameType::kResizeWithOptions);
  EXPECT_EQ(error_of(raw(t, encode_payload(ResizeWithOptions{8192, 8192, true, false}), 5)), DecodeError::kBadField);
  EXPECT_EQ(error_of(raw(t, encode_payload(ResizeWithOptions{8192, 10000, true, false}), 5)), DecodeError::kBadField);
  // An option this build does not know changes what would happen to the
  // data: refused, not ignored.
  auto unknown = encode_payload(ResizeWithOptions{4096, 8192, false, false});
  unknown[19] = 8;
  EXPECT_EQ(error_of(raw(t, unknown, 5)), DecodeError::kBadField);
  auto reserved = encode_payload(ResizeWithOptions{4096, 8192, false, false});
  reserved[23] = 1;
  EXPECT_EQ(error_of(raw(t, reserved, 5)), DecodeError::kReservedNonZero);
}

TEST(ProtocolCodec, ResizeWithOptionsShrinkFlag) {
  const uint16_t t = static_cast<uint16_t>(FrameType::kResizeWithOptions);
  auto shrink = encode_payload(ResizeWithOptions{0x3000, 0x1000, true, false, true});
  EXPECT_EQ(shrink[19], 1 | 4);  // exact, shrink
  Message out;
  ASSERT_EQ(decode_payload(t, shrink, out).error, DecodeError::kNone);
  EXPECT_EQ(std::get<ResizeWithOptions>(out), (ResizeWithOptions{0x3000, 0x1000, true, false, true}));
  // A shrink names an exact, smaller, non-zero size and nothing to assume clean.
  for (const ResizeWithOptions& bad : {ResizeWithOptions{0x1000, 0x3000, true, false, true},
                                       ResizeWithOptions{0x3000, 0x3000, true, false, true},
                                       ResizeWithOptions{0x3000, 0, true, false, true},
                                       ResizeWithOptions{0x3000, 0x1000, false, false, true},
                                       ResizeWithOptions{0x3000, 0x1000, true, true, true},
                                       ResizeWithOptions{0x3000, 0x1000, true, false, false}})
    EXPECT_EQ(error_of(raw(t, encode_payload(bad), 6)), DecodeError::kBadField)
        << bad.current_size << " -> " << bad.max_size << " exact " << bad.exact << " clean " << bad.assume_clean
        << " shrink " << bad.shrink;
}

TEST(ProtocolCodec, NewGenerationLayoutAndLimits) {
  std::vector<uint8_t> f =
      encode_frame({9, NewGeneration{Generations{0x1122334455667788, 0x0102030405060708, {0xA0, 0xB0}}}}, 12);
  ASSERT_EQ(f.size(), kHeaderSize + 32);
  EXPECT_EQ((f[6] << 8) | f[7], 58);  // frame type
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 32, f.end()),
            (std::vector<uint8_t>{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,  // current
                                  1, 2, 3, 4, 5, 6, 7, 8,                          // bitmap
                                  0, 0, 0, 0, 0, 0, 0, 0xA0,                       // history 0
                                  0, 0, 0, 0, 0, 0, 0, 0xB0}));                    // history 1
  // The generations of a node with data: never empty or just created (with
  // or without the primary bit).
  const uint16_t t = static_cast<uint16_t>(FrameType::kNewGeneration);
  for (uint64_t current : {uint64_t{0}, uint64_t{1}, kJustCreatedUuid, kJustCreatedUuid | 1})
    EXPECT_EQ(error_of(raw(t, encode_payload(NewGeneration{Generations{current, 0, {0, 0}}}), 12)),
              DecodeError::kBadField)
        << current;
  EXPECT_EQ(error_of(raw(t, std::vector<uint8_t>(24, 1), 12)), DecodeError::kPayloadLengthMismatch);
}

TEST(ProtocolCodec, DiscardLayoutAndLimits) {
  std::vector<uint8_t> f = encode_frame({7, Discard{0x200, 0x400}}, 4);
  ASSERT_EQ(f.size(), kHeaderSize + 16);
  EXPECT_EQ((f[6] << 8) | f[7], 20);  // frame type
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 32, f.end()),
            (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0x02, 0x00,  // offset
                                  0, 0, 0x04, 0x00,              // length
                                  0, 0, 0, 0}));                 // reserved
  const uint16_t t = static_cast<uint16_t>(FrameType::kDiscard);
  EXPECT_EQ(error_of(raw(t, encode_payload(Discard{0, 0}), 4)), DecodeError::kBadField);
  EXPECT_EQ(error_of(raw(t, encode_payload(Discard{100, 512}), 4)), DecodeError::kBadField);
  EXPECT_EQ(error_of(raw(t, encode_payload(Discard{0, 1000}), 4)), DecodeError::kBadField);
  EXPECT_EQ(error_of(raw(t, encode_payload(Discard{0, kMaxDiscardBytes + 512}), 4)), DecodeError::kBadField);
  EXPECT_TRUE(decode_frame(raw(t, encode_payload(Discard{0, kMaxDiscardBytes}), 4)).status.ok());
  auto p = encode_payload(Discard{0, 512});
  p[15] = 1;
  EXPECT_EQ(error_of(raw(t, p, 4)), DecodeError::kReservedNonZero);
}

TEST(ProtocolCodec, VerifyEndRefusesMoreOutOfSyncThanVerified) {
  std::vector<uint8_t> payload = encode_payload(VerifyEnd{4096, 8192});
  EXPECT_EQ(error_of(raw(static_cast<uint16_t>(FrameType::kVerifyEnd), payload, 2)), DecodeError::kBadField);
}

TEST(ProtocolCodec, HelloIsOnlyReadWithTheFrozenHelloVersion) {
  auto payload = encode_payload(Hello{});
  EXPECT_EQ(error_of(raw(static_cast<uint16_t>(FrameType::kHello), payload, 1)),
            DecodeError::kNone);
  EXPECT_EQ(error_of(raw(static_cast<uint16_t>(FrameType::kHello), payload, 2)),
            DecodeError::kUnsupportedVersion);
}

TEST(ProtocolCodec, CorruptedHeaderFailsHeaderCrc) {
  std::vector<uint8_t> f = encode_frame({42, Ping{}});
  f[19] ^= 0x01;  // one bit of the sequence number
  EXPECT_EQ(error_of(f), DecodeError::kBadHeaderCrc);
}

TEST(ProtocolCodec, CorruptedPayloadFailsPayloadCrc) {
  std::vector<uint8_t> f = encode_frame({42, Data{0, 0, filled(4096, 1)}});
  f[kHeaderSize + 2000] ^= 0x80;  // one bit inside the data block
  DecodeResult r = decode_frame(f);
  EXPECT_EQ(r.status.error, DecodeError::kBadPayloadCrc);
  EXPECT_EQ(r.status.detail, "Data frame, sequence 42");
}

TEST(ProtocolCodec, UnknownTypeIsReported) {
  DecodeResult r = decode_frame(raw(999, {}));
  EXPECT_EQ(r.status.error, DecodeError::kUnknownType);
  EXPECT_EQ(r.status.detail, "frame type 999");
}

TEST(ProtocolCodec, OversizePayloadIsRejectedFromTheHeaderAlone) {
  std::vector<uint8_t> f = encode_frame({1, Ping{}});
  uint32_t len = kMaxPayloadSize + 1;
  for (int i = 0; i < 4; ++i) f[20 + i] = static_cast<uint8_t>(len >> (24 - 8 * i));
  reseal(f);
  EXPECT_EQ(error_of(f), DecodeError::kPayloadTooLarge);
}

TEST(ProtocolCodec, LargestDataBlockIsAcceptedOneSectorMoreIsNot) {
  std::vector<uint8_t> f = encode_frame({1, Data{0, 0, filled(kMaxDataBytes, 0)}});
  EXPECT_EQ(error_of(f), DecodeError::kNone);
  f = encode_frame({1, Data{0, 0, filled(kMaxDataBytes + kSectorSize, 0)}});
  EXPECT_EQ(error_of(f), DecodeError::kBadField);
}

TEST(ProtocolCodec, PayloadLengthMismatchIsReported) {
  auto t = [](FrameType ft) { return static_cast<uint16_t>(ft); };
  EXPECT_EQ(error_of(raw(t(FrameType::kPing), {0})), DecodeError::kPayloadLengthMismatch);
  EXPECT_EQ(error_of(raw(t(FrameType::kDataAck), filled(11, 0))),
            DecodeError::kPayloadLengthMismatch);
  EXPECT_EQ(error_of(raw(t(FrameType::kAuthChallenge), filled(31, 0))),
            DecodeError::kPayloadLengthMismatch);
  // Data whose length field says 1024 but carries 512 bytes.
  auto p = encode_payload(Data{0, 0, filled(512, 0)});
  p[14] = 0x04;
  DecodeResult r = decode_frame(raw(t(FrameType::kData), p));
  EXPECT_EQ(r.status.error, DecodeError::kPayloadLengthMismatch);
  EXPECT_EQ(r.status.detail, "Data frame: length field 1024 but 512 data bytes");
}

TEST(ProtocolCodec, ReservedBitsMustBeZero) {
  std::vector<uint8_t> f = encode_frame({1, Ping{}});
  f[9] = 1;  // header flags
  reseal(f);
  EXPECT_EQ(error_of(f), DecodeError::kReservedNonZero);
  auto p = encode_payload(DataAck{1, AckKind::kWritten});
  p[9] = 1;
  EXPECT_EQ(error_of(raw(static_cast<uint16_t>(FrameType::kDataAck), p)),
            DecodeError::kReservedNonZero);
  auto d = encode_payload(Data{0, 0, filled(512, 0)});
  d[8] = 0x80;  // an undefined Data flag
  EXPECT_EQ(error_of(raw(static_cast<uint16_t>(FrameType::kData), d)),
            DecodeError::kReservedNonZero);
}

TEST(ProtocolCodec, OutOfRangeFieldsAreBadField) {
  auto t = [](FrameType ft) { return static_cast<uint16_t>(ft); };
  // Role 7 does not exist.
  EXPECT_EQ(error_of(raw(t(FrameType::kStateChange), {7, 4, 0, 0})), DecodeError::kBadField);
  // Replication protocol 'D' does not exist (Hello byte 16).
  auto h = encode_payload(Hello{});
  h[16] = 'D';
  EXPECT_EQ(error_of(raw(t(FrameType::kHello), h)), DecodeError::kBadField);
  // A write not on a sector boundary.
  auto d = encode_payload(Data{0, 0, filled(512, 0)});
  d[7] = 1;
  EXPECT_EQ(error_of(raw(t(FrameType::kData), d)), DecodeError::kBadField);
  // Hello version range upside down.
  Hello bad;
  bad.min_version = 3;
  bad.max_version = 2;
  DecodeResult r = decode_frame(encode_frame({1, bad}));
  EXPECT_EQ(r.status.error, DecodeError::kBadField);
  EXPECT_EQ(r.status.detail, "Hello frame: version range 3..2");
  // A 300-byte reason exceeds kMaxReasonBytes.
  std::vector<uint8_t> reason{0, 0, 0x01, 0x2C};
  reason.resize(4 + 300, 'x');
  EXPECT_EQ(error_of(raw(t(FrameType::kAuthResult), reason)), DecodeError::kBadField);
}

TEST(ProtocolCodec, ErrorMessageNamesErrorAndDetail) {
  DecodeStatus s{DecodeError::kBadPayloadCrc, "Data frame, sequence 3"};
  EXPECT_EQ(s.message(), "bad-payload-crc: Data frame, sequence 3");
}

// ---- FrameReader ----

std::vector<uint8_t> stream_of(const std::vector<Frame>& frames) {
  std::vector<uint8_t> s;
  for (const Frame& f : frames) {
    auto b = encode_frame(f);
    s.insert(s.end(), b.begin(), b.end());
  }
  return s;
}

TEST(FrameReader, ByteByByteFeedingYieldsEveryFrameOnce) {
  std::vector<Frame> sent;
  uint64_t seq = 1;
  for (const Message& m : one_of_each()) sent.push_back({seq++, m});
  std::vector<uint8_t> s = stream_of(sent);
  FrameReader reader;
  std::vector<Frame> got;
  for (uint8_t b : s) {
    ASSERT_TRUE(reader.feed({&b, 1}));
    Frame f;
    FrameReader::Next n;
    while ((n = reader.next(f)) == FrameReader::Next::kFrame) got.push_back(f);
    ASSERT_EQ(n, FrameReader::Next::kNeedMore) << reader.error().message();
  }
  EXPECT_EQ(got, sent);
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(FrameReader, TwoFramesInOneChunkAndAPartialThird) {
  std::vector<uint8_t> s = stream_of({{1, Ping{}}, {2, Barrier{5}}, {3, PingAck{}}});
  FrameReader reader;
  ASSERT_TRUE(reader.feed(std::span<const uint8_t>(s).first(s.size() - 3)));
  Frame f;
  ASSERT_EQ(reader.next(f), FrameReader::Next::kFrame);
  EXPECT_EQ(f, (Frame{1, Ping{}}));
  ASSERT_EQ(reader.next(f), FrameReader::Next::kFrame);
  EXPECT_EQ(f, (Frame{2, Barrier{5}}));
  EXPECT_EQ(reader.next(f), FrameReader::Next::kNeedMore);
  ASSERT_TRUE(reader.feed(std::span<const uint8_t>(s).last(3)));
  ASSERT_EQ(reader.next(f), FrameReader::Next::kFrame);
  EXPECT_EQ(f, (Frame{3, PingAck{}}));
}

TEST(FrameReader, BytesWantedIsTheRestOfTheFrameInProgress) {
  const std::vector<uint8_t> data = encode_frame({1, Data{0, 0, filled(8192, 3)}});
  const std::vector<uint8_t> barrier = encode_frame({2, Barrier{7}});  // a small payload
  FrameReader reader;
  Frame f;
  EXPECT_EQ(reader.bytes_wanted(), kHeaderSize);  // nothing yet: a header
  ASSERT_TRUE(reader.feed(std::span<const uint8_t>(data).first(10)));
  EXPECT_EQ(reader.bytes_wanted(), kHeaderSize - 10);
  ASSERT_TRUE(reader.feed(std::span<const uint8_t>(data).subspan(10, kHeaderSize - 10)));
  EXPECT_EQ(reader.bytes_wanted(), data.size() - kHeaderSize);  // the header tells the payload's length
  ASSERT_TRUE(reader.feed(std::span<const uint8_t>(data).subspan(kHeaderSize, 5000)));
  EXPECT_EQ(reader.bytes_wanted(), data.size() - kHeaderSize - 5000);
  EXPECT_EQ(reader.next(f), FrameReader::Next::kNeedMore);
  ASSERT_TRUE(reader.feed(std::span<const uint8_t>(data).subspan(kHeaderSize + 5000)));
  EXPECT_EQ(reader.bytes_wanted(), 1u);  // complete: next() returns it
  ASSERT_EQ(reader.next(f), FrameReader::Next::kFrame);
  EXPECT_EQ(reader.bytes_wanted(), kHeaderSize);
  ASSERT_GT(barrier.size(), kHeaderSize + 1);
  ASSERT_TRUE(reader.feed(std::span<const uint8_t>(barrier).first(kHeaderSize + 1)));
  EXPECT_EQ(reader.bytes_wanted(), barrier.size() - kHeaderSize - 1);
  std::vector<uint8_t> bad = barrier;
  bad[0] ^= 0xFF;  // a header that does not decode: no length to trust
  FrameReader broken;
  ASSERT_TRUE(broken.feed(bad));
  EXPECT_EQ(broken.bytes_wanted(), 1u);
}

TEST(FrameReader, OversizeHeaderFailsWithoutWaitingForThePayload) {
  std::vector<uint8_t> f = encode_frame({1, Ping{}});
  uint32_t len = 0xFFFFFFFF;
  for (int i = 0; i < 4; ++i) f[20 + i] = static_cast<uint8_t>(len >> (24 - 8 * i));
  reseal(f);
  FrameReader reader;
  ASSERT_TRUE(reader.feed(f));
  Frame out;
  EXPECT_EQ(reader.next(out), FrameReader::Next::kError);
  EXPECT_EQ(reader.error().error, DecodeError::kPayloadTooLarge);
}

TEST(FrameReader, CorruptionIsDetectedAndTheErrorSticks) {
  std::vector<uint8_t> s = stream_of({{1, Data{0, 0, filled(512, 1)}}, {2, Ping{}}});
  s[kHeaderSize + 100] ^= 0x10;  // inside the first frame's data
  FrameReader reader;
  ASSERT_TRUE(reader.feed(s));
  Frame out;
  EXPECT_EQ(reader.next(out), FrameReader::Next::kError);
  EXPECT_EQ(reader.error().error, DecodeError::kBadPayloadCrc);
  // The intact Ping behind it is not delivered: the stream cannot be trusted.
  EXPECT_EQ(reader.next(out), FrameReader::Next::kError);
}

TEST(FrameReader, FeedBeyondTheBoundIsRefusedUntilDrained) {
  FrameReader reader(kMaxFrameSize);
  std::vector<uint8_t> big = encode_frame({1, Data{0, 0, filled(kMaxDataBytes, 2)}});
  ASSERT_TRUE(reader.feed(big));
  std::vector<uint8_t> more = encode_frame({2, Data{0, 0, filled(kMaxDataBytes, 3)}});
  EXPECT_LT(reader.space(), more.size());
  EXPECT_FALSE(reader.feed(more));
  EXPECT_EQ(reader.buffered(), big.size());  // nothing of `more` was taken
  Frame out;
  ASSERT_EQ(reader.next(out), FrameReader::Next::kFrame);
  EXPECT_TRUE(reader.feed(more));  // drained: room again
  ASSERT_EQ(reader.next(out), FrameReader::Next::kFrame);
  EXPECT_EQ(out.sequence, 2u);
}

// Reads `stream` through receive_space()/received() in pieces of at most
// `piece` bytes (as a socket would deliver), draining next() after each;
// returns the frames, and the error if the stream broke.
struct Pulled {
  std::vector<Frame> frames;
  DecodeStatus error;
};
Pulled pull_all(FrameReader& reader, std::span<const uint8_t> stream, size_t piece) {
  Pulled out;
  while (!stream.empty()) {
    std::span<uint8_t> into = reader.receive_space();
    EXPECT_FALSE(into.empty());
    if (into.empty()) break;
    const size_t n = std::min({into.size(), stream.size(), piece});
    std::copy_n(stream.begin(), n, into.begin());
    stream = stream.subspan(n);
    reader.received(n);
    Frame f;
    FrameReader::Next r;
    while ((r = reader.next(f)) == FrameReader::Next::kFrame) out.frames.push_back(f);
    if (r == FrameReader::Next::kError) {
      out.error = reader.error();
      break;
    }
  }
  return out;
}

TEST(FrameReader, ABigDataFramesBlockIsReadIntoTheBufferTheMessageKeeps) {
  const std::vector<uint8_t> block = filled(512 * 1024, 7);
  const std::vector<uint8_t> f = encode_frame({9, Data{4096, kDataFua, block}});
  FrameReader reader;
  // The first read, into the staging buffer, takes the head and the start
  // of the block (all a socket holding the whole frame gives at once).
  std::span<uint8_t> into = reader.receive_space();
  ASSERT_EQ(into.size(), FrameReader::kStagingBytes);
  std::copy_n(f.begin(), into.size(), into.begin());
  reader.received(into.size());
  const size_t copied = FrameReader::kStagingBytes - kDataFrameHeadSize;
  // The rest is read where the block will stay.
  into = reader.receive_space();
  ASSERT_EQ(into.size(), block.size() - copied);
  EXPECT_EQ(reader.bytes_wanted(), into.size());
  const uint8_t* const rest_at = into.data();
  std::copy(f.begin() + static_cast<std::ptrdiff_t>(FrameReader::kStagingBytes), f.end(), into.begin());
  reader.received(into.size());
  Frame out;
  ASSERT_EQ(reader.next(out), FrameReader::Next::kFrame) << reader.error().message();
  EXPECT_EQ(out, (Frame{9, Data{4096, kDataFua, block}}));
  const auto& d = std::get<Data>(out.message);
  EXPECT_EQ(d.data.data() + copied, rest_at);  // no copy of the part read directly
  EXPECT_EQ(reader.buffered(), 0u);
  EXPECT_EQ(reader.bytes_wanted(), kHeaderSize);

  // Handed back, the buffer takes the next big block.
  const uint8_t* const recycled = d.data.data();
  reader.recycle(std::move(std::get<Data>(out.message).data));
  const std::vector<uint8_t> g = encode_frame({10, ResyncReply{0, filled(256 * 1024, 8)}});
  into = reader.receive_space();
  std::copy_n(g.begin(), FrameReader::kStagingBytes, into.begin());
  reader.received(FrameReader::kStagingBytes);
  into = reader.receive_space();
  EXPECT_EQ(into.data(), recycled + (FrameReader::kStagingBytes - kHeaderSize - 12));
  std::copy(g.begin() + static_cast<std::ptrdiff_t>(FrameReader::kStagingBytes), g.end(), into.begin());
  reader.received(into.size());
  ASSERT_EQ(reader.next(out), FrameReader::Next::kFrame) << reader.error().message();
  EXPECT_EQ(out, (Frame{10, ResyncReply{0, filled(256 * 1024, 8)}}));
}

TEST(FrameReader, EveryPieceSizeYieldsWhatDecodeFrameYields) {
  // Small frames (staged together), big ones of each kind (a block read
  // apart from its fields, and a payload read whole), and two either side
  // of the staging buffer's size.
  std::vector<uint8_t> alternating(64 * 1024, 0x55);  // raw encoding: 512 Kibit
  const std::vector<Frame> frames = {
      {1, Ping{}},
      {2, Data{0, 0, filled(4096, 1)}},
      {3, Data{8192, kDataFlush, filled(1 << 20, 2)}},
      {4, DataAck{3, AckKind::kWritten}},
      {5, make_bitmap_chunk(0, alternating, alternating.size() * 8)},
      {6, ResyncReply{1 << 20, filled(128 * 1024, 3)}},
      {7, Data{0, 0, filled(FrameReader::kStagingBytes - 512, 4)}},  // fits, just
      {8, Data{0, 0, filled(FrameReader::kStagingBytes, 5)}},        // does not, just
      {9, Barrier{77}},
  };
  ASSERT_EQ(std::get<BitmapChunk>(frames[4].message).encoding, BitmapEncoding::kRaw);
  const std::vector<uint8_t> s = stream_of(frames);
  for (size_t piece : {size_t{1}, size_t{7}, size_t{48}, size_t{4093}, FrameReader::kStagingBytes,
                       size_t{100000}, s.size()}) {
    FrameReader reader;
    const Pulled got = pull_all(reader, s, piece);
    EXPECT_TRUE(got.error.ok()) << piece << ": " << got.error.message();
    EXPECT_EQ(got.frames, frames) << "pieces of " << piece;
    EXPECT_EQ(reader.buffered(), 0u);
  }
}

TEST(FrameReader, ABigFramesBadBlockFailsAsDecodeFrameSays) {
  // Each corruption of a big Data frame, read apart from its fields, gives
  // the error decode_frame() gives for the same bytes.
  const std::vector<uint8_t> good = encode_frame({1, Data{0, 0, filled(256 * 1024, 1)}});
  auto set_be32 = [](std::vector<uint8_t>& f, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) f[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  };
  std::vector<std::vector<uint8_t>> bad;
  bad.push_back(good);
  bad.back()[good.size() - 1] ^= 1;  // in the block read directly: payload CRC
  bad.push_back(good);
  bad.back()[kHeaderSize + 3] ^= 1;  // in the fields: payload CRC
  // Fields that are wrong under a correct CRC: the length field, the flags,
  // an unaligned offset.
  for (auto [at, value] : {std::pair<size_t, uint32_t>{kHeaderSize + 12, 4096}, {kHeaderSize + 8, 0x80},
                           {kHeaderSize + 4, 100}}) {
    std::vector<uint8_t> f = good;
    set_be32(f, at, value);
    set_be32(f, 24, crc32c(std::span<const uint8_t>(f).subspan(kHeaderSize)));
    reseal(f);
    bad.push_back(std::move(f));
  }
  for (const std::vector<uint8_t>& f : bad) {
    const DecodeStatus want = decode_frame(f).status;
    ASSERT_FALSE(want.ok());
    FrameReader reader;
    const Pulled got = pull_all(reader, f, 100000);
    EXPECT_TRUE(got.frames.empty());
    EXPECT_EQ(got.error.error, want.error) << want.message();
    EXPECT_EQ(got.error.message(), want.message());
    // Broken for good, and still takes (and drops) what arrives.
    Frame out;
    EXPECT_EQ(reader.next(out), FrameReader::Next::kError);
    EXPECT_FALSE(reader.receive_space().empty());
  }
}

TEST(FrameReader, StagedFramesAreTakenBeforeMoreIsRead) {
  // Complete small frames can fill the staging buffer; it offers room again
  // once next() has taken them.
  std::vector<Frame> pings;
  for (uint64_t i = 1; i <= FrameReader::kStagingBytes / kHeaderSize; ++i) pings.push_back({i, Ping{}});
  const std::vector<uint8_t> s = stream_of(pings);
  ASSERT_EQ(s.size(), FrameReader::kStagingBytes);
  FrameReader reader;
  std::span<uint8_t> into = reader.receive_space();
  std::copy(s.begin(), s.end(), into.begin());
  reader.received(s.size());
  EXPECT_TRUE(reader.receive_space().empty());
  Frame out;
  ASSERT_EQ(reader.next(out), FrameReader::Next::kFrame);
  EXPECT_EQ(reader.receive_space().size(), kHeaderSize);  // the taken frame's room
  size_t taken = 1;
  while (reader.next(out) == FrameReader::Next::kFrame) ++taken;
  EXPECT_EQ(taken, pings.size());
  EXPECT_EQ(reader.receive_space().size(), FrameReader::kStagingBytes);
}

// ---- BitmapChunk ----

std::vector<std::pair<uint64_t, uint64_t>> set_runs(const BitmapChunk& c) {
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  for_each_set_run(c, [&](uint64_t first, uint64_t n) { runs.emplace_back(first, n); });
  return runs;
}

TEST(BitmapChunk, SparseBitmapIsRunLengthEncodedAndExpandsToItsRuns) {
  std::vector<uint8_t> bits(4096, 0);  // 32768 bits = 128 MiB of data
  bits[10] = 0xFF;                      // bits 80..87
  bits[4095] = 0x80;                    // bit 32767
  BitmapChunk c = make_bitmap_chunk(1000, bits, 32768);
  EXPECT_EQ(c.encoding, BitmapEncoding::kRle);
  EXPECT_LT(c.bytes.size(), 16u);
  using Runs = std::vector<std::pair<uint64_t, uint64_t>>;
  EXPECT_EQ(set_runs(c), (Runs{{1080, 8}, {1000 + 32767, 1}}));
  DecodeResult r = decode_frame(encode_frame({1, c}));
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(std::get<BitmapChunk>(r.frame.message), c);
}

TEST(BitmapChunk, NoisyBitmapStaysRawAndExpandsToTheSameRuns) {
  std::vector<uint8_t> bits = {0x55, 0xAA, 0x0F};  // alternating: RLE would be larger
  BitmapChunk c = make_bitmap_chunk(0, bits, 20);
  EXPECT_EQ(c.encoding, BitmapEncoding::kRaw);
  EXPECT_EQ(c.bytes.back(), 0x0F);  // bits 16..19 set, padding clear
  using Runs = std::vector<std::pair<uint64_t, uint64_t>>;
  EXPECT_EQ(set_runs(c), (Runs{{0, 1}, {2, 1}, {4, 1}, {6, 1}, {9, 1}, {11, 1}, {13, 1},
                               {15, 5}}));
}

TEST(BitmapChunk, MalformedChunksAreRejected) {
  auto chunk = [](uint64_t bits, BitmapEncoding enc, std::vector<uint8_t> bytes) {
    return decode_frame(encode_frame({1, BitmapChunk{0, bits, enc, std::move(bytes)}}))
        .status.error;
  };
  // Runs adding up to 9 for a 10-bit chunk.
  EXPECT_EQ(chunk(10, BitmapEncoding::kRle, {4, 5}), DecodeError::kBadField);
  // An empty run after the first would let a chunk be encoded many ways.
  EXPECT_EQ(chunk(10, BitmapEncoding::kRle, {4, 0, 6}), DecodeError::kBadField);
  // A truncated ULEB128.
  EXPECT_EQ(chunk(10, BitmapEncoding::kRle, {0x80}), DecodeError::kBadField);
  // Raw with padding bits set beyond bit_count.
  EXPECT_EQ(chunk(4, BitmapEncoding::kRaw, {0x1F}), DecodeError::kReservedNonZero);
  // More bits than a receiver agrees to expand.
  EXPECT_EQ(chunk(kMaxBitmapChunkBits + 1, BitmapEncoding::kRle, {0x80}), DecodeError::kBadField);
  EXPECT_EQ(chunk(10, BitmapEncoding::kRle, {0, 10}), DecodeError::kNone);
}

// Found while writing tests/fuzz/fuzz_replication_frame.cc (its property:
// one encoding per bitmap): ULEB128 run lengths must be in their shortest
// form, as make_bitmap_chunk writes them.
TEST(BitmapChunk, PaddedOrOverlongRunLengthsAreRejected) {
  auto chunk = [](std::vector<uint8_t> bytes) {
    return decode_frame(encode_frame({1, BitmapChunk{0, 10, BitmapEncoding::kRle, std::move(bytes)}}))
        .status.error;
  };
  EXPECT_EQ(chunk({4, 6}), DecodeError::kNone);
  // 4 written as 0x84 0x00: the same bitmap, a second encoding.
  EXPECT_EQ(chunk({0x84, 0x00, 6}), DecodeError::kBadField);
  EXPECT_EQ(chunk({4, 0x86, 0x80, 0x00}), DecodeError::kBadField);
  // 2^64 in ten bytes, which wrapped to an empty first run.
  EXPECT_EQ(chunk({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, 10}), DecodeError::kBadField);
  // A run of 128 (two bytes, shortest) still reads: 0x80 0x01.
  auto long_run = decode_frame(encode_frame({1, BitmapChunk{0, 129, BitmapEncoding::kRle, {0x80, 0x01, 1}}}));
  EXPECT_EQ(long_run.status.error, DecodeError::kNone) << long_run.status.message();
}

}  // namespace
}  // namespace vrrpd::replication::wire
