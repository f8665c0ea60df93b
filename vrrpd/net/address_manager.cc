#include "vrrpd/net/address_manager.h"

#include <linux/if_addr.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <sys/socket.h>

#include <stdexcept>

namespace vrrpd::net {
namespace {

// Builds the rtnl_addr for a spec; the caller owns it.
rtnl_addr* make_addr(const AddressSpec& spec) {
  rtnl_addr* a = rtnl_addr_alloc();
  const int af = spec.prefix.address.is_v4() ? AF_INET : AF_INET6;
  nl_addr* local = nl_addr_build(af, spec.prefix.address.bytes(), spec.prefix.address.size());
  nl_addr_set_prefixlen(local, spec.prefix.prefix_len);
  rtnl_addr_set_ifindex(a, spec.ifindex);
  rtnl_addr_set_family(a, af);
  rtnl_addr_set_local(a, local);
  rtnl_addr_set_prefixlen(a, spec.prefix.prefix_len);
  nl_addr_put(local);
  if (!spec.label.empty() && af == AF_INET) rtnl_addr_set_label(a, spec.label.c_str());
  // No duplicate address detection: the VIP must work the moment we are
  // MASTER, and VRRP itself guarantees a single owner (keepalived does the same).
  if (af == AF_INET6) rtnl_addr_set_flags(a, IFA_F_NODAD);
  return a;
}

}  // namespace

NetlinkAddressManager::NetlinkAddressManager() {
  sock_ = nl_socket_alloc();
  if (!sock_ || nl_connect(sock_, NETLINK_ROUTE) < 0)
    throw std::runtime_error("netlink: cannot open a route socket");
}

NetlinkAddressManager::~NetlinkAddressManager() {
  if (sock_) nl_socket_free(sock_);
}

bool NetlinkAddressManager::add(const AddressSpec& spec, std::string* error) {
  rtnl_addr* a = make_addr(spec);
  int rc = rtnl_addr_add(sock_, a, NLM_F_CREATE);
  rtnl_addr_put(a);
  if (rc < 0 && rc != -NLE_EXIST) {
    if (error) *error = std::string(nl_geterror(rc));
    return false;
  }
  return true;
}

bool NetlinkAddressManager::remove(const AddressSpec& spec, std::string* error) {
  rtnl_addr* a = make_addr(spec);
  int rc = rtnl_addr_delete(sock_, a, 0);
  rtnl_addr_put(a);
  if (rc < 0 && rc != -NLE_NOADDR && rc != -NLE_OBJ_NOTFOUND && rc != -NLE_NODEV) {
    if (error) *error = std::string(nl_geterror(rc));
    return false;
  }
  return true;
}

}  // namespace vrrpd::net
