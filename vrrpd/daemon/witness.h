// Quorum with a witness (issue 5, README "Witness"): a third node without
// data that hands out one lease per lock (a VRRP instance's name) to one
// data node at a time. With a witness configured, a data node promotes only
// with a majority of three: itself and the witness's lease, or itself and a
// connected replication peer; a Primary that has neither steps down.
//
// Lease rule, the reason the old holder is always gone first: the holder
// counts its lease from the time it SENT the claim that was granted, the
// witness from the time it RECEIVED it, so the holder's lease always ends
// first; and the witness gives the lock to another node only one more lease
// after that (the time the old holder has to step down: stop services,
// unmount, demote).
//
// Wire format, version 1: one UDP datagram of ASCII text per message,
//   vrrpd-witness/1 KIND node=ID lock=NAME boot=HEX seq=N [holder=ID remaining_ms=N] mac=HEX
// KIND is claim, renew or release (node to witness), granted or refused
// (witness to node, echoing node, lock, boot and seq). renew is a claim by a
// node that believes it holds the lock. mac is HMAC-SHA256 with the shared
// secret over every byte before " mac=". boot is random per daemon start and
// seq counts up within it, so the witness drops replays.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/base/ip_address.h"

namespace vrrpd::witness {

struct Message {
  std::string kind;  // "claim", "renew", "release", "granted", "refused"
  std::string node;  // the data node (its router_id)
  std::string lock;  // the VRRP instance's name
  uint64_t boot = 0;
  uint64_t seq = 0;
  std::string holder;         // granted/refused: who holds the lock now
  uint64_t remaining_ms = 0;  // refused: until the lock may be given to another node
};

std::string encode(const Message& m, std::string_view secret);
// nullopt with `error` set for anything malformed or with a wrong mac.
std::optional<Message> decode(std::string_view datagram, std::string_view secret, std::string* error);

// The witness's decisions; pure, for a fake clock.
//
// Leases live in memory only. So that a restarted witness cannot give a lock
// to one node while the other still holds it from before the restart, a
// table with a start time grants, for two leases after it, only renewals
// (claims of nodes that hold the lock); a fresh claim waits until then.
class LeaseTable {
 public:
  explicit LeaseTable(Duration lease, std::optional<TimePoint> started = std::nullopt)
      : lease_(lease), started_(started) {}
  struct Answer {
    bool granted = false;
    std::string holder;
    Duration remaining{0};  // refused: until another node may have it
  };
  Answer claim(const std::string& lock, const std::string& node, TimePoint now, bool renewal = false);
  // Frees the lock at once if `node` holds it (a clean hand-over).
  void release(const std::string& lock, const std::string& node);

 private:
  struct Lease {
    std::string holder;
    TimePoint expires{};  // last granted claim's arrival + lease
  };
  Duration lease_;
  std::optional<TimePoint> started_;  // set: the restart rule above applies
  std::map<std::string, Lease> leases_;
};

// The witness mode of the daemon: answers claims on a UDP socket.
class Server {
 public:
  // `restart_wait`: apply LeaseTable's restart rule from now (tests of
  // other behaviour turn it off).
  Server(EventLoop& loop, const IpAddress& address, uint16_t port, std::string secret, Duration lease,
         bool restart_wait = true);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // The UDP port answered on (the kernel's choice when constructed with 0).
  uint16_t port() const;

 private:
  void on_readable();

  EventLoop& loop_;
  std::string secret_;
  LeaseTable table_;
  int fd_ = -1;
  struct Seen {
    uint64_t boot = 0, seq = 0;
    std::string answer;  // the datagram sent for that seq (empty: none, e.g. a release)
  };
  std::map<std::string, Seen> last_seen_;  // by node
};

// A data node's side, on the VRRP loop; one per daemon, any number of locks.
class Client {
 public:
  enum class Result { kGranted, kRefused, kUnreachable };
  using Done = std::function<void(Result, std::string text)>;

  struct Options {
    std::string node;  // this node's id (router_id)
    IpAddress address;
    uint16_t port = 7790;
    std::string secret;
    Duration lease = std::chrono::seconds(5);
    Duration answer_timeout = std::chrono::seconds(1);  // one claim, retransmitted every 100 ms
  };
  Client(EventLoop& loop, Options opts);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Claims `lock`; `done` runs later on the loop. Granted: the lock is held
  // and renewed every lease/3 until release().
  void claim(const std::string& lock, Done done);
  // Stops renewing and tells the witness (best effort, not awaited).
  void release(const std::string& lock);
  // The lease is valid now (counted from the send time of the last granted claim).
  bool holds(const std::string& lock) const;
  const Options& options() const { return opts_; }

 private:
  struct Pending;
  struct Held;
  void send(const std::string& kind, const std::string& lock, uint64_t seq);
  // A claim or renewal for `lock`, retransmitted until answered or the answer timeout.
  void ask(const std::string& kind, const std::string& lock, Done done);
  void retransmit(uint64_t seq);
  void on_readable();
  void renew(const std::string& lock);

  EventLoop& loop_;
  Options opts_;
  int fd_ = -1;
  uint64_t boot_ = 0;
  uint64_t next_seq_ = 1;
  std::map<uint64_t, std::unique_ptr<Pending>> pending_;  // by seq
  std::map<std::string, std::unique_ptr<Held>> held_;     // by lock
};

}  // namespace vrrpd::witness
