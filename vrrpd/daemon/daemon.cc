#include "vrrpd/daemon/daemon.h"

#include <net/if.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "vrrpd/base/log.h"
#include "vrrpd/control/protocol.h"

namespace vrrpd {

using control::make_response;
using control::ResultCode;
using vrrp::State;

namespace {

std::string socket_key(const std::string& ifname, Family f) {
  return ifname + (f == Family::kIPv4 ? "/4" : "/6");
}

notify::RunOptions run_options(const config::Global& g) {
  notify::RunOptions o;
  o.user = g.notify_user;
  o.group = g.notify_group;
  o.timeout = g.notify_timeout;
  return o;
}

std::optional<notify::NotifyState> notify_state_for(const Transition& t) {
  switch (t.to) {
    case State::kMaster: return notify::NotifyState::kMaster;
    case State::kBackup: return notify::NotifyState::kBackup;
    case State::kFault: return notify::NotifyState::kFault;
    case State::kInit: return notify::NotifyState::kStop;
  }
  return std::nullopt;
}

// The orchestrators' view of the ReplicationService: completions come back
// on a service thread and are posted to the VRRP loop. Without resources
// (an instance that owns only services) there is no service to ask.
class ServiceResourceCommands final : public ResourceCommands {
 public:
  ServiceResourceCommands(EventLoop& loop, ReplicationService* service) : loop_(loop), service_(service) {}
  // The service a reload created (the first resource configured).
  void set_service(ReplicationService* service) { service_ = service; }
  void run(const std::string& resource, const std::string& op, Done done) override {
    if (service_ == nullptr) {
      loop_.post([done] { done(false, "no replication resources are configured"); });
      return;
    }
    // A takeover promotes only a complete local copy: not a SyncTarget,
    // which the operator may promote by hand (it reads through the peer).
    const std::string service_op = op == "primary" ? "takeover-primary" : op;
    // The loop outlives the service (member order in Daemon); this adapter may not.
    service_->command(resource, service_op, {}, [loop = &loop_, done = std::move(done)](bool ok, std::string text) {
      loop->post([done, ok, text = std::move(text)]() mutable { done(ok, std::move(text)); });
    });
  }

 private:
  EventLoop& loop_;
  ReplicationService* service_;
};

// The orchestrators' quorum: the witness's lease, or, when the witness does
// not answer, a connected replication peer (two of three either way).
class WitnessQuorum final : public QuorumCommands {
 public:
  WitnessQuorum(EventLoop& loop, witness::Client& client, std::function<bool(const std::string&)> peers_connected)
      : loop_(loop), client_(client), peers_connected_(std::move(peers_connected)) {}
  void run(const std::string& lock, const std::string& op, Done done) override {
    if (op == "release") {
      client_.release(lock);
      loop_.post([done] { done(true, "lease given back to the witness"); });
      return;
    }
    client_.claim(lock, [this, lock, done](witness::Client::Result r, std::string text) {
      if (r == witness::Client::Result::kGranted) return done(true, text);
      if (r == witness::Client::Result::kRefused) return done(false, text);
      if (peers_connected_(lock)) return done(true, text + "; majority with the connected replication peer");
      done(false, "no majority: " + text + " and the replication peer is not connected");
    });
  }

 private:
  EventLoop& loop_;
  witness::Client& client_;
  std::function<bool(const std::string&)> peers_connected_;
};

std::vector<ServiceSpec> service_specs(const std::vector<config::Service>& services) {
  std::vector<ServiceSpec> specs;
  for (const auto& s : services) {
    ServiceSpec spec;
    spec.name = s.name;
    spec.systemd_unit = s.systemd_unit;
    if (s.start) spec.start = s.start->argv;
    if (s.stop) spec.stop = s.stop->argv;
    if (s.status) spec.status = s.status->argv;
    spec.start_timeout = s.start_timeout;
    spec.stop_timeout = s.stop_timeout;
    spec.status_interval = s.status_interval;
    specs.push_back(std::move(spec));
  }
  return specs;
}

// Generation identifiers as strings of replication::generation_hex();
// null when not known.
nlohmann::json generations_json(const std::optional<replication::Generations>& g) {
  if (!g) return nullptr;
  using replication::generation_hex;
  return {{"current", generation_hex(g->current)},
          {"bitmap", generation_hex(g->bitmap)},
          {"history", nlohmann::json::array({generation_hex(g->history[0]), generation_hex(g->history[1])})}};
}

}  // namespace

Daemon::Daemon(DaemonOptions opts, config::Config initial)
    : opts_(std::move(opts)),
      config_(std::move(initial)),
      loop_(clock_),
      programs_(loop_, run_options(config_.global)),
      notifier_(programs_),
      journal_({.capacity = static_cast<std::size_t>(config_.global.journal_capacity),
                .file = config_.global.journal_file}) {}

Daemon::~Daemon() {
  if (signal_fd_ >= 0) {
    loop_.unwatch_fd(signal_fd_);
    close(signal_fd_);
  }
  for (auto& [key, entry] : sockets_)
    if (entry.socket) loop_.unwatch_fd(entry.socket->fd());
  loop_.unwatch_fd(links_.fd());
}

int Daemon::run() {
  open_signals();
  loop_.watch_fd(links_.fd(), EPOLLIN, [this](std::uint32_t) { on_link_events(); });
  std::string path = !opts_.control_socket.empty()          ? opts_.control_socket
                     : !config_.global.control_socket.empty() ? config_.global.control_socket
                                                              : control::kDefaultSocketPath;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  control_ = std::make_unique<control::ControlServer>(
      loop_, path,
      control::ControlServer::AsyncHandler(
          [this](const std::string& c, const nlohmann::json& a, control::ControlServer::Respond respond) {
            dispatch_command(c, a, std::move(respond));
          }));
  for (const auto& w : config_.warnings) log::warning(w.where.to_string() + ": " + w.message);
  if (!config_.resources.empty()) start_replication(config_.resources);
  resource_commands_ = std::make_unique<ServiceResourceCommands>(loop_, replication_.get());
  const config::WitnessSettings& ws = config_.global.witness_server;
  if (ws.configured && ws.address)
    witness_server_ = std::make_unique<witness::Server>(loop_, *ws.address, static_cast<uint16_t>(ws.port),
                                                        ws.shared_secret, ws.lease);
  const config::WitnessSettings& wc = config_.global.witness;
  if (wc.configured && wc.address) {
    witness_ = std::make_unique<witness::Client>(
        loop_, witness::Client::Options{config_.global.router_id, *wc.address, static_cast<uint16_t>(wc.port),
                                        wc.shared_secret, wc.lease, std::chrono::seconds(1)});
    quorum_ = std::make_unique<WitnessQuorum>(loop_, *witness_,
                                              [this](const std::string& lock) { return peers_connected(lock); });
    quorum_watch_ = std::make_unique<Timer>(loop_, [this] { check_quorum(); });
    quorum_watch_->arm_in(std::chrono::milliseconds(100));
  }
  services_ = std::make_unique<ServiceManager>(loop_, run_options(config_.global));
  services_->configure(service_specs(config_.services));
  init_check_status(config_.checks, {});
  const config::SnmpSettings& snmp = config_.global.snmp;
  if (snmp.enable || (snmp.traps && !snmp.trap_receivers.empty())) {
    // After open_signals(): the agent thread inherits the blocked signals.
    snmp_ = std::make_unique<SnmpBridge>(
        loop_, std::make_unique<notify::snmp::SnmpAgent>(snmp),
        SnmpBridge::Sources{&instances_, &check_status_, [this] { return replication_.get(); }});
    snmp_->start();
  }
  checks_ = std::make_unique<checkers::CheckerService>(
      run_options(config_.global),
      [this](checkers::CheckStatus st, bool changed) {
        // On the checker thread: hand the result to the VRRP loop.
        loop_.post([this, st = std::move(st), changed] { on_check_status(st, changed); });
      },
      [this](const std::string& resource) -> std::optional<replication::ResourceStatus> {
        // On the checker thread; views() takes the service's own lock.
        if (!replication_) return std::nullopt;
        auto v = replication_->view(resource);
        if (!v || !v->up) return std::nullopt;
        return v->status;
      });
  checks_->start(config_.checks);
  // First in the journal, before the instances' INIT -> BACKUP.
  journal_.record("daemon", "", "start",
                  "vrrpd starting: " + std::to_string(config_.instances.size()) + " VRRP instance(s), " +
                      std::to_string(config_.checks.size()) + " check(s)",
                  {{"pid", getpid()}, {"config_file", opts_.config_file}});
  start_instances(config_.instances);
  log::notice("vrrpd started: " + std::to_string(instances_.size()) + " VRRP instance(s), control socket " + path);
  loop_.run();
  journal_.record("daemon", "", "stop", "vrrpd stopping");
  shutdown_all();
  log::notice("vrrpd stopped");
  return exit_code_;
}

void Daemon::open_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  loop_.watch_fd(signal_fd_, EPOLLIN, [this](std::uint32_t) { on_signal(); });
}

void Daemon::on_signal() {
  signalfd_siginfo si{};
  while (read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    if (si.ssi_signo == SIGHUP) {
      log::notice("SIGHUP: reloading " + opts_.config_file);
      reload();
    } else {
      log::notice(std::string("received ") + strsignal(static_cast<int>(si.ssi_signo)) + ", leaving");
      loop_.stop();
    }
  }
}

void Daemon::shutdown_all() {
  if (checks_) checks_->stop();
  for (auto& i : instances_) i->stop();
  // VIPs are down; the orchestrators unmount and demote what their
  // instances held (each step bounded by its release timeout), and the STOP
  // notify programs get a chance to run before we go.
  Duration release_budget = Duration::zero();
  for (const auto& [name, o] : orchestrators_) release_budget = std::max(release_budget, o->release_budget());
  const TimePoint release_limit = loop_.now() + release_budget;
  auto releasing = [&] {
    return std::any_of(orchestrators_.begin(), orchestrators_.end(), [](const auto& o) { return o.second->busy(); });
  };
  while (releasing() && loop_.now() < release_limit) loop_.run_once(std::chrono::milliseconds(50));
  if (releasing()) log::error("shutdown: a release did not finish in time; the replication stop below demotes anyway");
  const TimePoint limit = loop_.now() + std::chrono::seconds(5);
  while ((programs_.running() > 0 || programs_.queued() > 0) && loop_.now() < limit)
    loop_.run_once(std::chrono::milliseconds(50));
  programs_.shutdown(std::chrono::seconds(2));
  if (services_) services_->shutdown(std::chrono::seconds(2));
  instances_.clear();
  orchestrators_.clear();
  // VIPs are gone; now the data: unmount, demote, disconnect, detach.
  if (replication_) replication_->stop();
  if (snmp_) snmp_->stop();  // sends what is still queued, then leaves
}

std::unique_ptr<Instance> Daemon::make_instance(const config::Instance& cfg) {
  InstanceEnv env{
      loop_,
      addresses_,
      announcer_,
      [this](const std::string& ifname, Family f, std::span<const std::uint8_t> msg, const IpAddress& src,
             const IpAddress& dst) -> int {
        auto it = sockets_.find(socket_key(ifname, f));
        if (it == sockets_.end() || !it->second.socket) return ENODEV;
        return it->second.socket->send(msg, src, dst);
      },
      [](const std::string& ifname) { return net::read_interface(ifname); },
      [this](Instance& inst, const Transition& t) { on_transition(inst, t); },
  };
  return std::make_unique<Instance>(std::move(env), cfg);
}

void Daemon::start_instances(const std::vector<config::Instance>& list) {
  attach_group_orchestrators();  // before the members' gates refer to them
  for (const auto& cfg : list) {
    auto inst = make_instance(cfg);
    attach_checks(*inst);
    attach_orchestrator(*inst);
    ensure_socket(cfg.interface, inst->family());
    instances_.push_back(std::move(inst));
    instances_.back()->start();
  }
}

void Daemon::ensure_socket(const std::string& ifname, Family family) {
  const int index = static_cast<int>(if_nametoindex(ifname.c_str()));
  const std::string key = socket_key(ifname, family);
  auto& entry = sockets_[key];
  if (entry.socket && entry.ifindex == index) return;
  if (entry.socket) {  // the interface was re-created: new index
    loop_.unwatch_fd(entry.socket->fd());
    entry.socket.reset();
  }
  if (index == 0) return;  // not there yet; a link event will bring us back
  try {
    entry.socket = std::make_unique<net::VrrpSocket>(ifname, index, family);
    entry.ifindex = index;
    loop_.watch_fd(entry.socket->fd(), EPOLLIN, [this, key](std::uint32_t) { on_socket_readable(key); });
  } catch (const std::exception& e) {
    log::error(e.what());
  }
}

void Daemon::close_unused_sockets() {
  for (auto it = sockets_.begin(); it != sockets_.end();) {
    bool used = std::any_of(instances_.begin(), instances_.end(), [&](const auto& i) {
      return socket_key(i->config().interface, i->family()) == it->first;
    });
    if (!used) {
      if (it->second.socket) loop_.unwatch_fd(it->second.socket->fd());
      it = sockets_.erase(it);
    } else {
      ++it;
    }
  }
}

void Daemon::on_socket_readable(const std::string& key) {
  auto it = sockets_.find(key);
  if (it == sockets_.end() || !it->second.socket) return;
  net::VrrpSocket& sock = *it->second.socket;
  // Bounded so that a flood cannot starve the timers.
  for (int n = 0; n < 64; ++n) {
    auto pkt = sock.receive();
    if (!pkt) return;
    if (pkt->payload.size() < 2) continue;
    const int vrid = pkt->payload[1];
    bool known = false;
    for (auto& inst : instances_) {
      if (inst->config().virtual_router_id == vrid && inst->config().interface == sock.ifname() &&
          inst->family() == sock.family()) {
        inst->on_packet(*pkt);
        known = true;
      }
    }
    if (!known && snmp_) snmp_->count_vrid_error();  // vrrpv3RouterVrIdErrors
  }
}

void Daemon::on_link_events() {
  std::vector<std::string> changed;
  links_.drain([&](const net::LinkEvent& ev) {
    if (ev.ifindex == 0) {
      changed.push_back("");  // overflow: re-read everything
      return;
    }
    std::string name = ev.ifname;
    if (name.empty()) {
      char buf[IF_NAMESIZE] = {};
      if (if_indextoname(static_cast<unsigned>(ev.ifindex), buf)) name = buf;
    }
    if (!name.empty()) changed.push_back(name);
  });
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  for (const auto& name : changed) {
    for (auto& [key, entry] : sockets_) {
      const std::string ifname = key.substr(0, key.size() - 2);
      if (!name.empty() && ifname != name) continue;
      ensure_socket(ifname, key.back() == '4' ? Family::kIPv4 : Family::kIPv6);
      if (entry.socket && net::read_interface(ifname).up) {
        try {
          entry.socket->join_group();
        } catch (const std::exception& e) {
          log::warning(e.what());
        }
      }
    }
    for (auto& inst : instances_) inst->on_link_change(name);
  }
}

void Daemon::init_check_status(const std::vector<config::Check>& checks,
                               const std::vector<config::Check>& previous) {
  std::map<std::string, checkers::CheckStatus> next;
  for (const auto& c : checks) {
    auto old = std::find_if(previous.begin(), previous.end(), [&](const config::Check& p) { return p.name == c.name; });
    auto it = check_status_.find(c.name);
    if (old != previous.end() && config::same_settings(*old, c) && it != check_status_.end()) {
      next[c.name] = it->second;  // unchanged: the checker keeps running it
      continue;
    }
    checkers::CheckStatus st;
    st.name = c.name;
    st.kind = c.kind;
    st.up = c.initially_up;
    next[c.name] = st;
  }
  check_status_ = std::move(next);
}

void Daemon::attach_checks(Instance& instance) {
  for (const auto& t : instance.config().track_checks) {
    auto c = std::find_if(config_.checks.begin(), config_.checks.end(),
                          [&](const config::Check& k) { return k.name == t.name; });
    if (c == config_.checks.end()) continue;  // the validator forbids this
    const auto st = check_status_.find(t.name);
    const bool up = st != check_status_.end() ? st->second.up : c->initially_up;
    instance.track_check(t.name, static_cast<int>(t.weight.value_or(c->weight)), up);
  }
}

void Daemon::on_check_status(const checkers::CheckStatus& status, bool changed) {
  auto it = check_status_.find(status.name);
  if (it == check_status_.end()) return;  // removed by a reload meanwhile
  it->second = status;
  if (!changed) return;
  journal_.record("check", status.name, status.up ? "check-up" : "check-down",
                  "check " + status.name + " " + (status.up ? "up" : "down") + ": " + status.last.reason,
                  {{"kind", status.kind}, {"target", status.target}, {"reason", status.last.reason}});
  for (auto& inst : instances_) inst->set_check_health(status.name, status.up, status.last.reason);
  for (const auto& c : config_.checks) {
    if (c.name != status.name || !c.notify) continue;
    std::vector<std::string> argv = c.notify->argv;
    argv.insert(argv.end(), {"CHECK", status.name, status.up ? "UP" : "DOWN", status.last.reason});
    programs_.run("check/" + status.name, std::move(argv));
  }
}

void Daemon::run_resource_notify(const std::string& resource, const std::string& what, const std::string& text) {
  // The configuration in force now (a reload may have changed the program).
  for (const auto& r : config_.resources) {
    if (r.name != resource || !r.notify) continue;
    std::vector<std::string> argv = r.notify->argv;
    argv.insert(argv.end(), {"RESOURCE", resource, what, text});
    programs_.run("replication/" + resource, std::move(argv));
  }
}

Instance* Daemon::find_instance(const std::string& name) {
  for (auto& i : instances_)
    if (i->name() == name) return i.get();
  return nullptr;
}

OrchestratorSettings Daemon::ownership_settings(const std::string& name, const config::Ownership& owned,
                                                bool group) const {
  OrchestratorSettings s;
  s.instance = name;
  s.group = group;
  for (const auto& r : owned.resources) {
    auto c = std::find_if(config_.resources.begin(), config_.resources.end(),
                          [&](const config::Resource& x) { return x.name == r; });
    s.resources.push_back({r, c != config_.resources.end() && !c->mount_point.empty()});
  }
  for (const auto& svc : owned.services) {
    auto c = std::find_if(config_.services.begin(), config_.services.end(),
                          [&](const config::Service& x) { return x.name == svc; });
    if (c != config_.services.end()) s.services.push_back({svc, c->start_timeout, c->stop_timeout});
  }
  s.takeover_timeout = owned.takeover_timeout;
  s.release_timeout = owned.release_timeout;
  s.fault_hold = owned.fault_hold;
  s.witness = quorum_ != nullptr && !owned.resources.empty();  // the witness guards data, not services alone
  return s;
}

// `key` is an instance's name or "group:NAME"; the instances it speaks for
// are the instance itself or the group's members.
Orchestrator& Daemon::ensure_orchestrator(const std::string& key, OrchestratorSettings settings) {
  auto& slot = orchestrators_[key];
  if (slot) {
    slot->configure(std::move(settings));
    return *slot;
  }
  const bool group = settings.group;
  const std::string name = settings.instance;
  auto for_each_instance = [this, group, name](auto f) {
    if (!group) {
      if (Instance* i = find_instance(name)) f(*i);
      return;
    }
    for (auto& i : instances_)
      if (i->config().sync_group == name) f(*i);
  };
  OrchestratorHooks hooks{
      [this, for_each_instance] {
        for_each_instance([this](Instance& i) {
          if (member_ready(i)) i.takeover_done();
        });
      },
      [for_each_instance, group, name](const std::string& reason) {
        const std::string why = group ? "sync group " + name + ": " + reason : reason;
        for_each_instance([&](Instance& i) { i.set_takeover_fault(why); });
      },
      [for_each_instance] { for_each_instance([](Instance& i) { i.clear_takeover_fault(); }); },
      [this, key, name](const std::string& what, const std::string& text, nlohmann::json detail) {
        // A refused witness claim keeps the data from being promoted as
        // surely as a refused `primary`; it names the owner's first resource.
        const std::string op = what == "takeover-failed" ? detail.value("op", std::string()) : "";
        if (snmp_ && (op == "primary" || op == "claim")) {
          const config::Ownership* owned = owned_by(key);
          const std::string resource = op == "primary" ? detail.value("resource", std::string())
                                       : owned != nullptr && !owned->resources.empty() ? owned->resources.front()
                                                                                       : std::string();
          snmp_->promotion_refused(resource, name + ": " + text);
        }
        journal_.record("failover", key, what, text, std::move(detail));
      }};
  slot = std::make_unique<Orchestrator>(loop_, *resource_commands_, std::move(settings), std::move(hooks),
                                        services_.get(), quorum_.get());
  return *slot;
}

void Daemon::attach_group_orchestrators() {
  if (!resource_commands_) return;
  for (const auto& g : config_.sync_groups)
    if (g.owns_anything()) ensure_orchestrator("group:" + g.name, ownership_settings(g.name, g, true));
}

const config::Ownership* Daemon::owned_by(const std::string& key) const {
  if (key.rfind("group:", 0) == 0) {
    for (const auto& g : config_.sync_groups)
      if ("group:" + g.name == key) return &g;
    return nullptr;
  }
  for (const auto& i : config_.instances)
    if (i.name == key) return &i;
  return nullptr;
}

// The orchestrators that hold an instance's VIPs back: its own (what it
// owns) and its sync group's (what the group owns). Null when none.
std::pair<Orchestrator*, Orchestrator*> Daemon::gates_of(const Instance& instance) const {
  auto find = [this](const std::string& key) -> Orchestrator* {
    const config::Ownership* owned = owned_by(key);
    if (owned == nullptr || !owned->owns_anything()) return nullptr;
    auto it = orchestrators_.find(key);
    return it == orchestrators_.end() ? nullptr : it->second.get();
  };
  const std::string& group = instance.config().sync_group;
  return {find(instance.name()), group.empty() ? nullptr : find("group:" + group)};
}

bool Daemon::member_ready(const Instance& instance) const {
  auto [own, group] = gates_of(instance);
  return (own == nullptr || own->phase() == Orchestrator::Phase::kActive) &&
         (group == nullptr || group->phase() == Orchestrator::Phase::kActive);
}

void Daemon::attach_orchestrator(Instance& instance) {
  const config::Instance& c = instance.config();
  if (!resource_commands_) return;
  if (c.owns_anything()) ensure_orchestrator(c.name, ownership_settings(c.name, c, false));
  auto [own, group] = gates_of(instance);
  if (own == nullptr && group == nullptr) return;
  const std::string name = c.name, group_name = c.sync_group;
  instance.set_gate({[this, name] {
                       // Returns whether the VIPs may go up now; otherwise
                       // the orchestrators call takeover_done() when ready.
                       Instance* i = find_instance(name);
                       if (i == nullptr) return false;
                       auto [o, g] = gates_of(*i);
                       if (o != nullptr) o->master_wanted();
                       if (g != nullptr) g->master_wanted();
                       return member_ready(*i);
                     },
                     [this, name, group_name] {
                       Instance* i = find_instance(name);
                       if (i == nullptr) return;
                       auto [o, g] = gates_of(*i);
                       if (o != nullptr) o->master_left();
                       // The group's data goes once no member is MASTER any
                       // more: after the sync-group cascade this event
                       // started, so every member's VIPs are down first.
                       if (g != nullptr) loop_.post([this, group_name] { group_left(group_name); });
                     }});
}

void Daemon::group_left(const std::string& group) {
  auto it = orchestrators_.find("group:" + group);
  if (it == orchestrators_.end()) return;
  for (const auto& i : instances_)
    if (i->config().sync_group == group && i->state() == State::kMaster) return;
  it->second->master_left();
}

bool Daemon::peers_connected(const std::string& lock) const {
  const config::Ownership* c = owned_by(lock);
  if (c == nullptr || c->resources.empty() || !replication_) return false;
  for (const auto& r : c->resources) {
    auto v = replication_->view(r);
    if (!v || !v->up || v->status.connection != replication::ConnectionState::kConnected) return false;
  }
  return true;
}

void Daemon::check_quorum() {
  quorum_watch_->arm_in(std::chrono::milliseconds(100));
  for (auto& entry : orchestrators_) {
    Orchestrator* o = entry.second.get();
    if (o->phase() != Orchestrator::Phase::kActive || !o->uses_witness()) continue;
    const std::string lock = o->lock();  // also the map's key: the instance's name or "group:NAME"
    if (witness_->holds(lock)) continue;
    if (peers_connected(lock)) {
      // Active on the peer's vote (the witness did not answer the takeover's
      // claim): keep asking the witness, about once a second, so that a
      // later loss of the peer does not cost the majority.
      TimePoint& last = quorum_claimed_[lock];
      if (loop_.now() - last >= std::chrono::seconds(1)) {
        last = loop_.now();
        witness_->claim(lock, {});
      }
      continue;
    }
    // Stable message: see README.md "Log messages".
    o->step_down("no majority: the witness's lease for " + lock +
                 " ran out and the replication peer is not connected; stepping down so that a node with the "
                 "majority may promote");
  }
}

nlohmann::json Daemon::instance_json(const Instance& instance) const {
  nlohmann::json j = instance.to_json();
  auto [own, group] = gates_of(instance);
  if (group != nullptr) {
    j["group_failover"] = group->to_json();
    j["group_failover"]["group"] = instance.config().sync_group;
  }
  if (own != nullptr) {
    j["failover"] = own->to_json();
    j["takeover"] = j["failover"]["display"];
  } else if (group != nullptr) {
    // What the group owns is this member's failover state too.
    j["failover"] = j["group_failover"];
    j["takeover"] = "group " + instance.config().sync_group + " " + j["failover"]["display"].get<std::string>();
  }
  return j;
}

void Daemon::on_transition(Instance& instance, const Transition& t) {
  if (snmp_) snmp_->on_transition(instance, t);
  journal_.record("vrrp", instance.name(), "transition",
                  std::string(vrrp::state_name(t.from)) + " -> " + vrrp::state_name(t.to) + " (" + t.reason + ")",
                  {{"from", vrrp::state_name(t.from)}, {"to", vrrp::state_name(t.to)}, {"reason", t.reason},
                   {"priority", instance.priority()}});
  if (auto st = notify_state_for(t))
    notifier_.notify(instance.config().notify,
                     notify::StateChange{false, instance.name(), *st, instance.priority()});
  sync_group_follow(instance, t);
}

void Daemon::sync_group_follow(Instance& instance, const Transition& t) {
  const std::string& group = instance.config().sync_group;
  if (group.empty() || t.to == State::kInit) return;
  std::vector<Instance*> members;
  for (auto& i : instances_)
    if (i->config().sync_group == group) members.push_back(i.get());
  if (!following_group_) {
    following_group_ = true;
    const std::string why = "sync group " + group + ": " + instance.name() + " went " + vrrp::state_name(t.to);
    bool any_own_fault = std::any_of(members.begin(), members.end(), [](Instance* m) { return m->own_fault(); });
    for (Instance* m : members) {
      if (m == &instance) continue;
      if (t.to == State::kMaster) m->force_state(State::kMaster, why);
      else if (t.to == State::kFault) m->force_state(State::kFault, why);
      else if (t.to == State::kBackup && t.from == State::kMaster) m->force_state(State::kBackup, why);
      else if (t.to == State::kBackup && t.from == State::kFault && !any_own_fault)
        m->force_state(State::kBackup, why);
    }
    following_group_ = false;
  }
  // The group's own state, once its members agree.
  std::string gs;
  if (std::any_of(members.begin(), members.end(), [](Instance* m) { return m->state() == State::kFault; }))
    gs = "FAULT";
  else if (std::all_of(members.begin(), members.end(), [](Instance* m) { return m->state() == State::kMaster; }))
    gs = "MASTER";
  else if (std::all_of(members.begin(), members.end(), [](Instance* m) { return m->state() == State::kBackup; }))
    gs = "BACKUP";
  if (gs.empty() || group_state_[group] == gs) return;
  const std::string old = group_state_[group].empty() ? "INIT" : group_state_[group];
  group_state_[group] = gs;
  log::notice("VRRP_Group(" + group + ") " + old + " -> " + gs);
  for (const auto& g : config_.sync_groups) {
    if (g.name != group) continue;
    auto st = gs == "MASTER" ? notify::NotifyState::kMaster
              : gs == "BACKUP" ? notify::NotifyState::kBackup
                               : notify::NotifyState::kFault;
    notifier_.notify(g.notify, notify::StateChange{true, group, st, instance.priority()});
  }
}

void Daemon::start_replication(const std::vector<config::Resource>& resources) {
  replication_ = std::make_unique<ReplicationService>(
      config_.global.runtime_dir,
      [this](const std::string& resource, const std::string& what, const std::string& text, nlohmann::json detail) {
        // On a replication thread: the journal lives on this loop.
        loop_.post([this, resource, what, text, detail = std::move(detail)]() mutable {
          if (snmp_) snmp_->on_replication_event(resource, what, text, detail);
          journal_.record("replication", resource, what, text, std::move(detail));
          run_resource_notify(resource, what, text);
        });
      },
      opts_.on_fuse_connection);
  replication_->start(resources);
  if (resource_commands_) static_cast<ServiceResourceCommands&>(*resource_commands_).set_service(replication_.get());
}

std::string Daemon::reload() {
  config::Config next;
  try {
    next = config::load_file(opts_.config_file, opts_.config_format);
  } catch (const std::exception& e) {
    log::error(std::string("reload failed, keeping the running configuration: ") + e.what());
    journal_.record("daemon", "", "reload-failed", std::string("reload failed: ") + e.what());
    return e.what();
  }
  for (const auto& w : next.warnings) log::warning(w.where.to_string() + ": " + w.message);
  try {
    checks_->replace(next.checks);
  } catch (const std::exception& e) {
    log::error(std::string("reload failed, keeping the running configuration: ") + e.what());
    journal_.record("daemon", "", "reload-failed", std::string("reload failed: ") + e.what());
    return e.what();
  }
  init_check_status(next.checks, config_.checks);
  if (next.global.notify_user != config_.global.notify_user ||
      next.global.notify_group != config_.global.notify_group)
    log::warning("reload: notify_user/notify_group changes take effect after a restart");
  if (next.global.journal_file != config_.global.journal_file ||
      next.global.journal_capacity != config_.global.journal_capacity)
    log::warning("reload: journal_file/journal_capacity changes take effect after a restart");
  // The agent thread is configured once at start (README "SNMP").
  if (!config::same_settings(next.global.snmp, config_.global.snmp))
    log::warning("reload: snmp changes take effect after a restart");
  // Replication resources are adjusted in place, as drbdadm adjust does
  // (ReplicationService::reconfigure): the outcome of each is logged and
  // journaled when the replication threads have done it.
  auto report = [this](const std::string& resource, bool ok, const std::string& text) {
    loop_.post([this, resource, ok, text] {
      const std::string line = "reload: replication resource " + resource + ": " + text;
      if (ok) log::notice(line);
      else log::warning(line);
      journal_.record("replication", resource, "reload", text, {{"ok", ok}});
    });
  };
  if (replication_) replication_->reconfigure(next.resources, report);
  else if (!next.resources.empty()) start_replication(next.resources);
  // Stop instances that went away or changed; untouched ones keep running
  // (no VIP flap, no state change).
  std::vector<std::unique_ptr<Instance>> kept;
  int stopped = 0, unchanged = 0;
  for (auto& inst : instances_) {
    auto it = std::find_if(next.instances.begin(), next.instances.end(),
                           [&](const config::Instance& c) { return c.name == inst->name(); });
    // An instance also counts as changed when a check it tracks was redefined
    // (the check's default weight may be what it uses).
    auto checks_same = [&] {
      for (const auto& t : inst->config().track_checks) {
        auto find = [&](const std::vector<config::Check>& v) {
          return std::find_if(v.begin(), v.end(), [&](const config::Check& c) { return c.name == t.name; });
        };
        auto a = find(config_.checks), b = find(next.checks);
        if (a == config_.checks.end() || b == next.checks.end() || !config::same_settings(*a, *b)) return false;
      }
      return true;
    };
    // And when its sync group now owns something else, or gained or lost
    // members (its VIPs wait for what the group owns).
    auto group_same = [&] {
      const std::string& g = inst->config().sync_group;
      if (g.empty()) return true;
      auto find = [&](const std::vector<config::SyncGroup>& v) {
        return std::find_if(v.begin(), v.end(), [&](const config::SyncGroup& x) { return x.name == g; });
      };
      auto a = find(config_.sync_groups), b = find(next.sync_groups);
      return a != config_.sync_groups.end() && b != next.sync_groups.end() && a->members == b->members &&
             config::same_ownership(*a, *b);
    };
    if (it != next.instances.end() && config::same_settings(inst->config(), *it) && checks_same() && group_same()) {
      kept.push_back(std::move(inst));
      ++unchanged;
    } else {
      inst->stop();
      ++stopped;
    }
  }
  instances_ = std::move(kept);
  std::vector<config::Instance> fresh;
  for (const auto& c : next.instances)
    if (!find_instance(c.name)) fresh.push_back(c);
  config_ = std::move(next);
  services_->configure(service_specs(config_.services));
  close_unused_sockets();
  start_instances(fresh);
  // Kept instances keep their orchestrators; what they own may have changed
  // (a resource's mount point added or removed): from the next takeover.
  for (auto& inst : instances_)
    if (inst->config().owns_anything() && orchestrators_.count(inst->name()))
      ensure_orchestrator(inst->name(), ownership_settings(inst->name(), inst->config(), false));
  const std::string summary = "reload done: " + std::to_string(unchanged) + " unchanged, " +
                              std::to_string(stopped) + " stopped, " + std::to_string(fresh.size()) + " started";
  log::notice(summary);
  journal_.record("daemon", "", "reload", summary,
                  {{"unchanged", unchanged}, {"stopped", stopped}, {"started", fresh.size()}});
  return "";
}

void Daemon::dispatch_command(const std::string& command, const nlohmann::json& args,
                              control::ControlServer::Respond respond) {
  if (command != "replication") return respond(handle_command(command, args));
  // {"resource": NAME, "op": "primary", "force": false}: runs on the
  // replication threads; the answer comes back to this loop.
  if (!args.contains("resource") || !args["resource"].is_string() || !args.contains("op") || !args["op"].is_string())
    return respond(make_response(ResultCode::kBadArguments, "replication needs \"resource\" and \"op\" strings"));
  const std::string name = args["resource"].get<std::string>(), op = args["op"].get<std::string>();
  if (!replication_ || !replication_->has(name))
    return respond(make_response(ResultCode::kNotFound, "no replication resource named '" + name + "'"));
  ReplicationService::CommandOptions options;
  options.force = args.value("force", false);
  options.assume_clean = args.value("assume_clean", false);
  std::string shown = "vrrpctl replication " + op + (options.force ? " --force" : "");
  if (args.contains("size")) {
    if (!args["size"].is_number_unsigned())
      return respond(make_response(ResultCode::kBadArguments, "replication \"size\" must be a number of bytes"));
    options.size = args["size"].get<uint64_t>();
    shown += " --size " + std::to_string(*options.size);
  }
  if (options.assume_clean) shown += " --assume-clean";
  if ((options.size || options.assume_clean) && op != "resize")
    return respond(make_response(ResultCode::kBadArguments, "--size and --assume-clean are options of resize, not of " + op));
  journal_.record("replication", name, "command", shown + " " + name);
  replication_->command(name, op, options, [this, respond, name, op](bool ok, std::string text) {
    loop_.post([this, respond, name, op, ok, text = std::move(text)] {
      if (!ok) journal_.record("replication", name, "command-failed", op + " failed: " + text);
      if (!ok && op == "primary" && snmp_) snmp_->promotion_refused(name, "vrrpctl replication primary " + name + ": " + text);
      respond(make_response(ok ? ResultCode::kOk : ResultCode::kError, text));
    });
  });
}

nlohmann::json Daemon::replication_status(const nlohmann::json& args) {
  nlohmann::json list = nlohmann::json::array();
  const std::string only = args.value("resource", std::string());
  if (!only.empty() && (!replication_ || !replication_->has(only)))
    return make_response(ResultCode::kNotFound, "no replication resource named '" + only + "'");
  for (const auto& v : replication_ ? replication_->views() : std::vector<ReplicationService::View>{}) {
    if (!only.empty() && v.name != only) continue;
    const auto& s = v.status;
    // Seconds left at the configured rate, from what is still out of sync.
    nlohmann::json eta = nullptr;
    if ((s.replication == replication::ReplicationState::kSyncSource ||
         s.replication == replication::ReplicationState::kSyncTarget) && s.resync_rate_limit > 0)
      eta = s.out_of_sync_bytes / s.resync_rate_limit;
    list.push_back({{"name", v.name},
                    {"up", v.up},
                    {"role", replication::to_string(s.role)},
                    {"disk", replication::to_string(s.disk)},
                    {"peer_role", replication::to_string(s.peer_role)},
                    {"peer_disk", replication::to_string(s.peer_disk)},
                    {"connection", replication::to_string(s.connection)},
                    {"replication", replication::to_string(s.replication)},
                    {"peer", s.peer},
                    {"size_kib", s.size_bytes / 1024},
                    {"protocol", std::string(1, s.protocol)},
                    {"resync_rate_limit_kib", s.resync_rate_limit / 1024},
                    {"out_of_sync_kib", s.out_of_sync_bytes / 1024},
                    {"resync_total_kib", s.resync_total_bytes / 1024},
                    {"resync_done_kib", s.resync_done_bytes / 1024},
                    {"resync_eta_s", eta},
                    {"verify_done_kib", s.verify_done_bytes / 1024},
                    {"verify_out_of_sync_kib", s.verify_out_of_sync_bytes / 1024},
                    {"resync_paused", s.resync_paused},
                    {"io_errors", s.io_errors},
                    {"sent_kib", s.sent_bytes / 1024},
                    {"received_kib", s.received_bytes / 1024},
                    {"written_kib", s.written_bytes / 1024},
                    {"discarded_kib", s.discarded_bytes / 1024},
                    {"split_brain", s.split_brain},
                    {"split_brain_text", s.split_brain_text},
                    {"generations", generations_json(s.generations)},
                    {"peer_generations", generations_json(s.peer_generations)},
                    {"last_handshake", s.last_handshake},
                    {"last_error", s.last_error},
                    {"device", v.device},
                    {"device_link", v.device_link},
                    {"mount_point", v.mount_point},
                    {"mounted", v.mounted},
                    {"problem", v.problem},
                    {"fencing", v.fencing},
                    {"fencing_policy", v.fencing_policy},
                    {"io_suspended", s.io_suspended},
                    {"io_suspended_why", s.io_suspended_why},
                    {"only_copy_given_up", s.only_copy_given_up},
                    {"kept_for_write_back_kib", s.kept_for_write_back_bytes / 1024}});
  }
  return make_response(ResultCode::kOk, "", {{"resources", list}});
}

nlohmann::json Daemon::handle_command(const std::string& command, const nlohmann::json& args) {
  auto instance_arg = [&]() -> Instance* {
    if (!args.contains("instance") || !args["instance"].is_string()) return nullptr;
    return find_instance(args["instance"].get<std::string>());
  };
  auto not_found = [&]() {
    return make_response(ResultCode::kNotFound,
                         "no instance named '" + args.value("instance", std::string()) + "'");
  };
  if (command == "status") {
    nlohmann::json list = nlohmann::json::array();
    for (auto& i : instances_) list.push_back(instance_json(*i));
    return make_response(ResultCode::kOk, "",
                         {{"router_id", config_.global.router_id}, {"pid", getpid()}, {"instances", list}});
  }
  if (command == "show") {
    Instance* i = instance_arg();
    return i ? make_response(ResultCode::kOk, "", instance_json(*i)) : not_found();
  }
  if (command == "stats") {
    nlohmann::json all = nlohmann::json::object();
    for (auto& i : instances_) all[i->name()] = i->stats().to_json();
    return make_response(ResultCode::kOk, "", {{"instances", all}});
  }
  if (command == "checks") {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [name, st] : check_status_) {
      nlohmann::json j = st.to_json();
      nlohmann::json users = nlohmann::json::array();
      for (auto& i : instances_)
        for (const auto& t : i->config().track_checks)
          if (t.name == name) users.push_back(i->name());
      j["tracked_by"] = users;
      list.push_back(j);
    }
    return make_response(ResultCode::kOk, "", {{"checks", list}});
  }
  if (command == "reload") {
    std::string err = reload();
    return err.empty() ? make_response(ResultCode::kOk, "configuration reloaded")
                       : make_response(ResultCode::kError, "reload failed, configuration unchanged: " + err);
  }
  if (command == "set-priority") {
    Instance* i = instance_arg();
    if (!i) return not_found();
    if (!args.contains("priority") || !args["priority"].is_number_integer())
      return make_response(ResultCode::kBadArguments, "priority must be an integer");
    int p = args["priority"].get<int>();
    const bool owner = i->config().priority == vrrp::kPriorityOwner;
    if (p < 1 || p > 254 + (owner ? 1 : 0))
      return make_response(ResultCode::kBadArguments,
                           "priority " + std::to_string(p) + " out of range; valid: 1..254 (255 only for the address owner)");
    i->set_base_priority(p);
    log::notice("VRRP_Instance(" + i->name() + ") priority set to " + std::to_string(p) + " by vrrpctl");
    journal_.record("vrrp", i->name(), "set-priority", "priority set to " + std::to_string(p) + " by vrrpctl",
                    {{"priority", p}});
    return make_response(ResultCode::kOk, "priority of " + i->name() + " set to " + std::to_string(p));
  }
  if (command == "maintenance") {
    Instance* i = instance_arg();
    if (!i) return not_found();
    if (!args.contains("on") || !args["on"].is_boolean())
      return make_response(ResultCode::kBadArguments, "\"on\" must be true or false");
    bool on = args["on"].get<bool>();
    journal_.record("vrrp", i->name(), "maintenance", std::string("maintenance ") + (on ? "on" : "off") + " by vrrpctl",
                    {{"on", on}});
    i->set_maintenance(on);
    log::notice("VRRP_Instance(" + i->name() + ") maintenance " + (on ? "on" : "off") + " by vrrpctl");
    return make_response(ResultCode::kOk, i->name() + " maintenance " + (on ? "on" : "off"));
  }
  if (command == "replication-status") return replication_status(args);
  if (command == "events") {
    // since_ms: wall-clock milliseconds since the epoch (vrrpctl parses --since).
    std::optional<notify::WallTime> since;
    if (args.contains("since_ms")) {
      if (!args["since_ms"].is_number_integer())
        return make_response(ResultCode::kBadArguments, "since_ms must be an integer (ms since the epoch)");
      since = notify::WallTime(std::chrono::milliseconds(args["since_ms"].get<long long>()));
    }
    std::size_t limit = SIZE_MAX;
    if (args.contains("limit")) {
      if (!args["limit"].is_number_unsigned() || args["limit"].get<long long>() < 1)
        return make_response(ResultCode::kBadArguments, "limit must be a positive integer");
      limit = args["limit"].get<std::size_t>();
    }
    // after_seq (vrrpctl events --follow): the events after that seq, the
    // oldest `limit` of them, instead of the newest since a time.
    std::optional<uint64_t> after_seq;
    if (args.contains("after_seq")) {
      if (!args["after_seq"].is_number_unsigned())
        return make_response(ResultCode::kBadArguments, "after_seq must be an event seq (an integer from 0)");
      if (since)
        return make_response(ResultCode::kBadArguments, "since_ms and after_seq exclude each other");
      after_seq = args["after_seq"].get<uint64_t>();
    }
    nlohmann::json list = nlohmann::json::array();
    for (const auto& e : after_seq ? journal_.events_after(*after_seq, limit) : journal_.events(since, limit))
      list.push_back(notify::to_json(e));
    return make_response(ResultCode::kOk, "",
                         {{"events", list},
                          {"last_seq", journal_.last_seq()},
                          {"run_started_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 journal_.started().time_since_epoch())
                                                 .count()},
                          {"evicted", journal_.evicted()},
                          {"file", config_.global.journal_file},
                          {"file_error", journal_.file_error()},
                          {"file_lines_dropped", journal_.file_lines_dropped()}});
  }
  return make_response(ResultCode::kUnknownCommand, "unknown command '" + command + "'");
}

}  // namespace vrrpd
