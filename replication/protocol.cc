// Replication wire protocol v1 codec; see protocol.h and PROTOCOL.md.
#include "replication/protocol.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstring>

#include "replication/crc32c.h"

namespace vrrpd::replication::wire {
namespace {

// Appends big-endian fields to a byte vector. Calls chain, so each encoder
// below reads as its payload's field list in wire order.
class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  Writer& u8(uint8_t v) { return be(v, 1); }
  Writer& u16(uint16_t v) { return be(v, 2); }
  Writer& u32(uint32_t v) { return be(v, 4); }
  Writer& u64(uint64_t v) { return be(v, 8); }
  Writer& bytes(std::span<const uint8_t> b) {
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }
  // u16 length + bytes; callers keep text within its limit (asserted).
  Writer& text(const std::string& s, size_t limit) {
    assert(s.size() <= limit);
    (void)limit;
    u16(static_cast<uint16_t>(s.size()));
    return bytes({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  }
  template <typename E>
  Writer& e8(E v) { return u8(static_cast<uint8_t>(v)); }

 private:
  Writer& be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  std::vector<uint8_t>& out_;
};

// Reads big-endian fields from a payload. A read past the end returns 0 and
// marks the reader short; the caller checks status() once at the end, which
// keeps each decoder a straight list of fields.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  uint8_t u8() { return static_cast<uint8_t>(be(1)); }
  uint16_t u16() { return static_cast<uint16_t>(be(2)); }
  uint32_t u32() { return static_cast<uint32_t>(be(4)); }
  uint64_t u64() { return be(8); }
  template <size_t N>
  void array(std::array<uint8_t, N>& a) {
    if (!take(N)) return;
    std::copy_n(in_.begin() + pos_ - N, N, a.begin());
  }
  // Everything not read yet.
  std::vector<uint8_t> rest() {
    std::vector<uint8_t> v(in_.begin() + std::min(pos_, in_.size()), in_.end());
    pos_ = in_.size();
    return v;
  }
  std::string text(size_t limit) {
    size_t n = u16();
    if (n > limit) bad("text of " + std::to_string(n) + " bytes, limit " + std::to_string(limit));
    if (!take(n) || !status_.ok()) return {};
    return std::string(reinterpret_cast<const char*>(in_.data() + pos_ - n), n);
  }
  // Reads n bytes (1, 2 or 4) of reserved space, which must be zero.
  void zero(int n, const char* what) { reserved_zero(be(n), what); }
  void reserved_zero(uint64_t v, const char* what) {
    if (v != 0 && status_.ok())
      status_ = {DecodeError::kReservedNonZero, std::string(what) + " is not zero"};
  }
  void bad(const std::string& detail) {
    if (status_.ok()) status_ = {DecodeError::kBadField, detail};
  }
  void length_mismatch(const std::string& detail) {
    if (status_.ok()) status_ = {DecodeError::kPayloadLengthMismatch, detail};
  }
  // Final verdict: first field error, else a length mismatch if the payload
  // was too short or had bytes left over.
  DecodeStatus status() const {
    if (short_ || pos_ != in_.size())
      return {DecodeError::kPayloadLengthMismatch,
              "payload of " + std::to_string(in_.size()) + " bytes " +
                  (short_ ? "too short" : "has trailing bytes")};
    return status_;
  }

 private:
  bool take(size_t n) {
    if (short_ || in_.size() - pos_ < n) {
      short_ = true;
      return false;
    }
    pos_ += n;
    return true;
  }
  uint64_t be(int n) {
    if (!take(static_cast<size_t>(n))) return 0;
    uint64_t v = 0;
    for (int i = n; i > 0; --i) v = (v << 8) | in_[pos_ - i];
    return v;
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  bool short_ = false;
  DecodeStatus status_;
};

// Enum validation: each decoder lists the values it accepts.
template <typename E>
E read_enum(Reader& r, std::initializer_list<E> allowed, const char* what) {
  auto raw = r.u8();
  for (E e : allowed)
    if (static_cast<uint8_t>(e) == raw) return e;
  r.bad(std::string("unknown ") + what + " " + std::to_string(raw));
  return *allowed.begin();
}
Role read_role(Reader& r) { return read_enum(r, {Role::kSecondary, Role::kPrimary}, "role"); }
DiskState read_disk(Reader& r) {
  using enum DiskState;
  return read_enum(r, {kDiskless, kAttaching, kInconsistent, kOutdated, kUpToDate, kConsistent},
                   "disk state");
}

// Offset/length of a block on the data device: sector aligned, 1..1 MiB.
void check_extent(Reader& r, uint64_t offset, uint64_t length) {
  if (offset % kSectorSize != 0 || length % kSectorSize != 0)
    r.bad("offset " + std::to_string(offset) + " / length " + std::to_string(length) +
          " not a multiple of 512");
  else if (length == 0 || length > kMaxDataBytes)
    r.bad("length " + std::to_string(length) + " not in 1.." + std::to_string(kMaxDataBytes));
}

// u64 offset, u32 length of a block, checked.
void get_extent(Reader& r, uint64_t& offset, uint32_t& length) {
  offset = r.u64();
  length = r.u32();
  check_extent(r, offset, length);
}

// ---- BitmapChunk run-length encoding ----

void put_uleb(std::vector<uint8_t>& out, uint64_t v) {
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    out.push_back(v ? (b | 0x80) : b);
  } while (v);
}
// Reads one ULEB128 value; false on a truncated, over-long (> 64 bit) or
// padded one. put_uleb writes the shortest form only, and accepting others
// (0x84 0x00 for 4) would give one bitmap many encodings, against rle_valid.
bool get_uleb(std::span<const uint8_t> in, size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && pos < in.size(); shift += 7) {
    uint8_t b = in[pos++];
    if (shift == 63 && b > 1) return false;  // bits beyond the 64th
    v |= uint64_t{b & 0x7Fu} << shift;
    if (!(b & 0x80)) return b != 0 || shift == 0;  // a final 0 group is padding
  }
  return false;
}
bool bit_at(std::span<const uint8_t> bits, uint64_t n) { return (bits[n / 8] >> (n % 8)) & 1; }

// Calls fn(first, length, value) for each maximal run of equal bits in
// [0, bit_count).
template <typename Fn>
void walk_runs(std::span<const uint8_t> bits, uint64_t bit_count, Fn fn) {
  for (uint64_t n = 0; n < bit_count;) {
    uint64_t start = n;
    bool value = bit_at(bits, n);
    while (n < bit_count && bit_at(bits, n) == value) ++n;
    fn(start, n - start, value);
  }
}
std::vector<uint8_t> rle_encode(std::span<const uint8_t> bits, uint64_t bit_count) {
  std::vector<uint8_t> out;
  if (bit_at(bits, 0)) put_uleb(out, 0);  // runs start with clear bits
  walk_runs(bits, bit_count, [&out](uint64_t, uint64_t len, bool) { put_uleb(out, len); });
  return out;
}
// Checks runs sum to bit_count with no empty run after the first (so every
// bitmap has exactly one encoding and a hostile chunk cannot loop forever).
bool rle_valid(std::span<const uint8_t> runs, uint64_t bit_count) {
  size_t pos = 0;
  uint64_t total = 0;
  bool first = true;
  while (pos < runs.size()) {
    uint64_t len;
    if (!get_uleb(runs, pos, len) || (len == 0 && !first) || len > bit_count - total)
      return false;
    total += len;
    first = false;
  }
  return total == bit_count;
}

// ---- per-type payload encoders (overloads picked by std::visit) ----

void put(Writer& w, const Hello& m) {
  w.u16(m.min_version).u16(m.max_version).u32(m.node_id).u64(m.device_size);
  w.e8(m.protocol).e8(m.role).e8(m.disk_state).u8(0).u32(m.flags);
  w.u64(m.generations.current).u64(m.generations.bitmap);
  w.u64(m.generations.history[0]).u64(m.generations.history[1]);
  w.text(m.node_name, kMaxNodeNameBytes);
}
void put(Writer& w, const AuthChallenge& m) { w.bytes(m.nonce); }
void put(Writer& w, const AuthResponse& m) { w.bytes(m.mac); }
void put(Writer& w, const AuthResult& m) { w.u8(m.ok).u8(0).text(m.reason, kMaxReasonBytes); }
void put(Writer& w, const Data& m) {
  w.u64(m.offset).u32(m.flags).u32(static_cast<uint32_t>(m.data.size())).bytes(m.data);
}
void put(Writer& w, const DataAck& m) { w.u64(m.sequence).e8(m.kind).u8(0).u16(0); }
void put(Writer& w, const Barrier& m) { w.u32(m.barrier); }
void put(Writer& w, const BarrierAck& m) { w.u32(m.barrier).u32(m.write_count); }
void put(Writer& w, const BitmapChunk& m) {
  w.u64(m.offset_bits).u64(m.bit_count).e8(m.encoding).u8(0).u16(0).bytes(m.bytes);
}
void put(Writer& w, const ResyncRequest& m) {
  w.u64(m.offset).u32(m.length).u32(m.want_checksum ? 1 : 0);
}
void put(Writer& w, const ResyncReply& m) {
  w.u64(m.offset).u32(static_cast<uint32_t>(m.data.size())).bytes(m.data);
}
void put(Writer& w, const ChecksumReply& m) { w.u64(m.offset).u32(m.length).bytes(m.digest); }
void put(Writer& w, const VerifyRequest& m) { w.u64(m.offset).u32(m.length); }
void put(Writer& w, const VerifyReply& m) { w.u64(m.offset).u32(m.length).bytes(m.digest); }
void put(Writer& w, const VerifyEnd& m) { w.u64(m.verified_bytes).u64(m.out_of_sync_bytes); }
void put(Writer& w, const StateChange& m) { w.e8(m.role).e8(m.disk_state).u16(0); }
void put(Writer&, const Ping&) {}
void put(Writer&, const PingAck&) {}
void put(Writer& w, const Disconnect& m) {
  w.u16(static_cast<uint16_t>(m.code)).text(m.reason, kMaxReasonBytes);
}
void put(Writer& w, const ResizeRequest& m) { w.u64(m.current_size).u64(m.max_size); }
void put(Writer& w, const ResizeReply& m) { w.u64(m.new_size).text(m.reason, kMaxReasonBytes); }
void put(Writer& w, const SyncPause& m) { w.u8(m.paused ? 1 : 0).u8(0).u16(0); }
void put(Writer& w, const SkipInitialSync& m) { w.u64(m.generation); }
void put(Writer& w, const Discard& m) { w.u64(m.offset).u32(m.length).u32(0); }
void put(Writer& w, const PullAhead& m) { w.u64(m.queued_bytes); }
void put(Writer& w, const NewGeneration& m) {
  w.u64(m.generations.current).u64(m.generations.bitmap);
  w.u64(m.generations.history[0]).u64(m.generations.history[1]);
}
void put(Writer& w, const ResizeWithOptions& m) {
  const uint32_t flags = (m.exact ? kResizeExactFlag : 0u) | (m.assume_clean ? kResizeAssumeCleanFlag : 0u) |
                         (m.shrink ? kResizeShrinkFlag : 0u);
  w.u64(m.current_size).u64(m.max_size).u32(flags).u32(0);
}

// ---- per-type payload decoders; each reads every field, then validates ----

void get(Reader& r, Hello& m) {
  m.min_version = r.u16();
  m.max_version = r.u16();
  m.node_id = r.u32();
  m.device_size = r.u64();
  m.protocol = read_enum(r, {ReplicationProtocol::kA, ReplicationProtocol::kB,
                             ReplicationProtocol::kC}, "replication protocol");
  m.role = read_role(r);
  m.disk_state = read_disk(r);
  r.zero(1, "Hello reserved byte");
  // Unknown flag bits are kept, not refused: they may be a later version's.
  m.flags = r.u32();
  m.generations.current = r.u64();
  m.generations.bitmap = r.u64();
  m.generations.history[0] = r.u64();
  m.generations.history[1] = r.u64();
  m.node_name = r.text(kMaxNodeNameBytes);
  if (m.min_version == 0 || m.min_version > m.max_version)
    r.bad("version range " + std::to_string(m.min_version) + ".." +
          std::to_string(m.max_version));
}
void get(Reader& r, AuthChallenge& m) { r.array(m.nonce); }
void get(Reader& r, AuthResponse& m) { r.array(m.mac); }
void get(Reader& r, AuthResult& m) {
  uint8_t ok = r.u8();
  if (ok > 1) r.bad("AuthResult ok " + std::to_string(ok));
  m.ok = ok == 1;
  r.zero(1, "AuthResult reserved byte");
  m.reason = r.text(kMaxReasonBytes);
}
// Shared by Data and ResyncReply: a length field that must equal the size
// of the block that follows it.
void check_block(Reader& r, uint64_t offset, uint32_t length, size_t block_size) {
  if (length != block_size)
    r.length_mismatch("length field " + std::to_string(length) + " but " +
                      std::to_string(block_size) + " data bytes");
  check_extent(r, offset, block_size);
}
std::vector<uint8_t> get_block(Reader& r, uint64_t offset) {
  const uint32_t length = r.u32();
  std::vector<uint8_t> data = r.rest();
  check_block(r, offset, length, data.size());
  return data;
}
// The fixed fields of Data, before its length field.
void get_head(Reader& r, Data& m) {
  m.offset = r.u64();
  m.flags = r.u32();
  r.reserved_zero(m.flags & ~kDataKnownFlags, "Data flags");
}
void get_head(Reader& r, ResyncReply& m) { m.offset = r.u64(); }
void get(Reader& r, Data& m) {
  get_head(r, m);
  m.data = get_block(r, m.offset);
}
void get(Reader& r, DataAck& m) {
  m.sequence = r.u64();
  m.kind = read_enum(r, {AckKind::kReceived, AckKind::kWritten, AckKind::kFailed}, "ack kind");
  r.zero(3, "DataAck reserved");
}
void get(Reader& r, Barrier& m) { m.barrier = r.u32(); }
void get(Reader& r, BarrierAck& m) {
  m.barrier = r.u32();
  m.write_count = r.u32();  // not checked here: the receiver compares it with its count
}
void get(Reader& r, BitmapChunk& m) {
  m.offset_bits = r.u64();
  m.bit_count = r.u64();
  m.encoding = read_enum(r, {BitmapEncoding::kRaw, BitmapEncoding::kRle}, "bitmap encoding");
  r.zero(3, "BitmapChunk reserved");
  m.bytes = r.rest();
  if (m.bit_count == 0 || m.bit_count > kMaxBitmapChunkBits) {
    r.bad("bit count " + std::to_string(m.bit_count) + " not in 1.." +
          std::to_string(kMaxBitmapChunkBits));
  } else if (m.encoding == BitmapEncoding::kRaw) {
    if (m.bytes.size() != (m.bit_count + 7) / 8)
      r.bad("raw bitmap of " + std::to_string(m.bytes.size()) + " bytes for " +
            std::to_string(m.bit_count) + " bits");
    else if (m.bit_count % 8 && (m.bytes.back() >> (m.bit_count % 8)))
      r.reserved_zero(1, "raw bitmap padding");
  } else if (!rle_valid(m.bytes, m.bit_count)) {
    r.bad("run-length bitmap does not describe exactly " + std::to_string(m.bit_count) + " bits");
  }
}
void get(Reader& r, ResyncRequest& m) {
  get_extent(r, m.offset, m.length);
  uint32_t flags = r.u32();
  r.reserved_zero(flags & ~1u, "ResyncRequest flags");
  m.want_checksum = flags & 1;
}
void get(Reader& r, ResyncReply& m) {
  get_head(r, m);
  m.data = get_block(r, m.offset);
}
void get(Reader& r, ChecksumReply& m) {
  get_extent(r, m.offset, m.length);
  r.array(m.digest);
}
void get(Reader& r, VerifyRequest& m) { get_extent(r, m.offset, m.length); }
void get(Reader& r, VerifyReply& m) {
  get_extent(r, m.offset, m.length);
  r.array(m.digest);
}
void get(Reader& r, VerifyEnd& m) {
  m.verified_bytes = r.u64();
  m.out_of_sync_bytes = r.u64();
  if (m.out_of_sync_bytes > m.verified_bytes) r.bad("VerifyEnd: more bytes out of sync than verified");
}
void get(Reader& r, StateChange& m) {
  m.role = read_role(r);
  m.disk_state = read_disk(r);
  r.zero(2, "StateChange reserved");
}
void get(Reader&, Ping&) {}
void get(Reader&, PingAck&) {}
void get(Reader& r, Disconnect& m) {
  // Unknown codes are kept: a later version may add reasons.
  m.code = static_cast<DisconnectCode>(r.u16());
  m.reason = r.text(kMaxReasonBytes);
}
void get(Reader& r, ResizeRequest& m) {
  m.current_size = r.u64();
  m.max_size = r.u64();
  if (m.current_size % 4096 != 0 || m.max_size % 4096 != 0 || m.max_size <= m.current_size)
    r.bad("ResizeRequest: sizes must be multiples of 4096 and grow");
}
void get(Reader& r, ResizeWithOptions& m) {
  m.current_size = r.u64();
  m.max_size = r.u64();
  const uint32_t flags = r.u32();
  r.zero(4, "ResizeWithOptions reserved");
  // Unknown options are refused, not ignored: each changes what the peer
  // does to its data.
  if ((flags & ~(kResizeExactFlag | kResizeAssumeCleanFlag | kResizeShrinkFlag)) != 0)
    r.bad("ResizeWithOptions: unknown option bits " + std::to_string(flags));
  m.exact = (flags & kResizeExactFlag) != 0;
  m.assume_clean = (flags & kResizeAssumeCleanFlag) != 0;
  m.shrink = (flags & kResizeShrinkFlag) != 0;
  if (m.current_size % 4096 != 0 || m.max_size % 4096 != 0)
    r.bad("ResizeWithOptions: sizes must be multiples of 4096");
  if (!m.shrink && m.max_size <= m.current_size) r.bad("ResizeWithOptions: without the shrink flag the size must grow");
  if (m.shrink && (m.max_size == 0 || m.max_size >= m.current_size || !m.exact || m.assume_clean))
    r.bad("ResizeWithOptions: a shrink names an exact size between 0 and the current one, and no assume-clean");
}
void get(Reader& r, ResizeReply& m) {
  m.new_size = r.u64();
  m.reason = r.text(kMaxReasonBytes);
  if (m.new_size % 4096 != 0) r.bad("ResizeReply: size not a multiple of 4096");
}
void get(Reader& r, SkipInitialSync& m) {
  m.generation = r.u64();
  if (uuid_value(m.generation) == 0 || uuid_value(m.generation) == kJustCreatedUuid)
    r.bad("SkipInitialSync: generation must be a new one");
}
void get(Reader& r, Discard& m) {
  m.offset = r.u64();
  m.length = r.u32();
  r.zero(4, "Discard reserved");
  if (m.offset % kSectorSize != 0 || m.length % kSectorSize != 0)
    r.bad("Discard: offset " + std::to_string(m.offset) + " / length " + std::to_string(m.length) +
          " not a multiple of 512");
  else if (m.length == 0 || m.length > kMaxDiscardBytes)
    r.bad("Discard: length " + std::to_string(m.length) + " not in 1.." + std::to_string(kMaxDiscardBytes));
}
void get(Reader& r, PullAhead& m) { m.queued_bytes = r.u64(); }
void get(Reader& r, NewGeneration& m) {
  m.generations.current = r.u64();
  m.generations.bitmap = r.u64();
  m.generations.history[0] = r.u64();
  m.generations.history[1] = r.u64();
  // Only a node with data sends it: never the empty or the just-created value.
  if (uuid_value(m.generations.current) == 0 || uuid_value(m.generations.current) == kJustCreatedUuid)
    r.bad("NewGeneration: current generation " + generation_hex(m.generations.current) + " names no data");
}
void get(Reader& r, SyncPause& m) {
  const uint8_t v = r.u8();
  if (v > 1) r.bad("SyncPause: paused must be 0 or 1");
  m.paused = v == 1;
  r.zero(1, "SyncPause reserved");
  r.zero(2, "SyncPause reserved");
}

template <typename T>
DecodeStatus decode_as(std::span<const uint8_t> payload, Message& out) {
  T m;
  Reader r(payload);
  get(r, m);
  DecodeStatus s = r.status();
  if (s.ok()) out = std::move(m);
  return s;
}

// The header of a payload of `payload_size` bytes whose CRC32C is `payload_crc`.
void put_header(std::span<uint8_t, kHeaderSize> b, uint16_t version, uint16_t type, uint16_t flags,
                uint64_t sequence, size_t payload_size, uint32_t payload_crc) {
  std::vector<uint8_t> h;
  h.reserve(kHeaderSize);
  Writer w(h);
  w.u32(kMagic).u16(version).u16(type).u16(flags).u16(0 /* reserved */).u64(sequence);
  w.u32(static_cast<uint32_t>(payload_size)).u32(payload_crc);
  w.u32(crc32c(h));  // over bytes 0..27
  std::copy(h.begin(), h.end(), b.begin());
}

void put_header(std::span<uint8_t, kHeaderSize> b, uint16_t version, uint16_t type,
                uint16_t flags, uint64_t sequence, std::span<const uint8_t> payload) {
  put_header(b, version, type, flags, sequence, payload.size(), crc32c(payload));
}

}  // namespace

const char* to_string(DecodeError e) {
  // In DecodeError order.
  static constexpr const char* kNames[] = {
      "ok",           "truncated",       "bad-magic",    "unsupported-version",
      "bad-header-crc", "bad-payload-crc", "unknown-type", "payload-too-large",
      "payload-length-mismatch",         "reserved-non-zero", "bad-field"};
  auto i = static_cast<size_t>(e);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

std::string DecodeStatus::message() const {
  return detail.empty() ? to_string(error) : std::string(to_string(error)) + ": " + detail;
}

// Frame types and names, in the order of the Message variant's alternatives,
// so a variant index maps to its type (checked by the static_assert).
namespace {
struct TypeInfo {
  FrameType type;
  const char* name;
};
constexpr TypeInfo kTypes[] = {
    {FrameType::kHello, "Hello"},           {FrameType::kAuthChallenge, "AuthChallenge"},
    {FrameType::kAuthResponse, "AuthResponse"}, {FrameType::kAuthResult, "AuthResult"},
    {FrameType::kData, "Data"},             {FrameType::kDataAck, "DataAck"},
    {FrameType::kBarrier, "Barrier"},       {FrameType::kBarrierAck, "BarrierAck"},
    {FrameType::kBitmapChunk, "BitmapChunk"}, {FrameType::kResyncRequest, "ResyncRequest"},
    {FrameType::kResyncReply, "ResyncReply"}, {FrameType::kChecksumReply, "ChecksumReply"},
    {FrameType::kVerifyRequest, "VerifyRequest"}, {FrameType::kVerifyReply, "VerifyReply"},
    {FrameType::kVerifyEnd, "VerifyEnd"},
    {FrameType::kStateChange, "StateChange"}, {FrameType::kPing, "Ping"},
    {FrameType::kPingAck, "PingAck"},       {FrameType::kDisconnect, "Disconnect"},
    {FrameType::kResizeRequest, "ResizeRequest"}, {FrameType::kResizeReply, "ResizeReply"},
    {FrameType::kSyncPause, "SyncPause"},     {FrameType::kSkipInitialSync, "SkipInitialSync"},
    {FrameType::kDiscard, "Discard"},       {FrameType::kPullAhead, "PullAhead"},
    {FrameType::kResizeWithOptions, "ResizeWithOptions"},
    {FrameType::kNewGeneration, "NewGeneration"},
};
static_assert(std::size(kTypes) == std::variant_size_v<Message>);

template <size_t I = 0>
DecodeStatus decode_index(size_t index, std::span<const uint8_t> payload, Message& out) {
  if constexpr (I < std::variant_size_v<Message>) {
    if (index == I) return decode_as<std::variant_alternative_t<I, Message>>(payload, out);
    return decode_index<I + 1>(index, payload, out);
  } else {
    return {DecodeError::kUnknownType, ""};
  }
}
}  // namespace

const char* to_string(FrameType t) {
  for (const TypeInfo& i : kTypes)
    if (i.type == t) return i.name;
  return "unknown";
}

FrameType type_of(const Message& m) { return kTypes[m.index()].type; }

std::vector<uint8_t> encode_payload(const Message& m) {
  std::vector<uint8_t> out;
  Writer w(out);
  std::visit([&w](const auto& msg) { put(w, msg); }, m);
  return out;
}

DecodeStatus decode_payload(uint16_t type, std::span<const uint8_t> payload, Message& out) {
  for (size_t i = 0; i < std::size(kTypes); ++i)
    if (static_cast<uint16_t>(kTypes[i].type) == type) return decode_index(i, payload, out);
  return {DecodeError::kUnknownType, "frame type " + std::to_string(type)};
}

std::vector<uint8_t> encode_raw_frame(const FrameHeader& h, std::span<const uint8_t> payload) {
  std::vector<uint8_t> out(kHeaderSize);
  put_header(std::span<uint8_t, kHeaderSize>(out.data(), kHeaderSize), h.version, h.type, h.flags,
             h.sequence, payload);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<uint8_t> encode_frame(const Frame& f, uint16_t frame_version) {
  // Payload is written after a header-sized gap, so the frame is built in one
  // buffer without copying the (up to 1 MiB) payload again.
  std::vector<uint8_t> out(kHeaderSize);
  Writer w(out);
  std::visit([&w](const auto& msg) { put(w, msg); }, f.message);
  FrameType type = type_of(f.message);
  uint16_t version = type == FrameType::kHello ? kHelloVersion : frame_version;
  put_header(std::span<uint8_t, kHeaderSize>(out.data(), kHeaderSize), version,
             static_cast<uint16_t>(type), 0, f.sequence,
             std::span<const uint8_t>(out).subspan(kHeaderSize));
  return out;
}

std::vector<uint8_t> encode_data_frame_head(uint64_t sequence, uint64_t offset, uint32_t flags,
                                            std::span<const uint8_t> data, uint16_t version) {
  std::vector<uint8_t> out;
  out.reserve(kDataFrameHeadSize);
  out.resize(kHeaderSize);
  Writer w(out);
  w.u64(offset).u32(flags).u32(static_cast<uint32_t>(data.size()));
  const auto fields = std::span<const uint8_t>(out).subspan(kHeaderSize);
  put_header(std::span<uint8_t, kHeaderSize>(out.data(), kHeaderSize), version,
             static_cast<uint16_t>(FrameType::kData), 0, sequence, fields.size() + data.size(),
             crc32c(data, crc32c(fields)));
  return out;
}

std::vector<uint8_t> encode_data_frame(uint64_t sequence, uint64_t offset, uint32_t flags,
                                       std::span<const uint8_t> data, uint16_t version) {
  std::vector<uint8_t> out = encode_data_frame_head(sequence, offset, flags, data, version);
  out.reserve(kDataFrameHeadSize + data.size());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

DecodeStatus decode_header(std::span<const uint8_t> b, FrameHeader& h) {
  if (b.size() < kHeaderSize)
    return {DecodeError::kTruncated, std::to_string(b.size()) + " of 32 header bytes"};
  Reader r(b.first(kHeaderSize));
  uint32_t magic = r.u32();
  h.version = r.u16();
  h.type = r.u16();
  h.flags = r.u16();
  uint16_t reserved = r.u16();
  h.sequence = r.u64();
  h.payload_length = r.u32();
  h.payload_crc = r.u32();
  // Magic first: a stream from something else (or out of step) is reported
  // as such rather than as a CRC error.
  if (magic != kMagic) {
    char hex[48];
    std::snprintf(hex, sizeof hex, "magic 0x%08x, want 0x%08x", magic, kMagic);
    return {DecodeError::kBadMagic, hex};
  }
  if (crc32c(b.first(28)) != r.u32()) return {DecodeError::kBadHeaderCrc, ""};
  bool hello = h.type == static_cast<uint16_t>(FrameType::kHello);
  if (hello ? h.version != kHelloVersion
            : (h.version < kMinProtocolVersion || h.version > kMaxProtocolVersion))
    return {DecodeError::kUnsupportedVersion,
            "frame version " + std::to_string(h.version) + ", this node speaks " +
                (hello ? std::to_string(kHelloVersion) + " for Hello"
                       : std::to_string(kMinProtocolVersion) + ".." +
                             std::to_string(kMaxProtocolVersion))};
  if (h.flags != 0 || reserved != 0)
    return {DecodeError::kReservedNonZero, "header flags/reserved are not zero"};
  if (h.payload_length > kMaxPayloadSize)
    return {DecodeError::kPayloadTooLarge, "payload of " + std::to_string(h.payload_length) +
                                               " bytes, limit " + std::to_string(kMaxPayloadSize)};
  return {};
}

namespace {

// Names the frame in a payload error: "payload-length-mismatch: Data frame:
// ..." is what an operator needs to report a peer bug.
DecodeStatus named(const FrameHeader& h, DecodeStatus s) {
  if (!s.ok() && s.error != DecodeError::kUnknownType)
    s.detail = std::string(to_string(static_cast<FrameType>(h.type))) + " frame: " + s.detail;
  return s;
}

DecodeStatus check_payload_crc(const FrameHeader& h, uint32_t crc) {
  if (crc == h.payload_crc) return {};
  return {DecodeError::kBadPayloadCrc,
          std::string(to_string(static_cast<FrameType>(h.type))) + " frame, sequence " + std::to_string(h.sequence)};
}

// What decode_frame() checks after the header: the payload's CRC, then
// its fields.
DecodeStatus decode_checked(const FrameHeader& h, std::span<const uint8_t> payload, Message& out) {
  if (DecodeStatus s = check_payload_crc(h, crc32c(payload)); !s.ok()) return s;
  return named(h, decode_payload(h.type, payload, out));
}

// A Data or ResyncReply payload in two parts, its fixed fields and its
// block: the block becomes the message's data without a copy. The same
// checks, and the same errors, as decode_payload() of the whole payload.
template <typename T>
DecodeStatus decode_split_as(std::span<const uint8_t> fields, std::vector<uint8_t>& block, Message& out) {
  T m;
  Reader r(fields);
  get_head(r, m);
  const uint32_t length = r.u32();
  check_block(r, m.offset, length, block.size());
  DecodeStatus s = r.status();
  if (s.ok()) {
    m.data = std::move(block);
    out = std::move(m);
  }
  return s;
}

// Bytes of fixed fields ahead of the block in a payload of `type`, or 0 if
// its payload is not a header followed by a block.
size_t split_fields_size(uint16_t type) {
  if (type == static_cast<uint16_t>(FrameType::kData)) return 16;        // offset, flags, length
  if (type == static_cast<uint16_t>(FrameType::kResyncReply)) return 12;  // offset, length
  return 0;
}

DecodeStatus decode_checked_split(const FrameHeader& h, std::span<const uint8_t> fields,
                                  std::vector<uint8_t>& block, Message& out) {
  if (DecodeStatus s = check_payload_crc(h, crc32c(block, crc32c(fields))); !s.ok()) return s;
  const DecodeStatus s = h.type == static_cast<uint16_t>(FrameType::kData)
                             ? decode_split_as<Data>(fields, block, out)
                             : decode_split_as<ResyncReply>(fields, block, out);
  return named(h, s);
}

}  // namespace

DecodeResult decode_frame(std::span<const uint8_t> bytes) {
  DecodeResult res;
  FrameHeader h;
  res.status = decode_header(bytes, h);
  if (!res.status.ok()) return res;
  if (bytes.size() - kHeaderSize < h.payload_length) {
    res.status = {DecodeError::kTruncated,
                  std::to_string(bytes.size() - kHeaderSize) + " of " +
                      std::to_string(h.payload_length) + " payload bytes"};
    return res;
  }
  res.status = decode_checked(h, bytes.subspan(kHeaderSize, h.payload_length), res.frame.message);
  if (!res.status.ok()) return res;
  res.frame.sequence = h.sequence;
  res.consumed = kHeaderSize + h.payload_length;
  return res;
}

FrameReader::FrameReader(size_t max_buffered, size_t staging_bytes)
    : max_buffered_(max_buffered), staging_(staging_bytes) {
  // Smaller than one frame would dead-lock a reader waiting for a full frame.
  assert(max_buffered_ >= kMaxFrameSize);
  // A big frame's header and fixed fields are staged before its block.
  assert(staging_bytes >= kDataFrameHeadSize);
}

std::span<uint8_t> FrameReader::receive_space() {
  if (!error_.ok()) {
    // Out of step for good: whatever arrives now is dropped (the caller is
    // about to close the connection).
    big_.reset();
    start_ = end_ = 0;
    return staging_;
  }
  if (big_) return std::span<uint8_t>(body_).subspan(big_->filled);
  if (start_ == end_) start_ = end_ = 0;
  if (end_ == staging_.size() && start_ > 0) {
    // The frame in progress (smaller than the staging buffer: a bigger one
    // would have moved to body_) goes to the front to make room for its rest.
    std::memmove(staging_.data(), staging_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  // Empty only while complete frames fill the buffer: next() makes room.
  return std::span<uint8_t>(staging_).subspan(end_);
}

void FrameReader::received(size_t bytes) {
  if (!error_.ok()) return;
  if (big_) {
    assert(bytes <= body_.size() - big_->filled);
    big_->filled += bytes;
    return;
  }
  assert(bytes <= staging_.size() - end_);
  end_ += bytes;
  maybe_start_big_frame();
}

void FrameReader::maybe_start_big_frame() {
  const auto avail = std::span<const uint8_t>(staging_).subspan(start_, end_ - start_);
  FrameHeader h;
  // A bad header is left where it is, for next() to report.
  if (avail.size() < kHeaderSize || !decode_header(avail, h).ok()) return;
  const size_t frame_size = kHeaderSize + h.payload_length;
  if (frame_size <= staging_.size()) return;
  size_t fields_size = split_fields_size(h.type);
  if (h.payload_length <= fields_size) fields_size = 0;  // malformed: decoded as a whole, to fail there
  if (avail.size() < kHeaderSize + fields_size) return;  // the fields first
  BigFrame big;
  big.header = h;
  big.fields_size = fields_size;
  std::copy_n(avail.begin() + kHeaderSize, fields_size, big.fields.begin());
  body_ = std::move(spare_);
  spare_ = {};
  body_.resize(h.payload_length - fields_size);
  // Everything staged belongs to this frame, which is bigger than the
  // staging buffer: at most kStagingBytes copied, the rest is read into
  // body_ directly.
  const auto already = avail.subspan(kHeaderSize + fields_size);
  std::copy(already.begin(), already.end(), body_.begin());
  big.filled = already.size();
  big_ = big;
  start_ = end_ = 0;
}

size_t FrameReader::space() const { return max_buffered_ - std::min(max_buffered_, buffered()); }

size_t FrameReader::buffered() const {
  size_t n = (pending_.size() - pending_start_) + (end_ - start_);
  if (big_) n += kHeaderSize + big_->fields_size + big_->filled;
  return n;
}

bool FrameReader::feed(std::span<const uint8_t> chunk) {
  if (chunk.size() > space()) return false;
  if (pending_start_ == pending_.size()) {
    pending_.clear();
    pending_start_ = 0;
  }
  pending_.insert(pending_.end(), chunk.begin(), chunk.end());
  pump();
  return true;
}

void FrameReader::pump() {
  while (pending_start_ < pending_.size()) {
    const std::span<uint8_t> to = receive_space();
    if (to.empty()) return;
    const size_t n = std::min(to.size(), pending_.size() - pending_start_);
    std::copy_n(pending_.begin() + static_cast<std::ptrdiff_t>(pending_start_), n, to.begin());
    pending_start_ += n;
    received(n);
  }
}

size_t FrameReader::bytes_wanted() const {
  if (big_) return std::max<size_t>(1, body_.size() - big_->filled);
  const auto avail = std::span<const uint8_t>(staging_).subspan(start_, end_ - start_);
  if (avail.size() < kHeaderSize) return kHeaderSize - avail.size();
  FrameHeader h;
  if (!decode_header(avail, h).ok()) return 1;
  const size_t frame = kHeaderSize + h.payload_length;
  if (frame > staging_.size()) return frame - avail.size();  // its fields are still missing
  return avail.size() < frame ? frame - avail.size() : 1;
}

void FrameReader::recycle(std::vector<uint8_t> buffer) {
  if (buffer.capacity() > spare_.capacity()) spare_ = std::move(buffer);
}

FrameReader::Next FrameReader::finish_big_frame(Frame& out) {
  const BigFrame big = *big_;
  big_.reset();
  DecodeStatus s =
      big.fields_size > 0
          ? decode_checked_split(big.header, std::span<const uint8_t>(big.fields).first(big.fields_size), body_,
                                 out.message)
          : decode_checked(big.header, body_, out.message);
  // A split payload's block moved into the message; anything else is
  // kept for the next big frame.
  if (!body_.empty()) recycle(std::move(body_));
  body_ = {};
  if (!s.ok()) {
    error_ = std::move(s);
    return Next::kError;
  }
  out.sequence = big.header.sequence;
  return Next::kFrame;
}

FrameReader::Next FrameReader::next(Frame& out) {
  if (!error_.ok()) return Next::kError;
  pump();  // fed bytes that had no room before the last frame was taken
  if (big_) return big_->filled < body_.size() ? Next::kNeedMore : finish_big_frame(out);
  const auto avail = std::span<const uint8_t>(staging_).subspan(start_, end_ - start_);
  if (avail.size() < kHeaderSize) return Next::kNeedMore;
  // Check the header as soon as it is complete, so a bad or oversize header
  // fails now instead of after buffering up to 4 GiB of "payload".
  FrameHeader h;
  DecodeStatus s = decode_header(avail, h);
  if (s.ok() && avail.size() < kHeaderSize + h.payload_length) return Next::kNeedMore;
  DecodeResult r = s.ok() ? decode_frame(avail) : DecodeResult{std::move(s), {}, 0};
  if (!r.status.ok()) {
    error_ = std::move(r.status);
    return Next::kError;
  }
  start_ += r.consumed;
  out = std::move(r.frame);
  return Next::kFrame;
}

BitmapChunk make_bitmap_chunk(uint64_t offset_bits, std::span<const uint8_t> bits,
                              uint64_t bit_count) {
  assert(bit_count > 0 && bit_count <= kMaxBitmapChunkBits && bits.size() * 8 >= bit_count);
  BitmapChunk c;
  c.offset_bits = offset_bits;
  c.bit_count = bit_count;
  std::vector<uint8_t> rle = rle_encode(bits, bit_count);
  size_t raw_size = (bit_count + 7) / 8;
  if (rle.size() < raw_size) {
    c.encoding = BitmapEncoding::kRle;
    c.bytes = std::move(rle);
  } else {
    c.encoding = BitmapEncoding::kRaw;
    c.bytes.assign(bits.begin(), bits.begin() + static_cast<std::ptrdiff_t>(raw_size));
    if (bit_count % 8) c.bytes.back() &= static_cast<uint8_t>((1u << (bit_count % 8)) - 1);
  }
  return c;
}

void for_each_set_run(const BitmapChunk& c,
                      const std::function<void(uint64_t first_bit, uint64_t count)>& fn) {
  if (c.encoding == BitmapEncoding::kRle) {
    size_t pos = 0;
    uint64_t n = 0, len = 0;
    for (bool set = false; pos < c.bytes.size() && get_uleb(c.bytes, pos, len); set = !set) {
      if (set && len) fn(c.offset_bits + n, len);
      n += len;
    }
    return;
  }
  walk_runs(c.bytes, c.bit_count, [&](uint64_t first, uint64_t len, bool set) {
    if (set) fn(c.offset_bits + first, len);
  });
}

}  // namespace vrrpd::replication::wire
