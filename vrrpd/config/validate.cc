// The validator both front ends share: ranges, defaults that depend on other
// keys (family from the VIPs), and cross-checks between instances and sync
// groups. It collects every issue before throwing so the user fixes them all
// in one go. Keys are named as the user wrote them (KeyLocations::spelled), so
// a keepalived user reads "advert_int = 0.015", a native user
// "advert_interval_ms = 15"; the canonical key names are the native ones.
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
constexpr long kGarpDelayMaxMs = 3600000, kGarpRefreshMinMs = 1000, kGarpRefreshMaxMs = 3600000;
constexpr long kGarpIntervalMaxMs = 1000;
constexpr int kGarpRepeatMin = 1, kGarpRepeatMax = 255;
constexpr int kTrackWeightMax = 253;       // keepalived: -253..253
constexpr std::size_t kIfNameMax = 15;      // IFNAMSIZ - 1
constexpr std::size_t kNameMax = 64;
constexpr std::size_t kAuthPassMax = 8;     // RFC 3768 authentication data

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
    for (auto& inst : config_.instances) check_instance(inst);
    check_duplicates();
    check_sync_groups();
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
                     const SourceLocation& block, const std::string& key) {
    if (!p) return;
    if (p->argv.empty())
      key_issue(keys, block, key, "\"\"", "empty command; valid: an absolute path and arguments");
    else if (p->argv[0].empty() || p->argv[0][0] != '/')
      key_issue(keys, block, key, argv_text(p->argv),
                "program \"" + p->argv[0] +
                    "\" is not an absolute path; valid: e.g. /usr/local/bin/notify.sh (no shell, no PATH search)");
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
