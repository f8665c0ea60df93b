// The SNMP agent: an AgentX subagent (net-snmp) serving VRRPv3-MIB and
// VRRPD-MIB, and the sender of their notifications, to the AgentX master and
// directly to configured trap receivers.
//
// net-snmp is not thread-safe, so every net-snmp call happens on the agent's
// own thread. The daemon never waits for it: publish() and notify() only
// take mutex_ for a copy/move, and the agent thread never touches daemon
// objects (it serves the last published Snapshot). An absent or restarting
// master costs nothing on the VRRP loop: the subagent re-connects on its own
// every agentx_ping_interval, and repeated net-snmp log lines are suppressed
// (rate-limited) so an absent master does not flood the log.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "notify/snmp_mib.h"
#include "vrrpd/config/model.h"

namespace vrrpd::notify::snmp {

// Where the daemon's SNMP data goes: the agent, or a recording fake in tests.
class SnmpSink {
 public:
  virtual ~SnmpSink() = default;
  virtual void start() {}
  virtual void stop() {}
  // Any thread: replaces what is served.
  virtual void publish(Snapshot snapshot) = 0;
  // Any thread: queues a notification.
  virtual void notify(Notification n) = 0;
};

class SnmpAgent final : public SnmpSink {
 public:
  // Notifications queued beyond this are dropped (oldest first) and counted:
  // a stuck agent thread must not grow the daemon's memory.
  static constexpr std::size_t kQueueLimit = 1000;

  explicit SnmpAgent(config::SnmpSettings settings);
  ~SnmpAgent() override;  // stop()
  SnmpAgent(const SnmpAgent&) = delete;
  SnmpAgent& operator=(const SnmpAgent&) = delete;

  // Starts the agent thread. Call with the daemon's signals already blocked
  // (the thread inherits the mask; it blocks every signal anyway).
  void start() override;
  // Joins the thread; net-snmp is shut down on it.
  void stop() override;

  // Any thread: replaces what the agent serves.
  void publish(Snapshot snapshot) override;
  // Any thread: queues a notification (dropped when traps are off).
  void notify(Notification n) override;
  // Notifications dropped because the queue was full (any thread).
  std::uint64_t dropped() const;

  // The trap session arguments net-snmp's parser gets for a receiver
  // (snmptrap(1)-style argv without the program name): pure, unit-tested.
  static std::vector<std::string> receiver_args(const config::TrapReceiver& r);

 private:
  struct NetSnmp;  // the agent thread's net-snmp state (snmp_agent.cc)
  void run();
  void wake();

  const config::SnmpSettings settings_;
  const TimePoint start_;  // sysUpTime zero of this agent (TimeTicks values)

  mutable std::mutex mutex_;  // guards pending_, queue_, dropped_, stopping_
  std::optional<Snapshot> pending_;
  std::deque<Notification> queue_;
  std::uint64_t dropped_ = 0;
  bool stopping_ = false;

  int wake_fd_ = -1;  // eventfd: publish/notify/stop wake the agent's select()
  std::thread thread_;
};

}  // namespace vrrpd::notify::snmp
