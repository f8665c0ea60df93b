#include "vrrpd/net/link_monitor.h"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace vrrpd::net {
namespace {

struct Ctx {
  const std::function<void(const LinkEvent&)>* cb;
};

int on_attr(const nlattr* attr, void* data) {
  if (mnl_attr_get_type(attr) == IFLA_IFNAME && mnl_attr_validate(attr, MNL_TYPE_STRING) >= 0)
    *static_cast<std::string*>(data) = mnl_attr_get_str(attr);
  return MNL_CB_OK;
}

int on_message(const nlmsghdr* nlh, void* data) {
  auto* ctx = static_cast<Ctx*>(data);
  LinkEvent ev;
  if (nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK) {
    const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
    ev.kind = LinkEvent::Kind::kLink;
    ev.ifindex = ifi->ifi_index;
    ev.up = nlh->nlmsg_type == RTM_NEWLINK && (ifi->ifi_flags & IFF_UP) && (ifi->ifi_flags & IFF_RUNNING);
    mnl_attr_parse(nlh, sizeof(*ifi), on_attr, &ev.ifname);
  } else if (nlh->nlmsg_type == RTM_NEWADDR || nlh->nlmsg_type == RTM_DELADDR) {
    const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
    ev.kind = LinkEvent::Kind::kAddress;
    ev.ifindex = static_cast<int>(ifa->ifa_index);
  } else {
    return MNL_CB_OK;
  }
  (*ctx->cb)(ev);
  return MNL_CB_OK;
}

}  // namespace

LinkMonitor::LinkMonitor() {
  nl_ = mnl_socket_open(NETLINK_ROUTE);
  if (!nl_) throw std::runtime_error(std::string("netlink: ") + std::strerror(errno));
  if (mnl_socket_bind(nl_, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, MNL_SOCKET_AUTOPID) < 0)
    throw std::runtime_error(std::string("netlink bind: ") + std::strerror(errno));
  int fd = mnl_socket_get_fd(nl_);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
}

LinkMonitor::~LinkMonitor() {
  if (nl_) mnl_socket_close(nl_);
}

int LinkMonitor::fd() const { return mnl_socket_get_fd(nl_); }

void LinkMonitor::drain(const std::function<void(const LinkEvent&)>& cb) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  Ctx ctx{&cb};
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == ENOBUFS) {
        cb(LinkEvent{LinkEvent::Kind::kAddress, 0, {}, false});
        continue;
      }
      return;  // EAGAIN: drained
    }
    mnl_cb_run(buf.data(), static_cast<size_t>(n), 0, 0, on_message, &ctx);
  }
}

}  // namespace vrrpd::net
