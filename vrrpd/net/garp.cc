#include "vrrpd/net/garp.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vrrpd::net {

std::vector<std::uint8_t> build_garp_frame(const std::array<std::uint8_t, 6>& mac, const IpAddress& vip) {
  std::vector<std::uint8_t> f;
  f.insert(f.end(), 6, 0xff);                  // destination: broadcast
  f.insert(f.end(), mac.begin(), mac.end());   // source
  f.insert(f.end(), {0x08, 0x06});             // EtherType ARP
  f.insert(f.end(), {0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01});  // Ethernet/IPv4, request
  f.insert(f.end(), mac.begin(), mac.end());   // sender hardware address
  f.insert(f.end(), vip.bytes(), vip.bytes() + 4);  // sender protocol address
  f.insert(f.end(), 6, 0x00);                  // target hardware address: unknown
  f.insert(f.end(), vip.bytes(), vip.bytes() + 4);  // target protocol address = sender
  return f;
}

std::vector<std::uint8_t> build_unsolicited_na(const std::array<std::uint8_t, 6>& mac, const IpAddress& vip) {
  std::vector<std::uint8_t> p = {136, 0, 0, 0,  // type, code, checksum (kernel)
                                 0x20, 0, 0, 0};  // flags: Override
  p.insert(p.end(), vip.bytes(), vip.bytes() + 16);  // target address
  p.insert(p.end(), {2, 1});                          // option: target link-layer address, 8 bytes
  p.insert(p.end(), mac.begin(), mac.end());
  return p;
}

SocketAnnounceSender::SocketAnnounceSender() {
  packet_fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  icmp6_fd_ = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (packet_fd_ < 0 || icmp6_fd_ < 0)
    throw std::runtime_error(std::string("announce sockets: ") + std::strerror(errno));
  const int hops = 255;  // RFC 4861: NDP messages must carry hop limit 255
  setsockopt(icmp6_fd_, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
  setsockopt(icmp6_fd_, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops);
}

SocketAnnounceSender::~SocketAnnounceSender() {
  if (packet_fd_ >= 0) close(packet_fd_);
  if (icmp6_fd_ >= 0) close(icmp6_fd_);
}

int SocketAnnounceSender::announce(int ifindex, const std::array<std::uint8_t, 6>& mac,
                                   const IpAddress& vip, const IpAddress& src_ll) {
  if (vip.is_v4()) {
    auto frame = build_garp_frame(mac, vip);
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex;
    to.sll_protocol = htons(ETH_P_ARP);
    to.sll_halen = 6;
    std::memset(to.sll_addr, 0xff, 6);
    ssize_t n = sendto(packet_fd_, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    return n < 0 ? errno : 0;
  }
  auto body = build_unsolicited_na(mac, vip);
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);  // all-nodes
  to.sin6_scope_id = static_cast<std::uint32_t>(ifindex);
  iovec iov{body.data(), body.size()};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = sizeof to;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = IPPROTO_IPV6;
  cm->cmsg_type = IPV6_PKTINFO;
  cm->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
  in6_pktinfo pi{};
  pi.ipi6_ifindex = static_cast<unsigned>(ifindex);
  if (src_ll.is_v6()) pi.ipi6_addr = src_ll.to_in6_addr();
  std::memcpy(CMSG_DATA(cm), &pi, sizeof pi);
  ssize_t n = sendmsg(icmp6_fd_, &msg, MSG_DONTWAIT);
  return n < 0 ? errno : 0;
}

}  // namespace vrrpd::net
