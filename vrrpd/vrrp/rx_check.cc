#include "vrrpd/vrrp/rx_check.h"

#include <algorithm>
#include <cstring>

namespace vrrpd::vrrp {

const char* rx_verdict_name(RxVerdict v) {
  switch (v) {
    case RxVerdict::kAccept: return "accept";
    case RxVerdict::kBadTtl: return "bad TTL";
    case RxVerdict::kVersionMismatch: return "version mismatch";
    case RxVerdict::kAuthMismatch: return "authentication mismatch";
    case RxVerdict::kIntervalMismatch: return "advert interval mismatch";
  }
  return "?";
}

std::array<std::uint8_t, kV2AuthDataSize> auth_data_for(const std::string& pass) {
  std::array<std::uint8_t, kV2AuthDataSize> d{};
  std::memcpy(d.data(), pass.data(), std::min(pass.size(), d.size()));
  return d;
}

RxVerdict check_advert(const Advert& advert, int ttl, const RxCheckParams& params,
                       bool* address_list_differs) {
  if (ttl != kRequiredTtl) return RxVerdict::kBadTtl;
  if (advert.version != params.version) return RxVerdict::kVersionMismatch;
  if (advert.version == 2) {
    if (params.auth_pass.empty()) {
      if (advert.auth_type != kAuthNone) return RxVerdict::kAuthMismatch;
    } else if (advert.auth_type != kAuthSimplePassword ||
               advert.auth_data != auth_data_for(params.auth_pass)) {
      return RxVerdict::kAuthMismatch;
    }
    if (advert.advert_interval != params.advert_interval) return RxVerdict::kIntervalMismatch;
  }
  if (address_list_differs) {
    auto ours = params.virtual_addresses;
    auto theirs = advert.addresses;
    std::sort(ours.begin(), ours.end());
    std::sort(theirs.begin(), theirs.end());
    *address_list_differs = ours != theirs;
  }
  return RxVerdict::kAccept;
}

}  // namespace vrrpd::vrrp
