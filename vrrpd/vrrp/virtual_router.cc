#include "vrrpd/vrrp/virtual_router.h"

#include <algorithm>

#include "vrrpd/vrrp/packet.h"

namespace vrrpd::vrrp {

using std::chrono::microseconds;

const char* state_name(State s) {
  switch (s) {
    case State::kInit: return "INIT";
    case State::kBackup: return "BACKUP";
    case State::kMaster: return "MASTER";
    case State::kFault: return "FAULT";
  }
  return "?";
}

VirtualRouter::VirtualRouter(RouterParams params)
    : params_(params), priority_(params.base_priority),
      master_advert_interval_(params.advert_interval) {}

Duration VirtualRouter::skew_time() const {
  if (params_.version == 2) {
    // RFC 3768: (256 - Priority) / 256 seconds, independent of the interval.
    return microseconds((256 - priority_) * 1'000'000LL / 256);
  }
  // RFC 5798: ((256 - Priority) * Master_Adver_Interval) / 256.
  return microseconds((256 - priority_) * microseconds(master_advert_interval_).count() / 256);
}

Duration VirtualRouter::master_down_interval() const {
  return 3 * Duration(master_advert_interval_) + skew_time();
}

TimePoint VirtualRouter::next_deadline() const {
  TimePoint t = TimePoint::max();
  if (advert_deadline_) t = std::min(t, *advert_deadline_);
  if (master_down_deadline_) t = std::min(t, *master_down_deadline_);
  return t;
}

bool VirtualRouter::preempt_allowed(TimePoint now) const {
  if (params_.base_priority == kPriorityOwner) return true;
  return params_.preempt && now >= started_at_ + Duration(params_.preempt_delay);
}

void VirtualRouter::transition(Actions& out, State to, const std::string& reason) {
  if (to == state_) return;
  out.push_back({Action::Kind::kStateChange, priority_, state_, to, reason});
  state_ = to;
}

void VirtualRouter::become_master(Actions& out, const std::string& reason) {
  // RFC 5798 6.4.2: send an advertisement, then gratuitous ARP, then Master.
  // The driver's clock is the one passed to the event; the caller arms the timer.
  master_down_deadline_.reset();
  master_address_.reset();
  master_priority_ = 0;
  master_left_ = false;
  master_advert_interval_ = params_.advert_interval;
  out.push_back({Action::Kind::kSendAdvert, priority_});
  out.push_back({Action::Kind::kAddVips});
  out.push_back({Action::Kind::kSendGarp});
  transition(out, State::kMaster, reason);
}

void VirtualRouter::leave_master(Actions& out, State to, const std::string& reason,
                                 bool send_stop_advert) {
  advert_deadline_.reset();
  if (send_stop_advert) out.push_back({Action::Kind::kSendAdvert, kPriorityStop});
  out.push_back({Action::Kind::kRemoveVips});
  transition(out, to, reason);
}

void VirtualRouter::arm_master_down(TimePoint now, Duration after) {
  if (maintenance_) {
    master_down_deadline_.reset();
    return;
  }
  master_down_deadline_ = now + after;
}

void VirtualRouter::become_backup(Actions& out, TimePoint now, const std::string& reason) {
  advert_deadline_.reset();
  master_advert_interval_ = params_.advert_interval;
  arm_master_down(now, master_down_interval());
  transition(out, State::kBackup, reason);
}

std::vector<Action> VirtualRouter::startup(TimePoint now) {
  Actions out;
  if (state_ != State::kInit) return out;
  started_at_ = now;
  if (fault_) {
    transition(out, State::kFault, "interface down at startup");
  } else if (priority_ == kPriorityOwner && !maintenance_) {
    become_master(out, "address owner (priority 255)");
    advert_deadline_ = now + Duration(params_.advert_interval);
  } else {
    become_backup(out, now, "startup");
    // keepalived's "state MASTER": do not wait for a master that may exist;
    // a higher-priority one will still take over through the normal rules.
    if (params_.start_as_master) arm_master_down(now, Duration::zero());
  }
  return out;
}

std::vector<Action> VirtualRouter::shutdown(TimePoint /*now*/) {
  Actions out;
  if (state_ == State::kMaster) leave_master(out, State::kInit, "shutdown", true);
  advert_deadline_.reset();
  master_down_deadline_.reset();
  transition(out, State::kInit, "shutdown");
  return out;
}

std::vector<Action> VirtualRouter::advert_received(TimePoint now, const ReceivedAdvert& advert) {
  Actions out;
  switch (state_) {
    case State::kInit:
      break;
    case State::kFault:
      master_address_ = advert.source;  // for display only
      master_priority_ = advert.priority;
      break;
    case State::kBackup:
      if (advert.priority == kPriorityStop) {
        // The master is leaving: take over after the skew time only.
        master_address_.reset();
        master_priority_ = 0;
        master_left_ = true;
        arm_master_down(now, skew_time());
      } else if (!preempt_allowed(now) || advert.priority >= priority_) {
        if (params_.version == 3) master_advert_interval_ = advert.advert_interval;
        master_address_ = advert.source;
        master_priority_ = advert.priority;
        master_left_ = false;
        arm_master_down(now, master_down_interval());
      }
      // else: a lower-priority master and we preempt: let Master_Down_Timer run out.
      break;
    case State::kMaster:
      if (advert.priority == kPriorityStop) {
        // Another master is leaving: assert ourselves at once.
        out.push_back({Action::Kind::kSendAdvert, priority_});
        advert_deadline_ = now + Duration(params_.advert_interval);
      } else if (advert.priority > priority_ ||
                 (advert.priority == priority_ && advert.source > local_address_)) {
        leave_master(out, State::kBackup,
                     "higher priority advert from " + advert.source.to_string() + " (priority " +
                         std::to_string(advert.priority) + ")",
                     false);
        if (params_.version == 3) master_advert_interval_ = advert.advert_interval;
        master_address_ = advert.source;
        master_priority_ = advert.priority;
        arm_master_down(now, master_down_interval());
      }
      break;
  }
  return out;
}

std::vector<Action> VirtualRouter::on_timer(TimePoint now) {
  Actions out;
  if (state_ == State::kBackup && master_down_deadline_ && *master_down_deadline_ <= now) {
    become_master(out, master_left_ ? "master left (priority 0 advert), skew time expired"
                                    : "master down timer expired");
    advert_deadline_ = now + Duration(params_.advert_interval);
  } else if (state_ == State::kMaster && advert_deadline_ && *advert_deadline_ <= now) {
    out.push_back({Action::Kind::kSendAdvert, priority_});
    // Keep the schedule drift-free, but never queue a burst after a stall.
    TimePoint next = *advert_deadline_ + Duration(params_.advert_interval);
    advert_deadline_ = next > now ? next : now + Duration(params_.advert_interval);
  }
  return out;
}

std::vector<Action> VirtualRouter::set_priority(TimePoint now, int effective_priority) {
  Actions out;
  priority_ = std::clamp(effective_priority, 1, 255);
  if (state_ == State::kMaster) {
    // Tell the backups now rather than at the next interval, so a backup
    // that now outranks us can start its preemption clock at once.
    out.push_back({Action::Kind::kSendAdvert, priority_});
    advert_deadline_ = now + Duration(params_.advert_interval);
  }
  return out;
}

std::vector<Action> VirtualRouter::set_fault(TimePoint now, bool faulted, const std::string& reason) {
  Actions out;
  if (faulted == fault_) return out;
  fault_ = faulted;
  if (faulted) {
    if (state_ == State::kMaster) {
      leave_master(out, State::kFault, reason, true);
    } else if (state_ == State::kBackup) {
      master_down_deadline_.reset();
      transition(out, State::kFault, reason);
    }
  } else if (state_ == State::kFault) {
    if (priority_ == kPriorityOwner && !maintenance_) {
      become_master(out, reason);
      advert_deadline_ = now + Duration(params_.advert_interval);
    } else {
      become_backup(out, now, reason);
    }
  }
  return out;
}

std::vector<Action> VirtualRouter::set_maintenance(TimePoint now, bool on) {
  Actions out;
  if (on == maintenance_) return out;
  maintenance_ = on;
  if (on) {
    if (state_ == State::kMaster) leave_master(out, State::kBackup, "maintenance on", true);
    master_down_deadline_.reset();
  } else if (state_ == State::kBackup) {
    if (priority_ == kPriorityOwner) {
      become_master(out, "maintenance off (address owner)");
      advert_deadline_ = now + Duration(params_.advert_interval);
    } else {
      arm_master_down(now, master_down_interval());
    }
  }
  return out;
}

std::vector<Action> VirtualRouter::force_state(TimePoint now, State target, const std::string& reason) {
  Actions out;
  switch (target) {
    case State::kMaster:
      if (state_ == State::kBackup && !maintenance_ && !fault_) {
        become_master(out, reason);
        advert_deadline_ = now + Duration(params_.advert_interval);
      }
      break;
    case State::kBackup:
      if (state_ == State::kMaster) {
        leave_master(out, State::kBackup, reason, true);
        arm_master_down(now, master_down_interval());
      } else if (state_ == State::kFault && !fault_) {
        become_backup(out, now, reason);
      }
      break;
    case State::kFault:
      if (state_ == State::kMaster) {
        leave_master(out, State::kFault, reason, true);
      } else if (state_ == State::kBackup) {
        master_down_deadline_.reset();
        transition(out, State::kFault, reason);
      }
      break;
    case State::kInit:
      break;
  }
  return out;
}

}  // namespace vrrpd::vrrp
