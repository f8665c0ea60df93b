// Receive-side checks of RFC 5798 section 7.1 / RFC 3768 section 7.1 that
// need the instance's settings: TTL, version, v2 authentication and v2
// interval. Pure; the receiver counts the verdicts into Stats.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "vrrpd/vrrp/packet.h"

namespace vrrpd::vrrp {

struct RxCheckParams {
  int version = 3;
  std::chrono::milliseconds advert_interval{1000};
  std::string auth_pass;                  // v2 PASS; empty: no authentication
  std::vector<IpAddress> virtual_addresses;  // compared with the advert's list
};

enum class RxVerdict {
  kAccept,
  kBadTtl,            // TTL / hop limit not 255: may have crossed a router
  kVersionMismatch,   // v2 advert to a v3 instance or the reverse
  kAuthMismatch,      // v2 auth type or password differs
  kIntervalMismatch,  // v2 only: RFC 3768 requires the same interval
};

const char* rx_verdict_name(RxVerdict v);

// `address_list_differs` is set when the advert's addresses differ from ours:
// RFC 5798 says log it, and keepalived accepts the packet; so do we.
RxVerdict check_advert(const Advert& advert, int ttl, const RxCheckParams& params,
                       bool* address_list_differs);

// v2 PASS: the password padded with zero bytes to 8.
std::array<std::uint8_t, kV2AuthDataSize> auth_data_for(const std::string& pass);

}  // namespace vrrpd::vrrp
