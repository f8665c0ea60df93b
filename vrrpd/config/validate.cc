// The validator both front ends share: ranges, defaults that depend on other
// keys (family from the VIPs, a check's port from its kind), and cross-checks
// between instances, sync groups and health checks. It collects every issue
// before throwing so the user fixes them all in one go. Keys are named as the
// user wrote them (KeyLocations::spelled), so a keepalived user reads
// "advert_int = 0.015", a native user "advert_interval_ms = 15"; the
// canonical key names are the native ones.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <tuple>

#include "vrrpd/config/config.h"

namespace vrrpd::config {
namespace {

using std::chrono::milliseconds;

// Limits, one place. Units in the names; RFC 5798/3768 where they come from.
constexpr long kVridMin = 1, kVridMax = 255;
constexpr long kPriorityMin = 1, kPriorityMax = 255;
constexpr long kV3AdvertMinMs = 10, kV3AdvertMaxMs = 40950, kV3AdvertStepMs = 10;  // 12-bit centiseconds
constexpr long kV2AdvertMinMs = 1000, kV2AdvertMaxMs = 255000, kV2AdvertStepMs = 1000;  // 8-bit seconds
constexpr long kPreemptDelayMaxMs = 1000000;
constexpr long kNotifyTimeoutMinMs = 1, kNotifyTimeoutMaxMs = 3600000;
constexpr long kJournalCapacityMin = 100, kJournalCapacityMax = 1000000;  // events in memory
constexpr long kGarpDelayMaxMs = 3600000, kGarpRefreshMinMs = 1000, kGarpRefreshMaxMs = 3600000;
constexpr long kGarpIntervalMaxMs = 1000;
constexpr int kGarpRepeatMin = 1, kGarpRepeatMax = 255;
constexpr int kTrackWeightMax = 253;       // keepalived: -253..253
constexpr std::size_t kIfNameMax = 15;      // IFNAMSIZ - 1
constexpr std::size_t kNameMax = 64;
constexpr std::size_t kAuthPassMax = 8;     // RFC 3768 authentication data
// Health checks.
constexpr long kCheckIntervalMinMs = 10, kCheckIntervalMaxMs = 3600000;
constexpr long kCheckTimeoutMinMs = 1, kCheckTimeoutMaxMs = 3600000;
constexpr long kRiseFallMin = 1, kRiseFallMax = 100;
constexpr long kPortMin = 1, kPortMax = 65535;
constexpr long kDnsPort = 53, kMysqlPort = 3306;
constexpr long kReplicaLagMaxS = 86400;
constexpr std::size_t kDnsNameMax = 253, kDnsLabelMax = 63;  // RFC 1035 2.3.4, text form
const std::vector<std::string> kCheckKinds{"tcp", "dns", "exec", "mysql", "replication"};
const std::vector<std::string> kReplicationRequirements{"up-to-date", "connected", "established",
                                                        "no-split-brain"};
// Replication resources (DRBD's names and, where they are sane, its limits).
const std::vector<std::string> kProtocols{"A", "B", "C"};
const std::vector<std::string> kCongestionPolicies{"block", "pull-ahead"};
constexpr long kCongestionFillMinKib = 64, kCongestionFillMaxKib = 1l << 20;  // 64 KiB .. 1 GiB
// Activity-log extents: at most the log's size (replication::kMaxAlExtents).
constexpr long kCongestionExtentsMin = 1, kCongestionExtentsMax = 64;
const std::vector<std::string> kIoErrorPolicies{"passthrough", "detach", "call-handler"};
const std::vector<std::string> kAfterSb0Pri{"disconnect", "discard-younger-primary", "discard-older-primary",
                                            "discard-zero-changes", "discard-least-changes"};
const std::vector<std::string> kAfterSb1Pri{"disconnect", "consensus", "discard-secondary"};
const std::vector<std::string> kAfterSb2Pri{"disconnect"};
const std::vector<std::string> kFencing{"dont-care", "resource-only", "resource-and-stonith"};
constexpr std::size_t kSecretMinBytes = 8, kSecretMaxBytes = 255;
constexpr long kResyncRateMinKib = 1, kResyncRateMaxKib = 10L * 1024 * 1024;  // 1 KiB/s .. 10 GiB/s
constexpr long kPingIntervalMinMs = 1000, kPingIntervalMaxMs = 120000;
constexpr long kPingTimeoutMinMs = 100, kPingTimeoutMaxMs = 30000;
constexpr long kAckTimeoutMinMs = 100, kAckTimeoutMaxMs = 600000;
constexpr long kKoCountMax = 200;  // 0: never drop the peer for slow acks
constexpr long kConnectIntervalMinMs = 100, kConnectIntervalMaxMs = 120000;
// Failover with data: one takeover/release step (primary, mount, umount,
// secondary) may take this long; a failed takeover holds FAULT this long.
constexpr long kStepTimeoutMinMs = 100, kStepTimeoutMaxMs = 3600000;
constexpr long kUnmountGraceMaxMs = 600000;  // a resource's busy-unmount wait
// The witness's lease: long enough for a few renewals (every third), short
// enough that a dead holder's lock frees within minutes.
constexpr long kWitnessLeaseMinMs = 500, kWitnessLeaseMaxMs = 600000;
// A service's readiness poll (status program), ms.
constexpr long kStatusIntervalMinMs = 10, kStatusIntervalMaxMs = 60000;
constexpr long kFaultHoldMaxMs = 3600000;
const std::vector<std::string> kQueryTypes{"A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT", "ANY"};
const std::vector<std::string> kQueryClasses{"IN", "CH"};
const std::vector<std::string> kRcodes{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
const std::vector<std::string> kMysqlRoles{"any", "writable", "read-only"};
// SNMP: what net-snmp 5.9 supports; USM passphrases need 8 bytes (RFC 3414 11.2).
const std::vector<std::string> kSnmpVersions{"2c", "3"};
const std::vector<std::string> kSnmpAuth{"MD5", "SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512"};
const std::vector<std::string> kSnmpPriv{"DES", "AES"};
constexpr std::size_t kSnmpPassMin = 8, kSnmpPassMax = 255, kSnmpUserMax = 32, kCommunityMax = 255;
constexpr long kAgentxPingMinMs = 1000, kAgentxPingMaxMs = 3600000, kAgentxPingStepMs = 1000;

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// 40950 -> "40.95", 1000 -> "1": ms as seconds for the "(... s)" hints.
std::string seconds(long ms) {
  std::string s = std::to_string(ms / 1000);
  if (long frac = ms % 1000; frac != 0) {
    std::string f = std::to_string(1000 + frac).substr(1);
    f.erase(f.find_last_not_of('0') + 1);
    s += "." + f;
  }
  return s;
}

std::string ms_range(long lo, long hi) {
  return std::to_string(lo) + ".." + std::to_string(hi) + " ms (" + seconds(lo) + ".." +
         seconds(hi) + " s)";
}

std::string range(long lo, long hi) { return std::to_string(lo) + ".." + std::to_string(hi); }

bool valid_name(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-';
  });
}

std::string join(const std::vector<std::string>& items, const std::string& separator = ", ") {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : separator) + i;
  return out;
}

// Replaces `value` by the entry of `valid` it equals in any case; false if none.
bool canonicalize(std::string& value, const std::vector<std::string>& valid) {
  for (const auto& v : valid) {
    if (v.size() == value.size() &&
        std::equal(v.begin(), v.end(), value.begin(), [](unsigned char a, unsigned char b) {
          return std::tolower(a) == std::tolower(b);
        })) {
      value = v;
      return true;
    }
  }
  return false;
}

// A DNS name in text form: "." or dot-separated labels of 1..63 characters,
// at most 253 characters without the trailing dot.
bool valid_dns_name(std::string name) {
  if (name == ".") return true;
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty() || name.size() > kDnsNameMax) return false;
  std::size_t start = 0;
  for (;;) {
    auto dot = name.find('.', start);
    std::size_t len = (dot == std::string::npos ? name.size() : dot) - start;
    if (len == 0 || len > kDnsLabelMax) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

std::string argv_text(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return quoted(out);
}

class Validator {
 public:
  explicit Validator(Config& config) : config_(config) {}

  std::vector<ConfigIssue> run() {
    check_global();
    check_snmp();
    check_witness(config_.global.witness, "the witness's address, e.g. 203.0.113.5");
    check_witness(config_.global.witness_server, "the address to answer on, e.g. 203.0.113.5");
    for (auto& resource : config_.resources) check_resource(resource);
    check_resource_conflicts();
    check_resync_after();
    for (auto& check : config_.checks) check_check(check);
    check_check_names();
    for (auto& inst : config_.instances) check_instance(inst);
    check_duplicates();
    check_sync_groups();
    check_tracked_checks();
    for (auto& service : config_.services) check_service(service);
    check_owned_resources();
    check_owned_services();
    return std::move(issues_);
  }

 private:
  // An issue about a key of a block, at the key's line (the block's when the
  // key was not written), quoting the user's spelling and value when known.
  void key_issue(const KeyLocations& keys, const SourceLocation& block, const std::string& key,
                 const std::string& value, std::string problem) {
    std::string shown = keys.written(key);
    issues_.push_back({keys.of(key, block), keys.spelled(key), shown.empty() ? value : shown,
                       std::move(problem)});
  }

  // An issue about one item of a list key (a VIP, a peer), at the item's line.
  void item_issue(const KeyLocations& keys, const std::string& list_key,
                  const SourceLocation& where, const std::string& value, std::string problem) {
    issues_.push_back({where, keys.spelled(list_key), value, std::move(problem)});
  }

  void check_range(const KeyLocations& keys, const SourceLocation& block, const std::string& key,
                   long value, long lo, long hi) {
    if (value < lo || value > hi)
      key_issue(keys, block, key, std::to_string(value), "out of range; valid: " + range(lo, hi));
  }

  void check_ms(const KeyLocations& keys, const SourceLocation& block, const std::string& key,
                milliseconds value, long lo, long hi) {
    if (value.count() < lo || value.count() > hi)
      key_issue(keys, block, key, std::to_string(value.count()),
                "out of range; valid: " + ms_range(lo, hi));
  }

  // `inherited`: the global values an instance starts from; a field equal to
  // it and not written in the instance was already checked in global.
  void check_garp(const GarpSettings& g, const KeyLocations& keys, const SourceLocation& block,
                  const GarpSettings* inherited) {
    auto own = [&](const char* key, auto mine, auto theirs) {
      return inherited == nullptr || keys.has(key) || mine != theirs;
    };
    const GarpSettings& base = inherited != nullptr ? *inherited : g;
    if (own("garp_master_delay_ms", g.master_delay, base.master_delay))
      check_ms(keys, block, "garp_master_delay_ms", g.master_delay, 0, kGarpDelayMaxMs);
    if (own("garp_master_repeat", g.master_repeat, base.master_repeat))
      check_range(keys, block, "garp_master_repeat", g.master_repeat, kGarpRepeatMin, kGarpRepeatMax);
    if (own("garp_master_refresh_ms", g.master_refresh, base.master_refresh)) {
      long r = g.master_refresh.count();
      if (r != 0 && (r < kGarpRefreshMinMs || r > kGarpRefreshMaxMs))
        key_issue(keys, block, "garp_master_refresh_ms", std::to_string(r),
                  "out of range; valid: 0 (off) or " + ms_range(kGarpRefreshMinMs, kGarpRefreshMaxMs));
    }
    if (own("garp_master_refresh_repeat", g.master_refresh_repeat, base.master_refresh_repeat))
      check_range(keys, block, "garp_master_refresh_repeat", g.master_refresh_repeat,
                  kGarpRepeatMin, kGarpRepeatMax);
    if (own("garp_interval_ms", g.interval, base.interval))
      check_ms(keys, block, "garp_interval_ms", g.interval, 0, kGarpIntervalMaxMs);
  }

  void check_program(const std::optional<Program>& p, const KeyLocations& keys,
                     const SourceLocation& block, const std::string& key,
                     const std::string& example = "/usr/local/bin/notify.sh") {
    if (!p) return;
    if (p->argv.empty())
      key_issue(keys, block, key, "\"\"", "empty command; valid: an absolute path and arguments");
    else if (p->argv[0].empty() || p->argv[0][0] != '/')
      key_issue(keys, block, key, argv_text(p->argv),
                "program \"" + p->argv[0] + "\" is not an absolute path; valid: e.g. " + example +
                    " (no shell, no PATH search)");
  }

  void check_notify(const NotifyPrograms& n, const KeyLocations& keys, const SourceLocation& block) {
    check_program(n.master, keys, block, "notify_master");
    check_program(n.backup, keys, block, "notify_backup");
    check_program(n.fault, keys, block, "notify_fault");
    check_program(n.stop, keys, block, "notify_stop");
    check_program(n.generic, keys, block, "notify");
  }

  void check_global() {
    const Global& g = config_.global;
    check_ms(g.keys, g.where, "notify_timeout_ms", g.notify_timeout, kNotifyTimeoutMinMs,
             kNotifyTimeoutMaxMs);
    check_garp(g.garp, g.keys, g.where, nullptr);
    check_range(g.keys, g.where, "journal_capacity", g.journal_capacity, kJournalCapacityMin,
                kJournalCapacityMax);
    if (g.runtime_dir.empty() || g.runtime_dir[0] != '/')
      key_issue(g.keys, g.where, "runtime_dir", quoted(g.runtime_dir), "not an absolute path; valid: e.g. /run/vrrpd");
    if (g.keys.has("journal_file") && (g.journal_file.empty() || g.journal_file[0] != '/'))
      key_issue(g.keys, g.where, "journal_file", quoted(g.journal_file),
                "not an absolute path; valid: e.g. /var/lib/vrrpd/events.jsonl");
  }

  void check_witness(const WitnessSettings& w, const std::string& address_example) {
    if (!w.configured) return;
    const auto& k = w.keys;
    if (!w.address) key_issue(k, w.where, "address", "", "required; valid: " + address_example);
    check_range(k, w.where, "port", w.port, kPortMin, kPortMax);
    if (w.shared_secret.size() < 8 || w.shared_secret.size() > 255)
      key_issue(k, w.where, "shared_secret", k.written("shared_secret"),
                w.shared_secret.empty() ? "required; valid: 8..255 bytes shared with the witness and the peer"
                                        : "valid: 8..255 bytes");
    check_ms(k, w.where, "lease_ms", w.lease, kWitnessLeaseMinMs, kWitnessLeaseMaxMs);
    if (&w == &config_.global.witness && config_.global.router_id.empty())
      key_issue(config_.global.keys, config_.global.where, "router_id", "",
                "required with a witness (it names this node to the witness); valid: a name unique in the cluster");
  }

  void check_snmp() {
    SnmpSettings& snmp = config_.global.snmp;
    const auto& k = snmp.keys;
    const long ping = snmp.agentx_ping_interval.count();
    if (ping < kAgentxPingMinMs || ping > kAgentxPingMaxMs || ping % kAgentxPingStepMs != 0)
      key_issue(k, snmp.where, "agentx_ping_interval_ms", std::to_string(ping),
                "out of range; valid: " + ms_range(kAgentxPingMinMs, kAgentxPingMaxMs) + " in whole seconds");
    const std::string& sock = snmp.agentx_socket;
    if (k.has("agentx_socket") && !(sock.rfind("/", 0) == 0 || sock.rfind("unix:/", 0) == 0 ||
                                    (sock.rfind("tcp:", 0) == 0 && sock.size() > 4)))
      key_issue(k, snmp.where, "agentx_socket", quoted(sock),
                "not an AgentX address; valid: an absolute path (/var/agentx/master), unix:/PATH or tcp:HOST:PORT");
    std::set<std::string> seen;
    for (auto& r : snmp.trap_receivers) {
      check_trap_receiver(r);
      if (!r.host.empty() && !seen.insert(r.host + "/" + std::to_string(r.port)).second)
        key_issue(r.keys, r.where, "address", quoted(r.address),
                  "duplicate trap receiver; valid: each address and port once");
    }
  }

  // "192.0.2.1", "192.0.2.1:162", "2001:db8::1", "[2001:db8::1]:162" -> host, port.
  void split_receiver_address(TrapReceiver& r) {
    const auto& k = r.keys;
    const std::string& a = r.address;
    std::string host = a, port;
    if (!a.empty() && a[0] == '[') {
      auto close = a.find(']');
      host = a.substr(1, close == std::string::npos ? std::string::npos : close - 1);
      if (close != std::string::npos && close + 1 < a.size()) {
        if (a[close + 1] != ':') host.clear();
        else port = a.substr(close + 2);
      }
    } else if (std::count(a.begin(), a.end(), ':') == 1) {
      host = a.substr(0, a.find(':'));
      port = a.substr(a.find(':') + 1);
    }
    const std::string valid = "valid: an IP address with an optional port, e.g. 192.0.2.1:162 or [2001:db8::1]:162";
    if (!IpAddress::parse(host)) return key_issue(k, r.where, "address", quoted(a), "not an IP address; " + valid);
    if (!port.empty()) {
      const bool digits = port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
      const long n = digits ? std::stol(port) : 0;
      if (n < kPortMin || n > kPortMax)
        return key_issue(k, r.where, "address", quoted(a), "port out of range; " + valid + " (port 1..65535)");
      r.port = n;
    }
    r.host = host;
  }

  void check_trap_receiver(TrapReceiver& r) {
    const auto& k = r.keys;
    if (r.address.empty())
      key_issue(k, r.where, "address", "", "required; valid: an IP address with an optional port, e.g. 192.0.2.1:162");
    else
      split_receiver_address(r);
    if (!canonicalize(r.version, kSnmpVersions))
      return key_issue(k, r.where, "version", quoted(r.version), "unknown SNMP version; valid: " + join(kSnmpVersions));
    auto pass = [&](const char* key, const std::string& value) {
      if (value.size() < kSnmpPassMin || value.size() > kSnmpPassMax)
        key_issue(k, r.where, key, "", "length out of range; valid: 8..255 bytes");
    };
    if (r.version == "2c") {
      for (const char* key : {"user", "auth", "auth_pass", "priv", "priv_pass"})
        if (k.has(key)) key_issue(k, r.where, key, "", "only with version = \"3\"; valid: community for version \"2c\"");
      if (r.community.empty() || r.community.size() > kCommunityMax)
        key_issue(k, r.where, "community", "", "length out of range; valid: 1..255 bytes");
      return;
    }
    if (k.has("community"))
      key_issue(k, r.where, "community", "", "only with version = \"2c\"; valid: user, auth, priv for version \"3\"");
    if (r.user.empty())
      key_issue(k, r.where, "user", "", "required with version = \"3\"; valid: the USM user name, at most 32 bytes");
    else if (r.user.size() > kSnmpUserMax)
      key_issue(k, r.where, "user", quoted(r.user), "too long; valid: at most 32 bytes");
    if (!r.inform)
      key_issue(k, r.where, "inform", "false",
                "version \"3\" sends informs only (a v3 trap needs the receiver to know this agent's engine ID); "
                "valid: inform = true");
    if (!r.auth.empty() && !canonicalize(r.auth, kSnmpAuth))
      key_issue(k, r.where, "auth", quoted(r.auth), "unknown authentication protocol; valid: " + join(kSnmpAuth));
    if (!r.priv.empty() && !canonicalize(r.priv, kSnmpPriv))
      key_issue(k, r.where, "priv", quoted(r.priv), "unknown privacy protocol; valid: " + join(kSnmpPriv));
    if (!r.auth.empty()) pass("auth_pass", r.auth_pass);
    else if (k.has("auth_pass")) key_issue(k, r.where, "auth_pass", "", "without auth; valid: set auth too");
    if (!r.priv.empty() && r.auth.empty())
      key_issue(k, r.where, "priv", quoted(r.priv), "privacy without authentication; valid: set auth too");
    if (!r.priv.empty()) pass("priv_pass", r.priv_pass);
    else if (k.has("priv_pass")) key_issue(k, r.where, "priv_pass", "", "without priv; valid: set priv too");
  }

  void check_interface_name(const KeyLocations& keys, const SourceLocation& block,
                            const std::string& key, const std::string& name) {
    if (name.size() > kIfNameMax)
      key_issue(keys, block, key, quoted(name),
                "interface name too long; valid: at most " + std::to_string(kIfNameMax) + " characters");
  }

  void check_identity(Instance& inst) {
    const auto& k = inst.keys;
    if (inst.name.empty())
      key_issue(k, inst.where, "name", "", "required; valid: [A-Za-z0-9_.-]+, at most 64 characters");
    else if (!valid_name(inst.name) || inst.name.size() > kNameMax)
      key_issue(k, inst.where, "name", quoted(inst.name),
                "invalid name; valid: [A-Za-z0-9_.-]+, at most 64 characters");
    if (inst.interface.empty())
      key_issue(k, inst.where, "interface", "", "required; valid: a network interface name such as eth0");
    check_interface_name(k, inst.where, "interface", inst.interface);
    if (inst.virtual_router_id == 0 && !k.has("virtual_router_id"))
      key_issue(k, inst.where, "virtual_router_id", "", "required; valid: " + range(kVridMin, kVridMax));
    else
      check_range(k, inst.where, "virtual_router_id", inst.virtual_router_id, kVridMin, kVridMax);
    check_range(k, inst.where, "priority", inst.priority, kPriorityMin, kPriorityMax);
    if (inst.version != 2 && inst.version != 3)
      key_issue(k, inst.where, "version", std::to_string(inst.version), "unsupported VRRP version; valid: 2 or 3");
  }

  // Family: explicit, or the VIPs' (all one family), or IPv4 without VIPs.
  void resolve_family(Instance& inst) {
    const auto& k = inst.keys;
    const VirtualAddress* first = nullptr;
    for (const auto& vip : inst.virtual_addresses) {
      Family f = vip.prefix.address.family();
      if (inst.family && f != *inst.family) {
        item_issue(k, "virtual_addresses", vip.where, vip.prefix.to_string(),
                   std::string(family_name(f)) + " address in an " + family_name(*inst.family) +
                       " instance (" + k.spelled("family") + " at " +
                       k.of("family", inst.where).to_string() + "); valid: " +
                       family_name(*inst.family) + " addresses only");
      } else if (!inst.family && first != nullptr && f != first->prefix.address.family()) {
        item_issue(k, "virtual_addresses", vip.where, vip.prefix.to_string(),
                   std::string("mixed address families: this is ") + family_name(f) + " but " +
                       first->prefix.to_string() + " (" + first->where.to_string() + ") is " +
                       family_name(first->prefix.address.family()) +
                       "; valid: one family per instance (use one instance per family)");
      }
      if (first == nullptr) first = &vip;
    }
    if (!inst.family) inst.family = first != nullptr ? first->prefix.address.family() : Family::kIPv4;
    if (inst.version == 2 && *inst.family == Family::kIPv6)
      key_issue(k, inst.where, "version", "2",
                "VRRPv2 is IPv4 only (RFC 3768) but the instance is IPv6; valid: version 3");
  }

  void check_timers(const Instance& inst) {
    const auto& k = inst.keys;
    long ms = inst.advert_interval.count();
    if (inst.version == 3 && (ms < kV3AdvertMinMs || ms > kV3AdvertMaxMs || ms % kV3AdvertStepMs != 0))
      key_issue(k, inst.where, "advert_interval_ms", std::to_string(ms),
                "VRRPv3 needs a multiple of 10 ms; valid: " + ms_range(kV3AdvertMinMs, kV3AdvertMaxMs));
    if (inst.version == 2 && (ms < kV2AdvertMinMs || ms > kV2AdvertMaxMs || ms % kV2AdvertStepMs != 0))
      key_issue(k, inst.where, "advert_interval_ms", std::to_string(ms),
                "VRRPv2 needs whole seconds; valid: " + ms_range(kV2AdvertMinMs, kV2AdvertMaxMs) +
                    ", or version 3 for finer intervals");
    check_ms(k, inst.where, "preempt_delay_ms", inst.preempt_delay, 0, kPreemptDelayMaxMs);
    check_garp(inst.garp, k, inst.where, &config_.global.garp);
  }

  void check_addresses(const Instance& inst) {
    const auto& k = inst.keys;
    Family family = inst.family.value_or(Family::kIPv4);
    for (const auto& vip : inst.virtual_addresses) {
      const IpAddress& a = vip.prefix.address;
      std::string text = vip.prefix.to_string();
      if (a.is_multicast())
        item_issue(k, "virtual_addresses", vip.where, text, "multicast address; valid: a unicast address");
      if (a.is_unspecified())
        item_issue(k, "virtual_addresses", vip.where, text, "unspecified address; valid: a unicast address");
      if (!vip.label.empty() && a.is_v6())
        item_issue(k, "virtual_addresses", vip.where, text,
                   "label " + quoted(vip.label) + " on an IPv6 address; valid: labels are IPv4 only");
      if (vip.label.size() > kIfNameMax)
        item_issue(k, "virtual_addresses", vip.where, text,
                   "label " + quoted(vip.label) + " too long; valid: at most 15 characters");
      if (vip.device.size() > kIfNameMax)
        item_issue(k, "virtual_addresses", vip.where, text,
                   "device " + quoted(vip.device) + " too long; valid: at most 15 characters");
    }
    auto check_unicast = [&](const IpAddress& a, const char* key, const SourceLocation& where) {
      if (a.family() != family)
        item_issue(k, key, where, a.to_string(),
                   std::string(family_name(a.family())) + " address in an " + family_name(family) +
                       " instance; valid: " + family_name(family) + " addresses");
      else if (a.is_multicast() || a.is_unspecified())
        item_issue(k, key, where, a.to_string(), "not a unicast address; valid: a unicast address");
    };
    if (inst.unicast_src) check_unicast(*inst.unicast_src, "unicast_src", k.of("unicast_src", inst.where));
    for (const auto& peer : inst.unicast_peers)
      check_unicast(peer, "unicast_peers", k.of("unicast_peers", inst.where));
  }

  void check_auth_and_tracking(const Instance& inst) {
    const auto& k = inst.keys;
    if (k.has("auth_pass") || !inst.auth_pass.empty()) {
      // The password is not echoed: error output ends up in logs.
      std::string shown = "(" + std::to_string(inst.auth_pass.size()) + " bytes, not shown)";
      auto where = k.of("auth_pass", inst.where);
      if (inst.version != 2)
        issues_.push_back({where, k.spelled("auth_pass"), shown,
                           "authentication exists only in VRRPv2 (RFC 3768); valid: version 2, or no auth_pass"});
      if (inst.auth_pass.empty() || inst.auth_pass.size() > kAuthPassMax)
        issues_.push_back({where, k.spelled("auth_pass"), shown,
                           "wrong length; valid: 1..8 bytes"});
    }
    for (const auto& t : inst.track_interfaces) {
      if (t.name.empty())
        item_issue(k, "track_interfaces", t.where, "", "interface name required");
      else if (t.name.size() > kIfNameMax)
        item_issue(k, "track_interfaces", t.where, quoted(t.name),
                   "interface name too long; valid: at most 15 characters");
      if (t.weight < -kTrackWeightMax || t.weight > kTrackWeightMax)
        item_issue(k, "track_interfaces", t.where, t.name + " weight " + std::to_string(t.weight),
                   "weight out of range; valid: -253..253 (0: go FAULT while the link is down)");
    }
  }

  void check_instance(Instance& inst) {
    inst.sync_group.clear();  // re-derived from the groups below
    check_identity(inst);
    resolve_family(inst);
    check_timers(inst);
    check_addresses(inst);
    check_auth_and_tracking(inst);
    check_notify(inst.notify, inst.keys, inst.where);
  }

  void check_duplicates() {
    std::map<std::string, const Instance*> by_name;
    std::map<std::tuple<std::string, Family, long>, const Instance*> by_vrid;
    for (const auto& inst : config_.instances) {
      if (!inst.name.empty()) {
        auto [it, fresh] = by_name.emplace(inst.name, &inst);
        if (!fresh)
          key_issue(inst.keys, inst.where, "name", quoted(inst.name),
                    "duplicate instance name, first defined at " + it->second->where.to_string() +
                        "; valid: a unique name");
      }
      if (inst.interface.empty() || inst.virtual_router_id < kVridMin || inst.virtual_router_id > kVridMax)
        continue;
      Family f = inst.family.value_or(Family::kIPv4);
      auto [it, fresh] = by_vrid.emplace(std::tuple(inst.interface, f, inst.virtual_router_id), &inst);
      if (!fresh)
        key_issue(inst.keys, inst.where, "virtual_router_id", std::to_string(inst.virtual_router_id),
                  "instance " + quoted(inst.name) + " (" + inst.where.to_string() +
                      ") uses the same VRID on " + inst.interface + " for " + family_name(f) +
                      " as instance " + quoted(it->second->name) + " (" +
                      it->second->where.to_string() + "); valid: a VRID unique per interface and family");
    }
  }

  void check_sync_groups() {
    std::map<std::string, const SyncGroup*> groups;
    std::map<std::string, Instance*> instances;
    std::string names;
    for (auto& inst : config_.instances) {
      instances.emplace(inst.name, &inst);
      names += (names.empty() ? "" : ", ") + inst.name;
    }
    std::map<std::string, const SyncGroup*> owner;  // instance name -> its group
    for (const auto& g : config_.sync_groups) {
      if (g.name.empty())
        key_issue(g.keys, g.where, "name", "", "required; valid: a unique group name");
      else if (auto [it, fresh] = groups.emplace(g.name, &g); !fresh)
        key_issue(g.keys, g.where, "name", quoted(g.name),
                  "duplicate sync group name, first defined at " + it->second->where.to_string());
      auto members_at = g.keys.of("members", g.where);
      std::set<std::string> seen;
      for (const auto& m : g.members) {
        auto inst = instances.find(m);
        if (inst == instances.end()) {
          item_issue(g.keys, "members", members_at, quoted(m),
                     "no such vrrp instance; valid: " + (names.empty() ? std::string("(none defined)") : names));
        } else if (!seen.insert(m).second) {
          item_issue(g.keys, "members", members_at, quoted(m), "listed twice in sync group " + quoted(g.name));
        } else if (auto [it, fresh] = owner.emplace(m, &g); !fresh) {
          item_issue(g.keys, "members", members_at, quoted(m),
                     "instance is already in sync group " + quoted(it->second->name) + " (" +
                         it->second->where.to_string() + "); valid: one sync group per instance");
        } else {
          inst->second->sync_group = g.name;
        }
      }
      if (g.members.size() <= 1)
        config_.warnings.push_back(
            {g.where, "sync group " + quoted(g.name) + " has " + std::to_string(g.members.size()) +
                          " member(s); a sync group only matters with two or more"});
      check_notify(g.notify, g.keys, g.where);
    }
  }

  // ---- health checks ----

  // A key of `c` that must be one of `valid` (any case; stored canonical).
  void check_choice(Check& c, const std::string& key, std::string& value,
                    const std::vector<std::string>& valid, const std::string& what) {
    if (!canonicalize(value, valid))
      key_issue(c.keys, c.where, key, quoted(value), "unknown " + what + "; valid: " + join(valid));
  }

  void require(const Check& c, const std::string& key, bool present, const std::string& valid) {
    if (!present)
      key_issue(c.keys, c.where, key, "", "required for a check of kind " + c.kind + "; valid: " + valid);
  }

  void check_check_timing(const Check& c) {
    const auto& k = c.keys;
    check_ms(k, c.where, "interval_ms", c.interval, kCheckIntervalMinMs, kCheckIntervalMaxMs);
    check_ms(k, c.where, "timeout_ms", c.timeout, kCheckTimeoutMinMs, kCheckTimeoutMaxMs);
    if (c.timeout > c.interval) {
      // One attempt per interval: a longer timeout would overlap the next one.
      std::string interval = k.written("interval_ms");
      if (interval.empty()) interval = std::to_string(c.interval.count()) + " ms (the default)";
      key_issue(k, c.where, "timeout_ms", std::to_string(c.timeout.count()),
                "timeout is longer than " + k.spelled("interval_ms") + " = " + interval + " (" +
                    k.of("interval_ms", c.where).to_string() +
                    "); valid: a timeout at most the interval");
    }
    check_range(k, c.where, "rise", c.rise, kRiseFallMin, kRiseFallMax);
    check_range(k, c.where, "fall", c.fall, kRiseFallMin, kRiseFallMax);
    check_range(k, c.where, "weight", c.weight, -kTrackWeightMax, kTrackWeightMax);
  }

  // address/port of the network kinds; `default_port` 0: the port is required.
  void check_endpoint(Check& c, long default_port) {
    const auto& k = c.keys;
    require(c, "address", c.address.has_value(), "an IP address such as 192.0.2.1 or 2001:db8::1");
    if (c.port == 0 && !k.has("port")) {
      if (default_port == 0) require(c, "port", false, range(kPortMin, kPortMax));
      else c.port = default_port;
    } else {
      check_range(k, c.where, "port", c.port, kPortMin, kPortMax);
    }
  }

  void check_dns(Check& c) {
    const auto& k = c.keys;
    check_endpoint(c, kDnsPort);
    bool named = !c.query_name.empty() || k.has("query_name");
    require(c, "query_name", named, "a domain name such as example.com");
    if (named && !valid_dns_name(c.query_name))
      key_issue(k, c.where, "query_name", quoted(c.query_name),
                "not a domain name; valid: labels of 1..63 characters separated by dots, at most 253 characters");
    check_choice(c, "query_type", c.query_type, kQueryTypes, "query type");
    check_choice(c, "query_class", c.query_class, kQueryClasses, "query class");
    check_choice(c, "expect_rcode", c.expect_rcode, kRcodes, "response code");
  }

  void check_mysql(Check& c) {
    const auto& k = c.keys;
    check_endpoint(c, kMysqlPort);
    require(c, "user", !c.user.empty(), "the MySQL/MariaDB account the check logs in as");
    if (c.query.empty())
      key_issue(k, c.where, "query", "\"\"", "empty query; valid: a statement such as SELECT 1");
    check_choice(c, "expect_role", c.expect_role, kMysqlRoles, "role");
    if (k.has("max_replica_lag_s") || c.max_replica_lag_s != -1)
      check_range(k, c.where, "max_replica_lag_s", c.max_replica_lag_s, 0, kReplicaLagMaxS);
  }

  void check_check(Check& c) {
    const auto& k = c.keys;
    if (c.name.empty())
      key_issue(k, c.where, "name", "", "required; valid: [A-Za-z0-9_.-]+, at most 64 characters");
    else if (!valid_name(c.name) || c.name.size() > kNameMax)
      key_issue(k, c.where, "name", quoted(c.name), "invalid name; valid: [A-Za-z0-9_.-]+, at most 64 characters");
    check_check_timing(c);
    check_program(c.notify, k, c.where, "notify", "/usr/local/bin/check-changed");
    if (c.kind.empty() && !k.has("kind"))
      return key_issue(k, c.where, "kind", "", "required; valid: " + join(kCheckKinds));
    if (!canonicalize(c.kind, kCheckKinds))
      return key_issue(k, c.where, "kind", quoted(c.kind), "unknown check kind; valid: " + join(kCheckKinds));
    if (c.kind == "tcp") {
      check_endpoint(c, 0);
    } else if (c.kind == "dns") {
      check_dns(c);
    } else if (c.kind == "replication") {
      check_replication_check(c);
    } else if (c.kind == "exec") {
      require(c, "program", c.program.has_value(), "an absolute path and arguments");
      check_program(c.program, k, c.where, "program", "/usr/local/bin/check-haproxy");
    } else {
      check_mysql(c);
    }
  }

  void check_replication_check(Check& c) {
    const auto& k = c.keys;
    std::vector<std::string> names;
    for (const auto& r : config_.resources)
      if (!r.name.empty()) names.push_back(r.name);
    std::string defined = names.empty() ? std::string("(none defined)") : join(names);
    if (c.resource.empty())
      require(c, "resource", false, "the name of a replication resource; defined: " + defined);
    else if (std::find(names.begin(), names.end(), c.resource) == names.end())
      key_issue(k, c.where, "resource", quoted(c.resource),
                "unknown replication resource; defined: " + defined);
    if (c.require.empty() && !k.has("require")) c.require = {"up-to-date", "no-split-brain"};
    if (c.require.empty())
      key_issue(k, c.where, "require", "[ ]", "empty; valid: one or more of " + join(kReplicationRequirements));
    for (auto& condition : c.require)
      if (!canonicalize(condition, kReplicationRequirements))
        key_issue(k, c.where, "require", quoted(condition),
                  "unknown condition; valid: " + join(kReplicationRequirements));
  }

  // A string key that must be one of `valid` (any case; stored canonical).
  void check_choice(Resource& r, const std::string& key, std::string& value,
                    const std::vector<std::string>& valid) {
    if (!canonicalize(value, valid))
      key_issue(r.keys, r.where, key, quoted(value), "unknown value; valid: " + join(valid));
  }

  void check_path(const Resource& r, const std::string& key, const std::string& value,
                  const std::string& example) {
    if (value.empty() || value[0] != '/')
      key_issue(r.keys, r.where, key, quoted(value), "not an absolute path; valid: e.g. " + example);
  }

  // The fence path must be a second path: other addresses than the
  // replication link's, both of one family.
  void check_fencing(Resource& r) {
    const auto& k = r.keys;
    check_choice(r, "fencing", r.fencing, kFencing);
    check_program(r.fence_peer_handler, k, r.where, "fence_peer_handler", "/usr/local/sbin/stonith-peer");
    if (r.fencing != "resource-only" && r.fencing != "resource-and-stonith") {
      const std::pair<const char*, const std::optional<IpAddress>*> keys[] = {
          {"fence_address", &r.fence_address}, {"fence_peer_address", &r.fence_peer_address}};
      const std::string need = "set, but fencing = \"" + r.fencing +
                               "\"; valid: fencing = \"resource-only\" or \"resource-and-stonith\" to use it";
      for (const auto& [key, value] : keys)
        if (k.has(key)) key_issue(k, r.where, key, *value ? (*value)->to_string() : "", need);
      if (r.fence_peer_handler)
        key_issue(k, r.where, "fence_peer_handler", argv_text(r.fence_peer_handler->argv), need);
      return;
    }
    if (!r.fence_address)
      key_issue(k, r.where, "fence_address", "",
                "required with fencing = \"" + r.fencing + "\"; valid: this node's address on a second path to the "
                "peer (not the replication link), e.g. its VRRP network address 192.0.2.1");
    if (!r.fence_peer_address)
      key_issue(k, r.where, "fence_peer_address", "",
                "required with fencing = \"" + r.fencing + "\"; valid: the peer's address on that second path, e.g. "
                "192.0.2.2");
    if (!r.fence_address || !r.fence_peer_address) return;
    const std::string f = r.fence_address->to_string(), fp = r.fence_peer_address->to_string();
    if (r.fence_address->family() != r.fence_peer_address->family())
      key_issue(k, r.where, "fence_peer_address", fp,
                "address family differs from fence_address = " + f + "; valid: both IPv4 or both IPv6");
    else if (*r.fence_address == *r.fence_peer_address)
      key_issue(k, r.where, "fence_peer_address", fp, "same as fence_address; valid: the peer's own address");
    if (r.address && *r.fence_address == *r.address)
      key_issue(k, r.where, "fence_address", f,
                "the replication address itself; valid: an address on a second path to the peer, which still "
                "works when the replication link fails");
    if (r.peer_address && *r.fence_peer_address == *r.peer_address)
      key_issue(k, r.where, "fence_peer_address", fp,
                "the peer's replication address itself; valid: the peer's address on a second path");
  }

  void check_resource(Resource& r) {
    const auto& k = r.keys;
    if (r.name.empty())
      key_issue(k, r.where, "name", "", "required; valid: [A-Za-z0-9_.-]+, at most 64 characters");
    else if (!valid_name(r.name) || r.name.size() > kNameMax || r.name == "." || r.name == "..")
      key_issue(k, r.where, "name", quoted(r.name), "invalid name; valid: [A-Za-z0-9_.-]+, at most 64 characters");
    if (r.device.empty())
      key_issue(k, r.where, "device", "", "required; valid: a block device or file, e.g. /dev/sdb1 or /var/lib/vrrpd/r0.img");
    else
      check_path(r, "device", r.device, "/dev/sdb1 or /var/lib/vrrpd/r0.img");
    if (r.metadata != "internal") {
      check_path(r, "metadata", r.metadata, "\"internal\" or /var/lib/vrrpd/r0.md");
      if (r.metadata == r.device)
        key_issue(k, r.where, "metadata", quoted(r.metadata),
                  "external metadata on the data device itself; valid: \"internal\" or another file or device");
    }
    if (!r.address) key_issue(k, r.where, "address", "", "required; valid: this node's replication address, e.g. 198.51.100.1");
    if (!r.peer_address) key_issue(k, r.where, "peer_address", "", "required; valid: the peer's replication address, e.g. 198.51.100.2");
    if (r.address && r.peer_address) {
      if (r.address->family() != r.peer_address->family())
        key_issue(k, r.where, "peer_address", r.peer_address->to_string(),
                  "address family differs from address = " + r.address->to_string() + "; valid: both IPv4 or both IPv6");
      else if (*r.address == *r.peer_address)
        key_issue(k, r.where, "peer_address", r.peer_address->to_string(),
                  "same as address; valid: the peer's own address");
    }
    check_range(k, r.where, "port", r.port, kPortMin, kPortMax);
    if (r.peer_port == 0 && !k.has("peer_port")) r.peer_port = r.port;
    else check_range(k, r.where, "peer_port", r.peer_port, kPortMin, kPortMax);
    check_choice(r, "protocol", r.protocol, kProtocols);
    if (r.shared_secret.empty() && !k.has("shared_secret"))
      key_issue(k, r.where, "shared_secret", "", "required; valid: 8..255 bytes shared by both nodes");
    else if (r.shared_secret.size() < kSecretMinBytes || r.shared_secret.size() > kSecretMaxBytes)
      key_issue(k, r.where, "shared_secret", "", "length out of range; valid: 8..255 bytes");
    check_range(k, r.where, "resync_rate_kib", r.resync_rate_kib, kResyncRateMinKib, kResyncRateMaxKib);
    check_choice(r, "on_io_error", r.on_io_error, kIoErrorPolicies);
    if (r.on_io_error == "call-handler" && !r.io_error_handler)
      key_issue(k, r.where, "io_error_handler", "",
                "required with on_io_error = \"call-handler\"; valid: an absolute path and arguments");
    check_program(r.io_error_handler, k, r.where, "io_error_handler", "/usr/local/sbin/disk-failed");
    check_program(r.notify, k, r.where, "notify", "/usr/local/sbin/replication-event");
    check_program(r.before_resync_target_handler, k, r.where, "before_resync_target_handler",
                  "/usr/local/sbin/snapshot-backing-device");
    check_ms(k, r.where, "unmount_grace_ms", r.unmount_grace, 0, kUnmountGraceMaxMs);
    check_choice(r, "after_sb_0pri", r.after_sb_0pri, kAfterSb0Pri);
    check_choice(r, "after_sb_1pri", r.after_sb_1pri, kAfterSb1Pri);
    check_choice(r, "after_sb_2pri", r.after_sb_2pri, kAfterSb2Pri);
    check_ms(k, r.where, "ping_interval_ms", r.ping_interval, kPingIntervalMinMs, kPingIntervalMaxMs);
    check_ms(k, r.where, "ping_timeout_ms", r.ping_timeout, kPingTimeoutMinMs, kPingTimeoutMaxMs);
    check_ms(k, r.where, "probe_timeout_ms", r.probe_timeout, kPingTimeoutMinMs, kPingTimeoutMaxMs);
    check_ms(k, r.where, "timeout_ms", r.timeout, kAckTimeoutMinMs, kAckTimeoutMaxMs);
    check_range(k, r.where, "ko_count", r.ko_count, 0, kKoCountMax);
    check_ms(k, r.where, "connect_interval_ms", r.connect_interval, kConnectIntervalMinMs, kConnectIntervalMaxMs);
    // TCP_CA_NAME_MAX is 16 with the NUL; module names are lower case.
    if (k.has("tcp_congestion") &&
        (r.tcp_congestion.empty() || r.tcp_congestion.size() > 15 ||
         !std::all_of(r.tcp_congestion.begin(), r.tcp_congestion.end(),
                      [](unsigned char c) { return std::islower(c) || std::isdigit(c) || c == '_'; })))
      key_issue(k, r.where, "tcp_congestion", quoted(r.tcp_congestion),
                "not a TCP congestion control name; valid: 1..15 of a-z, 0-9, _ (e.g. cubic or reno; this "
                "machine's are in /proc/sys/net/ipv4/tcp_available_congestion_control)");
    check_choice(r, "on_congestion", r.on_congestion, kCongestionPolicies);
    if (r.on_congestion == "pull-ahead" && r.protocol != "A")
      key_issue(k, r.where, "on_congestion", quoted(r.on_congestion),
                "only with protocol \"A\" (protocol = " + quoted(r.protocol) +
                    " waits for the peer on every write, so the link cannot fall behind); valid: \"block\", or "
                    "protocol = \"A\"");
    check_range(k, r.where, "congestion_fill_kib", r.congestion_fill_kib, kCongestionFillMinKib, kCongestionFillMaxKib);
    check_range(k, r.where, "congestion_extents", r.congestion_extents, kCongestionExtentsMin, kCongestionExtentsMax);
    check_fencing(r);
    if (!r.mount_point.empty() || k.has("mount_point")) {
      check_path(r, "mount_point", r.mount_point, "/srv/data");
      if (r.fs_type.empty() || !valid_name(r.fs_type))
        key_issue(k, r.where, "fs_type", quoted(r.fs_type), "not a file system type; valid: e.g. ext4 or xfs");
    }
  }

  // Two resources must not share a name, a backing device, a metadata
  // file, a listening endpoint or a mount point.
  // resync_after names another resource, and the chain it starts ends.
  void check_resync_after() {
    std::map<std::string, const Resource*> by_name;
    for (const auto& r : config_.resources) by_name.emplace(r.name, &r);
    for (const auto& r : config_.resources) {
      if (r.resync_after.empty()) continue;
      std::vector<std::string> names;
      for (const auto& [name, res] : by_name)
        if (name != r.name) names.push_back(name);
      const std::string valid = names.empty() ? "another resource (none defined)" : "another resource: " + join(names);
      if (r.resync_after == r.name) {
        key_issue(r.keys, r.where, "resync_after", quoted(r.resync_after), "the resource itself; valid: " + valid);
        continue;
      }
      if (!by_name.count(r.resync_after)) {
        key_issue(r.keys, r.where, "resync_after", quoted(r.resync_after), "unknown resource; valid: " + valid);
        continue;
      }
      // Follow the chain; coming back to r is a cycle (reported once per
      // member, each at its own key).
      std::vector<std::string> chain{r.name};
      for (const Resource* at = by_name.at(r.resync_after);;) {
        chain.push_back(at->name);
        if (at->name == r.name) {
          key_issue(r.keys, r.where, "resync_after", quoted(r.resync_after),
                    "a cycle (" + join(chain, " -> ") + "); valid: a chain that ends at a resource without resync_after");
          break;
        }
        if (at->resync_after.empty()) break;
        auto next = by_name.find(at->resync_after);
        if (next == by_name.end()) break;  // the chain ends (or names an unknown resource, reported there)
        // A cycle that does not pass through r is reported at its members.
        if (at->resync_after != r.name && std::count(chain.begin(), chain.end(), at->resync_after) > 0) break;
        at = next->second;
      }
    }
  }

  void check_resource_conflicts() {
    std::map<std::string, const Resource*> names, devices, endpoints, mounts;
    auto unique = [&](std::map<std::string, const Resource*>& seen, const Resource& r,
                      const std::string& key, const std::string& value, const std::string& what) {
      if (value.empty()) return;
      auto [it, fresh] = seen.emplace(value, &r);
      if (!fresh)
        key_issue(r.keys, r.where, key, quoted(value),
                  what + " already used by resource " + quoted(it->second->name) + " (" +
                      it->second->where.to_string() + "); valid: one resource each");
    };
    for (const auto& r : config_.resources) {
      unique(names, r, "name", r.name, "name");
      unique(devices, r, "device", r.device, "device");
      if (r.metadata != "internal") unique(devices, r, "metadata", r.metadata, "device");
      if (r.address) unique(endpoints, r, "port", r.address->to_string() + ":" + std::to_string(r.port), "address and port");
      unique(mounts, r, "mount_point", r.mount_point, "mount point");
    }
  }

  void check_check_names() {
    std::map<std::string, const Check*> by_name;
    for (const auto& c : config_.checks) {
      if (c.name.empty()) continue;
      auto [it, fresh] = by_name.emplace(c.name, &c);
      if (!fresh)
        key_issue(c.keys, c.where, "name", quoted(c.name),
                  "duplicate check name, first defined at " + it->second->where.to_string() +
                      "; valid: a unique name");
    }
  }

  // Instances' track_checks: known names, once each, weights in range; and
  // a warning for each check no instance tracks (it would run for nothing).
  void check_tracked_checks() {
    std::vector<std::string> names;
    for (const auto& c : config_.checks)
      if (!c.name.empty()) names.push_back(c.name);
    std::string defined = names.empty() ? std::string("(none defined)") : join(names);
    std::set<std::string> tracked;
    for (const auto& inst : config_.instances) {
      const auto& k = inst.keys;
      std::set<std::string> seen;
      for (const auto& t : inst.track_checks) {
        std::string shown = quoted(t.name) + (t.weight ? " weight " + std::to_string(*t.weight) : "");
        if (t.name.empty())
          item_issue(k, "track_checks", t.where, "", "check name required; valid: one of " + defined);
        else if (std::find(names.begin(), names.end(), t.name) == names.end())
          item_issue(k, "track_checks", t.where, shown,
                     "instance " + inst.name + " tracks unknown check '" + t.name +
                         "'; defined checks: " + defined);
        else if (!seen.insert(t.name).second)
          item_issue(k, "track_checks", t.where, shown,
                     "instance " + inst.name + " tracks check '" + t.name +
                         "' twice; valid: each check once per instance");
        tracked.insert(t.name);
        if (t.weight && (*t.weight < -kTrackWeightMax || *t.weight > kTrackWeightMax))
          item_issue(k, "track_checks", t.where, shown,
                     "weight out of range; valid: -253..253 (0: go FAULT while the check is down)");
      }
    }
    for (const auto& c : config_.checks)
      if (!c.name.empty() && tracked.count(c.name) == 0)
        config_.warnings.push_back({c.where, "check '" + c.name + "' is not tracked by any instance"});
  }

  // Who may own resources and services: instances and sync groups, each
  // with its keys for messages ("instance VI_1", "sync group G").
  struct Owner {
    const Ownership* owned;
    std::string kind;  // "instance", "sync group"
    std::string name;
    const KeyLocations* keys;
    SourceLocation where;
  };
  std::vector<Owner> owners() const {
    std::vector<Owner> list;
    for (const auto& inst : config_.instances) list.push_back({&inst, "instance", inst.name, &inst.keys, inst.where});
    for (const auto& g : config_.sync_groups) list.push_back({&g, "sync group", g.name, &g.keys, g.where});
    return list;
  }

  // Resources of instances and sync groups: known names, each owned once at
  // most (two owners promoting the same volume would fight over it), and the
  // step timeouts in range.
  void check_owned_resources() {
    std::vector<std::string> names;
    for (const auto& r : config_.resources)
      if (!r.name.empty()) names.push_back(r.name);
    check_owners(&Ownership::resources, "resources", "replication resource", "resource", names);
    for (const Owner& o : owners()) {
      const auto& k = *o.keys;
      check_ms(k, o.where, "takeover_timeout_ms", o.owned->takeover_timeout, kStepTimeoutMinMs, kStepTimeoutMaxMs);
      check_ms(k, o.where, "release_timeout_ms", o.owned->release_timeout, kStepTimeoutMinMs, kStepTimeoutMaxMs);
      check_ms(k, o.where, "fault_hold_ms", o.owned->fault_hold, 0, kFaultHoldMaxMs);
    }
    for (const auto& g : config_.sync_groups) {
      // The name is also the witness's lease ("group:NAME") and a journal subject.
      if (g.owns_anything() && !g.name.empty() && (!valid_name(g.name) || g.name.size() > kNameMax))
        key_issue(g.keys, g.where, "name", quoted(g.name),
                  "invalid name for a sync group that owns resources or services; valid: [A-Za-z0-9_.-]+, at most "
                  "64 characters");
      if (g.owns_anything() && g.members.empty())
        key_issue(g.keys, g.where, "members", "", "required with resources or services; valid: the instances "
                                                  "whose VIPs wait for this group's data");
    }
  }

  // One rule for what instances and sync groups own (`resources`,
  // `services`): every name in `defined`, listed once, by one owner at most.
  // Returns name -> owner's label.
  std::map<std::string, std::string> check_owners(std::vector<std::string> Ownership::*list, const std::string& key,
                                                  const std::string& what, const std::string& short_what,
                                                  const std::vector<std::string>& defined_names) {
    const std::string defined = defined_names.empty() ? std::string("(none defined)") : join(defined_names);
    std::map<std::string, std::pair<const Ownership*, std::string>> owner;
    for (const Owner& o : owners()) {
      const auto& k = *o.keys;
      for (const auto& name : o.owned->*list) {
        if (std::find(defined_names.begin(), defined_names.end(), name) == defined_names.end())
          item_issue(k, key, k.of(key, o.where), quoted(name),
                     o.kind + " " + o.name + " owns unknown " + what + "; defined: " + defined);
        else if (auto [it, fresh] = owner.emplace(
                     name, std::pair{o.owned, o.kind + " " + quoted(o.name) + " (" + o.where.to_string() + ")"});
                 !fresh)
          item_issue(k, key, k.of(key, o.where), quoted(name),
                     it->second.first == o.owned ? "listed twice; valid: each " + short_what + " once"
                                                 : "already owned by " + it->second.second + "; valid: one owner per " +
                                                       short_what);
      }
    }
    std::map<std::string, std::string> labels;
    for (const auto& [name, o] : owner) labels.emplace(name, o.second);
    return labels;
  }

  void check_service(const Service& svc) {
    const auto& k = svc.keys;
    if (svc.name.empty())
      key_issue(k, svc.where, "name", "", "required; valid: [A-Za-z0-9_.-]+, at most 64 characters");
    else if (!valid_name(svc.name) || svc.name.size() > kNameMax)
      key_issue(k, svc.where, "name", quoted(svc.name), "invalid name; valid: [A-Za-z0-9_.-]+, at most 64 characters");
    auto required = [&](const std::optional<Program>& p, const std::string& key) {
      if (!p)
        key_issue(k, svc.where, key, "",
                  "required; valid: an absolute path and arguments, e.g. [\"/usr/sbin/service-ctl\", \"" + key +
                      "\"] (no shell)");
    };
    if (!svc.systemd_unit.empty()) {
      check_unit_name(svc);
      for (const auto& [key, program] : {std::pair{"start", &svc.start}, {"stop", &svc.stop}, {"status", &svc.status}})
        if (*program)
          key_issue(k, svc.where, key, argv_text((*program)->argv),
                    "not used with systemd_unit = " + quoted(svc.systemd_unit) +
                        "; valid: either systemd_unit or start/stop/status programs");
      if (k.has("status_interval_ms"))
        key_issue(k, svc.where, "status_interval_ms", std::to_string(svc.status_interval.count()),
                  "not used with systemd_unit (systemd says when the unit is started); valid: remove it");
    } else {
      required(svc.start, "start");
      required(svc.stop, "stop");
    }
    check_program(svc.start, k, svc.where, "start", "/usr/sbin/service-ctl");
    check_program(svc.stop, k, svc.where, "stop", "/usr/sbin/service-ctl");
    check_program(svc.status, k, svc.where, "status", "/usr/sbin/service-ctl");
    check_ms(k, svc.where, "start_timeout_ms", svc.start_timeout, kStepTimeoutMinMs, kStepTimeoutMaxMs);
    check_ms(k, svc.where, "stop_timeout_ms", svc.stop_timeout, kStepTimeoutMinMs, kStepTimeoutMaxMs);
    check_ms(k, svc.where, "status_interval_ms", svc.status_interval, kStatusIntervalMinMs, kStatusIntervalMaxMs);
  }

  // A unit name as systemd accepts it: "name.service", "name@instance.service".
  void check_unit_name(const Service& svc) {
    static const char* const kSuffixes[] = {".service", ".target", ".mount", ".socket", ".timer", ".path", ".scope"};
    const std::string& u = svc.systemd_unit;
    const bool chars_ok = std::all_of(u.begin(), u.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '_' || c == '.' || c == '\\' ||
             c == '@' || c == '-';
    });
    const bool suffix_ok = std::any_of(std::begin(kSuffixes), std::end(kSuffixes), [&](const char* sfx) {
      const std::string s = sfx;
      return u.size() > s.size() && u.compare(u.size() - s.size(), s.size(), s) == 0;
    });
    if (!chars_ok || !suffix_ok || u.size() > 255)
      key_issue(svc.keys, svc.where, "systemd_unit", quoted(u),
                "invalid unit name; valid: a systemd unit such as \"mariadb.service\" or \"app@blue.service\"");
  }

  // Instances' services: defined once, each owned by one instance at most
  // (two instances starting the same service would fight over it).
  void check_owned_services() {
    std::vector<std::string> names;
    std::map<std::string, const Service*> seen;
    for (const auto& svc : config_.services) {
      if (svc.name.empty()) continue;
      if (auto [it, fresh] = seen.emplace(svc.name, &svc); !fresh)
        key_issue(svc.keys, svc.where, "name", quoted(svc.name),
                  "already used by the service at " + it->second->where.to_string() + "; valid: a unique name");
      else
        names.push_back(svc.name);
    }
    const auto owner = check_owners(&Ownership::services, "services", "service", "service", names);
    for (const auto& svc : config_.services)
      if (!svc.name.empty() && owner.count(svc.name) == 0)
        config_.warnings.push_back({svc.where, "service '" + svc.name + "' is not owned by any instance or sync group"});
  }

  Config& config_;
  std::vector<ConfigIssue> issues_;
};

}  // namespace

void validate(Config& config) {
  auto issues = Validator(config).run();
  if (issues.empty()) return;
  // Checks run rule by rule; report in file order, which is how users fix them.
  std::stable_sort(issues.begin(), issues.end(), [](const ConfigIssue& a, const ConfigIssue& b) {
    return std::tie(a.where.file, a.where.line) < std::tie(b.where.file, b.where.line);
  });
  throw ConfigError(std::move(issues));
}

}  // namespace vrrpd::config
