// Failover with data (DESIGN.md "Transitions", README "Failover with data"):
// for one VRRP instance that owns replication resources, the Orchestrator
// promotes and mounts them before the instance adds its VIPs, and unmounts
// and demotes them after the instance removed its VIPs.
//
// It lives on the VRRP loop and never blocks it: every step is a request to
// the replication side (ResourceCommands) whose completion comes back later
// on the loop, with a timeout per step. Steps of one instance run strictly one
// after another, so two operations on the same resource never overlap: a
// release asked for during a takeover waits for the step in flight and then
// undoes what was done, and a step that timed out is still waited for before
// the next one starts (its late result is logged and undone if it succeeded).
// A failed takeover is undone in reverse order and reported to the instance,
// which goes FAULT (priority-0 advert, the peer takes over) for fault_hold.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"

namespace vrrpd {

// The replication side as the orchestrator sees it: the daemon's
// ReplicationService behind a small adapter, a recording fake in tests.
class ResourceCommands {
 public:
  using Done = std::function<void(bool ok, std::string text)>;
  virtual ~ResourceCommands() = default;
  // Starts `op` ("primary", "mount", "umount", "secondary") on `resource`.
  // `done` runs once, later, on the VRRP loop (never inside this call).
  virtual void run(const std::string& resource, const std::string& op, Done done) = 0;
};

// The services an instance owns, as the orchestrator sees them: the daemon's
// ServiceManager (programs, systemd units), a recording fake in tests.
class ServiceCommands {
 public:
  using Done = std::function<void(bool ok, std::string text)>;
  virtual ~ServiceCommands() = default;
  // Starts `op` ("start" or "stop") on `service`; `done` runs once, later, on
  // the VRRP loop. The service side enforces the service's own timeouts.
  virtual void run(const std::string& service, const std::string& op, Done done) = 0;
};

// The quorum as the orchestrator sees it, with a witness configured (see
// witness.h): the daemon's adapter over witness::Client and the replication
// peers, a recording fake in tests.
class QuorumCommands {
 public:
  using Done = std::function<void(bool ok, std::string text)>;
  virtual ~QuorumCommands() = default;
  // "claim": ok once this node has a majority for `lock` (the witness's
  // lease, or a connected replication peer when the witness does not
  // answer); refusals say "the witness gives ..." or "no majority ...".
  // "release": gives the lease back. `done` runs later on the loop.
  virtual void run(const std::string& lock, const std::string& op, Done done) = 0;
};

struct OrchestratorSettings {
  std::string instance;  // the VRRP instance's (or sync group's) name, for logs and the journal
  // A sync group's orchestrator: logs say VRRP_Group(NAME), and the
  // witness's lease is "group:NAME" (instance names cannot contain ':').
  bool group = false;
  struct OwnedResource {
    std::string name;
    bool mount = false;  // it has a mount_point: mount after primary, umount before secondary
  };
  std::vector<OwnedResource> resources;  // takeover order; release is the reverse
  struct OwnedService {
    std::string name;
    // The service side fails a start (stop) after this; the orchestrator's
    // own step timeout is a little longer so that its clear reason wins.
    Duration start_timeout = std::chrono::seconds(60);
    Duration stop_timeout = std::chrono::seconds(60);
  };
  // Started after every resource is promoted and mounted, in this order,
  // before the VIPs; stopped in reverse after the VIPs went, before unmounting.
  std::vector<OwnedService> services;
  // With a witness: the first takeover step claims the majority for this
  // instance, the last release step gives it back.
  bool witness = false;
  Duration takeover_timeout = std::chrono::seconds(30);  // per takeover step
  Duration release_timeout = std::chrono::seconds(30);   // per release step
  // FAULT after a failed takeover; doubled for each further failure in a
  // row of this node's own (mount, service, disk), up to 32 times.
  Duration fault_hold = std::chrono::seconds(10);
  // While `primary` is refused for a reason that passes by itself (the peer
  // is still Primary and releasing; our disk is Consistent until the
  // handshake with the peer; a resync as SyncTarget runs), ask again this
  // often until the takeover timeout.
  Duration refusal_retry = std::chrono::milliseconds(250);
};

// What the orchestrator tells the instance (through the daemon) and the journal.
struct OrchestratorHooks {
  std::function<void()> takeover_done;                            // add the VIPs and announce them now
  std::function<void(const std::string& reason)> takeover_failed;  // go FAULT with this reason
  std::function<void()> fault_hold_over;                           // that FAULT may clear now
  // A journal event (source "failover"): what, text, detail.
  std::function<void(const std::string& what, const std::string& text, nlohmann::json detail)> record;
};

class Orchestrator {
 public:
  enum class Phase {
    kReleased,     // nothing held (as far as we know); VIPs may not be up
    kTakingOver,   // primary/mount steps running; VIPs held back
    kActive,       // every resource promoted and mounted; VIPs up
    kReleasing,    // umount/secondary steps running after leaving MASTER
    kRollingBack,  // undoing a failed takeover
    kFaultHold,    // a takeover failed; the instance stays FAULT until the hold ends
  };
  static const char* phase_name(Phase p);  // "released", "takeover", ...

  // `services` may be null when no instance owns services.
  Orchestrator(EventLoop& loop, ResourceCommands& commands, OrchestratorSettings settings,
               OrchestratorHooks hooks, ServiceCommands* services = nullptr, QuorumCommands* quorum = nullptr);
  ~Orchestrator();
  Orchestrator(const Orchestrator&) = delete;
  Orchestrator& operator=(const Orchestrator&) = delete;

  // The instance became MASTER and holds its VIPs: take the resources over
  // (after a release still running, if any).
  void master_wanted();
  // The instance left MASTER; its VIPs are already removed: release the
  // resources (after the step in flight, if any).
  void master_left();
  // The quorum is lost while active (no witness lease and no connected
  // peer): release everything and hold the instance FAULT like a failed
  // takeover, so that the node with the majority can promote.
  void step_down(const std::string& reason);
  // New settings (a reload); they apply from the next takeover. What is
  // held is released as it was acquired.
  void configure(OrchestratorSettings settings);

  Phase phase() const { return phase_; }
  bool uses_witness() const { return settings_.witness; }
  // The witness's lease this orchestrator claims: the instance's name, or
  // "group:NAME" for a sync group.
  std::string lock() const { return settings_.group ? "group:" + settings_.instance : settings_.instance; }
  // A step runs or one is due: the daemon waits for this at shutdown.
  bool busy() const;
  // The longest a full release may take (every step at its timeout), for
  // the shutdown wait.
  Duration release_budget() const;
  // For vrrpctl status/show: phase, the step in flight and for how long,
  // "display" ("takeover: mount r0 (1.2 s)"), held resources, last error,
  // the number of phase changes.
  nlohmann::json to_json() const;

 private:
  struct Step {
    std::string target;  // a resource's or (with `service`) a service's name
    std::string op;      // resources: "primary", "mount", "umount", "secondary"; services: "start", "stop"
    bool service = false;
    Duration timeout{};  // this step's limit
    bool quorum = false;  // the witness's lease ("claim"/"release"), target = the instance
    std::string key() const { return (quorum ? "quorum " : service ? "service " : "resource ") + target; }
    const char* kind() const { return quorum ? "quorum" : service ? "service" : "resource"; }
  };
  struct InFlight {
    Step step;
    std::uint64_t id = 0;        // matches the completion to the request
    TimePoint started{};         // first request (retries included in the duration)
    bool timed_out = false;      // the timeout fired; the result is still awaited
    bool awaiting_retry = false; // primary refused for a passing reason; asked again soon
    std::string last_refusal;
  };

  // One place for every phase change: logs "old -> new (reason)".
  void transition(Phase to, const std::string& reason);
  // Decides and starts the next step when none is in flight (re-entrant safe).
  void advance();
  void advance_once();
  void begin_takeover();
  void start_release(Phase phase, const std::string& reason);
  void finish_release();
  void issue(InFlight& f);
  // The release step that undoes `done` (stop after start, umount after
  // mount, secondary after primary), with its timeout.
  Step undo_step(const Step& done) const;
  void start_step(Step step);
  void on_step_done(std::uint64_t id, bool ok, std::string text);
  void on_step_timeout();
  void fail_takeover(const Step& step, const std::string& why);
  void release_step_failed(const Step& step, const std::string& why);
  std::string prefix() const;
  // "promote r0 120 ms, mount r0 290 ms"
  std::string durations_text() const;

  EventLoop& loop_;
  ResourceCommands& commands_;
  ServiceCommands* services_;
  QuorumCommands* quorum_;
  OrchestratorSettings settings_;
  OrchestratorHooks hooks_;
  Phase phase_ = Phase::kReleased;
  bool want_master_ = false;                 // the instance is MASTER (as last told)
  std::vector<Step> plan_;                   // takeover steps, fixed when the takeover starts
  std::size_t next_step_ = 0;                // index into plan_
  std::vector<Step> acquired_;               // succeeded takeover steps, undone in reverse
  std::set<std::string> given_up_;           // Step::key() of resources whose release failed in this pass
  std::optional<InFlight> in_flight_;
  std::uint64_t next_id_ = 1;
  TimePoint phase_started_{};
  std::vector<std::pair<std::string, long long>> step_ms_;  // "promote r0" -> ms, this pass
  std::string last_error_;
  std::uint64_t transitions_ = 0;  // phase changes, for vrrpctl
  TimePoint fault_hold_until_{};
  // Takeovers failed in a row for a reason of this node's own (not a
  // passing refusal); each doubles the fault hold, up to 2^kMaxHoldDoublings.
  int local_failures_ = 0;
  static constexpr int kMaxHoldDoublings = 5;
  bool advancing_ = false, advance_again_ = false;
  Timer step_timer_;   // the step's timeout
  Timer retry_timer_;  // the next `primary` after a passing refusal
  Timer hold_timer_;   // the end of fault_hold
  // Completions posted by the replication side may arrive after we are gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace vrrpd
