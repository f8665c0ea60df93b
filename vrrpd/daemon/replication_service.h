// ReplicationService: runs the configured replication resources inside the
// daemon. Each resource gets its backing storage, a replication::Resource
// (the engine), a TCP connector to the peer and, while up, a FUSE export of
// the volume; while Primary a loop device on that export
// (/run/vrrpd/NAME/dev) on which the file system is mounted.
//
// Threads (none of them is the VRRP loop, which only posts requests here):
//   engine thread  one EventLoop that owns every Resource and connector:
//                  replication I/O, handshakes, resync, keep-alive.
//   ops thread     the blocking frontend work, one step at a time: FUSE
//                  export start/stop, loop attach/detach, mount/umount. It
//                  must not be the engine thread: mounting reads the volume
//                  through FUSE, whose workers wait for the engine loop.
//   (FUSE)         the kernel's requests to an export are served on the
//                  engine thread (replication/fuse_export.*: the Resource's
//                  request loop), with no worker threads.
// Command completions (Done) run on the engine or ops thread; the daemon
// posts them back to its own loop.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "notify/program_runner.h"
#include "replication/status.h"
#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/config/model.h"

namespace vrrpd {

namespace replication {
struct ResourceOptions;
}

class ReplicationService {
 public:
  // What vrrpctl and the replication health check see of one resource.
  struct View {
    std::string name;
    bool up = false;                    // attached, connecting, exported
    replication::ResourceStatus status;  // the engine's snapshot (while up)
    std::string export_file;            // the FUSE file the loop device reads
    std::string device;                 // /dev/loopN while Primary
    std::string device_link;            // the stable path, e.g. /run/vrrpd/r0/dev
    std::string mount_point;            // configured ("" if none)
    bool mounted = false;
    std::string problem;                // why it is not up, or the last command failure
    // With fencing: the fence path's last outcome ("ready" before any);
    // empty without fencing.
    std::string fencing;
    std::string fencing_policy;  // the configured `fencing`
  };
  // A completion: success and a text for the operator. Called once, on a
  // service thread.
  using Done = std::function<void(bool ok, std::string text)>;
  // Replication events for the journal: resource, what ("role", "disk",
  // "connection", "replication", "up", "down", "mount", ...), text, detail.
  // Called on a service thread.
  using EventSink =
      std::function<void(const std::string& resource, const std::string& what, const std::string& text,
                         nlohmann::json detail)>;

  // Told of every FUSE connection an export starts or stops serving (on the
  // ops thread); see FuseExportOptions::on_connection.
  using FuseConnectionObserver = std::function<void(unsigned connection, bool serving)>;

  // `run_dir`: where each resource's export and device link live
  // (RUN_DIR/NAME/fuse/dev, RUN_DIR/NAME/dev).
  explicit ReplicationService(std::string run_dir, EventSink sink = {}, FuseConnectionObserver on_fuse_connection = {});
  // stop() if still running.
  ~ReplicationService();
  ReplicationService(const ReplicationService&) = delete;
  ReplicationService& operator=(const ReplicationService&) = delete;

  // Starts the threads and brings every resource up (as `drbdadm up` would);
  // a resource that cannot come up (no metadata yet, device missing) stays
  // down with the reason in its View and the log.
  void start(const std::vector<config::Resource>& resources);
  // Orderly shutdown of every resource (unmount, detach the loop device,
  // demote, disconnect, stop the export, detach the disk), then the threads.
  // Blocks; call it after the VRRP loop has stopped.
  void stop();

  // Operations, as vrrpctl names them: "create-md", "up", "down", "primary"
  // (force), "secondary", "connect", "disconnect", "discard-my-data" (connect
  // as the split-brain victim), "invalidate", "verify", "resize", "mount", "umount". Unknown resource or op: done(false, ...) at once.
  struct CommandOptions {
    bool force = false;                 // primary --force
    std::optional<uint64_t> size;       // resize --size, bytes
    bool assume_clean = false;          // resize --assume-clean
  };
  void command(const std::string& resource, const std::string& op, const CommandOptions& options, Done done);

  // A configuration reload, as drbdadm adjust: each resource is brought to
  // what `next` says, without a restart of vrrpd (README "Reload").
  //   changed   the resync rate, split-brain and on-io-error policies, link
  //             supervision, unmount settings and the io_error_handler apply
  //             at once; link settings (protocol, secret, addresses, ports,
  //             connect interval, TCP congestion control) reconnect the link
  //             with the new values, unless the operator disconnected it;
  //             the fence path is reopened; mount settings apply at the next
  //             mount; the device and metadata at the next `up` (the
  //             resource is up now). A resource that is down because it
  //             could not come up is brought up; one the operator took down
  //             stays down.
  //   added     set up and brought up, as at start.
  //   removed   taken down and forgotten; refused while Primary (it keeps
  //             running; demote it and reload again).
  // A resource that a refused handshake left StandAlone (not the operator,
  // not a split brain) connects again: the end of a change made on both nodes.
  // `report` gets one line per resource touched, on a service thread.
  using Report = std::function<void(const std::string& resource, bool ok, const std::string& text)>;
  void reconfigure(std::vector<config::Resource> next, Report report);

  std::vector<View> views() const;
  std::optional<View> view(const std::string& name) const;
  bool has(const std::string& name) const;

 private:
  struct Runtime;  // per resource; defined in the .cc

  // Queues fn on the ops thread.
  void ops_post(std::function<void()> fn);
  void ops_main();
  void engine_main();
  // Engine thread: refreshes the status views, reports changes as events.
  void refresh();
  // DRBD's resync-after (engine thread, from refresh()): a resource's
  // resync waits while one it waits for (resync_after, followed along the
  // chain) resyncs on this node.
  void apply_resync_after();
  // fence_peer_handler: runs it when the fence path has not outdated the
  // peer for a while (engine thread, from refresh()).
  void maybe_run_fence_handler(Runtime& rt);
  void publish(Runtime& rt);
  void emit(const std::string& resource, const std::string& what, const std::string& text,
            nlohmann::json detail = nlohmann::json::object());
  Runtime* find(const std::string& name);

  // The steps; each runs on the thread its name says and ends in `done`.
  void engine_create_md(Runtime& rt, Done done);
  void engine_up(Runtime& rt, Done done);
  // vrrpctl replication attach: a replaced disk under a running (Diskless)
  // resource; on a Primary it resyncs in full while the volume stays in use.
  void engine_attach(Runtime& rt, Done done);
  // vrrpctl replication resize: online grow after the backing storage grew
  // on both nodes (the engine's Resource::resize()); answers once the
  // frontend has the new size too.
  void engine_resize(Runtime& rt, const CommandOptions& options, Done done);
  // resource_options() for `c`, with the handlers the engine calls
  // (before_resync_target) bound to this service.
  replication::ResourceOptions engine_resource_options(Runtime& rt, const config::Resource& c, bool external_md);
  // resize on a resource that is down: internal metadata left where the
  // old end of a grown device was is found and moved to the new end. On the
  // ops thread: the search may read the whole device.
  void ops_move_metadata(Runtime& rt, Done done);
  // dump-md on a resource that is down: its metadata read from disk and
  // printed (replication/metadata_dump.h).
  static void ops_dump_md(Runtime& rt, Done done);
  // The volume grew or shrank (here or on the peer's request): the export's
  // file and the loop device take the new size.
  void ops_resize_frontend(Runtime& rt);
  void ops_export(Runtime& rt, Done done);
  void ops_down(Runtime& rt, Done done);
  void engine_down(Runtime& rt, Done done);
  // `takeover`: the orchestrator's promotion ("takeover-primary"), which
  // refuses a SyncTarget (a takeover waits for a complete local copy);
  // vrrpctl's may promote one (it reads what is missing through the peer).
  void engine_primary(Runtime& rt, bool force, bool takeover, Done done);
  void ops_attach_loop(Runtime& rt, Done done);
  void ops_secondary(Runtime& rt, Done done);
  void ops_mount(Runtime& rt, Done done);
  void ops_umount(Runtime& rt, Done done);
  // Unmounts rt's mount point, waiting out the grace period; "" or the error.
  std::string ops_unmount(Runtime& rt);
  // reconfigure() on the engine thread while the ops thread waits (both read
  // Runtime::cfg); returns the resources to remove, for the ops thread.
  std::vector<Runtime*> engine_reconfigure(const std::vector<config::Resource>& next, const Report& report);
  void engine_adjust(Runtime& rt, const config::Resource& next, const Report& report);
  // Opens rt's fence path with `cfg`'s settings (rt.fence stays empty
  // without fencing); "" or the error.
  std::string engine_open_fence(Runtime& rt, const config::Resource& cfg);
  // Forgets a resource that is down (reconfigure's removal).
  void engine_retire(Runtime& rt);

  const std::string run_dir_;
  const EventSink sink_;
  const FuseConnectionObserver on_fuse_connection_;
  MonotonicClock clock_;
  EventLoop engine_loop_;
  std::unique_ptr<Timer> refresh_timer_;  // engine thread
  // Runs on_io_error call-handler programs on the engine loop (as root,
  // like DRBD's handlers).
  std::unique_ptr<notify::ProgramRunner> handlers_;
  // Changed on the engine thread only (start, reconfigure), under
  // runtimes_mutex_, which other threads hold to look a resource up. A
  // removed resource moves to retired_ (queued work may still refer to it).
  mutable std::mutex runtimes_mutex_;
  std::map<std::string, std::unique_ptr<Runtime>> runtimes_;
  std::vector<std::unique_ptr<Runtime>> retired_;

  mutable std::mutex views_mutex_;  // guards views_
  std::map<std::string, View> views_;

  std::mutex ops_mutex_;  // guards ops_queue_ and ops_stopping_
  std::condition_variable ops_wake_;
  std::deque<std::function<void()>> ops_queue_;
  bool ops_stopping_ = false;

  bool started_ = false;
  std::thread engine_thread_;
  std::thread ops_thread_;
};

}  // namespace vrrpd
