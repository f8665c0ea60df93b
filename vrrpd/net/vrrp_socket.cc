#include "vrrpd/net/vrrp_socket.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "vrrpd/vrrp/packet.h"

namespace vrrpd::net {
namespace {

void check(int rc, const std::string& what, const std::string& ifname) {
  if (rc < 0)
    throw std::runtime_error("VRRP socket on " + ifname + ": " + what + ": " + std::strerror(errno));
}

}  // namespace

VrrpSocket::VrrpSocket(const std::string& ifname, int ifindex, Family family)
    : ifname_(ifname), ifindex_(ifindex), family_(family) {
  const int af = family == Family::kIPv4 ? AF_INET : AF_INET6;
  fd_ = socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, vrrp::kIpProtoVrrp);
  check(fd_, "socket", ifname);
  check(setsockopt(fd_, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(),
                   static_cast<socklen_t>(ifname.size())),
        "SO_BINDTODEVICE", ifname);
  const int ttl = vrrp::kRequiredTtl;
  const int off = 0, on = 1;
  if (family == Family::kIPv4) {
    check(setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl), "IP_MULTICAST_TTL", ifname);
    check(setsockopt(fd_, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl), "IP_TTL", ifname);
    check(setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_LOOP, &off, sizeof off), "IP_MULTICAST_LOOP", ifname);
    ip_mreqn mreq{};
    mreq.imr_ifindex = ifindex;
    check(setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof mreq), "IP_MULTICAST_IF", ifname);
    check(setsockopt(fd_, IPPROTO_IP, IP_PKTINFO, &on, sizeof on), "IP_PKTINFO", ifname);
  } else {
    check(setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl), "IPV6_MULTICAST_HOPS", ifname);
    check(setsockopt(fd_, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl), "IPV6_UNICAST_HOPS", ifname);
    check(setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof off), "IPV6_MULTICAST_LOOP", ifname);
    check(setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex), "IPV6_MULTICAST_IF", ifname);
    check(setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on), "IPV6_RECVHOPLIMIT", ifname);
    check(setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on), "IPV6_RECVPKTINFO", ifname);
  }
  join_group();
}

VrrpSocket::~VrrpSocket() {
  if (fd_ >= 0) close(fd_);
}

void VrrpSocket::join_group() {
  if (family_ == Family::kIPv4) {
    ip_mreqn mreq{};
    mreq.imr_multiaddr = vrrp_multicast_group(Family::kIPv4).to_in_addr();
    mreq.imr_ifindex = ifindex_;
    // EADDRINUSE: already a member, which is what we want.
    if (setsockopt(fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0 && errno != EADDRINUSE)
      check(-1, "IP_ADD_MEMBERSHIP", ifname_);
  } else {
    ipv6_mreq mreq{};
    mreq.ipv6mr_multiaddr = vrrp_multicast_group(Family::kIPv6).to_in6_addr();
    mreq.ipv6mr_interface = static_cast<unsigned>(ifindex_);
    if (setsockopt(fd_, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0 && errno != EADDRINUSE)
      check(-1, "IPV6_ADD_MEMBERSHIP", ifname_);
  }
}

int VrrpSocket::send(std::span<const std::uint8_t> message, const IpAddress& src, const IpAddress& dst) {
  iovec iov{const_cast<std::uint8_t*>(message.data()), message.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  msg.msg_control = control;
  cmsghdr* cm = reinterpret_cast<cmsghdr*>(control);
  sockaddr_in to4{};
  sockaddr_in6 to6{};
  if (family_ == Family::kIPv4) {
    to4.sin_family = AF_INET;
    to4.sin_addr = dst.to_in_addr();
    msg.msg_name = &to4;
    msg.msg_namelen = sizeof to4;
    // ipi_spec_dst sets the source address (the pseudo-header used it).
    in_pktinfo pi{};
    pi.ipi_ifindex = ifindex_;
    pi.ipi_spec_dst = src.to_in_addr();
    cm->cmsg_level = IPPROTO_IP;
    cm->cmsg_type = IP_PKTINFO;
    cm->cmsg_len = CMSG_LEN(sizeof pi);
    std::memcpy(CMSG_DATA(cm), &pi, sizeof pi);
    msg.msg_controllen = CMSG_SPACE(sizeof pi);
  } else {
    to6.sin6_family = AF_INET6;
    to6.sin6_addr = dst.to_in6_addr();
    to6.sin6_scope_id = static_cast<std::uint32_t>(ifindex_);
    msg.msg_name = &to6;
    msg.msg_namelen = sizeof to6;
    in6_pktinfo pi{};
    pi.ipi6_ifindex = static_cast<unsigned>(ifindex_);
    pi.ipi6_addr = src.to_in6_addr();
    cm->cmsg_level = IPPROTO_IPV6;
    cm->cmsg_type = IPV6_PKTINFO;
    cm->cmsg_len = CMSG_LEN(sizeof pi);
    std::memcpy(CMSG_DATA(cm), &pi, sizeof pi);
    msg.msg_controllen = CMSG_SPACE(sizeof pi);
  }
  ssize_t n = sendmsg(fd_, &msg, MSG_DONTWAIT);
  return n < 0 ? errno : 0;
}

std::optional<ReceivedPacket> VrrpSocket::receive() {
  std::uint8_t buf[2048];
  iovec iov{buf, sizeof buf};
  sockaddr_storage from{};
  alignas(cmsghdr) char control[256];
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = recvmsg(fd_, &msg, MSG_DONTWAIT);
  if (n <= 0) return std::nullopt;
  ReceivedPacket p;
  if (family_ == Family::kIPv4) {
    // Raw IPv4 sockets deliver the IP header.
    if (n < 20) return std::nullopt;
    const std::size_t ihl = (buf[0] & 0x0f) * 4u;
    if (ihl < 20 || static_cast<std::size_t>(n) < ihl) return std::nullopt;
    p.ttl = buf[8];
    p.source = IpAddress::v4_from_bytes(buf + 12);
    p.destination = IpAddress::v4_from_bytes(buf + 16);
    p.payload.assign(buf + ihl, buf + n);
  } else {
    p.source = IpAddress::v6(reinterpret_cast<sockaddr_in6*>(&from)->sin6_addr);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != IPPROTO_IPV6) continue;
      if (c->cmsg_type == IPV6_HOPLIMIT) {
        int hl;
        std::memcpy(&hl, CMSG_DATA(c), sizeof hl);
        p.ttl = hl;
      } else if (c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        p.destination = IpAddress::v6(pi.ipi6_addr);
      }
    }
    p.payload.assign(buf, buf + n);
  }
  return p;
}

}  // namespace vrrpd::net
