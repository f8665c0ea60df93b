// mount(2)/umount2(2) with mount(8)-style options, a busy-aware unmount, and
// the /proc scan for processes holding a mount (see mounter.h).
#include "replication/mounter.h"

#include <dirent.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256  // Linux 5.10; older glibc headers lack it
#endif

namespace vrrpd::replication {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kBusyRetryInterval{100};

struct FlagOption {
  const char* name;
  unsigned long flag;
  bool set;  // true: the option sets the flag; false: it clears it
};

// The generic options mount(8) turns into MS_* flags (libmount's table).
constexpr std::array<FlagOption, 27> kFlagOptions{{
    {"ro", MS_RDONLY, true},           {"rw", MS_RDONLY, false},
    {"nosuid", MS_NOSUID, true},       {"suid", MS_NOSUID, false},
    {"nodev", MS_NODEV, true},         {"dev", MS_NODEV, false},
    {"noexec", MS_NOEXEC, true},       {"exec", MS_NOEXEC, false},
    {"sync", MS_SYNCHRONOUS, true},    {"async", MS_SYNCHRONOUS, false},
    {"dirsync", MS_DIRSYNC, true},     {"noatime", MS_NOATIME, true},
    {"atime", MS_NOATIME, false},      {"nodiratime", MS_NODIRATIME, true},
    {"diratime", MS_NODIRATIME, false}, {"relatime", MS_RELATIME, true},
    {"norelatime", MS_RELATIME, false}, {"strictatime", MS_STRICTATIME, true},
    {"nostrictatime", MS_STRICTATIME, false}, {"lazytime", MS_LAZYTIME, true},
    {"nolazytime", MS_LAZYTIME, false}, {"nosymfollow", MS_NOSYMFOLLOW, true},
    {"symfollow", MS_NOSYMFOLLOW, false}, {"silent", MS_SILENT, true},
    {"loud", MS_SILENT, false},        {"mand", MS_MANDLOCK, true},
    {"nomand", MS_MANDLOCK, false},
}};

// fstab-only options mount(8) consumes itself; they mean nothing to mount(2).
bool is_fstab_only_option(std::string_view o) {
  return o == "defaults" || o == "auto" || o == "noauto" || o == "nofail" || o == "_netdev" || o == "user" ||
         o == "nouser" || o == "users" || o == "owner" || o == "group" || o.starts_with("x-") ||
         o.starts_with("comment=");
}

// Operations that are not options of a fresh mount of a device.
bool is_refused_option(std::string_view o) {
  return o == "remount" || o == "bind" || o == "rbind" || o == "move" || o == "loop" || o.starts_with("loop=") ||
         o == "shared" || o == "rshared" || o == "private" || o == "rprivate" || o == "slave" || o == "rslave" ||
         o == "unbindable" || o == "runbindable";
}

// /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount_field(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto is_octal = [&](size_t k) { return s[k] >= '0' && s[k] <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() && is_octal(i + 1) && is_octal(i + 2) && is_octal(i + 3)) {
      int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      out.push_back(static_cast<char>(v));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string strip_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

bool path_is_under(std::string_view path, std::string_view dir) {
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.ends_with(kDeleted)) path.remove_suffix(kDeleted.size());
  if (dir == "/") return path.starts_with("/");
  return path == dir || (path.starts_with(dir) && path.size() > dir.size() && path[dir.size()] == '/');
}

std::optional<std::string> read_link(const std::string& path) {
  std::array<char, 4096> buf;
  ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
  if (n < 0 || static_cast<size_t>(n) >= buf.size()) return std::nullopt;
  return std::string(buf.data(), static_cast<size_t>(n));
}

std::string read_comm(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm.empty() ? "?" : comm;
}

// The mnt_id of an open file, from /proc/PID/fdinfo/N (Linux >= 3.15); -1 if
// unknown. Reading fdinfo never calls into the file's file system, so a hung
// FUSE or NFS server elsewhere cannot stall the scan (stat() could).
int fd_mount_id(const std::string& fdinfo_path) {
  std::ifstream in(fdinfo_path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("mnt_id:")) return std::atoi(line.c_str() + 7);
  }
  return -1;
}

// How `pid` holds the mount, or "" if it does not.
std::string how_process_holds(pid_t pid, const std::string& dir, const std::optional<MountEntry>& mount) {
  const std::string proc = "/proc/" + std::to_string(pid);
  for (const char* link : {"cwd", "root", "exe"}) {
    auto target = read_link(proc + "/" + link);
    if (target && path_is_under(*target, dir)) return link;
  }
  if (DIR* fds = ::opendir((proc + "/fd").c_str())) {
    std::string found;
    while (dirent* e = ::readdir(fds)) {
      if (e->d_name[0] == '.') continue;
      auto target = read_link(proc + "/fd/" + e->d_name);
      bool held = mount ? fd_mount_id(proc + "/fdinfo/" + e->d_name) == mount->mount_id
                        : (target && path_is_under(*target, dir));
      if (held) {
        found = std::string("fd ") + e->d_name + " (" + target.value_or("?") + ")";
        break;
      }
    }
    ::closedir(fds);
    if (!found.empty()) return found;
  }
  // Mappings: "address perms offset major:minor inode path", dev in hex.
  std::ifstream maps(proc + "/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string address, perms, offset, dev, path;
    unsigned long inode = 0;
    fields >> address >> perms >> offset >> dev >> inode;
    std::getline(fields >> std::ws, path);
    if (inode == 0) continue;
    unsigned major_number = 0, minor_number = 0;
    bool on_mount = false;
    if (mount && std::sscanf(dev.c_str(), "%x:%x", &major_number, &minor_number) == 2) {
      on_mount = major_number == mount->dev_major && minor_number == mount->dev_minor;
    } else {
      on_mount = path_is_under(path, dir);
    }
    if (on_mount) return "maps (" + path + ")";
  }
  return "";
}

std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

// Why mount(2) failed, in words an operator can act on.
std::string explain_mount_errno(int e, const std::string& device, const std::string& mount_point,
                                const std::string& fstype, const ParsedMountOptions& parsed) {
  switch (e) {
    case EACCES:
    case EROFS:
      if (!(parsed.flags & MS_RDONLY)) {
        return device + " is read-only (the volume is not writable on this node); mount it with \"ro\"";
      }
      return std::string("permission denied (") + std::strerror(e) + ")";
    case EBUSY:
      return device + " is already mounted or in use, or " + mount_point + " is busy";
    case EINVAL:
      return "wrong file system type, bad option or bad superblock (is there an " + fstype + " file system on " +
             device + "? data options \"" + parsed.data + "\"; the kernel log says more)";
    case ENODEV:
      return "file system type " + fstype + " is not supported by this kernel";
    case ENOTBLK:
      return device + " is not a block device";
    case ENXIO:
      return device + " has no medium (loop device not attached?)";
    case ENOENT:
      return device + " or " + mount_point + " does not exist";
    case EPERM:
      return "operation not permitted (needs root or CAP_SYS_ADMIN in the initial user namespace)";
    default:
      return std::strerror(e);
  }
}

}  // namespace

Result<ParsedMountOptions> parse_mount_options(std::string_view options) {
  ParsedMountOptions parsed;
  size_t start = 0;
  while (start <= options.size()) {
    size_t end = options.find(',', start);
    if (end == std::string_view::npos) end = options.size();
    std::string_view option = options.substr(start, end - start);
    start = end + 1;
    if (option.empty() || is_fstab_only_option(option)) continue;
    if (is_refused_option(option)) {
      return Result<ParsedMountOptions>::failure("mount option \"" + std::string(option) +
                                                 "\" is not supported here (only options of a fresh mount of a "
                                                 "device: ro, noatime, errors=remount-ro, ...)");
    }
    bool is_flag = false;
    for (const FlagOption& f : kFlagOptions) {
      if (option == f.name) {
        parsed.flags = f.set ? (parsed.flags | f.flag) : (parsed.flags & ~f.flag);
        is_flag = true;
        break;
      }
    }
    if (is_flag) continue;
    if (!parsed.data.empty()) parsed.data += ',';
    parsed.data += option;
  }
  return parsed;
}

std::vector<MountEntry> read_mount_table() {
  std::vector<MountEntry> table;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    MountEntry entry;
    int parent_id = 0;
    std::string dev, root, mount_point, word;
    fields >> entry.mount_id >> parent_id >> dev >> root >> mount_point;
    if (std::sscanf(dev.c_str(), "%u:%u", &entry.dev_major, &entry.dev_minor) != 2) continue;
    entry.mount_point = unescape_mount_field(mount_point);
    while (fields >> word && word != "-") {
    }
    std::string source;
    fields >> entry.fstype >> source;
    entry.source = unescape_mount_field(source);
    table.push_back(std::move(entry));
  }
  return table;
}

std::optional<MountEntry> find_mount(const std::string& mount_point) {
  const std::string wanted = strip_trailing_slashes(mount_point);
  std::optional<MountEntry> found;
  for (MountEntry& e : read_mount_table()) {
    if (e.mount_point == wanted) found = std::move(e);  // later lines are mounted on top
  }
  return found;
}

std::string describe_holders(const std::vector<HoldingProcess>& holders) {
  std::string text;
  for (const HoldingProcess& h : holders) {
    if (!text.empty()) text += ", ";
    text += h.comm + " (pid " + std::to_string(h.pid) + ")";
  }
  return text;
}

Result<std::monostate> SystemMounter::mount(const std::string& device, const std::string& mount_point,
                                            const std::string& fstype, const std::string& options) {
  const std::string what = "cannot mount " + device + " on " + mount_point + " (" + fstype + ", \"" + options + "\"): ";
  auto parsed = parse_mount_options(options);
  if (!parsed) return Result<std::monostate>::failure(what + parsed.error());
  struct stat st;
  if (::stat(mount_point.c_str(), &st) != 0) {
    return Result<std::monostate>::failure(what + "mount point: " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) return Result<std::monostate>::failure(what + "mount point is not a directory");
  const char* data = parsed->data.empty() ? nullptr : parsed->data.c_str();
  if (::mount(device.c_str(), mount_point.c_str(), fstype.c_str(), parsed->flags, data) != 0) {
    int e = errno;
    return Result<std::monostate>::failure(what + explain_mount_errno(e, device, mount_point, fstype, parsed.value()));
  }
  return std::monostate{};
}

Result<UnmountReport> SystemMounter::unmount(const std::string& mount_point, const UnmountPolicy& policy) {
  const std::string mp = strip_trailing_slashes(mount_point);
  const auto started = Clock::now();
  // Tries umount2 until `deadline`; true once nothing is mounted at mp.
  auto try_until = [&](Clock::time_point deadline, int& last_errno) {
    for (;;) {
      if (!find_mount(mp)) return true;
      if (::umount2(mp.c_str(), UMOUNT_NOFOLLOW) == 0) return true;
      last_errno = errno;
      if (last_errno != EBUSY) return !find_mount(mp);  // EINVAL after a racing unmount is fine
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(kBusyRetryInterval);
    }
  };
  int last_errno = 0;
  UnmountReport report;
  if (try_until(started + policy.grace, last_errno)) return report;
  if (last_errno == EBUSY && policy.kill_holders) {
    for (int sig : {SIGTERM, SIGKILL}) {
      for (const HoldingProcess& h : processes_holding(mp)) {
        if (h.pid == ::getpid() || ::kill(h.pid, sig) != 0) continue;
        auto seen = std::find_if(report.signalled.begin(), report.signalled.end(),
                                 [&](const auto& s) { return s.first.pid == h.pid; });
        if (seen == report.signalled.end()) report.signalled.emplace_back(h, sig);
        else seen->second = sig;
      }
      if (try_until(Clock::now() + policy.kill_grace, last_errno)) return report;
      if (last_errno != EBUSY) break;
    }
  }
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  if (last_errno != EBUSY) {
    return Result<UnmountReport>::failure("cannot unmount " + mp + ": " + std::strerror(last_errno));
  }
  std::string holders = describe_holders(processes_holding(mp));
  if (holders.empty()) {
    holders = "no process found (a bind or sub-mount, swap file, loop device or NFS export on it?)";
  }
  return Result<UnmountReport>::failure("cannot unmount " + mp + ": still in use after " + seconds_text(waited) +
                                         (policy.kill_holders ? " and SIGTERM/SIGKILL" : "") + " by " + holders);
}

std::vector<HoldingProcess> SystemMounter::processes_holding(const std::string& mount_point) {
  const std::string dir = strip_trailing_slashes(mount_point);
  const std::optional<MountEntry> mount = find_mount(dir);
  std::vector<HoldingProcess> holders;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return holders;
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::string how = how_process_holds(static_cast<pid_t>(pid), dir, mount);
    if (!how.empty()) holders.push_back({static_cast<pid_t>(pid), read_comm(static_cast<pid_t>(pid)), how});
  }
  ::closedir(proc);
  return holders;
}

}  // namespace vrrpd::replication
