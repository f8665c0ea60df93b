// Raw IP-protocol-112 socket on one interface for one address family:
// multicast group membership, TTL/hop limit 255, explicit source address
// (the checksum's pseudo-header needs it), and receive with TTL and
// destination. Non-blocking; the event loop watches fd().
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vrrpd/base/ip_address.h"

namespace vrrpd::net {

struct ReceivedPacket {
  std::vector<std::uint8_t> payload;  // the VRRP message, IP header stripped
  IpAddress source;
  IpAddress destination;
  int ttl = 0;  // IPv4 TTL or IPv6 hop limit
};

class VrrpSocket {
 public:
  // Opens the socket bound to `ifname`. Throws std::runtime_error with the
  // interface and errno text on failure.
  VrrpSocket(const std::string& ifname, int ifindex, Family family);
  ~VrrpSocket();
  VrrpSocket(const VrrpSocket&) = delete;
  VrrpSocket& operator=(const VrrpSocket&) = delete;

  int fd() const { return fd_; }
  Family family() const { return family_; }
  const std::string& ifname() const { return ifname_; }
  // Joins the VRRP multicast group (again) on the interface; needed after
  // the link comes back since the kernel may drop memberships.
  void join_group();
  // Sends `message` from `src` to `dst`. Returns 0 or an errno value.
  int send(std::span<const std::uint8_t> message, const IpAddress& src, const IpAddress& dst);
  // Non-blocking; nullopt when nothing is queued (or a malformed IP header).
  std::optional<ReceivedPacket> receive();

 private:
  std::string ifname_;
  int ifindex_;
  Family family_;
  int fd_ = -1;
};

}  // namespace vrrpd::net
