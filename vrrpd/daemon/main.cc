// vrrpd: parse the command line (keepalived's habits), check or load the
// config, daemonize, hold the pid file, run the Daemon.
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "notify/run_as.h"
#include "vrrpd/base/log.h"
#include "vrrpd/config/config.h"
#include "vrrpd/daemon/daemon.h"
#include "vrrpd/daemon/mount_ns_anchor.h"

namespace {

constexpr const char* kDefaultConfig = "/etc/vrrpd/vrrpd.conf";
constexpr const char* kDefaultPidFile = "/run/vrrpd.pid";

void usage(std::FILE* out) {
  std::fprintf(out,
               "Usage: vrrpd [options]\n"
               "  -f, --use-file FILE        configuration file (default %s)\n"
               "      --config-format FMT    native (libconfig, default) or keepalived\n"
               "  -t, --config-test          check the configuration and exit (0: valid)\n"
               "  -n, --dont-fork            stay in the foreground\n"
               "  -l, --log-console          also log to the console (stderr)\n"
               "  -D, --log-detail           log debug detail\n"
               "  -S, --no-syslog            do not log to syslog\n"
               "  -p, --pid-file FILE        pid file (default %s)\n"
               "      --control-socket PATH  vrrpctl socket (default /run/vrrpd/vrrpd.sock)\n"
               "  -v, --version              print the version\n"
               "  -h, --help                 this text\n",
               kDefaultConfig, kDefaultPidFile);
}

// Takes the pid file with an exclusive lock held for the daemon's life; a
// second daemon with the same pid file fails here. Returns the fd or -1.
int take_pid_file(const std::string& path, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "cannot open pid file " + path + ": " + std::strerror(errno);
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    char buf[32] = {};
    [[maybe_unused]] auto n = read(fd, buf, sizeof buf - 1);
    *error = "another vrrpd is running (pid " + std::string(buf[0] ? buf : "?") + ", pid file " + path + ")";
    // Strip a trailing newline from the pid for the message.
    if (auto p = error->find('\n'); p != std::string::npos) error->erase(p, 1);
    close(fd);
    return -1;
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) < 0 || write(fd, pid.data(), pid.size()) < 0) {
    *error = "cannot write pid file " + path + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vrrpd;
  // Helper mode for notify programs run as another user (see notify/run_as.h).
  if (notify::is_run_as_invocation(argc, argv)) return notify::run_as_main(argc, argv);

  DaemonOptions opts;
  opts.config_file = kDefaultConfig;
  std::string pid_file = kDefaultPidFile;
  bool test_only = false, foreground = false;
  log::Options log_opts;

  enum { kConfigFormat = 1000, kControlSocket };
  static const option long_opts[] = {
      {"use-file", required_argument, nullptr, 'f'},
      {"config-format", required_argument, nullptr, kConfigFormat},
      {"config-test", no_argument, nullptr, 't'},
      {"dont-fork", no_argument, nullptr, 'n'},
      {"log-console", no_argument, nullptr, 'l'},
      {"log-detail", no_argument, nullptr, 'D'},
      {"no-syslog", no_argument, nullptr, 'S'},
      {"pid-file", required_argument, nullptr, 'p'},
      {"control-socket", required_argument, nullptr, kControlSocket},
      {"version", no_argument, nullptr, 'v'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "f:tnlDSp:vh", long_opts, nullptr)) != -1) {
    switch (c) {
      case 'f': opts.config_file = optarg; break;
      case kConfigFormat: {
        auto f = config::parse_format(optarg);
        if (!f) {
          std::fprintf(stderr, "vrrpd: --config-format %s: valid: native, keepalived\n", optarg);
          return 2;
        }
        opts.config_format = *f;
        break;
      }
      case 't': test_only = true; break;
      case 'n': foreground = true; break;
      case 'l': log_opts.to_console = true; break;
      case 'D': log_opts.detail = true; break;
      case 'S': log_opts.to_syslog = false; break;
      case 'p': pid_file = optarg; break;
      case kControlSocket: opts.control_socket = optarg; break;
      case 'v': std::printf("vrrpd 0.1.0\n"); return 0;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    std::fprintf(stderr, "vrrpd: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
  }

  config::Config cfg;
  try {
    cfg = config::load_file(opts.config_file, opts.config_format);
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "vrrpd: configuration is invalid:\n%s\n", e.what());
    return 1;
  }
  if (test_only) {
    for (const auto& w : cfg.warnings)
      std::fprintf(stderr, "warning: %s: %s\n", w.where.to_string().c_str(), w.message.c_str());
    std::printf("%s: configuration OK (%zu instance(s), %zu sync group(s))\n", opts.config_file.c_str(),
                cfg.instances.size(), cfg.sync_groups.size());
    return 0;
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "vrrpd: must run as root (raw sockets, addresses)\n");
    return 1;
  }
  if (!foreground) {
    // Classic double-step daemonization; the parent exits once the child
    // holds the pid file, so "vrrpd && vrrpctl status" works.
    int ready[2];
    if (pipe(ready) < 0) return 1;
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid > 0) {
      close(ready[1]);
      char status = 1;
      if (read(ready[0], &status, 1) != 1) status = 1;
      return status;
    }
    close(ready[0]);
    setsid();
    if (fork() > 0) _exit(0);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    if (!log_opts.to_console) dup2(devnull, 2);
    std::string err;
    int pid_fd = take_pid_file(pid_file, &err);
    char status = pid_fd < 0 ? 1 : 0;
    if (pid_fd < 0) std::fprintf(stderr, "vrrpd: %s\n", err.c_str());
    [[maybe_unused]] auto n = write(ready[1], &status, 1);
    close(ready[1]);
    if (pid_fd < 0) return 1;
  } else {
    std::string err;
    if (take_pid_file(pid_file, &err) < 0) {
      std::fprintf(stderr, "vrrpd: %s\n", err.c_str());
      return 1;
    }
  }
  // Still one thread, no FUSE fd yet: fork the process that keeps the mount
  // namespace alive until this one has exited completely (see
  // mount_ns_anchor.h: a SIGKILL must not hang in the namespace teardown).
  std::string anchor_error;
  std::unique_ptr<MountNamespaceAnchor> anchor = MountNamespaceAnchor::start(&anchor_error);
  if (anchor) {
    opts.on_fuse_connection = [a = anchor.get()](unsigned connection, bool serving) {
      a->note_fuse_connection(connection, serving);
    };
  }
  // Block the signals the daemon takes through signalfd before any thread
  // starts: a thread without the mask would take SIGTERM's default action.
  sigset_t handled;
  sigemptyset(&handled);
  for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&handled, sig);
  pthread_sigmask(SIG_BLOCK, &handled, nullptr);
  log::init(log_opts);
  if (!anchor) log::warning(anchor_error + " (a SIGKILL may hang while a replicated volume is mounted)");
  int rc = 1;
  try {
    Daemon daemon(opts, std::move(cfg));
    rc = daemon.run();
  } catch (const std::exception& e) {
    log::error(std::string("fatal: ") + e.what());
  }
  // Every export is unmounted or aborted by now.
  anchor.reset();
  unlink(pid_file.c_str());
  log::shutdown();
  return rc;
}
