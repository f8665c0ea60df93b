// Front end for the native format (libconfig syntax, see etc/vrrpd.conf).
// Strict on purpose: an unknown key or a wrong type is an error naming the
// line and what is valid, because a typo silently ignored in an HA daemon is
// a failover that does not happen. Ranges are checked later by validate().
#include <libconfig.h++>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <functional>
#include <map>
#include <tuple>
#include <utility>

#include "vrrpd/config/config.h"
#include "vrrpd/config/fields.h"

namespace vrrpd::config {
namespace {

using libconfig::Setting;
using Handler = std::function<void(const Setting&)>;
using KeyTable = std::vector<std::pair<std::string, Handler>>;

const char* type_name(Setting::Type t) {
  switch (t) {
    case Setting::TypeInt:
    case Setting::TypeInt64: return "an integer";
    case Setting::TypeFloat: return "a float";
    case Setting::TypeString: return "a string";
    case Setting::TypeBoolean: return "a boolean";
    case Setting::TypeGroup: return "a group { ... }";
    case Setting::TypeArray: return "an array [ ... ]";
    case Setting::TypeList: return "a list ( ... )";
    default: return "nothing";
  }
}

// The value as the user wrote it, for messages ("eth0" keeps its quotes).
std::string written(const Setting& s) {
  switch (s.getType()) {
    case Setting::TypeInt: return std::to_string(static_cast<int>(s));
    case Setting::TypeInt64: return std::to_string(static_cast<long long>(s));
    case Setting::TypeFloat: {
      std::string v = std::to_string(static_cast<double>(s));
      v.erase(v.find_last_not_of('0') + 1);  // 1.500000 -> 1.5
      return v;
    }
    case Setting::TypeString: return "\"" + std::string(s.c_str()) + "\"";
    case Setting::TypeBoolean: return static_cast<bool>(s) ? "true" : "false";
    case Setting::TypeGroup: return "{ ... }";
    case Setting::TypeArray: return "[ ... ]";
    case Setting::TypeList: return "( ... )";
    default: return "";
  }
}

// libconfig 1.5 silently wraps an integer literal that does not fit in 32 bits
// (3000000000 becomes -1294967296, 4294967396 becomes 100). No valid value
// here is that large, so find such literals in the text and reject them.
void find_wrapped_integers(std::string_view text, const std::string& file,
                           std::vector<ConfigIssue>& issues) {
  int line = 1;
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '*' || c == '-'; };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
    } else if (c == '"') {  // skip a string, honouring \" escapes
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') ++i;
        else if (text[i] == '\n') ++line;
      }
    } else if (c == '#' || (c == '/' && i + 1 < text.size() && text[i + 1] == '/')) {
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      for (i += 2; i + 1 < text.size() && !(text[i] == '*' && text[i + 1] == '/'); ++i)
        if (text[i] == '\n') ++line;
      ++i;
    } else if (std::isdigit(static_cast<unsigned char>(c)) && (i == 0 || !ident(text[i - 1]))) {
      std::size_t start = i;
      bool hex = c == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X');
      if (hex) i += 2;
      while (i < text.size() && (hex ? std::isxdigit(static_cast<unsigned char>(text[i]))
                                     : std::isdigit(static_cast<unsigned char>(text[i]))))
        ++i;
      std::string digits(text.substr(start, i - start));
      bool is_float = !hex && i < text.size() && (text[i] == '.' || text[i] == 'e' || text[i] == 'E');
      bool is_int64 = i < text.size() && text[i] == 'L';
      --i;  // the loop's ++i moves to the character after the literal
      if (is_float || is_int64) {
        while (i + 1 < text.size() && (std::isalnum(static_cast<unsigned char>(text[i + 1])) ||
                                       text[i + 1] == '.' || text[i + 1] == '+'))
          ++i;
        continue;
      }
      std::string body = hex ? digits.substr(2) : digits;
      body.erase(0, std::min(body.find_first_not_of('0'), body.size()));
      bool too_big = hex ? body.size() > 8 : (body.size() > 10 || (body.size() == 10 && body > "2147483647"));
      if (too_big)
        issues.push_back({SourceLocation{file, line}, "", "",
                          "integer " + digits + " does not fit in 32 bits; no setting accepts such a value"});
    }
  }
}

class NativeParser {
 public:
  explicit NativeParser(std::string file) : file_(std::move(file)) {}

  std::vector<ConfigIssue>& issues() { return issues_; }

  void parse_root(const Setting& root, Config& config) {
    config.file = file_;
    config.global.where = {file_, 0};
    // Global first whatever the order in the file: instances inherit its GARP settings.
    if (root.exists("global")) parse_global(root["global"], config.global);
    each_key(root, "the top level",
             {{"version", [&](const Setting& s) { schema_version(s); }},
              {"global", [&](const Setting&) {}},
              {"vrrp_instances", [&](const Setting& s) {
                 each_group(s, [&](const Setting& g) { parse_instance(g, config); });
               }},
              {"sync_groups", [&](const Setting& s) {
                 each_group(s, [&](const Setting& g) { parse_sync_group(g, config); });
               }},
              {"checks", [&](const Setting& s) {
                 each_group(s, [&](const Setting& g) { parse_check(g, config); });
               }},
              {"resources", [&](const Setting& s) {
                 each_group(s, [&](const Setting& g) { parse_resource(g, config); });
               }},
              {"services", [&](const Setting& s) {
                 each_group(s, [&](const Setting& g) { parse_service(g, config); });
               }}});
  }

 private:
  SourceLocation at(const Setting& s) const {
    const char* f = s.getSourceFile();  // set for settings from an @include file
    return {f != nullptr ? f : file_, static_cast<int>(s.getSourceLine())};
  }

  // "priority", or "virtual_addresses[1]" for an unnamed list element.
  static std::string key_of(const Setting& s) {
    if (s.getName() != nullptr) return s.getName();
    if (s.isRoot()) return "";
    return key_of(s.getParent()) + "[" + std::to_string(s.getIndex()) + "]";
  }

  void issue(const Setting& s, std::string problem) {
    std::string value = written(s);
    // Passwords and secrets are not echoed: error output ends up in logs.
    if ((key_of(s) == "password" || key_of(s) == "shared_secret") && s.getType() == Setting::TypeString)
      value = "(" + std::to_string(std::string(s.c_str()).size()) + " bytes, not shown)";
    issues_.push_back({at(s), key_of(s), std::move(value), std::move(problem)});
  }

  void wrong_type(const Setting& s, const char* expected) {
    issue(s, std::string("wrong type (") + type_name(s.getType()) + "); expected " + expected);
  }

  // Records where a key was set and how, so validate() can quote it.
  static void record(KeyLocations& keys, const std::string& key, const SourceLocation& where,
                     const Setting& s) {
    keys.set(key, where, key, written(s));
  }

  static std::string key_list(const KeyTable& table) {
    std::string valid;
    for (const auto& e : table) valid += (valid.empty() ? "" : ", ") + e.first;
    return valid;
  }

  // Visits every member of `group`; an unknown key is an issue listing the
  // valid keys, unless `explain` has a better problem text for it.
  void each_key(const Setting& group, const std::string& block, const KeyTable& table,
                const std::function<std::string(const Setting&)>& explain = {}) {
    for (const Setting& s : group) {
      auto it = std::find_if(table.begin(), table.end(),
                             [&](const auto& e) { return e.first == s.getName(); });
      if (it != table.end()) {
        it->second(s);
        continue;
      }
      std::string problem = explain ? explain(s) : "";
      issue(s, problem.empty() ? "unknown key in " + block + "; valid keys: " + key_list(table)
                               : problem);
    }
  }

  // `s` must be a list of groups: ( { ... }, { ... } ).
  void each_group(const Setting& s, const std::function<void(const Setting&)>& fn) {
    if (!s.isList()) return wrong_type(s, "a list of groups ( { ... }, ... )");
    for (const Setting& g : s) {
      if (g.isGroup()) fn(g);
      else wrong_type(g, "a group { ... }");
    }
  }

  std::optional<long long> integer(const Setting& s) {
    if (s.getType() == Setting::TypeInt) return static_cast<int>(s);
    if (s.getType() == Setting::TypeInt64) return static_cast<long long>(s);
    wrong_type(s, "an integer");
    return std::nullopt;
  }

  std::optional<std::string> string(const Setting& s) {
    if (s.getType() == Setting::TypeString) return std::string(s.c_str());
    wrong_type(s, "a string");
    return std::nullopt;
  }

  std::optional<bool> boolean(const Setting& s) {
    if (s.getType() == Setting::TypeBoolean) return static_cast<bool>(s);
    wrong_type(s, "a boolean (true or false)");
    return std::nullopt;
  }

  static int saturate(long long v) {
    return static_cast<int>(std::clamp<long long>(v, INT_MIN, INT_MAX));
  }

  // Table entries that store a scalar and record its key. The targets outlive
  // the table (they are members of the block being parsed).
  template <typename T, typename Convert>
  Handler setter(T& out, KeyLocations& keys, Convert convert) {
    return [this, out_p = &out, keys_p = &keys, convert](const Setting& s) {
      if (auto v = convert(s)) {
        *out_p = static_cast<T>(*v);
        record(*keys_p, s.getName(), at(s), s);
      }
    };
  }
  Handler set_string(std::string& out, KeyLocations& keys) {
    return setter(out, keys, [this](const Setting& s) { return string(s); });
  }
  Handler set_long(long& out, KeyLocations& keys) {
    return setter(out, keys, [this](const Setting& s) { return integer(s); });
  }
  Handler set_int(int& out, KeyLocations& keys) {
    return setter(out, keys, [this](const Setting& s) {
      auto v = integer(s);
      return v ? std::optional<int>(saturate(*v)) : std::nullopt;
    });
  }
  Handler set_ms(std::chrono::milliseconds& out, KeyLocations& keys) {
    return setter(out, keys, [this](const Setting& s) {
      auto v = integer(s);
      return v ? std::optional(std::chrono::milliseconds(*v)) : std::nullopt;
    });
  }
  Handler set_bool(bool& out, KeyLocations& keys) {
    return setter(out, keys, [this](const Setting& s) { return boolean(s); });
  }
  Handler set_address(std::optional<IpAddress>& out, KeyLocations& keys) {
    return setter(out, keys, [this](const Setting& s) { return address(s); });
  }
  // Recorded without its value: messages must not echo a secret.
  Handler set_secret(std::string& out, KeyLocations& keys) {
    return [this, out_p = &out, keys_p = &keys](const Setting& s) {
      if (auto v = string(s)) {
        *out_p = *v;
        keys_p->set(s.getName(), at(s), s.getName(), not_shown(*v));
      }
    };
  }

  void add_garp_keys(KeyTable& table, GarpSettings& garp, KeyLocations& keys) {
    table.emplace_back("garp_master_delay_ms", set_ms(garp.master_delay, keys));
    table.emplace_back("garp_master_repeat", set_int(garp.master_repeat, keys));
    table.emplace_back("garp_master_refresh_ms", set_ms(garp.master_refresh, keys));
    table.emplace_back("garp_master_refresh_repeat", set_int(garp.master_refresh_repeat, keys));
    table.emplace_back("garp_interval_ms", set_ms(garp.interval, keys));
  }

  // A notify program: a command line string (split like a shell word list,
  // no expansion) or an array/list of strings used as argv as is.
  Handler set_program(std::optional<Program>& out, KeyLocations& keys) {
    return [this, out_p = &out, keys_p = &keys](const Setting& s) {
      Program p{{}, at(s)};
      if (s.getType() == Setting::TypeString) {
        auto argv = split_command(s.c_str());
        if (!argv) return issue(s, "unterminated quote; valid: a command line with balanced quotes");
        p.argv = std::move(*argv);
      } else if (s.isArray() || s.isList()) {
        for (const Setting& e : s) {
          if (e.getType() != Setting::TypeString) return wrong_type(e, "a string");
          p.argv.emplace_back(e.c_str());
        }
      } else {
        return wrong_type(s, "a command line string or an array of strings");
      }
      *out_p = std::move(p);
      record(*keys_p, s.getName(), at(s), s);
    };
  }

  void add_notify_keys(KeyTable& table, NotifyPrograms& notify, KeyLocations& keys) {
    table.emplace_back("notify_master", set_program(notify.master, keys));
    table.emplace_back("notify_backup", set_program(notify.backup, keys));
    table.emplace_back("notify_fault", set_program(notify.fault, keys));
    table.emplace_back("notify_stop", set_program(notify.stop, keys));
    table.emplace_back("notify", set_program(notify.generic, keys));
  }

  void schema_version(const Setting& s) {
    auto v = integer(s);
    if (v && *v != 1) issue(s, "unsupported config schema version; valid: 1");
  }

  void parse_global(const Setting& s, Global& g) {
    if (!s.isGroup()) return wrong_type(s, "a group { ... }");
    g.where = at(s);
    KeyTable table{{"router_id", set_string(g.router_id, g.keys)},
                   {"notify_user", set_string(g.notify_user, g.keys)},
                   {"notify_group", set_string(g.notify_group, g.keys)},
                   {"notify_timeout_ms", set_ms(g.notify_timeout, g.keys)},
                   {"control_socket", set_string(g.control_socket, g.keys)},
                   {"journal_file", set_string(g.journal_file, g.keys)},
                   {"runtime_dir", set_string(g.runtime_dir, g.keys)},
                   {"journal_capacity", set_long(g.journal_capacity, g.keys)}};
    add_garp_keys(table, g.garp, g.keys);
    table.emplace_back("snmp", [this, &g](const Setting& e) { parse_snmp(e, g.snmp); });
    table.emplace_back("witness", [this, &g](const Setting& e) { parse_witness(e, g.witness); });
    table.emplace_back("witness_server", [this, &g](const Setting& e) { parse_witness(e, g.witness_server); });
    each_key(s, "global", table);
  }

  // global.witness / global.witness_server = { address; port; shared_secret; lease_ms; }
  void parse_witness(const Setting& s, WitnessSettings& w) {
    if (!s.isGroup()) return wrong_type(s, "a group { ... }");
    w.where = at(s);
    w.configured = true;
    KeyTable table;
    add_fields(table, w, w.keys, witness_fields());
    each_key(s, s.getName(), table);
  }

  // global.snmp = { enable = true; traps = true; agentx_socket = "..."; trap_receivers = ( {...} ); }
  void parse_snmp(const Setting& s, SnmpSettings& snmp) {
    if (!s.isGroup()) return wrong_type(s, "a group { ... }");
    snmp.where = at(s);
    auto& k = snmp.keys;
    each_key(s, "snmp",
             {{"enable", set_bool(snmp.enable, k)},
              {"traps", set_bool(snmp.traps, k)},
              {"agentx_socket", set_string(snmp.agentx_socket, k)},
              {"agentx_ping_interval_ms", set_ms(snmp.agentx_ping_interval, k)},
              {"trap_receivers", [this, &snmp](const Setting& list) {
                 snmp.keys.set(list.getName(), at(list));
                 each_group(list, [&](const Setting& g) { parse_trap_receiver(g, snmp); });
               }}});
  }

  void parse_trap_receiver(const Setting& s, SnmpSettings& snmp) {
    TrapReceiver r;
    r.where = at(s);
    auto& k = r.keys;
    each_key(s, "a trap receiver",
             {{"address", set_string(r.address, k)},
              {"version", set_string(r.version, k)},
              {"community", set_secret(r.community, k)},
              {"user", set_string(r.user, k)},
              {"auth", set_string(r.auth, k)},
              {"auth_pass", set_secret(r.auth_pass, k)},
              {"priv", set_string(r.priv, k)},
              {"priv_pass", set_secret(r.priv_pass, k)},
              {"inform", set_bool(r.inform, k)}});
    snmp.trap_receivers.push_back(std::move(r));
  }

  std::optional<IpAddress> address(const Setting& s) {
    auto text = string(s);
    if (!text) return std::nullopt;
    auto a = IpAddress::parse(*text);
    if (!a) issue(s, "not an IP address; valid: e.g. 192.0.2.1 or 2001:db8::1");
    return a;
  }

  std::optional<IpPrefix> prefix(const Setting& s) {
    auto text = string(s);
    if (!text) return std::nullopt;
    auto p = IpPrefix::parse(*text);
    if (p) return p;
    auto slash = text->find('/');
    auto a = IpAddress::parse(std::string_view(*text).substr(0, slash));
    if (a)
      issue(s, std::string("bad prefix length; valid: /0../") + (a->is_v4() ? "32" : "128"));
    else
      issue(s, "not an IP address; valid: e.g. 192.0.2.10/24 or 2001:db8::10/64");
    return std::nullopt;
  }

  void parse_vip(const Setting& s, Instance& inst) {
    VirtualAddress vip{{}, "", "", at(s)};
    if (s.getType() == Setting::TypeString) {
      auto p = prefix(s);
      if (!p) return;
      vip.prefix = *p;
    } else if (s.isGroup()) {
      bool have_address = false;
      KeyLocations ignored;  // the VIP's own `where` locates it
      each_key(s, "a virtual address",
               {{"address", [&](const Setting& a) {
                   have_address = true;
                   if (auto p = prefix(a)) vip.prefix = *p;
                   else vip.prefix.prefix_len = -1;  // already reported
                 }},
                {"device", set_string(vip.device, ignored)},
                {"label", set_string(vip.label, ignored)}});
      if (!have_address) return issue(s, "address is required in a virtual address group");
      if (vip.prefix.prefix_len < 0) return;
    } else {
      return wrong_type(s, "a string \"ADDR/LEN\" or a group { address = ...; device = ...; label = ...; }");
    }
    inst.virtual_addresses.push_back(std::move(vip));
  }

  void parse_track(const Setting& s, Instance& inst) {
    TrackedInterface t{"", 0, at(s)};
    KeyLocations ignored;
    if (s.getType() == Setting::TypeString) {
      t.name = s.c_str();
    } else if (s.isGroup()) {
      each_key(s, "a tracked interface",
               {{"name", set_string(t.name, ignored)}, {"weight", set_int(t.weight, ignored)}});
    } else {
      return wrong_type(s, "a string (interface name) or a group { name = ...; weight = ...; }");
    }
    inst.track_interfaces.push_back(std::move(t));
  }

  // One string, or a list/array of strings.
  Handler set_strings(std::vector<std::string>& out, KeyLocations& keys) {
    return [this, out_p = &out, keys_p = &keys](const Setting& s) {
      out_p->clear();
      if (s.getType() == Setting::TypeString) {
        out_p->push_back(s.c_str());
      } else if (s.isList() || s.isArray()) {
        for (const Setting& e : s)
          if (auto v = string(e)) out_p->push_back(*v);
      } else {
        return wrong_type(s, "a string or an array of strings");
      }
      record(*keys_p, s.getName(), at(s), s);
    };
  }

  // The handler for a field of fields.h, by the type of its member.
  Handler field_handler(std::string& out, KeyLocations& keys, bool secret) {
    return secret ? set_secret(out, keys) : set_string(out, keys);
  }
  Handler field_handler(long& out, KeyLocations& keys, bool) { return set_long(out, keys); }
  Handler field_handler(std::chrono::milliseconds& out, KeyLocations& keys, bool) { return set_ms(out, keys); }
  Handler field_handler(bool& out, KeyLocations& keys, bool) { return set_bool(out, keys); }
  Handler field_handler(std::optional<IpAddress>& out, KeyLocations& keys, bool) { return set_address(out, keys); }
  Handler field_handler(std::optional<Program>& out, KeyLocations& keys, bool) { return set_program(out, keys); }
  Handler field_handler(std::vector<std::string>& out, KeyLocations& keys, bool) { return set_strings(out, keys); }

  // Appends the keys of `fields` (fields.h), filling `block`, to `table`.
  template <typename Block>
  void add_fields(KeyTable& table, Block& block, KeyLocations& keys, const std::vector<Field<Block>>& fields) {
    for (const auto& f : fields)
      table.emplace_back(f.key, std::visit([&](auto member) { return field_handler(block.*member, keys, f.secret); },
                                           f.member));
  }

  // A list or array whose elements `fn` parses; records the key once.
  Handler set_items(KeyLocations& keys, std::function<void(const Setting&)> fn) {
    return [this, keys_p = &keys, fn](const Setting& s) {
      if (!s.isList() && !s.isArray()) return wrong_type(s, "a list ( ... ) or an array [ ... ]");
      keys_p->set(s.getName(), at(s));
      for (const Setting& e : s) fn(e);
    };
  }

  // A string that must be one of `valid` (any case); `store` gets its index.
  Handler set_choice(KeyLocations& keys, std::vector<std::string> valid,
                     std::function<void(std::size_t)> store) {
    return [this, keys_p = &keys, valid, store](const Setting& s) {
      auto v = string(s);
      if (!v) return;
      for (std::size_t i = 0; i < valid.size(); ++i) {
        if (strcasecmp(v->c_str(), valid[i].c_str()) == 0) {
          store(i);
          return record(*keys_p, s.getName(), at(s), s);
        }
      }
      std::string list;
      for (std::size_t i = 0; i < valid.size(); ++i)
        list += (i == 0 ? "" : i + 1 == valid.size() ? " or " : ", ") + ("\"" + valid[i] + "\"");
      issue(s, "unknown value; valid: " + list);
    };
  }

  void parse_instance(const Setting& s, Config& config) {
    Instance inst;
    inst.where = at(s);
    inst.garp = config.global.garp;  // inherited; instance keys override
    auto& k = inst.keys;
    KeyTable table{
        {"name", set_string(inst.name, k)},
        {"interface", set_string(inst.interface, k)},
        {"virtual_router_id", set_long(inst.virtual_router_id, k)},
        {"priority", set_long(inst.priority, k)},
        {"version", set_long(inst.version, k)},
        {"family", set_choice(k, {"ipv4", "ipv6"}, [&](std::size_t i) {
           inst.family = i == 0 ? Family::kIPv4 : Family::kIPv6;
         })},
        {"advert_interval_ms", set_ms(inst.advert_interval, k)},
        {"preempt", set_bool(inst.preempt, k)},
        {"preempt_delay_ms", set_ms(inst.preempt_delay, k)},
        {"state", set_choice(k, {"BACKUP", "MASTER"}, [&](std::size_t i) {
           inst.initial_state = i == 0 ? InitialState::kBackup : InitialState::kMaster;
         })},
        {"virtual_addresses", set_items(k, [&](const Setting& e) { parse_vip(e, inst); })},
        {"unicast_src", set_address(inst.unicast_src, k)},
        {"unicast_peers", set_items(k, [&](const Setting& e) {
           if (auto a = address(e)) inst.unicast_peers.push_back(*a);
         })},
        {"auth_pass", set_string(inst.auth_pass, k)},
        {"track_interfaces", set_items(k, [&](const Setting& e) { parse_track(e, inst); })},
        {"track_checks", set_items(k, [&](const Setting& e) { parse_tracked_check(e, inst); })},
        {"v3_checksum_pseudo_header", set_bool(inst.v3_checksum_pseudo_header, k)}};
    add_fields(table, inst, k, failover_fields<Instance>());
    add_garp_keys(table, inst.garp, k);
    add_notify_keys(table, inst.notify, k);
    each_key(s, "vrrp_instances", table);
    config.instances.push_back(std::move(inst));
  }

  void parse_sync_group(const Setting& s, Config& config) {
    SyncGroup group;
    group.where = at(s);
    auto& k = group.keys;
    KeyTable table{{"name", set_string(group.name, k)},
                   {"members", set_items(k, [&](const Setting& e) {
                      if (auto v = string(e)) group.members.push_back(*v);
                    })}};
    add_notify_keys(table, group.notify, k);
    add_fields(table, group, k, failover_fields<SyncGroup>());
    each_key(s, "sync_groups", table);
    config.sync_groups.push_back(std::move(group));
  }

  void parse_tracked_check(const Setting& s, Instance& inst) {
    TrackedCheck t{"", std::nullopt, at(s)};
    if (s.getType() == Setting::TypeString) {
      t.name = s.c_str();
    } else if (s.isGroup()) {
      each_key(s, "a tracked check",
               {{"name", [&](const Setting& e) {
                   if (auto v = string(e)) t.name = *v;
                 }},
                {"weight", [&](const Setting& e) {
                   if (auto v = integer(e)) t.weight = saturate(*v);
                 }}});
    } else {
      return wrong_type(s, "a string (check name) or a group { name = ...; weight = ...; }");
    }
    inst.track_checks.push_back(std::move(t));
  }

  // The keys every check has, then each kind's own (see kKindKeys).
  KeyTable common_check_keys(Check& c) {
    auto& k = c.keys;
    return {{"name", set_string(c.name, k)},
            {"kind", set_choice(k, check_kinds(), [&c](std::size_t i) { c.kind = kKindKeys[i].first; })},
            {"interval_ms", set_ms(c.interval, k)},
            {"timeout_ms", set_ms(c.timeout, k)},
            {"rise", set_long(c.rise, k)},
            {"fall", set_long(c.fall, k)},
            {"initial_state", set_choice(k, {"up", "down"}, [&c](std::size_t i) { c.initially_up = i == 0; })},
            {"weight", set_long(c.weight, k)},
            {"notify", set_program(c.notify, k)}};
  }

  // Handlers for every kind-specific key, by name.
  std::map<std::string, Handler> kind_check_keys(Check& c) {
    auto& k = c.keys;
    return {
        {"address", set_address(c.address, k)},
        {"port", set_long(c.port, k)},
        {"send", set_string(c.send, k)},
        {"expect", set_string(c.expect, k)},
        {"query_name", set_string(c.query_name, k)},
        {"query_type", set_string(c.query_type, k)},
        {"query_class", set_string(c.query_class, k)},
        {"recursion", set_bool(c.recursion_desired, k)},
        {"expect_rcode", set_string(c.expect_rcode, k)},
        {"expect_answers", set_strings(c.expect_answers, k)},
        {"program", set_program(c.program, k)},
        {"user", set_string(c.user, k)},
        {"password", set_string(c.password, k)},
        {"database", set_string(c.database, k)},
        {"query", set_string(c.query, k)},
        {"tls", set_bool(c.tls, k)},
        {"expect_role", set_string(c.expect_role, k)},
        {"max_replica_lag_s", set_long(c.max_replica_lag_s, k)},
        {"galera", set_bool(c.galera, k)},
        {"resource", set_string(c.resource, k)},
        {"require", set_strings(c.require, k)}};
  }

  // A check. Its kind decides which keys are valid, so it is read first
  // wherever it appears in the group; without a valid kind every check key is
  // accepted here and validate() reports the missing or unknown kind.
  void parse_check(const Setting& s, Config& config) {
    Check c;
    c.where = at(s);
    const std::vector<std::string>* own = nullptr;  // the kind's keys
    std::string kind;
    if (s.exists("kind") && s["kind"].getType() == Setting::TypeString) {
      for (const auto& [name, keys] : kKindKeys)
        if (strcasecmp(name.c_str(), s["kind"].c_str()) == 0) {
          own = &keys;
          kind = name;
          break;
        }
    }
    KeyTable table = common_check_keys(c);
    auto kind_keys = kind_check_keys(c);
    if (own != nullptr) {
      for (const auto& key : *own) table.emplace_back(key, kind_keys.at(key));
    } else {
      for (const auto& [name, keys] : kKindKeys)
        for (const auto& key : keys)
          if (std::none_of(table.begin(), table.end(), [&](const auto& e) { return e.first == key; }))
            table.emplace_back(key, kind_keys.at(key));
    }
    std::string block = own != nullptr ? "a check of kind " + kind : "checks";
    each_key(s, block, table, [&](const Setting& e) -> std::string {
      if (own == nullptr || kind_keys.count(e.getName()) == 0) return "";
      return "key '" + std::string(e.getName()) + "' is not valid for a check of kind " + kind +
             "; valid keys for " + kind + ": " + key_list(table);
    });
    config.checks.push_back(std::move(c));
  }

  void parse_resource(const Setting& s, Config& config) {
    Resource r;
    r.where = at(s);
    KeyTable table{{"name", set_string(r.name, r.keys)}};
    add_fields(table, r, r.keys, resource_fields());
    each_key(s, "resources", table);
    config.resources.push_back(std::move(r));
  }

  void parse_service(const Setting& s, Config& config) {
    Service svc;
    svc.where = at(s);
    KeyTable table{{"name", set_string(svc.name, svc.keys)}};
    add_fields(table, svc, svc.keys, service_fields());
    each_key(s, "services", table);
    config.services.push_back(std::move(svc));
  }

  // Each check kind and its keys beyond the common ones.
  static inline const std::vector<std::pair<std::string, std::vector<std::string>>> kKindKeys{
      {"tcp", {"address", "port", "send", "expect"}},
      {"dns", {"address", "port", "query_name", "query_type", "query_class", "recursion",
               "expect_rcode", "expect_answers"}},
      {"exec", {"program"}},
      {"mysql", {"address", "port", "user", "password", "database", "query", "tls", "expect_role",
                 "max_replica_lag_s", "galera"}},
      {"replication", {"resource", "require"}}};

  static std::vector<std::string> check_kinds() {
    std::vector<std::string> kinds;
    for (const auto& entry : kKindKeys) kinds.push_back(entry.first);
    return kinds;
  }

  std::string file_;
  std::vector<ConfigIssue> issues_;
};

std::string directory_of(const std::string& file) {
  auto slash = file.rfind('/');
  return slash == std::string::npos ? "." : file.substr(0, slash == 0 ? 1 : slash);
}

}  // namespace

Config parse_native(std::string_view text, const std::string& file_name) {
  libconfig::Config lc;
  // @include "x.conf" resolves next to the including file, as for keepalived.
  lc.setIncludeDir(directory_of(file_name).c_str());
  try {
    lc.readString(std::string(text));
  } catch (const libconfig::ParseException& e) {
    const char* f = e.getFile();
    std::string problem = e.getError();
    if (problem == "syntax error") problem += "; expected settings like `key = value;`";
    throw ConfigError({ConfigIssue{SourceLocation{f != nullptr ? f : file_name, e.getLine()}, "",
                                   "", std::move(problem)}});
  }
  NativeParser parser(file_name);
  find_wrapped_integers(text, file_name, parser.issues());
  Config config;
  parser.parse_root(lc.getRoot(), config);
  auto& issues = parser.issues();
  if (issues.empty()) return config;
  std::stable_sort(issues.begin(), issues.end(), [](const ConfigIssue& a, const ConfigIssue& b) {
    // The integer scan ran first; report in file order.
    return std::tie(a.where.file, a.where.line) < std::tie(b.where.file, b.where.line);
  });
  throw ConfigError(std::move(issues));
}

}  // namespace vrrpd::config
