#include "vrrpd/config/fields.h"

namespace vrrpd::config {

const std::vector<Field<Resource>>& resource_fields() {
  using R = Resource;
  static const std::vector<Field<R>> fields{
      {"device", &R::device},
      {"metadata", &R::metadata},
      {"address", &R::address},
      {"port", &R::port},
      {"peer_address", &R::peer_address},
      {"peer_port", &R::peer_port},
      {"protocol", &R::protocol},
      {"shared_secret", &R::shared_secret, true},
      {"resync_rate_kib", &R::resync_rate_kib},
      {"on_io_error", &R::on_io_error},
      {"io_error_handler", &R::io_error_handler},
      {"notify", &R::notify},
      {"before_resync_target_handler", &R::before_resync_target_handler},
      {"after_sb_0pri", &R::after_sb_0pri},
      {"after_sb_1pri", &R::after_sb_1pri},
      {"after_sb_2pri", &R::after_sb_2pri},
      {"ping_interval_ms", &R::ping_interval},
      {"ping_timeout_ms", &R::ping_timeout},
      {"probe_timeout_ms", &R::probe_timeout},
      {"timeout_ms", &R::timeout},
      {"ko_count", &R::ko_count},
      {"connect_interval_ms", &R::connect_interval},
      {"tcp_congestion", &R::tcp_congestion},
      {"on_congestion", &R::on_congestion},
      {"congestion_fill_kib", &R::congestion_fill_kib},
      {"congestion_extents", &R::congestion_extents},
      {"resync_after", &R::resync_after},
      {"fencing", &R::fencing},
      {"fence_address", &R::fence_address},
      {"fence_peer_address", &R::fence_peer_address},
      {"fence_peer_handler", &R::fence_peer_handler},
      {"mount_point", &R::mount_point},
      {"fs_type", &R::fs_type},
      {"mount_options", &R::mount_options},
      {"unmount_grace_ms", &R::unmount_grace},
      {"kill_holders", &R::kill_holders}};
  return fields;
}

const std::vector<Field<Service>>& service_fields() {
  using S = Service;
  static const std::vector<Field<S>> fields{
      {"systemd_unit", &S::systemd_unit},
      {"start", &S::start},
      {"stop", &S::stop},
      {"status", &S::status},
      {"start_timeout_ms", &S::start_timeout},
      {"stop_timeout_ms", &S::stop_timeout},
      {"status_interval_ms", &S::status_interval}};
  return fields;
}

const std::vector<Field<WitnessSettings>>& witness_fields() {
  using W = WitnessSettings;
  static const std::vector<Field<W>> fields{
      {"address", &W::address},
      {"port", &W::port},
      {"shared_secret", &W::shared_secret, true},
      {"lease_ms", &W::lease}};
  return fields;
}

template <typename Block>
const std::vector<Field<Block>>& failover_fields() {
  // Members of the Ownership base, as members of Block.
  using Strings = std::vector<std::string> Block::*;
  using Ms = std::chrono::milliseconds Block::*;
  static const std::vector<Field<Block>> fields{
      {"resources", static_cast<Strings>(&Ownership::resources)},
      {"services", static_cast<Strings>(&Ownership::services)},
      {"takeover_timeout_ms", static_cast<Ms>(&Ownership::takeover_timeout)},
      {"release_timeout_ms", static_cast<Ms>(&Ownership::release_timeout)},
      {"fault_hold_ms", static_cast<Ms>(&Ownership::fault_hold)}};
  return fields;
}
template const std::vector<Field<Instance>>& failover_fields<Instance>();
template const std::vector<Field<SyncGroup>>& failover_fields<SyncGroup>();

std::string not_shown(const std::string& secret) {
  return "(" + std::to_string(secret.size()) + " bytes, not shown)";
}

}  // namespace vrrpd::config
