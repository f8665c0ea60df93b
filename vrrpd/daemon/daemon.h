// The daemon: wires configuration, VRRP instances, sockets, link events,
// sync groups, notify programs and the control socket onto one event loop.
// main() only parses the command line and calls run().
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/config/config.h"
#include "vrrpd/control/control_server.h"
#include "vrrpd/daemon/instance.h"
#include "vrrpd/daemon/orchestrator.h"
#include "vrrpd/daemon/replication_service.h"
#include "vrrpd/daemon/service_manager.h"
#include "vrrpd/daemon/snmp_bridge.h"
#include "vrrpd/daemon/witness.h"
#include "vrrpd/net/address_manager.h"
#include "vrrpd/net/garp.h"
#include "vrrpd/net/link_monitor.h"
#include "vrrpd/net/vrrp_socket.h"
#include "checkers/checker_service.h"
#include "notify/event_journal.h"
#include "notify/program_runner.h"
#include "notify/state_notifier.h"

namespace vrrpd {

struct DaemonOptions {
  std::string config_file;
  config::Format config_format = config::Format::kNative;
  std::string control_socket;  // empty: config's, else the built-in default
  // Told of every FUSE connection a replicated volume's export starts or
  // stops serving (the mount-namespace anchor's list); may be empty.
  std::function<void(unsigned connection, bool serving)> on_fuse_connection;
};

class Daemon {
 public:
  Daemon(DaemonOptions opts, config::Config initial);
  ~Daemon();

  // Runs until SIGTERM/SIGINT. Returns the process exit code.
  int run();

 private:
  // --- wiring ---
  void open_signals();
  void on_signal();
  void start_instances(const std::vector<config::Instance>& list);
  std::unique_ptr<Instance> make_instance(const config::Instance& cfg);
  void ensure_socket(const std::string& ifname, Family family);
  void close_unused_sockets();
  void on_socket_readable(const std::string& key);
  void on_link_events();
  void shutdown_all();

  // --- behaviour ---
  // Re-reads the config file; on error keeps the running config. Returns "" or the error.
  std::string reload();
  // Creates and starts the ReplicationService for `resources` (at start, or
  // at the reload that configures the first resource).
  void start_replication(const std::vector<config::Resource>& resources);
  void on_transition(Instance& instance, const Transition& t);
  // A check's status arrived from the checker thread (posted to this loop).
  void on_check_status(const checkers::CheckStatus& status, bool changed);
  // A replication event (on this loop): the resource's notify program, if
  // configured, with RESOURCE, the name, the event and its text appended.
  void run_resource_notify(const std::string& resource, const std::string& what, const std::string& text);
  // Resets the status table for `checks`, keeping the state of unchanged ones.
  void init_check_status(const std::vector<config::Check>& checks, const std::vector<config::Check>& previous);
  // Tells a new instance about the checks it tracks and their current state.
  void attach_checks(Instance& instance);
  void sync_group_follow(Instance& instance, const Transition& t);
  Instance* find_instance(const std::string& name);
  // Failover with data: the instance's orchestrator (created on first use,
  // kept across reloads by instance name) and its sync group's gate its VIPs.
  void attach_orchestrator(Instance& instance);
  // One orchestrator per sync group that owns resources or services, by
  // "group:NAME"; created before the members' gates refer to it.
  void attach_group_orchestrators();
  OrchestratorSettings ownership_settings(const std::string& name, const config::Ownership& owned, bool group) const;
  Orchestrator& ensure_orchestrator(const std::string& key, OrchestratorSettings settings);
  // What an instance (by name) or a sync group ("group:NAME") owns; null if unknown.
  const config::Ownership* owned_by(const std::string& key) const;
  // The instance's own orchestrator and its group's, each null when it owns nothing.
  std::pair<Orchestrator*, Orchestrator*> gates_of(const Instance& instance) const;
  // Every orchestrator that gates the instance is active: its VIPs may go up.
  bool member_ready(const Instance& instance) const;
  // A member left MASTER: the group releases once none is MASTER.
  void group_left(const std::string& group);
  // The instance's JSON for status/show, with its failover state.
  nlohmann::json instance_json(const Instance& instance) const;

  // --- control socket ---
  // Commands that finish later (replication) answer through `respond`.
  void dispatch_command(const std::string& command, const nlohmann::json& args, control::ControlServer::Respond respond);
  nlohmann::json handle_command(const std::string& command, const nlohmann::json& args);
  nlohmann::json replication_status(const nlohmann::json& args);

  DaemonOptions opts_;
  config::Config config_;
  MonotonicClock clock_;
  EventLoop loop_;
  net::NetlinkAddressManager addresses_;
  net::SocketAnnounceSender announcer_;
  net::LinkMonitor links_;
  notify::ProgramRunner programs_;
  notify::StateNotifier notifier_;
  notify::EventJournal journal_;  // the node's incident timeline (vrrpctl events)
  std::unique_ptr<ReplicationService> replication_;  // only with resources configured
  std::unique_ptr<ResourceCommands> resource_commands_;  // replication_ seen by the orchestrators
  std::unique_ptr<ServiceManager> services_;  // the instances' services (programs)
  // By instance name, and "group:NAME" for sync groups; the key is also the
  // witness's lease. Outlives the Instance (a release still runs after a
  // reload stopped it), so its hooks look the instances up by name.
  std::map<std::string, std::unique_ptr<Orchestrator>> orchestrators_;
  std::unique_ptr<checkers::CheckerService> checks_;
  std::map<std::string, checkers::CheckStatus> check_status_;  // by check name; VRRP thread only
  std::unique_ptr<control::ControlServer> control_;
  int signal_fd_ = -1;
  // One socket per (interface, family), shared by that link's instances.
  struct SocketEntry {
    std::unique_ptr<net::VrrpSocket> socket;
    int ifindex = 0;
  };
  std::map<std::string, SocketEntry> sockets_;  // key: "ifname/4" or "ifname/6"
  std::vector<std::unique_ptr<Instance>> instances_;
  std::map<std::string, std::string> group_state_;  // sync group -> last notified state
  bool following_group_ = false;  // guards against sync-group force cascades
  // SNMP (global.snmp): reads instances_, check_status_ and replication_, so
  // it is declared after them and destroyed first. Null when off.
  std::unique_ptr<SnmpBridge> snmp_;
  // Quorum (global.witness / global.witness_server), see witness.h.
  std::unique_ptr<witness::Server> witness_server_;  // this node is a witness
  std::unique_ptr<witness::Client> witness_;         // this data node's witness
  std::unique_ptr<QuorumCommands> quorum_;           // witness_ plus the replication peers, for the orchestrators
  std::unique_ptr<Timer> quorum_watch_;              // steps an active instance down when it has no majority
  // Every resource owned by `lock` (an instance or "group:NAME") is
  // connected to its peer (the peer is alive and counts towards the majority).
  bool peers_connected(const std::string& lock) const;
  void check_quorum();
  std::map<std::string, TimePoint> quorum_claimed_;  // lock -> last background claim
  int exit_code_ = 0;
};

}  // namespace vrrpd
