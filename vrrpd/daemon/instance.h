// One configured VRRP instance at run time: drives its VirtualRouter (pure
// protocol logic) with real time and real I/O. Receives validated packets,
// performs the router's actions (adverts, VIPs, GARP/NA schedule), tracks
// links for FAULT and priority weights, keeps statistics and the last
// transition for vrrpctl. Lives on the VRRP loop; never blocks.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vrrpd/base/event_loop.h"
#include "vrrpd/config/model.h"
#include "vrrpd/net/address_manager.h"
#include "vrrpd/net/garp.h"
#include "vrrpd/net/interfaces.h"
#include "vrrpd/net/vrrp_socket.h"
#include "vrrpd/vrrp/packet.h"
#include "vrrpd/vrrp/rx_check.h"
#include "vrrpd/vrrp/virtual_router.h"

namespace vrrpd {

// Counters shown by `vrrpctl stats` (names are part of the JSON output).
struct InstanceStats {
  std::uint64_t adverts_sent = 0;
  std::uint64_t adverts_received = 0;
  std::uint64_t priority_zero_sent = 0;
  std::uint64_t priority_zero_received = 0;
  std::uint64_t send_errors = 0;
  std::uint64_t checksum_errors = 0;
  std::uint64_t ttl_errors = 0;
  std::uint64_t version_errors = 0;
  std::uint64_t auth_errors = 0;
  std::uint64_t interval_errors = 0;
  std::uint64_t length_errors = 0;
  std::uint64_t address_list_mismatches = 0;
  std::uint64_t became_master = 0;
  std::uint64_t released_master = 0;
  std::uint64_t transitions = 0;
  std::uint64_t garp_sent = 0;
  nlohmann::json to_json() const;
};

struct Transition {
  vrrp::State from = vrrp::State::kInit;
  vrrp::State to = vrrp::State::kInit;
  std::string reason;
  long long wall_time_ms = 0;  // for display
};

// What an Instance needs from the daemon; a fake in tests.
struct InstanceEnv {
  EventLoop& loop;
  net::AddressManager& addresses;
  net::AnnounceSender& announcer;
  // Sends a VRRP message on (interface, family). Returns 0 or errno.
  std::function<int(const std::string& ifname, Family family, std::span<const std::uint8_t> msg,
                    const IpAddress& src, const IpAddress& dst)>
      send;
  // Reads an interface (net::read_interface in the daemon).
  std::function<net::InterfaceInfo(const std::string& ifname)> read_interface;
  // Called after every state change (logging is done by the instance).
  std::function<void(class Instance& instance, const Transition& t)> on_transition;
};

// Failover with data: lets the daemon's Orchestrator hold the VIPs of a new
// MASTER until the instance's resources are promoted and mounted, and hear
// when the instance left MASTER (daemon/orchestrator.h). Unset: no hold.
struct MasterGate {
  // Asked on becoming MASTER, before the VIPs and GARP. false: hold them
  // until takeover_done().
  std::function<bool()> may_add_vips;
  // Told after leaving MASTER, once the VIPs are removed (or were held).
  std::function<void()> left_master;
};

class Instance {
 public:
  Instance(InstanceEnv env, config::Instance cfg);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  // Reads the interfaces and starts the protocol (INIT -> BACKUP/MASTER/FAULT).
  void start();
  // Leaves cleanly: priority-0 advert and VIPs removed if MASTER; -> INIT.
  void stop();
  // A packet for this instance's VRID arrived on its interface.
  void on_packet(const net::ReceivedPacket& packet);
  // The kernel said a link or the addresses on it changed (ifname may be any).
  void on_link_change(const std::string& ifname);
  // Declares a tracked health check (before start()): its resolved weight
  // (0: FAULT while down) and its initial state.
  void track_check(const std::string& name, int weight, bool up);
  // A tracked check changed state (from the checker thread, via the loop).
  void set_check_health(const std::string& name, bool up, const std::string& reason);
  // vrrpctl set-priority: replaces the configured priority (1..254, or 255 if owner).
  void set_base_priority(int priority);
  void set_maintenance(bool on);
  // Sync group: follow another member.
  void force_state(vrrp::State target, const std::string& reason);
  // Failover with data (before start()).
  void set_gate(MasterGate gate) { gate_ = std::move(gate); }
  // The takeover finished: add the held VIPs and announce them, if still MASTER.
  void takeover_done();
  // A takeover failed: FAULT with this reason (priority-0 advert) until
  // clear_takeover_fault().
  void set_takeover_fault(const std::string& reason);
  void clear_takeover_fault();
  bool vips_held() const { return vips_held_; }

  const config::Instance& config() const { return cfg_; }
  const std::string& name() const { return cfg_.name; }
  Family family() const { return family_; }
  vrrp::State state() const { return router_.state(); }
  int priority() const { return router_.priority(); }
  bool own_fault() const { return router_.faulted(); }
  const InstanceStats& stats() const { return stats_; }
  const Transition& last_transition() const { return last_transition_; }
  // For SNMP: our advert source address, the master heard as BACKUP, why FAULT.
  std::optional<IpAddress> primary_address() const { return source_address(); }
  int if_index() const { return iface_.index; }  // 0 while the interface is missing
  const std::optional<IpAddress>& heard_master() const { return router_.master_address(); }
  const std::string& fault_reason() const { return fault_reason_; }
  int base_priority() const { return base_priority_; }
  // When the last advert with a priority above 0 was accepted (if ever), and
  // the router's Master_Down_Interval: SNMP tells a preemption (the old
  // master still speaking) from a master that went silent.
  std::optional<TimePoint> last_advert_received() const { return last_advert_at_; }
  Duration master_down_interval() const { return router_.master_down_interval(); }
  nlohmann::json to_json() const;

 private:
  void apply(const std::vector<vrrp::Action>& actions);
  void rearm_timer();
  void send_advert(int priority);
  void set_vips(bool present);
  void start_announcements();
  void announce_burst(int count);
  // Recomputes fault and effective priority from links and checks.
  void reevaluate_links();
  int effective_priority() const;
  // Why the priority is what it is: "base 200, check db down -50, eth1 down -20".
  std::string priority_detail() const;
  std::optional<IpAddress> source_address() const;
  vrrp::RxCheckParams rx_params() const;

  InstanceEnv env_;
  config::Instance cfg_;
  Family family_;
  vrrp::VirtualRouter router_;
  Timer protocol_timer_;      // fires at router_.next_deadline()
  Timer garp_delay_timer_;    // the second burst, garp_master_delay after MASTER
  Timer garp_refresh_timer_;  // garp_master_refresh
  Timer garp_spacing_timer_;  // garp_interval between packets of a burst
  int garp_left_in_burst_ = 0;
  net::InterfaceInfo iface_;
  std::map<std::string, bool> tracked_up_;  // tracked interface -> link up
  struct TrackedCheckState {
    int weight = 0;
    bool up = true;
    std::string reason;
  };
  std::map<std::string, TrackedCheckState> checks_;  // tracked check name -> state
  int base_priority_;
  std::string fault_reason_;
  std::string takeover_fault_;  // set by the orchestrator after a failed takeover
  MasterGate gate_;
  bool vips_held_ = false;      // MASTER, VIPs not added yet: the takeover runs
  bool running_ = false;
  bool warned_no_source_ = false;
  InstanceStats stats_;
  std::optional<TimePoint> last_advert_at_;  // last accepted advert with priority > 0
  Transition last_transition_;
};

}  // namespace vrrpd
