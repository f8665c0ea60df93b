// Looking up network interfaces: index, flags, MAC, and the addresses VRRP
// sends from (primary IPv4, IPv6 link-local).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vrrpd/base/ip_address.h"

namespace vrrpd::net {

struct InterfaceInfo {
  std::string name;
  int index = 0;                     // 0: does not exist
  bool up = false;                   // IFF_UP and IFF_RUNNING (carrier)
  std::array<std::uint8_t, 6> mac{};
  std::vector<IpPrefix> addresses;   // every address on it, in kernel order
  // The first IPv4 address that is not one of `exclude` (the VIPs).
  std::optional<IpAddress> primary_v4(const std::vector<IpAddress>& exclude = {}) const;
  // The first fe80::/10 address.
  std::optional<IpAddress> link_local_v6() const;
};

// Reads the interface now (getifaddrs + ioctl). index == 0 when missing.
InterfaceInfo read_interface(const std::string& name);

}  // namespace vrrpd::net
