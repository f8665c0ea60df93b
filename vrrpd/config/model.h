// The typed configuration model. Both front ends (native libconfig and
// keepalived.conf syntax) produce this, and one validator checks it, so every
// rule and every error message is shared. Schema version: see README.md
// "Config schema". Units are in the member names.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vrrpd/base/ip_address.h"

namespace vrrpd::config {

// Where a setting came from, for error messages ("file:line").
struct SourceLocation {
  std::string file;
  int line = 0;
  // "file:line"; just "file" when the line is unknown (0), e.g. unreadable file.
  std::string to_string() const {
    return line > 0 ? file + ":" + std::to_string(line) : file;
  }
};

// Location of each key that was set explicitly, so the validator can name the
// line of the offending key ("priority" -> file:12). Missing keys fall back to
// the block's own location. Keys are the native format's names
// ("advert_interval_ms") whatever the syntax of the file.
class KeyLocations {
 public:
  void set(const std::string& key, SourceLocation where) { keys_[key] = std::move(where); }
  // Also records how the user wrote the key and its value (keepalived
  // "advert_int" "0.1" for key "advert_interval_ms"), so the validator's
  // messages quote the user's own text whatever the syntax.
  void set(const std::string& key, SourceLocation where, std::string spelled,
           std::string written) {
    keys_[key] = std::move(where);
    written_[key] = {std::move(spelled), std::move(written)};
  }
  bool has(const std::string& key) const { return keys_.count(key) != 0; }
  // The key's location, or `block` when the key was not set.
  SourceLocation of(const std::string& key, const SourceLocation& block) const {
    auto it = keys_.find(key);
    return it == keys_.end() ? block : it->second;
  }
  // The key as the user spelled it; `key` itself when not recorded.
  std::string spelled(const std::string& key) const {
    auto it = written_.find(key);
    return it == written_.end() || it->second.first.empty() ? key : it->second.first;
  }
  // The value as the user wrote it; empty when not recorded.
  std::string written(const std::string& key) const {
    auto it = written_.find(key);
    return it == written_.end() ? std::string() : it->second.second;
  }

 private:
  std::map<std::string, SourceLocation> keys_;
  std::map<std::string, std::pair<std::string, std::string>> written_;  // key -> (spelled, value)
};

// A program to run: argv[0] is an absolute path; no shell is involved.
struct Program {
  std::vector<std::string> argv;
  SourceLocation where;
};

// keepalived's notify_* programs.
struct NotifyPrograms {
  std::optional<Program> master;   // notify_master
  std::optional<Program> backup;   // notify_backup
  std::optional<Program> fault;    // notify_fault
  std::optional<Program> stop;     // notify_stop
  std::optional<Program> generic;  // notify: gets INSTANCE|GROUP name STATE priority appended
};

struct VirtualAddress {
  IpPrefix prefix;       // address and prefix length (default /32 or /128)
  std::string device;    // empty: the instance's interface
  std::string label;     // IPv4 label such as "eth0:1" (optional)
  SourceLocation where;
};

struct TrackedInterface {
  std::string name;
  // 0: the instance goes FAULT when the link is down (keepalived default);
  // otherwise added to the priority while the link is down (-253..253).
  int weight = 0;
  SourceLocation where;
};

// Gratuitous ARP / unsolicited NA on becoming MASTER (keepalived names).
struct GarpSettings {
  std::chrono::milliseconds master_delay{5000};   // garp_master_delay: second burst after this
  int master_repeat = 5;                          // garp_master_repeat: packets per burst
  std::chrono::milliseconds master_refresh{0};    // garp_master_refresh: 0 = no periodic refresh
  int master_refresh_repeat = 1;                  // garp_master_refresh_repeat
  std::chrono::milliseconds interval{0};          // garp_interval: gap between packets of a burst
};

enum class InitialState { kBackup, kMaster };

// A health check (checkers/). keepalived's vrrp_script maps onto kind "exec".
struct Check {
  std::string name;
  SourceLocation where;
  KeyLocations keys;

  std::string kind;                            // "tcp", "dns", "exec", "mysql"
  std::chrono::milliseconds interval{2000};    // between the starts of two attempts, 10 ms..1 h
  std::chrono::milliseconds timeout{1000};     // one attempt fails after this, 1 ms..1 h
  long rise = 1;                               // consecutive successes to become up, 1..100
  long fall = 1;                               // consecutive failures to become down, 1..100
  bool initially_up = true;                    // keepalived's default; "init_fail" = false
  long weight = 0;                             // default effect when tracked without a weight, -253..253
  // Run on every UP/DOWN change (no shell), with "CHECK", the name, "UP" or
  // "DOWN" and the reason appended; serialised per check.
  std::optional<Program> notify;

  // tcp, dns, mysql: where the server is.
  std::optional<IpAddress> address;
  long port = 0;                               // 0: the kind's default (53, 3306); tcp: required
  // tcp: optional exchange after connecting.
  std::string send;                            // bytes to send ("\n" escapes are the parser's job)
  std::string expect;                          // the reply must start with this

  // dns: the question and the judgement of the answer.
  std::string query_name;
  std::string query_type = "A";                // A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT, ANY
  std::string query_class = "IN";              // IN, CH
  bool recursion_desired = true;
  std::string expect_rcode = "NOERROR";        // NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...
  std::vector<std::string> expect_answers;     // each must appear in the answer section (e.g. an address)

  // exec: the program (no shell); exit 0 is healthy.
  std::optional<Program> program;

  // mysql (MariaDB Connector/C, non-blocking API).
  std::string user;
  std::string password;
  std::string database;
  std::string query = "SELECT 1";
  bool tls = false;
  std::string expect_role = "any";             // "any", "writable" (read_only OFF), "read-only"
  long max_replica_lag_s = -1;                 // >= 0: must be a replica with both threads running and lag <= this
  bool galera = false;                         // wsrep_ready=ON and wsrep_local_state_comment=Synced

  // replication: a replication resource's local state must meet every
  // condition in `require` ("up-to-date", "connected", "established",
  // "no-split-brain"); default: up-to-date and no-split-brain.
  std::string resource;
  std::vector<std::string> require;
};

// An instance's use of a check (track_checks / keepalived track_script).
// Effect (keepalived semantics), with w = weight if set, else the check's:
//   w == 0: the instance goes FAULT while the check is down;
//   w > 0:  w is added to the priority while the check is up;
//   w < 0:  w is added (subtracted) while the check is down.
struct TrackedCheck {
  std::string name;
  std::optional<long> weight;                  // -253..253
  SourceLocation where;
};

// Failover with data: what an instance, or a sync group for all its
// members, owns. On becoming MASTER each resource is promoted and mounted, in
// this order, then each service started, before the VIPs are added (a sync
// group's before any member's VIPs); on leaving MASTER, after the VIPs are
// removed (all the members' VIPs, for a group), the services are stopped and
// the resources unmounted and demoted, in reverse order.
struct Ownership {
  std::vector<std::string> resources;  // replication resources (`resources`)
  std::vector<std::string> services;   // services (`services`)
  std::chrono::milliseconds takeover_timeout{30000};  // per takeover step (primary, mount)
  std::chrono::milliseconds release_timeout{30000};   // per release step (umount, secondary)
  // After a failed takeover the instance (the group's members) stays FAULT
  // this long (priority-0 advert, the peer takes over) before it may be
  // elected again.
  std::chrono::milliseconds fault_hold{10000};
  bool owns_anything() const { return !resources.empty() || !services.empty(); }
};

struct Instance : Ownership {
  std::string name;
  SourceLocation where;  // the block's opening line
  KeyLocations keys;

  std::string interface;
  long virtual_router_id = 0;   // 1..255 (required)
  long priority = 100;          // 1..255; 255 = address owner
  long version = 3;             // 2 or 3
  std::optional<Family> family; // inferred from VIPs when unset
  // Advert interval. v3: 10 ms steps, 10..40950 ms; v2: whole seconds, 1..255 s.
  std::chrono::milliseconds advert_interval{1000};
  bool preempt = true;
  std::chrono::milliseconds preempt_delay{0};  // 0..1000 s
  InitialState initial_state = InitialState::kBackup;
  std::vector<VirtualAddress> virtual_addresses;
  std::optional<IpAddress> unicast_src;
  std::vector<IpAddress> unicast_peers;  // empty: multicast
  std::string auth_pass;                 // v2 auth_type PASS, at most 8 bytes; empty: none
  std::vector<TrackedInterface> track_interfaces;
  // VRRPv3/IPv4 checksum over the IPv4 pseudo-header (keepalived default);
  // false = message only (v3_checksum_as_v2).
  bool v3_checksum_pseudo_header = true;
  GarpSettings garp;
  NotifyPrograms notify;
  std::vector<TrackedCheck> track_checks;
  std::string sync_group;  // filled in by the validator from the groups
};

struct SyncGroup : Ownership {
  std::string name;
  SourceLocation where;
  KeyLocations keys;
  std::vector<std::string> members;
  NotifyPrograms notify;
};

// A replicated volume (replication/), DRBD's "resource": the backing device,
// where its metadata lives, the replication link, and how to mount it.
// Names keep DRBD's where users know them (protocol, after-sb-*, on-io-error).
struct Resource {
  std::string name;  // [A-Za-z0-9_.-]+; also names /run/vrrpd/NAME
  SourceLocation where;
  KeyLocations keys;

  std::string device;                  // backing block device or file (absolute path, required)
  std::string metadata = "internal";   // "internal" (end of the device) or an absolute path
  std::optional<IpAddress> address;    // this node's replication address (required)
  long port = 7789;                    // this node's replication port (DRBD's habit)
  std::optional<IpAddress> peer_address;  // the peer's (required, same family)
  long peer_port = 0;                  // 0: the same as port
  std::string protocol = "C";          // "A", "B" or "C" (see README)
  std::string shared_secret;           // HMAC key for peer authentication (required, 8..255 bytes)
  long resync_rate_kib = 102400;       // resync rate limit, KiB/s (100 MiB/s)
  std::string on_io_error = "passthrough";  // "passthrough", "detach", "call-handler"
  std::optional<Program> io_error_handler;   // run on a disk error with call-handler
  // Run on every event of the resource (no shell), with "RESOURCE", the
  // name, the event (role, disk, connection, split-brain, resync-finished,
  // verify, io-error, ...: the event journal's words) and its one-line text
  // appended; serialised per resource. DRBD's split-brain, out-of-sync and
  // after-resync-target handlers in one program.
  std::optional<Program> notify;
  // DRBD's before-resync-target: run (no shell; the resource name appended)
  // when a connect makes this node, holding a good image, the SyncTarget,
  // before anything is overwritten; exit 0 lets the resync start, anything
  // else drops the link (the next connect tries again). Killed after
  // timeout_ms less a margin: the peer waits that long for our bitmap.
  std::optional<Program> before_resync_target_handler;
  std::string after_sb_0pri = "disconnect";  // "disconnect", "discard-younger-primary",
                                             // "discard-older-primary", "discard-zero-changes",
                                             // "discard-least-changes"
  std::string after_sb_1pri = "disconnect";  // "disconnect", "consensus", "discard-secondary"
  std::string after_sb_2pri = "disconnect";  // "disconnect"
  // Link supervision in the spirit of DRBD's net section.
  std::chrono::milliseconds ping_interval{1000};     // ping-int: keep-alive (DRBD: 10 s)
  // ping-timeout: a PingAck must arrive within this. DRBD's 0.5 s drops the
  // link (and starts a resync) on a half-second blip; 5 s rides it out.
  std::chrono::milliseconds ping_timeout{5000};
  // A takeover finding the peer Primary pings it and drops the link when
  // nothing comes back within this (keep it at 1.5 advert intervals or more).
  std::chrono::milliseconds probe_timeout{1500};
  std::chrono::milliseconds timeout{6000};           // timeout: a data ack must arrive within
  long ko_count = 7;                                 // ko-count: timeouts before the peer is dropped
  std::chrono::milliseconds connect_interval{2000};  // connect-int: between connection attempts
  // TCP congestion control of the replication link ("cubic", "reno", ...);
  // empty: the system's default. A latency-bound link (protocol C waits for
  // every write's ack) may want something other than a WAN default.
  std::string tcp_congestion;
  // DRBD's on-congestion and congestion-fill, for protocol A: a write that
  // finds more than congestion_fill_kib queued for the link waits for it
  // to drain ("block") or stops mirroring until it has ("pull-ahead":
  // Ahead/Behind, the peer Outdated and resynced afterwards).
  std::string on_congestion = "block";
  long congestion_fill_kib = 8192;
  // DRBD's congestion-extents, with pull-ahead: also pull ahead when this
  // many 4 MiB activity-log extents hold writes the peer has not confirmed
  // (a slow peer disk or a long link with little queued). 64, the log's
  // size, is the default: only a log full of them.
  long congestion_extents = 64;
  // DRBD's resync-after: the name of another resource; this one's resync
  // waits (paused, "after") while that one, or one it waits for in turn,
  // resyncs on this node. Empty: none. For resources on the same disks.
  std::string resync_after;
  // DRBD's fencing, over a second path between the two daemons (README
  // "Fence path"): "dont-care" (none), "resource-only" (a Primary that
  // loses the replication link outdates the peer through fence_peer_address,
  // so that the peer does not promote stale data) or "resource-and-stonith"
  // (the same, and no write is acknowledged until the peer is outdated, the
  // link is back or the operator runs resume-io). The fence path uses UDP
  // on the replication port numbers.
  std::string fencing = "dont-care";
  std::optional<IpAddress> fence_address;       // this node's address on the second path
  std::optional<IpAddress> fence_peer_address;  // the peer's
  // DRBD's fence-peer handler, for when the fence path gets no answer (the
  // peer is off both networks): run with the resource name and the peer's
  // fence address appended, after kFenceHandlerDelay of trying; exit 3
  // (peer Inconsistent), 4 (peer outdated) or 7 (peer stonithed) counts as
  // the peer fenced. Optional; only with fencing.
  std::optional<Program> fence_peer_handler;
  // The file system on the volume (optional; mount/umount are in-process).
  std::string mount_point;             // absolute path; empty: not mounted by vrrpd
  std::string fs_type = "ext4";
  std::string mount_options;           // as for mount(8) -o: "noatime,errors=remount-ro"
  // Unmounting a busy file system: retry for unmount_grace (0..600000 ms),
  // then, with kill_holders, SIGTERM the processes that hold it, SIGKILL
  // those still there 2 s later, and name them in the log and the journal.
  std::chrono::milliseconds unmount_grace{5000};
  bool kill_holders = false;
};

// A receiver of notifications sent directly by the daemon (besides the
// AgentX master). Passwords are kept here but never echoed in messages.
struct TrapReceiver {
  SourceLocation where;
  KeyLocations keys;
  std::string address;           // "192.0.2.1", "192.0.2.1:162", "[2001:db8::1]:162"
  std::string host;              // filled in by validate(): the address part
  long port = 162;               // filled in by validate()
  std::string version = "2c";    // "2c" (trap) or "3" (trap, or inform with `inform`)
  std::string community = "public";  // v2c
  std::string user;              // v3 USM user
  std::string auth;              // v3: "" (none), "MD5", "SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512"
  std::string auth_pass;         // v3, 8..255 bytes
  std::string priv;              // v3: "" (none), "DES", "AES" (needs auth)
  std::string priv_pass;         // v3, 8..255 bytes
  bool inform = false;           // v3 only: acknowledged notifications, retried
};

// Quorum with a witness (vrrpd/daemon/witness.h). On a data node
// (`witness`): where the witness is; on the witness itself
// (`witness_server`): where to answer. Same keys for both.
struct WitnessSettings {
  SourceLocation where;
  KeyLocations keys;
  bool configured = false;              // the block was written
  std::optional<IpAddress> address;     // required
  long port = 7790;
  std::string shared_secret;            // required, 8..255 bytes
  std::chrono::milliseconds lease{5000};  // 500..600000 ms
};

// The SNMP agent (notify/snmp_agent.h): an AgentX subagent and direct traps.
struct SnmpSettings {
  SourceLocation where;
  KeyLocations keys;
  bool enable = false;           // run the AgentX subagent (VRRPv3-MIB, VRRPD-MIB)
  bool traps = true;             // send notifications (with enable)
  std::string agentx_socket;     // empty: net-snmp's default (/var/agentx/master); or "tcp:HOST:PORT"
  std::chrono::milliseconds agentx_ping_interval{15000};  // reconnect check, whole seconds
  std::vector<TrapReceiver> trap_receivers;
};

struct Global {
  SourceLocation where;
  KeyLocations keys;
  std::string router_id;                         // shown in logs and vrrpctl
  std::string notify_user;                       // script_user: run notify programs as (empty: root)
  std::string notify_group;                      // group for the above (empty: the user's group)
  std::chrono::milliseconds notify_timeout{10000};  // kill a notify program after this
  std::string control_socket;                    // empty: the built-in default path
  std::string runtime_dir = "/run/vrrpd";         // replication exports and device links: DIR/NAME/{fuse,dev}
  std::string journal_file;                      // event journal as JSON lines (empty: memory only)
  long journal_capacity = 10000;                 // events kept in memory for vrrpctl events
  GarpSettings garp;                             // defaults for every instance
  SnmpSettings snmp;                             // `snmp = { ... }`
  WitnessSettings witness;                       // `witness = { ... }`: this data node's witness
  WitnessSettings witness_server;                // `witness_server = { ... }`: this node is a witness
};

// A non-fatal finding, such as a keepalived keyword this daemon ignores.
struct Warning {
  SourceLocation where;
  std::string message;
};

// A service started by the daemon on the node that holds the data (an
// instance's `services`): programs run without a shell, like an init
// script's start/stop/status. See vrrpd/daemon/service_manager.h.
struct Service {
  std::string name;  // [A-Za-z0-9_.-]+
  SourceLocation where;
  KeyLocations keys;

  // Either a systemd unit, started and stopped over D-Bus...
  std::string systemd_unit;       // "mariadb.service"
  // ...or programs.
  std::optional<Program> start;   // required without systemd_unit; exit 0 = started
  std::optional<Program> stop;    // required without systemd_unit; exit 0 = stopped
  std::optional<Program> status;  // optional; exit 0 = running and ready (polled after start)
  std::chrono::milliseconds start_timeout{60000};   // start plus readiness, 100 ms..1 h
  std::chrono::milliseconds stop_timeout{60000};    // 100 ms..1 h
  std::chrono::milliseconds status_interval{500};   // between readiness polls, 10 ms..60 s
};

struct Config {
  std::string file;  // the top-level file
  Global global;
  std::vector<Instance> instances;
  std::vector<SyncGroup> sync_groups;
  std::vector<Check> checks;
  std::vector<Resource> resources;
  std::vector<Service> services;
  std::vector<Warning> warnings;
};

}  // namespace vrrpd::config
