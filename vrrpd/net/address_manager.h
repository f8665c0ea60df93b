// Adding and removing virtual IP addresses through netlink (libnl-route-3).
// No `ip` program is run. Kernel round trips are sub-millisecond, so these
// synchronous calls are acceptable on the VRRP loop.
#pragma once

#include <memory>
#include <string>

#include "vrrpd/base/ip_address.h"

struct nl_sock;

namespace vrrpd::net {

struct AddressSpec {
  IpPrefix prefix;
  int ifindex = 0;
  std::string ifname;  // for messages
  std::string label;   // IPv4 label; empty: none
};

// Seam for tests: the daemon only sees this interface.
class AddressManager {
 public:
  virtual ~AddressManager() = default;
  // Adds the address; already present counts as success. On failure returns
  // false and sets *error.
  virtual bool add(const AddressSpec& spec, std::string* error) = 0;
  // Removes it; already absent counts as success.
  virtual bool remove(const AddressSpec& spec, std::string* error) = 0;
};

class NetlinkAddressManager final : public AddressManager {
 public:
  NetlinkAddressManager();  // throws std::runtime_error if netlink is unavailable
  ~NetlinkAddressManager() override;
  bool add(const AddressSpec& spec, std::string* error) override;
  bool remove(const AddressSpec& spec, std::string* error) override;

 private:
  nl_sock* sock_ = nullptr;
};

}  // namespace vrrpd::net
