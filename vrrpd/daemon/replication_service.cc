#include "vrrpd/daemon/replication_service.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>

#include "replication/fence.h"
#include "replication/fuse_export.h"
#include "replication/grow.h"
#include "replication/loop_device.h"
#include "replication/metadata.h"
#include "replication/metadata_dump.h"
#include "replication/mounter.h"
#include "replication/resource.h"
#include "replication/storage.h"
#include "replication/tcp_transport.h"
#include "vrrpd/base/log.h"
#include "vrrpd/config/config.h"

namespace vrrpd {

using replication::CommandResult;
using replication::Role;

namespace {

constexpr auto kRefreshInterval = std::chrono::milliseconds(250);
// fence_peer_handler: started once the fence path has tried this long
// without an answer (a reachable peer answers within milliseconds; the path
// sends every 100 ms), at most once per kFenceHandlerRetry, and given
// kFenceHandlerTimeout to run (a stonith call through a BMC takes seconds).
constexpr auto kFenceHandlerDelay = std::chrono::seconds(3);
constexpr auto kFenceHandlerRetry = std::chrono::seconds(10);
constexpr auto kFenceHandlerTimeout = std::chrono::seconds(60);

replication::SplitBrainPolicy split_brain_policy(const config::Resource& r) {
  using namespace replication;
  SplitBrainPolicy p;
  static const std::map<std::string, AfterSb0Pri> k0{
      {"disconnect", AfterSb0Pri::kDisconnect},
      {"discard-younger-primary", AfterSb0Pri::kDiscardYoungerPrimary},
      {"discard-older-primary", AfterSb0Pri::kDiscardOlderPrimary},
      {"discard-zero-changes", AfterSb0Pri::kDiscardZeroChanges},
      {"discard-least-changes", AfterSb0Pri::kDiscardLeastChanges}};
  static const std::map<std::string, AfterSb1Pri> k1{{"disconnect", AfterSb1Pri::kDisconnect},
                                                     {"consensus", AfterSb1Pri::kConsensus},
                                                     {"discard-secondary", AfterSb1Pri::kDiscardSecondary}};
  // The validator only lets known names through.
  p.after_sb_0pri = k0.at(r.after_sb_0pri);
  p.after_sb_1pri = k1.at(r.after_sb_1pri);
  p.after_sb_2pri = AfterSb2Pri::kDisconnect;
  return p;
}

replication::TcpEndpoint endpoint(const IpAddress& a, long port) {
  return {a, static_cast<uint16_t>(port)};
}

// Bytes an external metadata file needs for `data_size` bytes of data:
// two superblock slots, the activity-log ring and the bitmap, in 4 KiB units.
uint64_t external_metadata_bytes(uint64_t data_size) {
  using namespace replication;
  return 2 * kSuperblockSlotSize + uint64_t{kDefaultAlSlots} * kAlTransactionSize +
         bitmap_bytes_for(data_size) + kBlockSize;
}

// The engine's options for `c`.
replication::ResourceOptions resource_options(const config::Resource& c, bool external_md) {
  replication::ResourceOptions o;
  o.name = c.name;
  const auto local = endpoint(*c.address, c.port), peer = endpoint(*c.peer_address, c.peer_port);
  // Node ids from the endpoints: both sides compute the same order.
  o.node_id = local < peer ? 0 : 1;
  o.peer_node_id = 1 - o.node_id;
  o.node_name = local.to_string();
  o.protocol = static_cast<replication::wire::ReplicationProtocol>(c.protocol[0]);
  o.shared_secret = c.shared_secret;
  o.split_brain = split_brain_policy(c);
  o.metadata_layout = external_md ? replication::MetadataLayout::kExternal : replication::MetadataLayout::kInternal;
  o.resync_rate = static_cast<uint64_t>(c.resync_rate_kib) * 1024;
  o.ping_interval = c.ping_interval;
  o.ping_timeout = c.ping_timeout;
  o.probe_timeout = c.probe_timeout;
  o.timeout = c.timeout;
  o.ko_count = static_cast<uint32_t>(c.ko_count);
  // call-handler is passthrough plus the handler program, which the daemon
  // runs when the I/O error counter moves (see refresh()).
  o.on_io_error = c.on_io_error == "detach" ? replication::IoErrorPolicy::kDetach
                                            : replication::IoErrorPolicy::kPassthrough;
  o.freeze_io_while_fencing = c.fencing == "resource-and-stonith";
  o.congestion_fill = static_cast<uint64_t>(c.congestion_fill_kib) * 1024;
  o.congestion_extents = static_cast<uint32_t>(c.congestion_extents);
  o.on_congestion = c.on_congestion == "pull-ahead" ? replication::CongestionPolicy::kPullAhead
                                                    : replication::CongestionPolicy::kBlock;
  return o;
}

replication::TcpConnectorOptions connector_options(const config::Resource& c) {
  replication::TcpConnectorOptions co;
  co.local = endpoint(*c.address, c.port);
  co.peer = endpoint(*c.peer_address, c.peer_port);
  co.connect_interval = c.connect_interval;
  // A SYN a second while the peer does not answer (a timed-out attempt is
  // followed by the next at once): a link that comes back is found within
  // about a second, not after the kernel's SYN backoff.
  co.connect_timeout = std::chrono::seconds(1);
  co.congestion_control = c.tcp_congestion;
  return co;
}

bool any_of_keys(const std::vector<std::string>& keys, std::initializer_list<const char*> wanted) {
  for (const char* w : wanted)
    if (std::find(keys.begin(), keys.end(), w) != keys.end()) return true;
  return false;
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : separator) + p;
  return out;
}

// A resource's backing device and, for external metadata, its metadata
// storage, opened (md stays null for internal). On failure `error` says
// why, and `metadata_failed` whether it was the metadata storage.
struct Backing {
  std::unique_ptr<replication::FileStorage> data, md;
};
std::optional<Backing> open_backing(const config::Resource& c, std::string& error, bool& metadata_failed) {
  metadata_failed = false;
  Backing b;
  auto data = replication::FileStorage::open(c.device);
  if (!data.ok()) {
    error = data.error();
    return std::nullopt;
  }
  b.data = std::move(data.value());
  if (c.metadata != "internal") {
    auto m = replication::FileStorage::open(c.metadata);
    if (!m.ok()) {
      error = m.error();
      metadata_failed = true;
      return std::nullopt;
    }
    b.md = std::move(m.value());
  }
  return b;
}

}  // namespace

struct ReplicationService::Runtime {
  config::Resource cfg;
  // Engine thread.
  std::unique_ptr<replication::FileStorage> data;
  std::unique_ptr<replication::FileStorage> md;  // external metadata only
  // The storage of disks given up (on-io-error detach) and replaced by
  // attach: kept until down, as the Flusher thread may still hold them.
  std::vector<std::unique_ptr<replication::FileStorage>> replaced_storage;
  std::unique_ptr<replication::Resource> resource;
  std::unique_ptr<replication::TcpConnector> connector;
  std::unique_ptr<replication::fence::FencePath> fence;  // fencing other than "dont-care"
  bool attached = false;
  bool discarding = false;  // discard-my-data set for the next handshake only
  // What the operator asked for (vrrpctl replication down / disconnect),
  // which a reload respects; cleared by up / connect.
  bool operator_down = false;
  bool operator_disconnected = false;
  // fence_peer_handler: since when the peer has needed fencing, when the
  // handler last started, whether it runs.
  std::optional<TimePoint> fence_wanted_since;
  std::optional<TimePoint> fence_handler_started;
  bool fence_handler_running = false;
  replication::ResourceStatus last_status;  // for change events
  bool have_last_status = false;
  // resync_after: the resource whose resync this one's waits for now ("":
  // none), as last told to the engine.
  std::string resync_waits_for;
  // Ops thread.
  std::unique_ptr<replication::FuseExport> exported;
  std::unique_ptr<replication::LoopDevice> loop;
  bool mounted = false;
  std::string mounted_at;  // the mount point in use (a reload may change cfg's)
  replication::SystemMounter mounter;

  std::string dir(const std::string& run_dir) const { return run_dir + "/" + cfg.name; }
};

ReplicationService::ReplicationService(std::string run_dir, EventSink sink, FuseConnectionObserver on_fuse_connection)
    : run_dir_(std::move(run_dir)),
      sink_(std::move(sink)),
      on_fuse_connection_(std::move(on_fuse_connection)),
      engine_loop_(clock_) {}

ReplicationService::~ReplicationService() { stop(); }

void ReplicationService::start(const std::vector<config::Resource>& resources) {
  for (const auto& r : resources) {
    auto rt = std::make_unique<Runtime>();
    rt->cfg = r;
    View v;
    v.name = r.name;
    v.mount_point = r.mount_point;
    v.problem = "starting";
    views_[r.name] = v;
    runtimes_[r.name] = std::move(rt);
  }
  started_ = true;
  handlers_ = std::make_unique<notify::ProgramRunner>(engine_loop_, notify::RunOptions{});
  refresh_timer_ = std::make_unique<Timer>(engine_loop_, [this] {
    refresh();
    refresh_timer_->arm_in(kRefreshInterval);
  });
  refresh_timer_->arm_in(kRefreshInterval);
  engine_thread_ = std::thread([this] { engine_main(); });
  ops_thread_ = std::thread([this] { ops_main(); });
  for (auto& [name, rt] : runtimes_) {
    command(name, "up", {}, [name = name](bool ok, const std::string& text) {
      if (!ok) log::warning("replication " + name + ": not up: " + text);
    });
  }
}

void ReplicationService::stop() {
  if (!started_) return;
  started_ = false;  // reconfigure() does nothing from now on
  // Writes held while fencing a peer (resource-and-stonith) fail first, and
  // so does every later one while the peer is not fenced: an unmount on the
  // ops thread may be waiting for them, and the orderly stop below must not.
  {
    std::promise<void> unfrozen;
    engine_loop_.post([this, &unfrozen] {
      for (auto& [name, rt] : runtimes_)
        if (rt->resource) rt->resource->fail_suspended_io("vrrpd is stopping");
      unfrozen.set_value();
    });
    unfrozen.get_future().wait();
  }
  // A reload still queued on the ops thread finishes first, while the
  // engine thread runs (it waits for that thread), and whatever it added
  // is taken down below with the rest.
  {
    std::promise<void> idle;
    ops_post([&idle] { idle.set_value(); });
    idle.get_future().wait();
  }
  // Every resource down in order, one at a time; each waits for the last.
  std::vector<std::pair<std::string, Runtime*>> all;
  {
    std::lock_guard lock(runtimes_mutex_);
    for (auto& [name, rt] : runtimes_) all.emplace_back(name, rt.get());
  }
  for (auto& [name, r] : all) {
    std::promise<std::string> finished;
    // Demote (unmount, detach the loop device), stop the export even if
    // that failed (the process is leaving; the FUSE connection is aborted),
    // then disconnect and detach the disk. Best effort, each step logged.
    ops_post([this, r, &finished] {
      ops_secondary(*r, [this, r, &finished](bool, const std::string& demoted) {
        ops_post([this, r, &finished, demoted] {
          r->loop.reset();
          r->exported.reset();
          engine_loop_.post([this, r, &finished, demoted] {
            engine_down(*r, [&finished, demoted](bool, const std::string& t) { finished.set_value(demoted + "; " + t); });
          });
        });
      });
    });
    log::info("replication " + name + ": stopped: " + finished.get_future().get());
  }
  engine_loop_.post([this] { refresh_timer_.reset(); });
  engine_loop_.stop();
  if (engine_thread_.joinable()) engine_thread_.join();
  // The loop no longer runs: the runner drives it itself to reap.
  handlers_->shutdown(std::chrono::seconds(2));
  {
    std::lock_guard lock(ops_mutex_);
    ops_stopping_ = true;
  }
  ops_wake_.notify_all();
  if (ops_thread_.joinable()) ops_thread_.join();
}

void ReplicationService::engine_main() { engine_loop_.run(); }

void ReplicationService::ops_post(std::function<void()> fn) {
  {
    std::lock_guard lock(ops_mutex_);
    ops_queue_.push_back(std::move(fn));
  }
  ops_wake_.notify_one();
}

void ReplicationService::ops_main() {
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock lock(ops_mutex_);
      ops_wake_.wait(lock, [this] { return ops_stopping_ || !ops_queue_.empty(); });
      if (ops_queue_.empty()) return;
      fn = std::move(ops_queue_.front());
      ops_queue_.pop_front();
    }
    fn();
  }
}

ReplicationService::Runtime* ReplicationService::find(const std::string& name) {
  std::lock_guard lock(runtimes_mutex_);
  auto it = runtimes_.find(name);
  return it == runtimes_.end() ? nullptr : it->second.get();
}

bool ReplicationService::has(const std::string& name) const {
  std::lock_guard lock(runtimes_mutex_);
  return runtimes_.count(name) != 0;
}

std::vector<ReplicationService::View> ReplicationService::views() const {
  std::lock_guard lock(views_mutex_);
  std::vector<View> out;
  for (const auto& [name, v] : views_) out.push_back(v);
  return out;
}

std::optional<ReplicationService::View> ReplicationService::view(const std::string& name) const {
  std::lock_guard lock(views_mutex_);
  auto it = views_.find(name);
  if (it == views_.end()) return std::nullopt;
  return it->second;
}

void ReplicationService::emit(const std::string& resource, const std::string& what, const std::string& text,
                              nlohmann::json detail) {
  log::notice("replication " + resource + ": " + text);
  if (sink_) sink_(resource, what, text, std::move(detail));
}

// ---- status (engine thread) ----

void ReplicationService::publish(Runtime& rt) {
  std::lock_guard lock(views_mutex_);
  View& v = views_[rt.cfg.name];
  v.up = rt.attached;
  if (rt.resource) v.status = rt.resource->status();
  else v.status = replication::ResourceStatus{.name = rt.cfg.name};
  if (rt.fence) v.fencing = rt.fence->stats().last.empty() ? "ready" : rt.fence->stats().last;
  else v.fencing.clear();
  v.fencing_policy = rt.cfg.fencing;
}

void ReplicationService::refresh() {
  for (auto& [name, rt] : runtimes_) {
    if (!rt->resource) {
      publish(*rt);
      continue;
    }
    // Fencing follows the state: a Primary that lost its link outdates the peer.
    if (rt->fence) {
      rt->fence->poke();
      maybe_run_fence_handler(*rt);
    }
    replication::ResourceStatus now = rt->resource->status();
    if (rt->discarding && now.connection == replication::ConnectionState::kConnected) {
      // Used by that handshake; a later split brain needs a new decision.
      rt->resource->set_discard_my_data(false);
      rt->discarding = false;
    }
    if (rt->have_last_status) {
      const auto& was = rt->last_status;
      auto change = [&](const char* what, const std::string& from, const std::string& to) {
        if (from != to) emit(name, what, std::string(what) + " " + from + " -> " + to, {{"from", from}, {"to", to}});
      };
      change("role", replication::to_string(was.role), replication::to_string(now.role));
      change("disk", replication::to_string(was.disk), replication::to_string(now.disk));
      if (was.connection != now.connection) {
        // A lost connection carries its reason into the timeline: the one
        // the engine gave for its last change (not its last error, which
        // may be another failure of the same moment: a superblock write
        // failing as an operator's disconnect starts a new generation).
        const std::string from = replication::to_string(was.connection), to = replication::to_string(now.connection);
        std::string text = "connection " + from + " -> " + to;
        nlohmann::json detail = {{"from", from}, {"to", to}};
        if (was.connection == replication::ConnectionState::kConnected && !now.connection_why.empty()) {
          text += ": " + now.connection_why;
          detail["reason"] = now.connection_why;
        }
        emit(name, "connection", text, std::move(detail));
      }
      change("replication", replication::to_string(was.replication), replication::to_string(now.replication));
      change("peer-disk", replication::to_string(was.peer_disk), replication::to_string(now.peer_disk));
      if (was.size_bytes != 0 && now.size_bytes != 0 && now.size_bytes != was.size_bytes) {
        emit(name, "resize",
             std::string(now.size_bytes > was.size_bytes ? "grown" : "shrunk") + " from " +
                 std::to_string(was.size_bytes) + " to " + std::to_string(now.size_bytes) + " bytes",
             {{"from", was.size_bytes}, {"to", now.size_bytes}});
        Runtime* r = rt.get();  // a removed resource is retired, not destroyed
        ops_post([this, r] { ops_resize_frontend(*r); });
      }
      // Counted by the engine, so that one shorter than this poll is seen.
      if (now.resyncs_finished_as_target > was.resyncs_finished_as_target)
        emit(name, "resync-finished",
             "resync finished as SyncTarget: this node is UpToDate (" + std::to_string(now.resync_total_bytes) +
                 " bytes resynced)",
             {{"as", "target"}, {"bytes", now.resync_total_bytes}});
      if (now.resyncs_finished_as_source > was.resyncs_finished_as_source)
        emit(name, "resync-finished",
             "resync finished as SyncSource: the peer is UpToDate (" + std::to_string(now.resync_total_bytes) +
                 " bytes resynced)",
             {{"as", "source"}, {"bytes", now.resync_total_bytes}});
      if (now.verifies_finished > was.verifies_finished)
        emit(name, "verify",
             "online verify finished: " + std::to_string(now.verify_out_of_sync_bytes) + " of " +
                 std::to_string(now.verify_done_bytes) + " bytes differ" +
                 (now.verify_out_of_sync_bytes > 0
                      ? " (the node that ran it marked them out of sync; they resync at the next connect)"
                      : ""),
             {{"verified", now.verify_done_bytes}, {"out_of_sync", now.verify_out_of_sync_bytes}});
      if (now.split_brain && !was.split_brain)
        emit(name, "split-brain", "split brain: " + now.split_brain_text, {{"text", now.split_brain_text}});
      if (now.io_errors > was.io_errors)
        emit(name, "io-error",
             "disk I/O error" + std::string(now.io_errors - was.io_errors > 1 ? "s" : "") + " (" +
                 std::to_string(now.io_errors) + " in all; on_io_error " + rt->cfg.on_io_error + "): " +
                 now.last_error,
             {{"io_errors", now.io_errors}, {"policy", rt->cfg.on_io_error}});
      if (now.io_errors > was.io_errors && rt->cfg.on_io_error == "call-handler" && rt->cfg.io_error_handler) {
        // DRBD's local-io-error handler: the configured argv, then the
        // resource name and the error count. Serialised per resource.
        std::vector<std::string> argv = rt->cfg.io_error_handler->argv;
        argv.push_back(name);
        argv.push_back(std::to_string(now.io_errors));
        handlers_->run("io-error/" + name, std::move(argv), [this, name](const notify::ProgramOutcome& o) {
          const bool ok = o.exited && o.exit_code == 0;
          emit(name, "io-error-handler",
               std::string("io_error_handler ") + (ok ? "ran" : "failed") +
                   (o.spawned ? (o.exited ? " (exit " + std::to_string(o.exit_code) + ")" : " (killed)")
                              : ": " + o.spawn_error));
        });
      }
    }
    rt->last_status = now;
    rt->have_last_status = true;
    publish(*rt);
  }
  apply_resync_after();
}

void ReplicationService::apply_resync_after() {
  auto resyncing = [](const Runtime& rt) {
    using replication::ReplicationState;
    if (!rt.resource) return false;
    const ReplicationState r = rt.resource->status().replication;
    return r == ReplicationState::kSyncSource || r == ReplicationState::kSyncTarget ||
           r == ReplicationState::kPausedSyncS || r == ReplicationState::kPausedSyncT;
  };
  for (auto& [name, rt] : runtimes_) {
    if (!rt->resource) continue;
    // Follow the chain (the config has no cycles; a reload in between may,
    // so each name once) to the first resource that resyncs here.
    std::string waits_for;
    std::vector<std::string> seen{name};
    for (std::string next = rt->cfg.resync_after; !next.empty();) {
      if (std::find(seen.begin(), seen.end(), next) != seen.end()) break;
      seen.push_back(next);
      Runtime* dep = find(next);
      if (dep == nullptr) break;
      if (resyncing(*dep)) {
        waits_for = next;
        break;
      }
      next = dep->cfg.resync_after;
    }
    if (waits_for == rt->resync_waits_for) continue;
    std::string why = waits_for + " resyncs on this node";
    if (waits_for.empty()) {
      const bool in_chain = std::find(seen.begin(), seen.end(), rt->resync_waits_for) != seen.end();
      why = rt->resync_waits_for + (in_chain ? " no longer resyncs" : " is no longer waited for after a reload");
    }
    rt->resource->set_sync_paused_after(!waits_for.empty(), why);
    rt->resync_waits_for = waits_for;
  }
}

replication::ResourceOptions ReplicationService::engine_resource_options(Runtime& rt, const config::Resource& c,
                                                                       bool external_md) {
  replication::ResourceOptions o = resource_options(c, external_md);
  if (!c.before_resync_target_handler) return o;
  Runtime* r = &rt;  // a removed resource is retired, not destroyed
  o.before_resync_target = [this, r](replication::ResourceOptions::HandlerDone done) {
    const config::Resource& now = r->cfg;  // as configured when it runs (a reload may change it)
    if (!now.before_resync_target_handler) return done(true, "no before_resync_target_handler configured now");
    std::vector<std::string> argv = now.before_resync_target_handler->argv;
    argv.push_back(now.name);
    // The peer waits timeout_ms for our bitmap; the handler gets a little
    // less, so that a killed one still ends this handshake on our terms.
    const auto margin = std::min<std::chrono::milliseconds>(std::chrono::seconds(1), now.timeout / 4);
    const std::chrono::milliseconds limit = now.timeout - margin;
    const std::string name = now.name;
    emit(name, "before-resync-target",
         "before_resync_target_handler started: this node's data is about to be resynced from the peer");
    handlers_->run("before-resync-target/" + name, std::move(argv), limit,
                   [this, name, limit, done](const notify::ProgramOutcome& out) {
                     const bool ok = out.spawned && out.exited && out.exit_code == 0;
                     std::string how = !out.spawned  ? "could not start: " + out.spawn_error
                                       : out.exited ? "exit " + std::to_string(out.exit_code)
                                                    : "killed by signal " + std::to_string(out.term_signal);
                     if (out.timed_out) how += " (not done within " + std::to_string(limit.count()) + " ms)";
                     emit(name, "before-resync-target",
                          "before_resync_target_handler " + how +
                              (ok ? ": the resync starts" : ": the link is dropped, the next connect tries again"),
                          {{"exit_code", out.exited ? out.exit_code : -1}, {"ok", ok}});
                     done(ok, how);
                   });
  };
  return o;
}

void ReplicationService::maybe_run_fence_handler(Runtime& rt) {
  const TimePoint now = engine_loop_.now();
  if (!rt.cfg.fence_peer_handler || !rt.resource->wants_peer_fenced()) {
    rt.fence_wanted_since.reset();
    return;
  }
  if (!rt.fence_wanted_since) rt.fence_wanted_since = now;
  if (rt.fence_handler_running || now - *rt.fence_wanted_since < kFenceHandlerDelay) return;
  if (rt.fence_handler_started && now - *rt.fence_handler_started < kFenceHandlerRetry) return;
  rt.fence_handler_running = true;
  rt.fence_handler_started = now;
  const std::string name = rt.cfg.name;
  std::vector<std::string> argv = rt.cfg.fence_peer_handler->argv;
  argv.push_back(name);
  argv.push_back(rt.cfg.fence_peer_address->to_string());
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - *rt.fence_wanted_since);
  emit(name, "fence-handler",
       "fence_peer_handler started: no answer on the fence path for " + std::to_string(waited.count()) + " ms");
  Runtime* r = &rt;  // a removed resource is retired, not destroyed
  handlers_->run("fence/" + name, std::move(argv), kFenceHandlerTimeout,
                 [this, r, name](const notify::ProgramOutcome& o) {
                   r->fence_handler_running = false;
                   // DRBD's fence-peer exit codes: 3 the peer's disk is
                   // Inconsistent, 4 it is outdated, 7 it was stonithed.
                   const int code = o.exited ? o.exit_code : -1;
                   const bool fenced = code == 3 || code == 4 || code == 7;
                   std::string how = !o.spawned  ? "could not start: " + o.spawn_error
                                     : o.exited ? "exit " + std::to_string(code)
                                                : "killed by signal " + std::to_string(o.term_signal);
                   if (o.timed_out) how += " (timed out)";
                   emit(name, "fence-handler",
                        "fence_peer_handler " + how +
                            (fenced ? ": the peer counts as fenced"
                                    : ": the peer is not fenced (exit 3, 4 or 7 would say it is)"),
                        {{"exit_code", code}, {"fenced", fenced}});
                   if (fenced && r->resource)
                     r->resource->note_peer_fenced(
                         code == 3 ? replication::FenceAnswer::kInconsistent : replication::FenceAnswer::kOutdated,
                         "fence_peer_handler " + how);
                 });
}

// ---- commands ----

void ReplicationService::command(const std::string& name, const std::string& op, const CommandOptions& options,
                                 Done done) {
  const bool force = options.force;
  Runtime* rt = find(name);
  if (rt == nullptr) return done(false, "no replication resource named '" + name + "'");
  auto failed_view = [this, name](Done d) {
    return [this, name, d](bool ok, std::string text) {
      {
        std::lock_guard lock(views_mutex_);
        views_[name].problem = ok ? "" : text;
      }
      d(ok, std::move(text));
    };
  };
  // Read only: it leaves the resource's problem as it is.
  if (op == "dump-md")
    return engine_loop_.post([this, rt, done] {
      if (rt->resource)
        return done(false, "dump-md refused: " + rt->cfg.name + " is up and the engine owns its metadata; vrrpctl "
                           "replication status and show-gi " + rt->cfg.name + " show the live values (down it "
                           "first for dump-md, as drbdmeta needs)");
      ops_post([rt, done] { ops_dump_md(*rt, done); });
    });
  done = failed_view(std::move(done));
  auto on_engine = [this](std::function<void()> fn) { engine_loop_.post(std::move(fn)); };
  auto engine_result = [this, rt](const CommandResult& r, const std::string& ok_text, Done d) {
    refresh();  // change events now, not at the next tick
    if (r.ok()) d(true, ok_text);
    else d(false, r.error());
  };
  if (op == "create-md") return on_engine([this, rt, done] { engine_create_md(*rt, done); });
  if (op == "up") return on_engine([this, rt, done] { engine_up(*rt, done); });
  if (op == "attach") return on_engine([this, rt, done] { engine_attach(*rt, done); });
  if (op == "resize") return on_engine([this, rt, options, done] { engine_resize(*rt, options, done); });
  if (op == "detach")
    return on_engine([this, rt, done, engine_result] {
      // drbdadm detach: a Secondary gives its disk up (and leaves the link);
      // a Primary Established with an UpToDate peer goes on serving through
      // it, for a disk swap without a failover.
      // A Primary first waits for the peer to confirm what it acknowledged
      // under protocol A or B (detach_when_confirmed).
      if (!rt->resource) return done(false, "detach refused: the resource is down");
      const bool primary = rt->resource->status().role == Role::kPrimary;
      rt->resource->detach_when_confirmed([this, rt, done, engine_result, primary](CommandResult r) {
        const std::string text = primary ? "disk detached; the Primary serves the volume through the peer"
                                         : "disk detached (Diskless)";
        if (r.ok()) emit(rt->cfg.name, "detach", text);
        engine_result(r, rt->cfg.name + ": " + text + "; vrrpctl replication attach " + rt->cfg.name +
                             " brings a disk back",
                      done);
      });
    });
  if (op == "down")
    return ops_post([this, rt, done] {
      ops_down(*rt, [rt, done](bool ok, std::string text) {
        if (ok) rt->operator_down = true;  // on the engine thread (engine_down)
        done(ok, std::move(text));
      });
    });
  if (op == "primary" || op == "takeover-primary")
    return on_engine([this, rt, force, done, op] { engine_primary(*rt, force, op == "takeover-primary", done); });
  if (op == "secondary") return ops_post([this, rt, done] { ops_secondary(*rt, done); });
  if (op == "mount") return ops_post([this, rt, done] { ops_mount(*rt, done); });
  if (op == "umount") return ops_post([this, rt, done] { ops_umount(*rt, done); });
  if (op == "connect")
    return on_engine([rt, done, engine_result] {
      if (!rt->resource || !rt->connector) return done(false, "connect refused: the resource is down (vrrpctl replication up " + rt->cfg.name + ")");
      rt->operator_disconnected = false;
      engine_result(rt->resource->connect(*rt->connector), rt->cfg.name + " connecting to " + rt->cfg.peer_address->to_string(), done);
    });
  if (op == "discard-my-data")
    return on_engine([rt, done, engine_result] {
      // The split-brain victim (drbdadm connect --discard-my-data): our
      // changes since the split are thrown away at the next handshake.
      if (!rt->resource || !rt->connector) return done(false, "discard-my-data refused: the resource is down");
      rt->resource->set_discard_my_data(true);
      rt->discarding = true;
      rt->operator_disconnected = false;
      (void)rt->resource->disconnect();
      engine_result(rt->resource->connect(*rt->connector),
                    rt->cfg.name + ": reconnecting as the split-brain victim; this node's changes since the split "
                                   "will be replaced by the peer's data",
                    done);
    });
  if (op == "disconnect")
    return on_engine([rt, done, engine_result] {
      if (!rt->resource) return done(false, "disconnect refused: the resource is down");
      rt->operator_disconnected = true;
      engine_result(rt->resource->disconnect(), rt->cfg.name + " is StandAlone", done);
    });
  if (op == "invalidate")
    return on_engine([rt, done, engine_result] {
      if (!rt->resource) return done(false, "invalidate refused: the resource is down");
      engine_result(rt->resource->invalidate(), rt->cfg.name + ": local data invalidated; a full resync from the peer follows", done);
    });
  if (op == "invalidate-remote")
    return on_engine([rt, done, engine_result] {
      if (!rt->resource) return done(false, "invalidate-remote refused: the resource is down");
      engine_result(rt->resource->invalidate_remote(),
                    rt->cfg.name + ": the peer's data invalidated; a full resync to the peer follows", done);
    });
  if (op == "outdate")
    return on_engine([rt, done, engine_result] {
      if (!rt->resource) return done(false, "outdate refused: the resource is down");
      engine_result(rt->resource->outdate(),
                    rt->cfg.name + ": disk Outdated; it promotes only with --force until a resync from the peer",
                    done);
    });
  if (op == "resume-io")
    return on_engine([rt, done, engine_result] {
      if (!rt->resource) return done(false, "resume-io refused: the resource is down");
      engine_result(rt->resource->resume_io(),
                    rt->cfg.name + ": I/O resumed; the peer is not known outdated: if it is promoted, it lacks the "
                                   "writes from now on",
                    done);
    });
  if (op == "skip-initial-sync")
    return on_engine([rt, done, engine_result] {
      // drbdadm new-current-uuid --clear-bitmap.
      if (!rt->resource) return done(false, "skip-initial-sync refused: the resource is down");
      engine_result(rt->resource->skip_initial_sync(),
                    rt->cfg.name + ": both disks declared identical and UpToDate without a sync; only right for "
                                   "disks that hold the same bytes (both zeroed, new thin volumes): vrrpctl "
                                   "replication verify " + rt->cfg.name + " checks it",
                    done);
    });
  if (op == "pause-sync" || op == "resume-sync")
    return on_engine([rt, op, done, engine_result] {
      if (!rt->resource) return done(false, op + " refused: the resource is down");
      const bool pause = op == "pause-sync";
      engine_result(pause ? rt->resource->pause_sync() : rt->resource->resume_sync(),
                    rt->cfg.name + (pause ? ": resync paused until vrrpctl replication resume-sync " + rt->cfg.name
                                          : ": resync resumed (unless the peer's operator paused it too)"),
                    done);
    });
  if (op == "verify")
    return on_engine([rt, done, engine_result] {
      if (!rt->resource) return done(false, "verify refused: the resource is down");
      engine_result(rt->resource->verify(),
                    rt->cfg.name + ": online verify started; out-of-sync blocks show in vrrpctl replication status", done);
    });
  done(false, "unknown replication operation '" + op +
                  "'; valid: create-md, up, attach, detach, down, primary, secondary, connect, disconnect, discard-my-data, invalidate, invalidate-remote, "
                  "outdate, resume-io, verify, resize, pause-sync, resume-sync, skip-initial-sync, mount, umount, dump-md");
}

void ReplicationService::ops_dump_md(Runtime& rt, Done done) {
  const auto& c = rt.cfg;
  std::string error;
  bool metadata_failed = false;
  std::optional<Backing> b = open_backing(c, error, metadata_failed);
  if (!b) return done(false, "dump-md: " + error);
  const std::string where = b->md ? c.metadata : c.device;
  auto dump = replication::read_metadata_dump(b->md ? *b->md : *b->data, b->md ? replication::MetadataLayout::kExternal
                                                                             : replication::MetadataLayout::kInternal);
  if (!dump.ok()) return done(false, "dump-md: " + where + ": " + dump.error());
  std::string text = c.name + " (metadata on " + where + "):\n" + replication::format_metadata_dump(dump.value());
  if (!text.empty() && text.back() == '\n') text.pop_back();
  done(true, text);
}

void ReplicationService::engine_create_md(Runtime& rt, Done done) {
  // Up but Diskless (the disk failed and was given up): metadata for the
  // replacement, which `attach` then brings in under the running resource.
  const bool diskless = rt.attached && rt.resource && rt.resource->status().disk == replication::DiskState::kDiskless;
  if (rt.attached && !diskless)
    return done(false, "create-md refused: " + rt.cfg.name + " is up with its disk attached (vrrpctl replication down " +
                           rt.cfg.name + " first)");
  if (!diskless) rt.resource.reset();
  auto data = replication::FileStorage::open(rt.cfg.device);
  if (!data.ok()) return done(false, "create-md: " + data.error());
  std::unique_ptr<replication::FileStorage> md;
  if (rt.cfg.metadata != "internal") {
    struct stat st{};
    replication::Result<std::unique_ptr<replication::FileStorage>> opened =
        stat(rt.cfg.metadata.c_str(), &st) == 0
            ? replication::FileStorage::open(rt.cfg.metadata)
            : replication::FileStorage::create(rt.cfg.metadata, external_metadata_bytes(data.value()->size()));
    if (!opened.ok()) return done(false, "create-md: " + opened.error());
    md = std::move(opened.value());
  }
  replication::ResourceOptions o;  // only what create-md reads
  o.name = rt.cfg.name;
  o.metadata_layout = md ? replication::MetadataLayout::kExternal : replication::MetadataLayout::kInternal;
  replication::Resource tmp(engine_loop_, o, *data.value(), md.get());
  CommandResult r = tmp.create_md();
  if (!r.ok()) return done(false, r.error());
  emit(rt.cfg.name, "create-md", "metadata created on " + (md ? rt.cfg.metadata : rt.cfg.device));
  if (diskless)  // opened again by attach; the running resource keeps its own
    return done(true, "metadata created for " + rt.cfg.name + "; next: vrrpctl replication attach " + rt.cfg.name);
  rt.data = std::move(data.value());
  rt.md = std::move(md);
  done(true, "metadata created for " + rt.cfg.name + "; next: vrrpctl replication up " + rt.cfg.name);
}

void ReplicationService::engine_attach(Runtime& rt, Done done) {
  const auto& c = rt.cfg;
  if (!rt.resource)
    return done(false, "attach refused: " + c.name + " is down (vrrpctl replication up " + c.name +
                           " attaches its disk and connects)");
  const replication::ResourceStatus before = rt.resource->status();
  if (before.disk != replication::DiskState::kDiskless)
    return done(false, "attach refused: " + c.name + " has its disk (" + replication::to_string(before.disk) + ")");
  const bool only_copy = rt.resource->gave_up_the_only_copy();
  // Opened again: the disk may have been replaced under the same path.
  auto data = replication::FileStorage::open(c.device);
  if (!data.ok()) return done(false, "attach: " + data.error());
  std::unique_ptr<replication::FileStorage> md;
  if (c.metadata != "internal") {
    auto m = replication::FileStorage::open(c.metadata);
    if (!m.ok()) return done(false, "attach: " + m.error() + " (run vrrpctl replication create-md " + c.name + ")");
    md = std::move(m.value());
  }
  CommandResult replaced = rt.resource->replace_storage(*data.value(), md.get());
  if (!replaced.ok()) return done(false, "attach: " + replaced.error());
  if (rt.data) rt.replaced_storage.push_back(std::move(rt.data));
  if (rt.md) rt.replaced_storage.push_back(std::move(rt.md));
  rt.data = std::move(data.value());
  rt.md = std::move(md);
  CommandResult attached = rt.resource->attach();
  refresh();
  if (!attached.ok()) {
    std::string hint = attached.error().find("magic") != std::string::npos
                           ? " (a new disk needs metadata first: vrrpctl replication create-md " + c.name + ")"
                           : "";
    return done(false, attached.error() + hint);
  }
  const replication::ResourceStatus now = rt.resource->status();
  std::string text;
  if (now.role == Role::kPrimary) {
    text = "disk attached under the Primary (" + std::string(replication::to_string(now.disk)) + "); " +
           (only_copy ? std::string("the only copy of the data, back as it was given up: the peer resyncs from it")
            : rt.resource->took_back_given_up_disk()
                ? "the disk it gave up, unchanged: it resyncs from the peer only what it missed while the volume "
                  "stays in use"
                : "it resyncs in full from the peer while the volume stays in use");
  } else {
    text = "disk attached (" + std::string(replication::to_string(now.disk)) + ")";
    if (now.connection == replication::ConnectionState::kStandAlone && !rt.operator_disconnected && rt.connector) {
      CommandResult connecting = rt.resource->connect(*rt.connector);
      text += connecting.ok() ? "; connecting to the peer" : "; " + connecting.error();
    }
  }
  emit(c.name, "attach", text);
  done(true, c.name + ": " + text);
}

void ReplicationService::engine_resize(Runtime& rt, const CommandOptions& options, Done done) {
  const auto& c = rt.cfg;
  if (!rt.resource && (options.size || options.assume_clean))
    return done(false, "resize refused: " + c.name +
                           " is down; --size and --assume-clean resize a running, connected volume (vrrpctl "
                           "replication resize " + c.name + " without them moves the metadata of a grown device "
                           "while down)");
  if (!rt.resource) {
    // Down: the metadata a growth left mid-device is searched for, which
    // may read the whole device: on the ops thread, not on the engine loop
    // that carries the other resources' data and keep-alives.
    Runtime* r = &rt;
    return ops_post([this, r, done] { ops_move_metadata(*r, done); });
  }
  // External metadata in a regular file (as create-md makes it) grows with
  // the data device: the bitmap needs 32 KiB per GiB of data.
  if (rt.md && rt.data) {
    auto data_size = rt.data->refresh_size();
    struct stat st{};
    if (data_size.ok() && ::stat(c.metadata.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      const uint64_t want = external_metadata_bytes(data_size.value());
      if (static_cast<uint64_t>(st.st_size) < want && ::truncate(c.metadata.c_str(), static_cast<off_t>(want)) != 0)
        return done(false, "resize: cannot grow the metadata file " + c.metadata + " to " + std::to_string(want) +
                               " bytes: " + std::strerror(errno));
    }
  }
  const uint64_t before = rt.resource->status().size_bytes;
  Runtime* r = &rt;
  const bool assume_clean = options.assume_clean;
  rt.resource->resize([this, r, done, before, assume_clean](CommandResult result) {
    // Not inside the engine's own call stack: refresh() reads every status.
    engine_loop_.post([this, r, done, before, assume_clean, result] {
      refresh();  // the "resize" event, and the frontend's growth queued on the ops thread
      if (!result.ok()) return done(false, result.error());
      const replication::ResourceStatus now = r->resource ? r->resource->status() : replication::ResourceStatus{};
      if (now.size_bytes < before) {
        const std::string text = r->cfg.name + " shrunk from " + std::to_string(before) + " to " +
                                 std::to_string(now.size_bytes) + " bytes on both nodes; the space past the new "
                                 "end is no longer replicated (a plain resize grows back into it, resyncing it)";
        return ops_post([done, text] { done(true, text); });
      }
      std::string text = r->cfg.name + " grown from " + std::to_string(before) + " to " +
                         std::to_string(now.size_bytes) + " bytes; ";
      if (assume_clean)
        text += "the added blocks are taken as zeros on both nodes (--assume-clean): nothing to resync";
      else
        text += std::string("the added blocks resync to the ") + (now.role == Role::kPrimary ? "peer" : "Secondary");
      if (now.role == Role::kPrimary)
        text += "; grow the file system on " + r->dir(run_dir_) + "/dev now (resize2fs, xfs_growfs)";
      // After the frontend's growth (the ops queue is in order): the device
      // has the new size when the operator reads this.
      ops_post([done, text] { done(true, text); });
    });
  }, replication::ResizeOptions{options.size, options.assume_clean});
}

void ReplicationService::ops_move_metadata(Runtime& rt, Done done) {
  const auto& c = rt.cfg;
  const std::string next = "vrrpctl replication up " + c.name + ", then vrrpctl replication resize " + c.name +
                           " grows the volume with the peer";
  if (c.metadata != "internal")
    return done(false, "resize: " + c.name + " is down, and external metadata does not move: " + next);
  auto data = replication::FileStorage::open(c.device);
  if (!data.ok()) return done(false, "resize: " + data.error());
  if (replication::read_metadata(*data.value(), replication::MetadataLayout::kInternal).ok())
    return done(false, "resize: " + c.name + " is down and its metadata is at the end of " + c.device + ": " + next);
  // The device grew while its metadata stayed where the old end was (grown
  // while vrrpd was down, or a crash between the growth and the resize).
  auto found = replication::find_internal_metadata_below_end(*data.value());
  if (!found.ok())
    return done(false, "resize: no metadata at the end of " + c.device + " and none below it: " + found.error());
  const uint64_t from = found->superblock_offset;
  auto moved = replication::move_internal_metadata_to_end(*data.value(), found.value());
  if (!moved.ok()) return done(false, "resize: moving the metadata of " + c.name + ": " + moved.error());
  const std::string text = "metadata of " + c.name + " moved from offset " + std::to_string(from) + " to the end of " +
                           c.device + " (offset " + std::to_string(moved->superblock_offset) + "), " +
                           std::to_string(moved->data_size) + " bytes of data as before";
  emit(c.name, "resize", text, {{"from_offset", from}, {"to_offset", moved->superblock_offset}});
  done(true, text + "; next: " + next);
}

void ReplicationService::ops_resize_frontend(Runtime& rt) {
  if (rt.exported) rt.exported->size_changed();
  if (!rt.loop) return;
  auto capacity = rt.loop->refresh_capacity();
  if (!capacity.ok()) {
    emit(rt.cfg.name, "device", "the device did not take the new size: " + capacity.error());
    return;
  }
  emit(rt.cfg.name, "device",
       "device " + rt.loop->link_path() + " -> " + rt.loop->device_path() + " now " +
           std::to_string(capacity.value()) + " bytes",
       {{"device", rt.loop->device_path()}, {"size_bytes", capacity.value()}});
}

void ReplicationService::engine_up(Runtime& rt, Done done) {
  if (rt.attached) return done(true, rt.cfg.name + " is already up");
  const auto& c = rt.cfg;
  std::string error;
  bool metadata_failed = false;
  std::optional<Backing> b = open_backing(c, error, metadata_failed);
  if (!b)
    return done(false, "up: " + error +
                           (metadata_failed ? " (run vrrpctl replication create-md " + c.name + ")" : ""));
  const replication::ResourceOptions o = engine_resource_options(rt, c, b->md != nullptr);
  rt.data = std::move(b->data);
  rt.md = std::move(b->md);
  rt.resource = std::make_unique<replication::Resource>(engine_loop_, o, *rt.data, rt.md.get());
  rt.resync_waits_for.clear();  // a new engine: not paused (refresh() applies resync_after)
  if (std::string fence_error = engine_open_fence(rt, c); !fence_error.empty()) {
    // Without it this node would promote stale data after a double
    // failure that the operator configured fencing against: not up.
    rt.resource.reset();
    rt.data.reset();
    rt.md.reset();
    return done(false, "up: " + fence_error);
  }
  // State changes reach the journal at once, not at the next poll.
  rt.resource->set_state_observer([this] { refresh(); });
  CommandResult attached = rt.resource->attach();
  if (!attached.ok()) {
    rt.fence.reset();
    rt.resource.reset();
    std::string hint = attached.error().find("magic") != std::string::npos
                           ? " (no metadata yet? vrrpctl replication create-md " + c.name +
                                 ". Or did " + c.device + " grow while vrrpd was down? vrrpctl replication resize " +
                                 c.name + " finds its metadata and moves it to the new end; create-md would "
                                 "discard it)"
                           : "";
    return done(false, attached.error() + hint);
  }
  rt.attached = true;
  rt.operator_down = false;
  rt.operator_disconnected = false;
  rt.connector = std::make_unique<replication::TcpConnector>(engine_loop_, connector_options(c));
  CommandResult connecting = rt.resource->connect(*rt.connector);
  if (!connecting.ok()) log::warning("replication " + c.name + ": " + connecting.error());
  refresh();
  emit(c.name, "up", c.name + " attached (" + std::string(replication::to_string(rt.resource->status().disk)) + ")");
  ops_post([this, &rt, done] { ops_export(rt, done); });
}

void ReplicationService::ops_export(Runtime& rt, Done done) {
  if (!rt.resource) return done(false, rt.cfg.name + " went down before it was exported");
  replication::FuseExportOptions fo;
  fo.mount_point = rt.dir(run_dir_) + "/fuse";
  fo.name = rt.cfg.name;
  fo.on_connection = on_fuse_connection_;
  auto exported = replication::FuseExport::start(*rt.resource, fo);
  if (!exported.ok()) {
    // Keep the replication running; only the local device is missing.
    return done(false, rt.cfg.name + " is up but not exported: " + exported.error());
  }
  rt.exported = std::move(exported.value());
  {
    std::lock_guard lock(views_mutex_);
    views_[rt.cfg.name].export_file = rt.exported->file_path();
  }
  done(true, rt.cfg.name + " is up");
}

void ReplicationService::ops_down(Runtime& rt, Done done) {
  if (rt.loop) return done(false, "down refused: " + rt.cfg.name + " is Primary (vrrpctl replication secondary " + rt.cfg.name + " first)");
  if (rt.exported) {
    auto stopped = rt.exported->stop();
    if (!stopped.ok()) return done(false, "down: " + stopped.error());
    rt.exported.reset();
    std::lock_guard lock(views_mutex_);
    views_[rt.cfg.name].export_file.clear();
  }
  engine_loop_.post([this, &rt, done] { engine_down(rt, done); });
}

void ReplicationService::engine_down(Runtime& rt, Done done) {
  if (!rt.resource) {
    refresh();
    return done(true, rt.cfg.name + " is down");
  }
  if (rt.resource->status().role == Role::kPrimary) {
    CommandResult r = rt.resource->secondary();
    if (!r.ok()) return done(false, "down: " + r.error());
  }
  (void)rt.resource->disconnect();  // StandAlone already is fine
  if (rt.resource->status().disk != replication::DiskState::kDiskless) {  // given up after a disk error: nothing to detach
    CommandResult detached = rt.resource->detach();
    if (!detached.ok()) return done(false, "down: " + detached.error());
  }
  rt.connector.reset();
  rt.fence.reset();
  rt.resource.reset();
  rt.md.reset();
  rt.data.reset();
  rt.replaced_storage.clear();
  rt.attached = false;
  rt.have_last_status = false;
  refresh();
  emit(rt.cfg.name, "down", rt.cfg.name + " is down");
  done(true, rt.cfg.name + " is down");
}

void ReplicationService::engine_primary(Runtime& rt, bool force, bool takeover, Done done) {
  if (!rt.resource) return done(false, "primary refused: " + rt.cfg.name + " is down (vrrpctl replication up " + rt.cfg.name + ")");
  const replication::ResourceStatus before = rt.resource->status();
  if (takeover && (before.replication == replication::ReplicationState::kSyncTarget ||
                   before.replication == replication::ReplicationState::kPausedSyncT))
    // The orchestrator asks again until the resync is done (a passing refusal).
    return done(false, "primary refused: resync in progress as SyncTarget (" +
                           std::to_string(before.out_of_sync_bytes) +
                           " bytes left); a takeover waits for a complete local copy");
  CommandResult r = rt.resource->primary(force);
  refresh();
  if (!r.ok()) return done(false, r.error());
  ops_post([this, &rt, done] { ops_attach_loop(rt, done); });
}

void ReplicationService::ops_attach_loop(Runtime& rt, Done done) {
  auto demote = [this, &rt, done](const std::string& why) {
    // Undo the promotion: a Primary without a device is of no use and
    // blocks the peer.
    engine_loop_.post([this, &rt, done, why] {
      if (rt.resource) (void)rt.resource->secondary();
      refresh();
      done(false, why + "; " + rt.cfg.name + " stays Secondary");
    });
  };
  if (rt.loop) return done(true, rt.cfg.name + " is Primary; device " + rt.loop->link_path() + " -> " + rt.loop->device_path());
  if (!rt.exported) return demote("primary: " + rt.cfg.name + " is not exported (see vrrpctl replication status)");
  replication::LoopAttachOptions lo;
  lo.name = rt.cfg.name;
  lo.link_path = rt.dir(run_dir_) + "/dev";
  auto attached = replication::LoopDevice::attach(rt.exported->file_path(), lo);
  if (!attached.ok()) return demote("primary: " + attached.error());
  rt.loop = std::move(attached.value());
  {
    std::lock_guard lock(views_mutex_);
    View& v = views_[rt.cfg.name];
    v.device = rt.loop->device_path();
    v.device_link = rt.loop->link_path();
  }
  emit(rt.cfg.name, "device", "device " + rt.loop->link_path() + " -> " + rt.loop->device_path(),
       {{"device", rt.loop->device_path()}});
  done(true, rt.cfg.name + " is Primary; device " + rt.loop->link_path() + " -> " + rt.loop->device_path());
}

void ReplicationService::ops_secondary(Runtime& rt, Done done) {
  if (rt.mounted) {
    if (std::string error = ops_unmount(rt); !error.empty()) return done(false, "secondary refused: " + error);
  }
  if (rt.loop) {
    auto r = rt.loop->detach();
    if (!r.ok()) return done(false, "secondary refused: " + r.error());
    rt.loop.reset();
    std::lock_guard lock(views_mutex_);
    views_[rt.cfg.name].device.clear();
    views_[rt.cfg.name].device_link.clear();
  }
  engine_loop_.post([this, &rt, done] {
    if (!rt.resource) return done(true, rt.cfg.name + " is down");
    // Once the peer holds every write sent to it and the blocks recorded
    // out of sync here were written again on both disks (replication/
    // README.md, "Demotion"): at most until link supervision drops a
    // silent peer.
    rt.resource->secondary_when_confirmed([this, &rt, done](CommandResult r) {
      refresh();
      if (!r.ok()) return done(false, r.error());
      done(true, rt.cfg.name + " is Secondary");
    });
  });
}

void ReplicationService::ops_mount(Runtime& rt, Done done) {
  const auto& c = rt.cfg;
  if (c.mount_point.empty()) return done(false, "mount: no mount_point configured for " + c.name);
  if (rt.mounted) return done(true, c.name + " is mounted on " + rt.mounted_at);
  if (!rt.loop) return done(false, "mount refused: " + c.name + " is not Primary (vrrpctl replication primary " + c.name + ")");
  std::error_code ec;
  std::filesystem::create_directories(c.mount_point, ec);
  auto r = rt.mounter.mount(rt.loop->device_path(), c.mount_point, c.fs_type, c.mount_options);
  if (!r.ok()) return done(false, "mount: " + r.error());
  rt.mounted = true;
  rt.mounted_at = c.mount_point;
  {
    std::lock_guard lock(views_mutex_);
    views_[c.name].mounted = true;
    views_[c.name].mount_point = c.mount_point;
  }
  emit(c.name, "mount", c.fs_type + " on " + rt.loop->device_path() + " mounted at " + c.mount_point);
  done(true, c.name + " mounted on " + c.mount_point);
}

void ReplicationService::ops_umount(Runtime& rt, Done done) {
  const auto& c = rt.cfg;
  if (c.mount_point.empty() && !rt.mounted) return done(false, "umount: no mount_point configured for " + c.name);
  const std::string mount_point = rt.mounted ? rt.mounted_at : c.mount_point;
  if (std::string error = ops_unmount(rt); !error.empty()) return done(false, "umount: " + error);
  done(true, mount_point + " unmounted");
}

std::string ReplicationService::ops_unmount(Runtime& rt) {
  replication::UnmountPolicy policy;
  policy.grace = rt.cfg.unmount_grace;
  policy.kill_holders = rt.cfg.kill_holders;
  // Where it is mounted, also when a reload has configured another place since.
  const std::string mount_point = rt.mounted ? rt.mounted_at : rt.cfg.mount_point;
  auto r = rt.mounter.unmount(mount_point, policy);
  if (!r.ok()) return r.error();
  if (!r.value().signalled.empty()) {
    std::string who;
    nlohmann::json killed = nlohmann::json::array();
    for (const auto& [h, sig] : r.value().signalled) {
      const char* sig_name = sig == SIGKILL ? "SIGKILL" : "SIGTERM";
      who += (who.empty() ? "" : ", ") + h.comm + " (pid " + std::to_string(h.pid) + ", " + sig_name + ")";
      killed.push_back({{"pid", h.pid}, {"name", h.comm}, {"how", h.how}, {"signal", sig_name}});
    }
    // Stable message: see README.md "Log messages".
    log::warning("replication " + rt.cfg.name + ": " + mount_point + " still busy after " +
                 std::to_string(rt.cfg.unmount_grace.count()) + " ms; kill_holders signalled " + who);
    emit(rt.cfg.name, "umount-killed", "busy after " + std::to_string(rt.cfg.unmount_grace.count()) +
                                           " ms: signalled " + who, {{"processes", killed}});
  }
  rt.mounted = false;
  rt.mounted_at.clear();
  {
    std::lock_guard lock(views_mutex_);
    views_[rt.cfg.name].mounted = false;
    views_[rt.cfg.name].mount_point = rt.cfg.mount_point;
  }
  emit(rt.cfg.name, "umount", mount_point + " unmounted");
  return "";
}

// ---- reload (drbdadm adjust) ----

void ReplicationService::reconfigure(std::vector<config::Resource> next, Report report) {
  if (!started_) return;
  ops_post([this, next = std::move(next), report = std::move(report)] {
    // Both threads read Runtime::cfg: this one waits while the engine
    // thread changes it (the engine thread never waits for this one).
    std::promise<std::vector<Runtime*>> settled;
    engine_loop_.post([this, &settled, &next, &report] { settled.set_value(engine_reconfigure(next, report)); });
    for (Runtime* rt : settled.get_future().get()) {
      const std::string name = rt->cfg.name;
      if (rt->loop) {
        report(name, false,
               "removed from the configuration, but Primary: it keeps running; demote it (vrrpctl replication "
               "secondary " + name + ") and reload again");
        continue;
      }
      ops_down(*rt, [this, rt, report, name](bool ok, const std::string& text) {
        if (!ok) return report(name, false, "removed from the configuration, but not taken down: " + text);
        engine_retire(*rt);  // engine_down answers on the engine thread
        report(name, true, "removed from the configuration: taken down and forgotten");
      });
    }
  });
}

std::vector<ReplicationService::Runtime*> ReplicationService::engine_reconfigure(
    const std::vector<config::Resource>& next, const Report& report) {
  for (const auto& n : next) {
    if (Runtime* rt = find(n.name)) {
      engine_adjust(*rt, n, report);
      continue;
    }
    auto fresh = std::make_unique<Runtime>();
    fresh->cfg = n;
    {
      std::lock_guard lock(views_mutex_);
      View v;
      v.name = n.name;
      v.mount_point = n.mount_point;
      v.problem = "starting";
      views_[n.name] = v;
    }
    {
      std::lock_guard lock(runtimes_mutex_);
      runtimes_[n.name] = std::move(fresh);
    }
    const std::string name = n.name;
    command(name, "up", {}, [report, name](bool ok, const std::string& text) {
      report(name, ok, ok ? "added and brought up: " + text : "added, but not up: " + text);
    });
  }
  std::vector<Runtime*> removed;
  for (auto& [name, rt] : runtimes_)  // this thread is the only writer
    if (std::none_of(next.begin(), next.end(), [&](const config::Resource& n) { return n.name == name; }))
      removed.push_back(rt.get());
  apply_resync_after();  // resync_after may have changed
  return removed;
}

void ReplicationService::engine_adjust(Runtime& rt, const config::Resource& n, const Report& report) {
  const std::string name = n.name;
  const std::vector<std::string> keys = config::changed_keys(rt.cfg, n);
  std::vector<std::string> notes;
  bool ok = true;
  // A handshake refused for a mismatch (protocol, secret, size) leaves both
  // nodes StandAlone; the reload that ends a change made on both nodes
  // connects again. Not after the operator's disconnect, nor a split brain.
  auto reconnect_if_refused = [&] {
    if (!rt.resource || !rt.connector || rt.operator_disconnected) return;
    const replication::ResourceStatus st = rt.resource->status();
    if (st.connection != replication::ConnectionState::kStandAlone || st.split_brain) return;
    CommandResult r = rt.resource->connect(*rt.connector);
    if (r.ok()) notes.push_back("StandAlone (" + (st.last_error.empty() ? std::string("refused") : st.last_error) +
                                "): connecting again");
    else ok = false, notes.push_back(r.error());
  };
  if (keys.empty()) {
    reconnect_if_refused();
    if (!notes.empty()) report(name, ok, join(notes, "; "));
    return;
  }
  const std::string changed = "changed (" + join(keys, ", ") + ")";
  const config::Resource old = rt.cfg;
  rt.cfg = n;
  if (!rt.mounted) {
    std::lock_guard lock(views_mutex_);
    views_[name].mount_point = n.mount_point;
  }
  if (!rt.resource) {
    if (rt.operator_down)
      return report(name, true, changed + "; it is down (vrrpctl replication down): used at the next up");
    // Down because it could not come up: perhaps this change is the fix.
    return command(name, "up", {}, [report, name, changed](bool up, const std::string& text) {
      report(name, up, changed + (up ? "; brought up: " + text : "; still not up: " + text));
    });
  }
  if (any_of_keys(keys, {"device", "metadata"}))
    notes.push_back("device and metadata: used from the next up (vrrpctl replication down " + name + ", then up)");
  // The handshake settings change only while StandAlone: drop the link
  // (the peer is told and reconnects), change, connect with a new connector.
  const bool link = any_of_keys(keys, {"protocol", "shared_secret", "address", "port", "peer_address", "peer_port",
                                       "connect_interval_ms", "tcp_congestion"});
  if (link) {
    (void)rt.resource->disconnect();
    rt.connector = std::make_unique<replication::TcpConnector>(engine_loop_, connector_options(n));
  }
  if (CommandResult r = rt.resource->adjust(engine_resource_options(rt, n, rt.md != nullptr)); !r.ok()) {
    ok = false;
    notes.push_back(r.error());
  }
  if (link && rt.operator_disconnected) {
    notes.push_back("link settings: used at the next vrrpctl replication connect " + name);
  } else if (link) {
    CommandResult r = rt.resource->connect(*rt.connector);
    if (r.ok()) notes.push_back("link reconnected with the new settings");
    else ok = false, notes.push_back(r.error());
  } else {
    reconnect_if_refused();
  }
  // The fence path speaks from the replication address and ports, with the secret.
  if (any_of_keys(keys, {"fencing", "fence_address", "fence_peer_address", "address", "port", "peer_port",
                         "shared_secret"})) {
    if (std::string error = engine_open_fence(rt, n); !error.empty()) {
      ok = false;
      const std::string back = engine_open_fence(rt, old);
      notes.push_back("fence path not changed: " + error +
                      (back.empty() ? "; the previous one stays open" : "; nor reopened: " + back + ": NOT fenced"));
    } else if (rt.fence) {
      notes.push_back("fence path opened");
    } else if (old.fencing != n.fencing) {
      notes.push_back("fencing off");
    }
  }
  if (rt.mounted && any_of_keys(keys, {"mount_point", "fs_type", "mount_options"}))
    notes.push_back("mount settings: used at the next mount (mounted on " + rt.mounted_at + " now)");
  report(name, ok, changed + (notes.empty() ? "; applied" : "; applied, " + join(notes, "; ")));
  refresh();
}

std::string ReplicationService::engine_open_fence(Runtime& rt, const config::Resource& c) {
  rt.fence.reset();  // closes the socket: the new path may use the same port
  if (c.fencing == "dont-care") return "";
  replication::fence::FencePathOptions fo;
  fo.resource = c.name;
  fo.node = endpoint(*c.address, c.port).to_string();
  fo.local = *c.fence_address;
  fo.port = static_cast<uint16_t>(c.port);
  fo.peer = *c.fence_peer_address;
  fo.peer_port = static_cast<uint16_t>(c.peer_port);
  fo.secret = c.shared_secret;
  auto fence = replication::fence::FencePath::open(engine_loop_, *rt.resource, fo);
  if (!fence.ok()) return fence.error();
  rt.fence = std::move(fence.value());
  return "";
}

void ReplicationService::engine_retire(Runtime& rt) {
  {
    std::lock_guard lock(runtimes_mutex_);
    auto it = runtimes_.find(rt.cfg.name);
    if (it == runtimes_.end() || it->second.get() != &rt) return;
    retired_.push_back(std::move(it->second));
    runtimes_.erase(it);
  }
  std::lock_guard lock(views_mutex_);
  views_.erase(rt.cfg.name);
}

}  // namespace vrrpd
