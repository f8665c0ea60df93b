// Replication wire protocol, version 12 (speaks 1 to 11 too): the frames two replication peers
// exchange over one TCP connection, as bytes in and bytes out (no sockets, no
// clock). The byte layout is documented in replication/PROTOCOL.md; keep both
// in step, and never renumber a frame type or an enum value that has shipped.
//
// Every integer on the wire is big-endian (network order) and written byte by
// byte, so the layout does not depend on the host or on struct padding. Every
// frame carries a CRC32C of its header and one of its payload: TCP's 16-bit
// checksum lets roughly one corrupted segment in 65536 through, which over a
// multi-terabyte full sync is a real chance of silently writing bad data to
// the peer's disk (NIC offload bugs and bad RAM on middleboxes included).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "replication/generations.h"

namespace vrrpd::replication::wire {

inline constexpr uint32_t kMagic = 0x56524550;  // "VREP"
// Versions this node speaks. A connection uses the highest version both
// peers speak (see AuthSession). Hello frames are always sent and read with
// header version 1 and the frozen v1 Hello layout, so that nodes with
// disjoint ranges can still tell each other what they speak.
// The handshake frames (Hello, AuthChallenge, AuthResponse, AuthResult) are
// sent with header version 1, before the version is agreed; the frames after
// it with the agreed version. Version 2 adds VerifyEnd, version 3
// ResizeRequest and ResizeReply (online grow), SyncPause and SkipInitialSync,
// version 4 Discard and PullAhead, version 5 ResizeWithOptions (resize
// --size / --assume-clean), version 6 its shrink flag (resize --size below
// the current size). Version 7 adds no frame but a handshake rule both
// sides must apply alike: equal generations with blocks out of sync on one
// side only are resynced from that side (Resource::finish_handshake).
// Version 8 allows BitmapChunks on the running link, for a Diskless Primary
// taking back the disk it had given up: its records, then the peer's
// answer (PROTOCOL.md, "Re-attach under a Primary"). Version 9 adds no
// frame but a handshake rule: a fresh disk larger than the peer's takes the
// peer's size, where the smaller node used to grow (PROTOCOL.md, "Online
// grow"). Version 10 lets a Diskless Primary connect to the Secondary that
// holds its data: no bitmaps, no resync (PROTOCOL.md, "A Diskless Primary
// reconnecting"). Version 11 adds no frame but a StateChange before the
// bitmaps: a restarted (Consistent) node that serves a resyncing Primary
// (a disk attached under it after it lost its own, or a SyncTarget
// promoted) says it is UpToDate, so that the Primary resumes its resync
// (PROTOCOL.md, "A Primary resyncing from its restarted peer"). Version
// 12 adds NewGeneration: the generations a Secondary holds for the Diskless
// Primary it serves, which that Primary takes at the end of the resync of
// a disk attached under it (PROTOCOL.md, "Re-attach under a Primary").
inline constexpr uint16_t kProtocolVersion = 12;
inline constexpr uint16_t kMinProtocolVersion = 1;
inline constexpr uint16_t kMaxProtocolVersion = 12;
inline constexpr uint16_t kHelloVersion = 1;
inline constexpr uint16_t kHandshakeVersion = 1;

inline constexpr size_t kHeaderSize = 32;
// Largest block of data in one Data/ResyncReply frame. A bigger write is split
// by the sender; 1 MiB is DRBD's max_bio_size.
inline constexpr uint32_t kMaxDataBytes = 1u << 20;
// Largest payload of any frame: one data block plus room for its fields. A
// header announcing more is a protocol error before any payload is buffered.
inline constexpr uint32_t kMaxPayloadSize = kMaxDataBytes + 4096;
inline constexpr size_t kMaxFrameSize = kHeaderSize + kMaxPayloadSize;
// Data offsets and lengths are whole 512-byte sectors.
inline constexpr uint32_t kSectorSize = 512;
inline constexpr size_t kNonceSize = 32;          // AuthChallenge nonce
inline constexpr size_t kMacSize = 32;            // HMAC-SHA256
inline constexpr size_t kDigestSize = 32;         // SHA-256 (checksum resync, verify)
inline constexpr size_t kMaxNodeNameBytes = 64;   // Hello node name (UTF-8)
inline constexpr size_t kMaxReasonBytes = 256;    // AuthResult / Disconnect text
// A BitmapChunk may describe at most this many bits (one bit per 4 KiB: 512
// GiB of data), which bounds what a receiver expands a run-length chunk to.
inline constexpr uint64_t kMaxBitmapChunkBits = uint64_t{1} << 27;

// Frame types; values are on the wire. Grouped: 1.. handshake, 16.. data path,
// 32.. resync/verify, 48.. connection state.
enum class FrameType : uint16_t {
  kHello = 1,
  kAuthChallenge = 2,
  kAuthResponse = 3,
  kAuthResult = 4,
  kData = 16,
  kDataAck = 17,
  kBarrier = 18,
  kBarrierAck = 19,
  kDiscard = 20,  // version 4
  kBitmapChunk = 32,
  kResyncRequest = 33,
  kResyncReply = 34,
  kChecksumReply = 35,
  kVerifyRequest = 36,
  kVerifyReply = 37,
  kVerifyEnd = 38,  // version 2
  kStateChange = 48,
  kPing = 49,
  kPingAck = 50,
  kDisconnect = 51,
  kResizeRequest = 52,  // version 3
  kResizeReply = 53,    // version 3
  kSyncPause = 54,      // version 3
  kSkipInitialSync = 55,  // version 3
  kPullAhead = 56,        // version 4
  kResizeWithOptions = 57,  // version 5
  kNewGeneration = 58,      // version 12
};
// "Hello", "Data", ...; "unknown" for other values.
const char* to_string(FrameType t);

// DRBD's replication protocols: when a write counts as complete on the primary.
enum class ReplicationProtocol : uint8_t {
  kA = 'A',  // asynchronous: written locally and in the TCP send buffer
  kB = 'B',  // memory-synchronous: peer has received it (DataAck kReceived)
  kC = 'C',  // synchronous: peer has written it (DataAck kWritten)
};
enum class Role : uint8_t { kSecondary = 1, kPrimary = 2 };
// DRBD's disk states, as reported to the peer.
enum class DiskState : uint8_t {
  kDiskless = 0,
  kAttaching = 1,
  kInconsistent = 2,
  kOutdated = 3,
  kUpToDate = 4,
  kConsistent = 5,  // consistent, but whether it is up to date is unknown
};

// Hello.flags bits.
inline constexpr uint32_t kHelloCrashedPrimary = 1u << 0;  // HandshakeFlags::*_crashed_primary
inline constexpr uint32_t kHelloDiscardMyData = 1u << 1;   // operator chose this node as split-brain victim
inline constexpr uint32_t kHelloKnownFlags = kHelloCrashedPrimary | kHelloDiscardMyData;

// First frame each side sends. Its v1 layout is frozen for all versions.
struct Hello {
  uint16_t min_version = kMinProtocolVersion;
  uint16_t max_version = kMaxProtocolVersion;
  uint32_t node_id = 0;
  std::string node_name;  // at most kMaxNodeNameBytes
  uint64_t device_size = 0;  // replicated size in bytes
  ReplicationProtocol protocol = ReplicationProtocol::kC;
  Role role = Role::kSecondary;
  DiskState disk_state = DiskState::kDiskless;
  Generations generations;
  uint32_t flags = 0;  // kHello* bits
  bool operator==(const Hello&) const = default;
};
struct AuthChallenge {
  std::array<uint8_t, kNonceSize> nonce{};
  bool operator==(const AuthChallenge&) const = default;
};
struct AuthResponse {
  std::array<uint8_t, kMacSize> mac{};  // see auth.h for what it covers
  bool operator==(const AuthResponse&) const = default;
};
struct AuthResult {
  bool ok = false;
  std::string reason;  // why refused; at most kMaxReasonBytes
  bool operator==(const AuthResult&) const = default;
};

// Data.flags bits: the primary's request flags, to be applied by the peer.
inline constexpr uint32_t kDataFua = 1u << 0;    // forced unit access
inline constexpr uint32_t kDataFlush = 1u << 1;  // flush the peer's disk cache first
inline constexpr uint32_t kDataKnownFlags = kDataFua | kDataFlush;

// One mirrored write. Its header sequence number names it in DataAck.
struct Data {
  uint64_t offset = 0;  // bytes, multiple of kSectorSize
  uint32_t flags = 0;   // kData* bits
  std::vector<uint8_t> data;  // 1..kMaxDataBytes, multiple of kSectorSize
  bool operator==(const Data&) const = default;
};
enum class AckKind : uint8_t {
  kReceived = 1,  // protocol B
  kWritten = 2,   // protocol C
  kFailed = 3,    // the peer's write failed; the block is out of sync
};
struct DataAck {
  uint64_t sequence = 0;  // header sequence of the acknowledged Data frame
  AckKind kind = AckKind::kWritten;
  bool operator==(const DataAck&) const = default;
};
// Write-ordering epoch boundary: the peer flushes every write before it,
// then answers BarrierAck (DRBD's P_BARRIER / P_BARRIER_ACK).
struct Barrier {
  uint32_t barrier = 0;
  bool operator==(const Barrier&) const = default;
};
struct BarrierAck {
  uint32_t barrier = 0;
  uint32_t write_count = 0;  // Data frames in the epoch, for cross-checking
  bool operator==(const BarrierAck&) const = default;
};

// Version 4: a mirrored discard (TRIM). The peer makes the range read as
// zeros (BlockStorage::discard) and acknowledges it as it would a Data frame
// with the same header sequence (DataAck per protocol, counted in the
// epoch's BarrierAck). The range never spans more than one activity-log
// extent (the sender splits); a peer of version 3 or older gets Data frames
// of zeros instead.
struct Discard {
  uint64_t offset = 0;  // bytes, multiple of kSectorSize
  uint32_t length = 0;  // bytes, multiple of kSectorSize, 1..kMaxDiscardBytes
  bool operator==(const Discard&) const = default;
};
inline constexpr uint32_t kMaxDiscardBytes = 1u << 30;

enum class BitmapEncoding : uint8_t {
  kRaw = 0,  // bit n is bit (n % 8) of byte n / 8, as OutOfSyncBitmap on disk
  kRle = 1,  // ULEB128 run lengths, alternating clear/set, starting with clear
};
// Part of the out-of-sync bitmap, exchanged before a bitmap resync.
struct BitmapChunk {
  uint64_t offset_bits = 0;  // first bitmap bit described
  uint64_t bit_count = 0;    // 1..kMaxBitmapChunkBits
  BitmapEncoding encoding = BitmapEncoding::kRaw;
  std::vector<uint8_t> bytes;
  bool operator==(const BitmapChunk&) const = default;
};
// Sync target asks for a block. With want_checksum the source answers
// ChecksumReply (and the target asks again without it if its own block
// differs); without, ResyncReply with the data.
struct ResyncRequest {
  uint64_t offset = 0;  // bytes, sector aligned
  uint32_t length = 0;  // bytes, 1..kMaxDataBytes, sector multiple
  bool want_checksum = false;
  bool operator==(const ResyncRequest&) const = default;
};
struct ResyncReply {
  uint64_t offset = 0;
  std::vector<uint8_t> data;  // same limits as Data::data
  bool operator==(const ResyncReply&) const = default;
};
using Digest = std::array<uint8_t, kDigestSize>;
struct ChecksumReply {
  uint64_t offset = 0;
  uint32_t length = 0;
  Digest digest{};  // SHA-256 of the source's block
  bool operator==(const ChecksumReply&) const = default;
};
// Online verify: the verify source asks the peer for the digest of a block.
struct VerifyRequest {
  uint64_t offset = 0;
  uint32_t length = 0;
  bool operator==(const VerifyRequest&) const = default;
};
struct VerifyReply {
  uint64_t offset = 0;
  uint32_t length = 0;
  Digest digest{};
  bool operator==(const VerifyReply&) const = default;
};
// Version 2: the verify source tells the peer that its online verify is
// over (the peer shows VerifyT from the first VerifyRequest until then).
struct VerifyEnd {
  uint64_t verified_bytes = 0;
  uint64_t out_of_sync_bytes = 0;  // <= verified_bytes
  bool operator==(const VerifyEnd&) const = default;
};
struct StateChange {
  Role role = Role::kSecondary;
  DiskState disk_state = DiskState::kDiskless;
  bool operator==(const StateChange&) const = default;
};
// Keep-alive for ping-int / ping-timeout: any PingAck after a Ping proves the
// peer's receive path is alive.
struct Ping {
  bool operator==(const Ping&) const = default;
};
struct PingAck {
  bool operator==(const PingAck&) const = default;
};
enum class DisconnectCode : uint16_t {
  kOther = 0,
  kShutdown = 1,       // the peer is stopping or the operator disconnected
  kProtocolError = 2,  // we received something we could not accept
  kSplitBrain = 3,
  kIncompatible = 4,   // sizes, protocols or versions do not fit
};
struct Disconnect {
  DisconnectCode code = DisconnectCode::kOther;
  std::string reason;  // at most kMaxReasonBytes
  bool operator==(const Disconnect&) const = default;
};

// Version 3, online grow: the node asked to resize proposes the largest
// data size its backing storage now holds; the peer grows to the smaller of
// that and its own and answers with the size both now replicate (0:
// refused, with the reason). Sizes are bytes, multiples of 4096.
struct ResizeRequest {
  uint64_t current_size = 0;  // the size both replicate now (must match the peer's)
  uint64_t max_size = 0;      // > current_size
  bool operator==(const ResizeRequest&) const = default;
};
struct ResizeReply {
  uint64_t new_size = 0;  // 0: refused
  std::string reason;     // why refused; empty when grown. At most kMaxReasonBytes
  bool operator==(const ResizeReply&) const = default;
};

// Version 5: ResizeRequest with the operator's options (vrrpctl replication
// resize --size / --assume-clean); answered with ResizeReply. Sent only when
// an option is set, so a plain resize is the same frame on every version.
inline constexpr uint32_t kResizeExactFlag = 1;        // ResizeWithOptions flags bit 0
inline constexpr uint32_t kResizeAssumeCleanFlag = 2;  // bit 1
inline constexpr uint32_t kResizeShrinkFlag = 4;       // bit 2, version 6
struct ResizeWithOptions {
  uint64_t current_size = 0;  // the size both replicate now (must match the peer's)
  uint64_t max_size = 0;      // > current_size; with `shrink`, the new size, 0 < max_size < current_size
  // The new size is max_size or nothing: a peer whose storage holds less
  // refuses (without it, the peer grows to the smaller of max_size and its
  // own largest, as after ResizeRequest).
  bool exact = false;
  // The added blocks are taken as identical on both nodes (zeroed or thin
  // devices): neither marks them out of sync, nobody resyncs them.
  bool assume_clean = false;
  // Version 6: shrink to max_size (exact set, assume_clean not). The peer,
  // a Secondary, shrinks first; the blocks past the new end are no longer
  // replicated. Sent only on a version-6 connection.
  bool shrink = false;
  bool operator==(const ResizeWithOptions&) const = default;
};

// Version 3: the sender's operator paused (or resumed) resync (drbdadm
// pause-sync / resume-sync). Sent on change and, while paused, in each
// handshake before the first BitmapChunk; the SyncTarget requests nothing
// while either side is.
struct SyncPause {
  bool paused = false;
  bool operator==(const SyncPause&) const = default;
};

// Version 4: the sender, Primary under protocol A with on_congestion
// pull-ahead, found its send queue above congestion_fill and stopped
// mirroring (Ahead): its writes from now on are only in its bitmap. The
// receiver is Behind and outdates its disk; the sender reconnects once the
// queue has drained, and that handshake resyncs the receiver.
struct PullAhead {
  uint64_t queued_bytes = 0;  // the sender's send queue when it pulled ahead
  bool operator==(const PullAhead&) const = default;
};

// Version 3: the sender's operator declared the two freshly created disks
// identical (drbdadm new-current-uuid --clear-bitmap): the sender took
// `generation` as its current one, with an empty bitmap, and is UpToDate;
// the receiver, also fresh, does the same instead of an initial full sync.
struct SkipInitialSync {
  uint64_t generation = 0;  // not 0, and not the just-created value
  bool operator==(const SkipInitialSync&) const = default;
};

// Version 12: the sender, Secondary and UpToDate, serves a Primary that
// lost its disk (it reported Diskless, or connected without one), and
// holds its writes under these generations (it started a new current one
// for them, or had one since a split). The receiver, that Primary, keeps
// them for this connection: a disk it attaches on this link and resyncs
// from the sender takes them at the end of that resync, as any SyncTarget
// takes its source's, so that both sides hold one current generation even
// if the sender never hears that the resync ended.
struct NewGeneration {
  Generations generations;
  bool operator==(const NewGeneration&) const = default;
};

using Message = std::variant<Hello, AuthChallenge, AuthResponse, AuthResult, Data, DataAck,
                             Barrier, BarrierAck, BitmapChunk, ResyncRequest, ResyncReply,
                             ChecksumReply, VerifyRequest, VerifyReply, VerifyEnd, StateChange, Ping,
                             PingAck, Disconnect, ResizeRequest, ResizeReply, SyncPause, SkipInitialSync,
                             Discard, PullAhead, ResizeWithOptions, NewGeneration>;

// Frame type of a message.
FrameType type_of(const Message& m);

struct Frame {
  // Per-direction counter stamped by the sender's connection; DataAck refers
  // to it. The codec only carries it.
  uint64_t sequence = 0;
  Message message;
  bool operator==(const Frame&) const = default;
};

// The fixed 32-byte header, as found on the wire.
struct FrameHeader {
  uint16_t version = kProtocolVersion;
  uint16_t type = 0;
  uint16_t flags = 0;  // none defined in v1: must be 0
  uint64_t sequence = 0;
  uint32_t payload_length = 0;
  uint32_t payload_crc = 0;
};

enum class DecodeError : uint8_t {
  kNone,
  kTruncated,              // fewer bytes than the header or the payload length
  kBadMagic,               // not a replication stream (or out of step)
  kUnsupportedVersion,     // header version outside this node's range
  kBadHeaderCrc,
  kBadPayloadCrc,
  kUnknownType,
  kPayloadTooLarge,        // payload length above kMaxPayloadSize
  kPayloadLengthMismatch,  // payload shorter or longer than its fields say
  kReservedNonZero,        // header flags/reserved or a reserved payload byte set
  kBadField,               // a field value out of range (enum, alignment, limit)
};
// Stable lower-case name: "truncated", "bad-magic", ...
const char* to_string(DecodeError e);

// An error and an operator-readable detail, e.g. kUnsupportedVersion with
// "frame version 2, this node speaks 1..1". Cheap when ok.
struct DecodeStatus {
  DecodeError error = DecodeError::kNone;
  std::string detail;
  bool ok() const { return error == DecodeError::kNone; }
  // "<name>: <detail>".
  std::string message() const;
};

// Payload bytes of a message (what follows the header).
std::vector<uint8_t> encode_payload(const Message& m);
// Parses a payload of the given type, strictly: exact length, known enum
// values and flag bits, zero reserved bytes, limits. Leaves `out` unspecified
// on error.
DecodeStatus decode_payload(uint16_t type, std::span<const uint8_t> payload, Message& out);

// Header + payload, with both CRCs. The header version is kHelloVersion for
// Hello and `version` otherwise (the connection's agreed version, or
// kHandshakeVersion before it is known).
std::vector<uint8_t> encode_frame(const Frame& f, uint16_t version = kProtocolVersion);
// The bytes of encode_frame({sequence, Data{offset, flags, data}}), built
// straight from `data` in one buffer of the exact size: the write path's 1 MiB
// payloads are copied once, not into a Data and then into the frame.
std::vector<uint8_t> encode_data_frame(uint64_t sequence, uint64_t offset, uint32_t flags,
                                       std::span<const uint8_t> data, uint16_t version = kProtocolVersion);
// The same frame in two parts, for a sender that hands `data` to the
// socket from where it lies (no copy at all): what comes before the data
// (the header and the payload's fixed fields, kDataFrameHeadSize bytes,
// checksums over `data` included). Followed by `data`, byte for byte
// encode_data_frame().
inline constexpr size_t kDataFrameHeadSize = kHeaderSize + 16;
std::vector<uint8_t> encode_data_frame_head(uint64_t sequence, uint64_t offset, uint32_t flags,
                                            std::span<const uint8_t> data, uint16_t version = kProtocolVersion);
// A frame from an arbitrary header and payload (CRCs computed here, the
// header's payload_length/payload_crc ignored): for tests and for writing a
// future version's frames.
std::vector<uint8_t> encode_raw_frame(const FrameHeader& h, std::span<const uint8_t> payload);

// Parses and checks the 32-byte header at the start of `bytes` (magic, CRC,
// version, flags, length limit; not the type).
DecodeStatus decode_header(std::span<const uint8_t> bytes, FrameHeader& out);

struct DecodeResult {
  DecodeStatus status;
  Frame frame;
  size_t consumed = 0;  // bytes of the frame, when ok
};
// Decodes the one frame at the start of `bytes` (trailing bytes are left).
DecodeResult decode_frame(std::span<const uint8_t> bytes);

// Reassembles frames from a TCP byte stream delivered in arbitrary chunks.
// Memory is bounded: a header announcing an oversize payload fails at once,
// and feed() refuses to buffer more than `max_buffered` bytes. After an error
// the stream is out of step for good: every later next() repeats the error
// and the connection must be dropped.
//
// Two ways in. feed() copies a chunk the caller holds. receive_space() and
// received() let the transport read from the socket straight into the
// reader's memory, which is the point of this class's layout: small frames
// are read together into a staging buffer of kStagingBytes, but the payload
// of a frame too big for it is read into a buffer of its own, and for Data
// and ResyncReply frames that buffer becomes the message's `data` (the
// fixed fields before it are kept apart). So a 512 KiB Data frame reaches
// the write path with at most kStagingBytes of it copied in user space,
// instead of twice whole (into the reader, then into the message).
class FrameReader {
 public:
  // Frames up to this size (header included) are assembled in the staging
  // buffer; bigger ones get a payload buffer of their own.
  static constexpr size_t kStagingBytes = 16 * 1024;

  // `staging_bytes` (at least kDataFrameHeadSize) is for tests and
  // fuzzers, to reach the big-frame path with small frames.
  explicit FrameReader(size_t max_buffered = 2 * kMaxFrameSize, size_t staging_bytes = kStagingBytes);

  // Where the next bytes of the stream go: read at most its size into it,
  // then call received() with the count. Not empty once next() has
  // returned kNeedMore (or kError: the bytes are then ignored).
  std::span<uint8_t> receive_space();
  // `bytes` (1..receive_space().size()) were written at the start of the
  // last receive_space().
  void received(size_t bytes);

  // Bytes feed() accepts now.
  size_t space() const;
  // Appends a copy of `chunk`. Returns false, buffering nothing, if it does
  // not fit in space(): the caller must drain next() first.
  [[nodiscard]] bool feed(std::span<const uint8_t> chunk);

  enum class Next { kFrame, kNeedMore, kError };
  // The next complete frame into `out`, kNeedMore, or kError (see error()).
  Next next(Frame& out);
  const DecodeStatus& error() const { return error_; }
  // Bytes received or fed and not yet returned as frames.
  size_t buffered() const;
  // Bytes still missing before next() can return the frame being
  // assembled (the rest of the header if it is incomplete; at least 1).
  size_t bytes_wanted() const;
  // Hands back the `data` of a Data or ResyncReply frame next() returned,
  // once it is no longer needed: the next big payload is read into it
  // (no allocation, and no zero-filling when it is the same size).
  void recycle(std::vector<uint8_t> buffer);

 private:
  // A frame bigger than the staging buffer, being read into body_.
  struct BigFrame {
    FrameHeader header;
    // The payload's fixed fields ahead of the block (Data: 16 bytes,
    // ResyncReply: 12), kept apart so that body_ holds the block alone;
    // 0 for other types, whose whole payload goes into body_.
    std::array<uint8_t, 16> fields{};
    size_t fields_size = 0;
    size_t filled = 0;  // bytes of body_ received
  };
  // After bytes were added to the staging buffer: starts reading a big
  // frame into body_ as soon as its head is complete.
  void maybe_start_big_frame();
  // Moves bytes from pending_ (feed()) into receive_space().
  void pump();
  Next finish_big_frame(Frame& out);

  size_t max_buffered_;
  std::vector<uint8_t> staging_;  // [start_, end_) unconsumed
  size_t start_ = 0;
  size_t end_ = 0;
  std::optional<BigFrame> big_;
  std::vector<uint8_t> body_;   // big_'s payload (or its block)
  std::vector<uint8_t> spare_;  // from recycle(), for the next body_
  std::vector<uint8_t> pending_;  // fed and not yet moved in
  size_t pending_start_ = 0;
  DecodeStatus error_;
};

// Builds a BitmapChunk for bits [0, bit_count) of `bits` (LSB first), choosing
// whichever of raw and run-length encoding is smaller.
BitmapChunk make_bitmap_chunk(uint64_t offset_bits, std::span<const uint8_t> bits,
                              uint64_t bit_count);
// Calls fn(first_bit, count) for each run of set bits, in order, with bit
// numbers absolute (offset_bits added). The chunk must have been decoded by
// decode_payload() or built by make_bitmap_chunk() (it is not re-validated).
void for_each_set_run(const BitmapChunk& chunk,
                      const std::function<void(uint64_t first_bit, uint64_t count)>& fn);

}  // namespace vrrpd::replication::wire
