// Link and address events from the kernel (rtnetlink multicast groups, read
// with libmnl), so track_interface reacts to a carrier loss at once instead
// of polling. Non-blocking; the event loop watches fd().
#pragma once

#include <functional>
#include <string>

struct mnl_socket;

namespace vrrpd::net {

struct LinkEvent {
  enum class Kind { kLink, kAddress } kind;
  int ifindex = 0;
  std::string ifname;  // set for kLink
  bool up = false;     // kLink: IFF_UP and IFF_RUNNING; false for a removed link
};

class LinkMonitor {
 public:
  LinkMonitor();  // throws std::runtime_error
  ~LinkMonitor();
  LinkMonitor(const LinkMonitor&) = delete;
  LinkMonitor& operator=(const LinkMonitor&) = delete;

  int fd() const;
  // Reads everything queued and calls cb for each event. If the kernel's
  // queue overflowed (ENOBUFS), calls cb with ifindex 0 (kAddress): the
  // caller must re-read all interfaces.
  void drain(const std::function<void(const LinkEvent&)>& cb);

 private:
  mnl_socket* nl_ = nullptr;
};

}  // namespace vrrpd::net
