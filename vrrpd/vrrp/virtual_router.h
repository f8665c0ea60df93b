// The VRRP protocol state machine for one virtual router (RFC 5798 section 6,
// RFC 3768 section 6.4), plus keepalived's FAULT state. Pure logic: events go
// in with the current time, actions come out; no sockets, no clock reads.
// Timers are deadlines held here; the driver asks next_deadline() and calls
// on_timer(now) when it passes. Every state change goes through transition().
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vrrpd/base/clock.h"
#include "vrrpd/base/ip_address.h"

namespace vrrpd::vrrp {

enum class State { kInit, kBackup, kMaster, kFault };
const char* state_name(State s);  // "INIT", "BACKUP", "MASTER", "FAULT"

struct RouterParams {
  int version = 3;                                    // 2 or 3
  std::uint8_t vrid = 1;
  int base_priority = 100;                            // configured 1..255
  std::chrono::milliseconds advert_interval{1000};    // our Advertisement_Interval
  bool preempt = true;
  std::chrono::milliseconds preempt_delay{0};         // no preemption this long after start
  bool start_as_master = false;                       // keepalived "state MASTER": skip the wait
};

// What the driver must do, in order.
struct Action {
  enum class Kind {
    kSendAdvert,   // send an advertisement with `priority`
    kAddVips,      // add the virtual addresses
    kRemoveVips,   // remove them
    kSendGarp,     // start the gratuitous ARP / unsolicited NA schedule
    kStateChange,  // from -> to, with reason (log, count, notify)
  };
  Kind kind;
  int priority = 0;
  State from = State::kInit;
  State to = State::kInit;
  std::string reason;

  bool operator==(const Action&) const = default;
};

// What a received advertisement said (already validated by the receiver).
struct ReceivedAdvert {
  IpAddress source;
  int priority = 0;
  std::chrono::milliseconds advert_interval{1000};
};

class VirtualRouter {
 public:
  explicit VirtualRouter(RouterParams params);

  // --- events (each returns the actions to perform, in order) ---
  std::vector<Action> startup(TimePoint now);
  std::vector<Action> shutdown(TimePoint now);
  std::vector<Action> advert_received(TimePoint now, const ReceivedAdvert& advert);
  // Fires whichever timers are due at `now`.
  std::vector<Action> on_timer(TimePoint now);
  // The effective priority changed (tracked interface weight, vrrpctl set-priority).
  std::vector<Action> set_priority(TimePoint now, int effective_priority);
  // A fault (interface or tracked link down) appeared or cleared. `reason` is logged.
  std::vector<Action> set_fault(TimePoint now, bool faulted, const std::string& reason);
  // Operator maintenance: hand mastership away and do not take it back.
  std::vector<Action> set_maintenance(TimePoint now, bool on);
  // Sync groups: another member changed state; follow it.
  std::vector<Action> force_state(TimePoint now, State target, const std::string& reason);
  // Our primary address on the link, for the tie-break between equal priorities.
  void set_local_address(const IpAddress& a) { local_address_ = a; }

  // --- observation ---
  State state() const { return state_; }
  int priority() const { return priority_; }
  bool in_maintenance() const { return maintenance_; }
  bool faulted() const { return fault_; }
  // Earliest pending deadline (advert or master-down timer), or TimePoint::max().
  TimePoint next_deadline() const;
  std::optional<TimePoint> advert_deadline() const { return advert_deadline_; }
  std::optional<TimePoint> master_down_deadline() const { return master_down_deadline_; }
  // The master we last heard (backup) or nothing.
  const std::optional<IpAddress>& master_address() const { return master_address_; }
  int master_priority() const { return master_priority_; }
  std::chrono::milliseconds master_advert_interval() const { return master_advert_interval_; }
  const RouterParams& params() const { return params_; }

  // RFC timing, in microseconds internally for precision at 10 ms adverts.
  Duration skew_time() const;
  Duration master_down_interval() const;

 private:
  using Actions = std::vector<Action>;
  void transition(Actions& out, State to, const std::string& reason);
  void become_master(Actions& out, const std::string& reason);
  void leave_master(Actions& out, State to, const std::string& reason, bool send_stop_advert);
  void become_backup(Actions& out, TimePoint now, const std::string& reason);
  void arm_master_down(TimePoint now, Duration after);
  bool preempt_allowed(TimePoint now) const;

  RouterParams params_;
  State state_ = State::kInit;
  int priority_;                       // effective priority advertised
  bool fault_ = false;
  bool maintenance_ = false;
  TimePoint started_at_{};
  IpAddress local_address_;
  std::optional<TimePoint> advert_deadline_;       // Adver_Timer
  std::optional<TimePoint> master_down_deadline_;  // Master_Down_Timer
  std::chrono::milliseconds master_advert_interval_;  // Master_Adver_Interval (v3 learns it)
  std::optional<IpAddress> master_address_;
  int master_priority_ = 0;
  bool master_left_ = false;  // the last thing heard was a priority-0 advert
};

}  // namespace vrrpd::vrrp
