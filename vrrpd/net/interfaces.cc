#include "vrrpd/net/interfaces.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace vrrpd::net {

std::optional<IpAddress> InterfaceInfo::primary_v4(const std::vector<IpAddress>& exclude) const {
  for (const auto& p : addresses)
    if (p.address.is_v4() && std::find(exclude.begin(), exclude.end(), p.address) == exclude.end())
      return p.address;
  return std::nullopt;
}

std::optional<IpAddress> InterfaceInfo::link_local_v6() const {
  for (const auto& p : addresses)
    if (p.address.is_link_local()) return p.address;
  return std::nullopt;
}

namespace {

int prefix_len_of(const sockaddr* mask) {
  if (!mask) return 0;
  const std::uint8_t* b = nullptr;
  std::size_t n = 0;
  if (mask->sa_family == AF_INET) {
    b = reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
    n = 4;
  } else if (mask->sa_family == AF_INET6) {
    b = reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr.s6_addr;
    n = 16;
  }
  int len = 0;
  for (std::size_t i = 0; i < n; ++i) len += __builtin_popcount(b[i]);
  return len;
}

}  // namespace

InterfaceInfo read_interface(const std::string& name) {
  InterfaceInfo info;
  info.name = name;
  info.index = static_cast<int>(if_nametoindex(name.c_str()));
  if (info.index == 0) return info;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i; i = i->ifa_next) {
      if (!i->ifa_addr || name != i->ifa_name) continue;
      const int fam = i->ifa_addr->sa_family;
      if (fam == AF_PACKET) {
        const auto* ll = reinterpret_cast<const sockaddr_ll*>(i->ifa_addr);
        if (ll->sll_halen == 6) std::memcpy(info.mac.data(), ll->sll_addr, 6);
        info.up = (i->ifa_flags & IFF_UP) && (i->ifa_flags & IFF_RUNNING);
      } else if (fam == AF_INET) {
        info.addresses.push_back(
            {IpAddress::v4(reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr),
             prefix_len_of(i->ifa_netmask)});
      } else if (fam == AF_INET6) {
        info.addresses.push_back(
            {IpAddress::v6(reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr),
             prefix_len_of(i->ifa_netmask)});
      }
    }
    freeifaddrs(list);
  }
  // getifaddrs lists AF_PACKET only for interfaces it can see; fall back to ioctl.
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
      info.up = (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
    close(fd);
  }
  return info;
}

}  // namespace vrrpd::net
