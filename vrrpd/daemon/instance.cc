#include "vrrpd/daemon/instance.h"

#include <cstring>

#include "vrrpd/base/log.h"
#include "vrrpd/vrrp/rx_check.h"

namespace vrrpd {

using vrrp::Action;
using vrrp::State;

nlohmann::json InstanceStats::to_json() const {
  return {{"adverts_sent", adverts_sent},
          {"adverts_received", adverts_received},
          {"priority_zero_sent", priority_zero_sent},
          {"priority_zero_received", priority_zero_received},
          {"send_errors", send_errors},
          {"checksum_errors", checksum_errors},
          {"ttl_errors", ttl_errors},
          {"version_errors", version_errors},
          {"auth_errors", auth_errors},
          {"interval_errors", interval_errors},
          {"length_errors", length_errors},
          {"address_list_mismatches", address_list_mismatches},
          {"became_master", became_master},
          {"released_master", released_master},
          {"transitions", transitions},
          {"garp_sent", garp_sent}};
}

namespace {

vrrp::RouterParams router_params(const config::Instance& c) {
  vrrp::RouterParams p;
  p.version = static_cast<int>(c.version);
  p.vrid = static_cast<std::uint8_t>(c.virtual_router_id);
  p.base_priority = static_cast<int>(c.priority);
  p.advert_interval = c.advert_interval;
  p.preempt = c.preempt;
  p.preempt_delay = c.preempt_delay;
  p.start_as_master = c.initial_state == config::InitialState::kMaster;
  return p;
}

}  // namespace

Instance::Instance(InstanceEnv env, config::Instance cfg)
    : env_(std::move(env)),
      cfg_(std::move(cfg)),
      family_(cfg_.family.value_or(Family::kIPv4)),
      router_(router_params(cfg_)),
      protocol_timer_(env_.loop, [this] { apply(router_.on_timer(env_.loop.now())); }),
      garp_delay_timer_(env_.loop, [this] { announce_burst(cfg_.garp.master_repeat); }),
      garp_refresh_timer_(env_.loop,
                          [this] {
                            announce_burst(cfg_.garp.master_refresh_repeat);
                            garp_refresh_timer_.arm_in(cfg_.garp.master_refresh);
                          }),
      garp_spacing_timer_(env_.loop, [this] { announce_burst(garp_left_in_burst_); }),
      base_priority_(static_cast<int>(cfg_.priority)) {}

Instance::~Instance() = default;

void Instance::start() {
  running_ = true;
  iface_ = env_.read_interface(cfg_.interface);
  for (const auto& t : cfg_.track_interfaces) tracked_up_[t.name] = env_.read_interface(t.name).up;
  reevaluate_links();
  if (auto src = source_address()) router_.set_local_address(*src);
  log::info("VRRP_Instance(" + cfg_.name + ") starting on " + cfg_.interface + " VRID " +
            std::to_string(cfg_.virtual_router_id) + " " + family_name(family_) + " v" +
            std::to_string(cfg_.version) + " priority " + std::to_string(router_.priority()));
  apply(router_.startup(env_.loop.now()));
}

void Instance::stop() {
  if (!running_) return;
  apply(router_.shutdown(env_.loop.now()));
  garp_delay_timer_.disarm();
  garp_refresh_timer_.disarm();
  garp_spacing_timer_.disarm();
  protocol_timer_.disarm();
  running_ = false;
}

std::optional<IpAddress> Instance::source_address() const {
  if (family_ == Family::kIPv4) {
    if (cfg_.unicast_src) return cfg_.unicast_src;
    std::vector<IpAddress> vips;
    for (const auto& v : cfg_.virtual_addresses) vips.push_back(v.prefix.address);
    return iface_.primary_v4(vips);
  }
  if (cfg_.unicast_src && !cfg_.unicast_peers.empty()) return cfg_.unicast_src;
  return iface_.link_local_v6();
}

vrrp::RxCheckParams Instance::rx_params() const {
  vrrp::RxCheckParams p;
  p.version = static_cast<int>(cfg_.version);
  p.advert_interval = cfg_.advert_interval;
  p.auth_pass = cfg_.auth_pass;
  for (const auto& v : cfg_.virtual_addresses)
    if ((family_ == Family::kIPv4) == v.prefix.address.is_v4()) p.virtual_addresses.push_back(v.prefix.address);
  return p;
}

void Instance::on_packet(const net::ReceivedPacket& packet) {
  if (!running_) return;
  const auto mode = cfg_.v3_checksum_pseudo_header ? vrrp::ChecksumMode::kPseudoHeader
                                                   : vrrp::ChecksumMode::kMessageOnly;
  auto decoded = vrrp::decode(packet.payload, packet.source, packet.destination, mode);
  switch (decoded.error) {
    case vrrp::DecodeError::kNone: break;
    case vrrp::DecodeError::kBadChecksum:
      ++stats_.checksum_errors;
      log::debug("VRRP_Instance(" + cfg_.name + ") bad checksum from " + packet.source.to_string() +
                 (decoded.other_checksum_mode_matches
                      ? " (the peer's v3_checksum_as_v2 setting differs from ours)"
                      : ""));
      return;
    case vrrp::DecodeError::kBadVersion: ++stats_.version_errors; return;
    default: ++stats_.length_errors; return;
  }
  bool list_differs = false;
  auto verdict = vrrp::check_advert(decoded.advert, packet.ttl, rx_params(), &list_differs);
  switch (verdict) {
    case vrrp::RxVerdict::kAccept: break;
    case vrrp::RxVerdict::kBadTtl: ++stats_.ttl_errors; return;
    case vrrp::RxVerdict::kVersionMismatch: ++stats_.version_errors; return;
    case vrrp::RxVerdict::kAuthMismatch: ++stats_.auth_errors; return;
    case vrrp::RxVerdict::kIntervalMismatch: ++stats_.interval_errors; return;
  }
  // Unicast peers: accept only from a configured peer.
  if (!cfg_.unicast_peers.empty()) {
    bool known = false;
    for (const auto& p : cfg_.unicast_peers) known = known || p == packet.source;
    if (!known) return;
  }
  if (list_differs) ++stats_.address_list_mismatches;
  ++stats_.adverts_received;
  if (decoded.advert.priority == vrrp::kPriorityStop) ++stats_.priority_zero_received;
  else last_advert_at_ = env_.loop.now();
  vrrp::ReceivedAdvert adv{packet.source, decoded.advert.priority, decoded.advert.advert_interval};
  apply(router_.advert_received(env_.loop.now(), adv));
}

void Instance::on_link_change(const std::string& ifname) {
  if (!running_) return;
  bool relevant = false;
  if (ifname.empty() || ifname == cfg_.interface) {
    iface_ = env_.read_interface(cfg_.interface);
    if (auto src = source_address()) router_.set_local_address(*src);
    relevant = true;
  }
  for (auto& [name, up] : tracked_up_) {
    if (ifname.empty() || ifname == name) {
      up = env_.read_interface(name).up;
      relevant = true;
    }
  }
  if (relevant) reevaluate_links();
}

int Instance::effective_priority() const {
  // The address owner's priority is never adjusted (keepalived does the same).
  if (base_priority_ == vrrp::kPriorityOwner) return base_priority_;
  int p = base_priority_;
  for (const auto& t : cfg_.track_interfaces) {
    auto it = tracked_up_.find(t.name);
    if (t.weight != 0 && it != tracked_up_.end() && !it->second) p += t.weight;
  }
  // keepalived's track_script rule: a positive weight counts while the check
  // is up, a negative one while it is down.
  for (const auto& [name, c] : checks_) {
    if (c.weight > 0 && c.up) p += c.weight;
    if (c.weight < 0 && !c.up) p += c.weight;
  }
  return std::clamp(p, 1, 254);
}

std::string Instance::priority_detail() const {
  std::string d = "base " + std::to_string(base_priority_);
  if (base_priority_ == vrrp::kPriorityOwner) return d + " (address owner, never adjusted)";
  auto signed_str = [](int w) { return (w > 0 ? "+" : "") + std::to_string(w); };
  for (const auto& t : cfg_.track_interfaces) {
    auto it = tracked_up_.find(t.name);
    if (t.weight != 0 && it != tracked_up_.end() && !it->second)
      d += ", " + t.name + " down " + signed_str(t.weight);
  }
  for (const auto& [name, c] : checks_) {
    if (c.weight > 0 && c.up) d += ", check " + name + " up " + signed_str(c.weight);
    if (c.weight < 0 && !c.up) d += ", check " + name + " down " + signed_str(c.weight);
  }
  return d;
}

void Instance::track_check(const std::string& name, int weight, bool up) {
  checks_[name] = {weight, up, up ? "initial state up" : "initial state down"};
}

void Instance::set_check_health(const std::string& name, bool up, const std::string& reason) {
  auto it = checks_.find(name);
  if (it == checks_.end()) return;
  it->second.up = up;
  it->second.reason = reason;
  if (running_) reevaluate_links();
}

void Instance::reevaluate_links() {
  std::string fault;
  if (iface_.index == 0) {
    fault = "interface " + cfg_.interface + " does not exist";
  } else if (!iface_.up) {
    fault = "interface " + cfg_.interface + " is down";
  } else {
    for (const auto& t : cfg_.track_interfaces) {
      if (t.weight == 0 && !tracked_up_[t.name]) {
        fault = "tracked interface " + t.name + " is down";
        break;
      }
    }
    for (const auto& [name, c] : checks_) {
      if (fault.empty() && c.weight == 0 && !c.up) fault = "check " + name + " is down: " + c.reason;
    }
    if (fault.empty()) fault = takeover_fault_;
  }
  const TimePoint now = env_.loop.now();
  if (router_.state() == State::kInit) {
    // Before startup: only record, startup() reads the fault flag.
    router_.set_fault(now, !fault.empty(), fault);
    router_.set_priority(now, effective_priority());
    fault_reason_ = fault;
    return;
  }
  if (router_.priority() != effective_priority()) {
    log::info("VRRP_Instance(" + cfg_.name + ") priority " + std::to_string(router_.priority()) + " -> " +
              std::to_string(effective_priority()));
    apply(router_.set_priority(now, effective_priority()));
  }
  if (fault.empty() != fault_reason_.empty()) {
    const std::string reason = fault.empty() ? "fault cleared (was: " + fault_reason_ + ")" : fault;
    fault_reason_ = fault;
    apply(router_.set_fault(now, !fault.empty(), reason));
  } else {
    fault_reason_ = fault;  // still faulted, perhaps for another reason now
  }
}

void Instance::set_base_priority(int priority) {
  base_priority_ = priority;
  apply(router_.set_priority(env_.loop.now(), effective_priority()));
}

void Instance::set_maintenance(bool on) { apply(router_.set_maintenance(env_.loop.now(), on)); }

void Instance::force_state(State target, const std::string& reason) {
  apply(router_.force_state(env_.loop.now(), target, reason));
}

void Instance::takeover_done() {
  if (!running_ || !vips_held_ || router_.state() != State::kMaster) return;
  vips_held_ = false;
  set_vips(true);
  start_announcements();
}

void Instance::set_takeover_fault(const std::string& reason) {
  takeover_fault_ = reason;
  if (running_) reevaluate_links();
}

void Instance::clear_takeover_fault() {
  if (takeover_fault_.empty()) return;
  takeover_fault_.clear();
  if (running_) reevaluate_links();
}

void Instance::send_advert(int priority) {
  auto src = source_address();
  if (!src) {
    if (!warned_no_source_)
      log::warning("VRRP_Instance(" + cfg_.name + ") cannot send adverts: no " + family_name(family_) +
                   " source address on " + cfg_.interface);
    warned_no_source_ = true;
    ++stats_.send_errors;
    return;
  }
  warned_no_source_ = false;
  vrrp::Advert a;
  a.version = static_cast<std::uint8_t>(cfg_.version);
  a.vrid = static_cast<std::uint8_t>(cfg_.virtual_router_id);
  a.priority = static_cast<std::uint8_t>(priority);
  a.advert_interval = cfg_.advert_interval;
  if (cfg_.version == 2 && !cfg_.auth_pass.empty()) {
    a.auth_type = vrrp::kAuthSimplePassword;
    a.auth_data = vrrp::auth_data_for(cfg_.auth_pass);
  }
  a.addresses = rx_params().virtual_addresses;
  const auto mode = cfg_.v3_checksum_pseudo_header ? vrrp::ChecksumMode::kPseudoHeader
                                                   : vrrp::ChecksumMode::kMessageOnly;
  std::vector<IpAddress> targets = cfg_.unicast_peers;
  if (targets.empty()) targets.push_back(vrrp_multicast_group(family_));
  for (const auto& dst : targets) {
    auto bytes = vrrp::encode(a, *src, dst, mode);
    int err = env_.send(cfg_.interface, family_, bytes, *src, dst);
    if (err != 0) {
      ++stats_.send_errors;
      log::debug("VRRP_Instance(" + cfg_.name + ") send to " + dst.to_string() + " failed: " + std::strerror(err));
      continue;
    }
    ++stats_.adverts_sent;
    if (priority == vrrp::kPriorityStop) ++stats_.priority_zero_sent;
  }
}

void Instance::set_vips(bool present) {
  for (const auto& v : cfg_.virtual_addresses) {
    const std::string dev = v.device.empty() ? cfg_.interface : v.device;
    net::AddressSpec spec{v.prefix, dev == iface_.name ? iface_.index : env_.read_interface(dev).index, dev, v.label};
    std::string error;
    bool ok = present ? env_.addresses.add(spec, &error) : env_.addresses.remove(spec, &error);
    if (!ok)
      log::error("VRRP_Instance(" + cfg_.name + ") cannot " + (present ? "add " : "remove ") +
                 v.prefix.to_string() + " on " + dev + ": " + error);
  }
}

void Instance::announce_burst(int count) {
  for (const auto& v : cfg_.virtual_addresses) {
    const std::string dev = v.device.empty() ? cfg_.interface : v.device;
    auto info = dev == iface_.name ? iface_ : env_.read_interface(dev);
    if (info.index == 0) continue;
    auto ll = info.link_local_v6().value_or(IpAddress{});
    if (env_.announcer.announce(info.index, info.mac, v.prefix.address, ll) == 0) ++stats_.garp_sent;
  }
  garp_left_in_burst_ = count - 1;
  if (garp_left_in_burst_ > 0) {
    if (cfg_.garp.interval.count() > 0) {
      garp_spacing_timer_.arm_in(cfg_.garp.interval);
    } else {
      announce_burst(garp_left_in_burst_);
    }
  }
}

void Instance::start_announcements() {
  announce_burst(cfg_.garp.master_repeat);
  if (cfg_.garp.master_delay.count() > 0) garp_delay_timer_.arm_in(cfg_.garp.master_delay);
  if (cfg_.garp.master_refresh.count() > 0) garp_refresh_timer_.arm_in(cfg_.garp.master_refresh);
}

void Instance::apply(const std::vector<Action>& actions) {
  // The transition happened when the event arrived, not after the adverts,
  // VIP changes and GARPs done for it.
  const long long event_wall_ms = wall_clock_ms();
  // With a gate the orchestrator is asked and told after the state change
  // is logged, so the log reads "BACKUP -> MASTER" before the takeover steps.
  bool ask_gate = false, tell_gate = false;
  for (const auto& a : actions) {
    switch (a.kind) {
      case Action::Kind::kSendAdvert: send_advert(a.priority); break;
      case Action::Kind::kAddVips:
        if (gate_.may_add_vips) {
          vips_held_ = true;
          ask_gate = true;
        } else {
          set_vips(true);
        }
        break;
      case Action::Kind::kRemoveVips:
        garp_delay_timer_.disarm();
        garp_refresh_timer_.disarm();
        garp_spacing_timer_.disarm();
        if (!vips_held_) set_vips(false);
        vips_held_ = false;
        tell_gate = gate_.left_master != nullptr;
        break;
      case Action::Kind::kSendGarp:
        if (!vips_held_) start_announcements();
        break;
      case Action::Kind::kStateChange: {
        last_transition_ = {a.from, a.to, a.reason, event_wall_ms};
        ++stats_.transitions;
        if (a.to == State::kMaster) ++stats_.became_master;
        if (a.from == State::kMaster) ++stats_.released_master;
        // Stable message: see README.md "Log messages".
        log::notice("VRRP_Instance(" + cfg_.name + ") " + vrrp::state_name(a.from) + " -> " +
                    vrrp::state_name(a.to) + " (" + a.reason + ")");
        if (env_.on_transition) env_.on_transition(*this, last_transition_);
        break;
      }
    }
  }
  rearm_timer();
  if (tell_gate) gate_.left_master();
  if (ask_gate && vips_held_ && gate_.may_add_vips()) takeover_done();
}

void Instance::rearm_timer() {
  TimePoint next = router_.next_deadline();
  if (next == TimePoint::max()) {
    protocol_timer_.disarm();
  } else if (!protocol_timer_.armed() || protocol_timer_.deadline() != next) {
    protocol_timer_.arm_at(next);
  }
}

nlohmann::json Instance::to_json() const {
  nlohmann::json vips = nlohmann::json::array();
  for (const auto& v : cfg_.virtual_addresses) vips.push_back(v.prefix.to_string());
  std::string master;
  if (router_.state() == State::kMaster) {
    auto src = source_address();
    master = src ? src->to_string() + " (self)" : "self";
  } else if (router_.master_address()) {
    master = router_.master_address()->to_string();
  }
  return {{"name", cfg_.name},
          {"interface", cfg_.interface},
          {"vrid", cfg_.virtual_router_id},
          {"family", family_ == Family::kIPv4 ? "ipv4" : "ipv6"},
          {"version", cfg_.version},
          {"state", vrrp::state_name(router_.state())},
          {"priority", router_.priority()},
          {"base_priority", base_priority_},
          {"configured_priority", cfg_.priority},
          {"priority_detail", priority_detail()},
          {"master", master},
          {"master_priority", router_.state() == State::kMaster ? router_.priority() : router_.master_priority()},
          {"advert_interval_ms", cfg_.advert_interval.count()},
          {"master_advert_interval_ms", router_.master_advert_interval().count()},
          {"preempt", cfg_.preempt},
          {"maintenance", router_.in_maintenance()},
          {"fault_reason", fault_reason_},
          {"vips_held", vips_held_},
          {"sync_group", cfg_.sync_group},
          {"vips", vips},
          {"unicast_peers", [&] {
             nlohmann::json j = nlohmann::json::array();
             for (const auto& p : cfg_.unicast_peers) j.push_back(p.to_string());
             return j;
           }()},
          {"last_transition",
           {{"from", vrrp::state_name(last_transition_.from)},
            {"to", vrrp::state_name(last_transition_.to)},
            {"reason", last_transition_.reason},
            {"time_ms", last_transition_.wall_time_ms}}},
          {"stats", stats_.to_json()}};
}

}  // namespace vrrpd
