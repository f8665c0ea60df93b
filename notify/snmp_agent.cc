#include "notify/snmp_agent.h"

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/agent/net-snmp-agent-includes.h>
#include <net-snmp/library/snmp_parse_args.h>

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <unistd.h>

#include <map>

#include "vrrpd/base/log.h"

namespace vrrpd::notify::snmp {

namespace {

constexpr const char* kAppName = "vrrpd";
// The same net-snmp log line is repeated at most this often (an absent
// AgentX master would otherwise log at every ping interval).
constexpr auto kLogRepeat = std::chrono::minutes(10);

TimePoint steady_now() { return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now()); }

std::vector<::oid> to_netsnmp(const Oid& o) { return std::vector<::oid>(o.begin(), o.end()); }

// Copies a Value into a varbind (types per RFC 2578).
void set_value(netsnmp_variable_list* vb, const Value& v) {
  if (v.oid) {
    auto o = to_netsnmp(*v.oid);
    snmp_set_var_typed_value(vb, ASN_OBJECT_ID, o.data(), o.size() * sizeof(::oid));
    return;
  }
  switch (v.type) {
    case Value::Type::kInteger: snmp_set_var_typed_integer(vb, ASN_INTEGER, static_cast<long>(v.integer)); break;
    case Value::Type::kUnsigned32: snmp_set_var_typed_integer(vb, ASN_UNSIGNED, static_cast<long>(v.number)); break;
    case Value::Type::kCounter32: snmp_set_var_typed_integer(vb, ASN_COUNTER, static_cast<long>(v.number)); break;
    case Value::Type::kTimeTicks: snmp_set_var_typed_integer(vb, ASN_TIMETICKS, static_cast<long>(v.number)); break;
    case Value::Type::kCounter64: {
      counter64 c{};
      c.high = static_cast<u_long>(v.number >> 32);
      c.low = static_cast<u_long>(v.number & 0xffffffffu);
      snmp_set_var_typed_value(vb, ASN_COUNTER64, &c, sizeof c);
      break;
    }
    case Value::Type::kOctets: snmp_set_var_typed_value(vb, ASN_OCTET_STR, v.octets.data(), v.octets.size()); break;
  }
}

bool has_prefix(const Oid& o, const ::oid* root, std::size_t len) {
  if (o.size() < len) return false;
  for (std::size_t i = 0; i < len; ++i)
    if (o[i] != root[i]) return false;
  return true;
}

// One handler for a whole MIB subtree, answering from the published view.
int handle_subtree(netsnmp_mib_handler* handler, netsnmp_handler_registration* reg,
                   netsnmp_agent_request_info* reqinfo, netsnmp_request_info* requests) {
  const MibView& view = *static_cast<const MibView*>(handler->myvoid);
  for (netsnmp_request_info* r = requests; r; r = r->next) {
    if (r->processed) continue;
    netsnmp_variable_list* vb = r->requestvb;
    const Oid asked(vb->name, vb->name + vb->name_length);
    switch (reqinfo->mode) {
      case MODE_GET: {
        auto it = view.find(asked);
        if (it == view.end()) netsnmp_set_request_error(reqinfo, r, SNMP_NOSUCHINSTANCE);
        else set_value(vb, it->second);
        break;
      }
      case MODE_GETNEXT: {
        // Nothing after `asked` in this subtree: leave the varbind alone and
        // the agent moves on to the next registration.
        const auto* next = next_in_view(view, asked);
        if (!next || !has_prefix(next->first, reg->rootoid, reg->rootoid_len)) break;
        auto o = to_netsnmp(next->first);
        snmp_set_var_objid(vb, o.data(), o.size());
        set_value(vb, next->second);
        break;
      }
      default:  // every object is read-only
        netsnmp_set_request_error(reqinfo, r, SNMP_ERR_NOTWRITABLE);
    }
  }
  return SNMP_ERR_NOERROR;
}

}  // namespace

// The agent thread's net-snmp state.
struct SnmpAgent::NetSnmp {
  MibView view;
  std::map<std::string, TimePoint> last_logged;  // net-snmp log line -> when last passed on
  std::map<std::string, std::uint64_t> suppressed;

  // The agent thread's instance, for on_log. Not passed as the callback's
  // client argument: snmp_shutdown() free()s every registered client
  // argument, and this one lives on the agent thread's stack.
  static thread_local NetSnmp* logging_for;

  static int on_log(int, int, void* server_arg, void*) {
    NetSnmp* self = logging_for;
    if (self == nullptr) return 0;
    const auto* m = static_cast<const snmp_log_message*>(server_arg);
    std::string text = m->msg ? m->msg : "";
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.empty()) return 0;
    // Without AgentX net-snmp believes it is a master agent with no access
    // control, but vrrpd answers no SNMP requests then; the advice (run
    // snmpconf, edit "vrrpd.conf") would mislead an operator.
    if (text.rfind("Warning: no access control information configured", 0) == 0) return 0;
    const TimePoint now = steady_now();
    auto it = self->last_logged.find(text);
    if (it != self->last_logged.end() && now - it->second < kLogRepeat) {
      ++self->suppressed[text];
      return 0;
    }
    std::string line = "SNMP: " + text;
    if (auto s = self->suppressed.find(text); s != self->suppressed.end() && s->second > 0) {
      line += " (repeated " + std::to_string(s->second) + " times)";
      s->second = 0;
    }
    self->last_logged[text] = now;
    if (m->priority <= LOG_ERR) log::error(line);
    else if (m->priority <= LOG_WARNING) log::warning(line);
    else if (m->priority <= LOG_NOTICE) log::notice(line);
    else log::debug(line);
    return 0;
  }

  void register_subtree(const char* name, const Oid& root) {
    auto o = to_netsnmp(root);
    netsnmp_handler_registration* reg =
        netsnmp_create_handler_registration(name, handle_subtree, o.data(), o.size(), HANDLER_CAN_RONLY);
    reg->handler->myvoid = &view;
    if (netsnmp_register_handler(reg) != MIB_REGISTERED_OK)
      log::error(std::string("SNMP: cannot register ") + name + " at " + oid_string(root));
  }

  // A direct notification session to one receiver; false (logged) if refused.
  bool add_receiver(const config::TrapReceiver& r) {
    std::vector<std::string> args = SnmpAgent::receiver_args(r);
    args.insert(args.begin(), kAppName);
    std::vector<std::vector<char>> storage;
    std::vector<char*> argv;
    for (const auto& a : args) {
      storage.emplace_back(a.begin(), a.end());
      storage.back().push_back('\0');
    }
    for (auto& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    netsnmp_session session;
    snmp_sess_init(&session);
    // netsnmp_parse_args() (5.9) strdup()s the v1/v2c community, which
    // snmp_add() copies: free it on every path, unless it points into our
    // own argument strings (as other net-snmp versions leave it).
    struct CommunityOwner {
      netsnmp_session& s;
      const std::vector<std::vector<char>>& args;
      ~CommunityOwner() {
        const auto* c = reinterpret_cast<const char*>(s.community);
        if (c == nullptr) return;
        for (const auto& a : args)
          if (c >= a.data() && c < a.data() + a.size()) return;
        SNMP_FREE(s.community);
      }
    } community_owner{session, storage};
    const int rc = netsnmp_parse_args(static_cast<int>(args.size()), argv.data(), &session, "C:",
                                      [](int, char* const*, int) {}, NETSNMP_PARSE_ARGS_NOLOGGING);
    const std::string where = "trap receiver " + r.address + " (" + r.where.to_string() + ")";
    if (rc < 0) {
      log::error("SNMP: " + where + ": net-snmp refused the session settings");
      return false;
    }
    netsnmp_transport* t = netsnmp_transport_open_client("snmptrap", session.peername);
    if (!t) {
      log::error("SNMP: " + where + ": cannot open a UDP socket");
      return false;
    }
    netsnmp_session* ss = snmp_add(&session, t, nullptr, nullptr);
    if (!ss) {
      log::error("SNMP: " + where + ": cannot create the session");
      return false;
    }
    add_trap_session(ss, r.inform ? SNMP_MSG_INFORM : SNMP_MSG_TRAP2, r.inform ? 1 : 0, ss->version);
    log::info("SNMP: sending " + std::string(r.inform ? "informs" : "traps") + " (v" + r.version + ") to " +
              r.address);
    return true;
  }

  static void send(const Notification& n) {
    netsnmp_variable_list* vars = nullptr;
    for (const auto& vb : notification_varbinds(n)) {
      auto o = to_netsnmp(vb.oid);
      netsnmp_variable_list* v = snmp_varlist_add_variable(&vars, o.data(), o.size(), ASN_NULL, nullptr, 0);
      if (v) set_value(v, vb.value);
    }
    send_v2trap(vars);  // to the AgentX master (when connected) and every receiver
    snmp_free_varbind(vars);
  }
};

SnmpAgent::SnmpAgent(config::SnmpSettings settings) : settings_(std::move(settings)), start_(steady_now()) {}

SnmpAgent::~SnmpAgent() { stop(); }

std::vector<std::string> SnmpAgent::receiver_args(const config::TrapReceiver& r) {
  const bool v6 = r.host.find(':') != std::string::npos;
  const std::string peer = (v6 ? "udp6:[" + r.host + "]" : "udp:" + r.host) + ":" + std::to_string(r.port);
  if (r.version != "3") return {"-v", "2c", "-c", r.community, peer};
  std::vector<std::string> a{"-v", "3", "-u", r.user, "-l",
                             r.priv.empty() ? (r.auth.empty() ? "noAuthNoPriv" : "authNoPriv") : "authPriv"};
  if (!r.auth.empty()) a.insert(a.end(), {"-a", r.auth, "-A", r.auth_pass});
  if (!r.priv.empty()) a.insert(a.end(), {"-x", r.priv, "-X", r.priv_pass});
  a.push_back(peer);
  return a;
}

void SnmpAgent::start() {
  if (thread_.joinable()) return;
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0 || wake_fd_ >= FD_SETSIZE) {
    log::error("SNMP: cannot create the agent's wake-up descriptor; SNMP is off");
    if (wake_fd_ >= 0) close(wake_fd_);
    wake_fd_ = -1;
    return;
  }
  thread_ = std::thread([this] { run(); });
}

void SnmpAgent::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  if (thread_.joinable()) {
    wake();
    thread_.join();
  }
  if (wake_fd_ >= 0) close(wake_fd_);
  wake_fd_ = -1;
}

void SnmpAgent::wake() {
  if (wake_fd_ < 0) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
}

void SnmpAgent::publish(Snapshot snapshot) {
  {
    std::lock_guard lock(mutex_);
    pending_ = std::move(snapshot);
  }
  wake();
}

void SnmpAgent::notify(Notification n) {
  if (!settings_.traps) return;
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= kQueueLimit) {
      queue_.pop_front();
      ++dropped_;
    }
    queue_.push_back(std::move(n));
  }
  wake();
}

std::uint64_t SnmpAgent::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

thread_local SnmpAgent::NetSnmp* SnmpAgent::NetSnmp::logging_for = nullptr;

void SnmpAgent::run() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  NetSnmp ns;
  NetSnmp::logging_for = &ns;
  // Logging first, so nothing goes to stderr; no config or persistent files
  // (everything comes from vrrpd's config); timers without SIGALRM.
  snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, NetSnmp::on_log, nullptr);
  snmp_enable_calllog();
  netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
  netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
  netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_ALARM_DONT_USE_SIG, 1);
  netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_LOAD_HOST_FILES, 1);
  // No MIB text is needed (every OID here is numeric) and none is looked
  // for: no MIB directory, and no errors about the default modules.
  netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIBDIRS, "/nonexistent");
  char no_mibs[] = "mibs :";  // an empty module list, as Debian's snmp.conf says
  netsnmp_config_remember(no_mibs);  // applied by init_snmp() even without config files
  const bool agentx = settings_.enable;
  if (agentx) {
    netsnmp_ds_set_boolean(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_ROLE, 1);  // subagent
    if (!settings_.agentx_socket.empty())
      netsnmp_ds_set_string(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_X_SOCKET, settings_.agentx_socket.c_str());
  }
  if (const char* tokens = getenv("VRRPD_SNMP_DEBUG")) {  // net-snmp debug tokens, e.g. agentx/subagent
    debug_register_tokens(tokens);
    snmp_set_do_debugging(1);
  }
  init_agent(kAppName);
  if (agentx) {
    // After init_agent(), which sets net-snmp's default of 15 s.
    netsnmp_ds_set_int(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_AGENTX_PING_INTERVAL,
                       static_cast<int>(settings_.agentx_ping_interval.count() / 1000));
    ns.register_subtree("VRRPv3-MIB", kVrrpv3Mib);
    ns.register_subtree("VRRPD-MIB", kVrrpdMib);
  }
  init_snmp(kAppName);
  if (settings_.traps)
    for (const auto& r : settings_.trap_receivers) ns.add_receiver(r);
  log::info(std::string("SNMP agent started") +
            (agentx ? ", AgentX master at " +
                          (settings_.agentx_socket.empty() ? std::string("/var/agentx/master") : settings_.agentx_socket)
                    : std::string(" (no AgentX)")));

  for (;;) {
    std::optional<Snapshot> snapshot;
    std::deque<Notification> notes;
    bool stopping;
    {
      std::lock_guard lock(mutex_);
      stopping = stopping_;
      snapshot.swap(pending_);
      notes.swap(queue_);
    }
    if (snapshot) ns.view = build_view(*snapshot, start_);
    for (const auto& n : notes) NetSnmp::send(n);  // also the last ones at shutdown
    if (stopping) break;

    int numfds = 0, block = 0;
    fd_set fds;
    FD_ZERO(&fds);
    timeval tv{1, 0};  // at most; net-snmp shortens it for its retries and alarms
    snmp_select_info(&numfds, &fds, &tv, &block);
    FD_SET(wake_fd_, &fds);
    numfds = std::max(numfds, wake_fd_ + 1);
    const int n = select(numfds, &fds, nullptr, nullptr, &tv);
    if (n > 0) {
      if (FD_ISSET(wake_fd_, &fds)) {
        std::uint64_t v;
        [[maybe_unused]] auto r = read(wake_fd_, &v, sizeof v);
        FD_CLR(wake_fd_, &fds);
      }
      snmp_read(&fds);
    } else if (n == 0) {
      snmp_timeout();
    }
    run_alarms();
    netsnmp_check_outstanding_agent_requests();
  }
  snmp_shutdown(kAppName);  // also drops the logging callback
  NetSnmp::logging_for = nullptr;
}

}  // namespace vrrpd::notify::snmp
