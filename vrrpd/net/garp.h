// Gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6) that
// tell the link the VIP now lives at this MAC. Built and sent in-process; no
// arping or ndisc6 program is run.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "vrrpd/base/ip_address.h"

namespace vrrpd::net {

// ARP request, sender = target = vip, from `mac`, to the Ethernet broadcast.
std::vector<std::uint8_t> build_garp_frame(const std::array<std::uint8_t, 6>& mac, const IpAddress& vip);
// ICMPv6 neighbour advertisement body (type 136, Override flag, target
// link-layer address option). The kernel fills in the ICMPv6 checksum.
std::vector<std::uint8_t> build_unsolicited_na(const std::array<std::uint8_t, 6>& mac, const IpAddress& vip);

// Seam for tests.
class AnnounceSender {
 public:
  virtual ~AnnounceSender() = default;
  // Sends one GARP (IPv4 vip) or unsolicited NA (IPv6 vip, from `src_ll`).
  // Returns 0 or an errno value.
  virtual int announce(int ifindex, const std::array<std::uint8_t, 6>& mac, const IpAddress& vip,
                       const IpAddress& src_ll) = 0;
};

class SocketAnnounceSender final : public AnnounceSender {
 public:
  SocketAnnounceSender();
  ~SocketAnnounceSender() override;
  int announce(int ifindex, const std::array<std::uint8_t, 6>& mac, const IpAddress& vip,
               const IpAddress& src_ll) override;

 private:
  int packet_fd_ = -1;  // AF_PACKET for ARP
  int icmp6_fd_ = -1;   // raw ICMPv6 for NA
};

}  // namespace vrrpd::net
