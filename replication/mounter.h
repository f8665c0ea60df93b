// Mounting the replicated volume's file system: mount(2)/umount2(2) with the
// option parsing mount(8) does, an unmount that waits out a grace period (and
// can signal the processes in the way), and the /proc scan that names those
// processes ("still in use by mysqld (pid 1234)"). No shell, no mount/umount/
// fuser binaries. Also the mount-table reader the rest of the frontend uses
// (is this path mounted? where is /dev/loop3 mounted?).
//
// Set-up path: Result with operator-readable errors. Calls block (unmount up to
// its grace period), so they run on the replication threads, never on the VRRP
// loop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "replication/result.h"

namespace vrrpd::replication {

// mount(8)-style option string split into mount(2) arguments:
// "noatime,errors=remount-ro" -> flags MS_NOATIME, data "errors=remount-ro".
struct ParsedMountOptions {
  unsigned long flags = 0;  // MS_* bits
  std::string data;         // file-system specific options, comma-separated
};

// Parses a comma-separated option list. Generic options (ro, rw, nosuid, nodev,
// noexec, sync, dirsync, noatime, nodiratime, relatime, strictatime, lazytime,
// nosymfollow, silent and their opposites, defaults) become MS_* flags; the
// rest are passed to the file system. Refuses operations that are not options
// of a fresh mount (remount, bind, rbind, move, and the propagation flags).
Result<ParsedMountOptions> parse_mount_options(std::string_view options);

// One line of /proc/self/mountinfo.
struct MountEntry {
  int mount_id = 0;
  unsigned dev_major = 0;
  unsigned dev_minor = 0;
  std::string mount_point;  // unescaped (\040 -> ' ')
  std::string fstype;
  std::string source;       // the device, or what the file system calls itself
};

// The calling process's mount table, in mount order.
std::vector<MountEntry> read_mount_table();
// The topmost mount at exactly `mount_point` (no symlinks resolved), if any.
std::optional<MountEntry> find_mount(const std::string& mount_point);

// A process that keeps a mount busy, and how.
struct HoldingProcess {
  pid_t pid = 0;
  std::string comm;  // /proc/PID/comm, e.g. "mysqld"
  std::string how;   // first use found: "cwd", "root", "exe", "fd 7 (/mnt/db/ibdata1)", "maps (/mnt/db/lib.so)"
};

// "mysqld (pid 1234), sleep (pid 99)"; "" for none.
std::string describe_holders(const std::vector<HoldingProcess>& holders);

// What unmount() does while the file system is busy (EBUSY).
struct UnmountPolicy {
  // Retry for this long (every 100 ms) before giving up or killing.
  std::chrono::milliseconds grace{5000};
  // After the grace period: SIGTERM the holders, wait kill_grace, SIGKILL the
  // rest, wait kill_grace again. Never signals the calling process itself.
  bool kill_holders = false;
  std::chrono::milliseconds kill_grace{2000};
};

// What a successful unmount had to do.
struct UnmountReport {
  // Holders signalled after the grace period (kill_holders), with the
  // signal each got last (SIGTERM, or SIGKILL for those that ignored it).
  std::vector<std::pair<HoldingProcess, int>> signalled;
};

// The mount side effects, behind an interface so that the failover logic can
// be tested with a recording fake.
class Mounter {
 public:
  virtual ~Mounter() = default;
  // Mounts `device` on the existing directory `mount_point`. `options` as for
  // parse_mount_options(). Does not retry read-only on a read-only device (as
  // mount(8) would): a volume that is not writable must be mounted with "ro".
  virtual Result<std::monostate> mount(const std::string& device, const std::string& mount_point,
                                       const std::string& fstype, const std::string& options) = 0;
  // Unmounts `mount_point`; success if nothing is mounted there. While EBUSY,
  // retries as the policy says; the error names the processes still holding it.
  virtual Result<UnmountReport> unmount(const std::string& mount_point, const UnmountPolicy& policy) = 0;
  // Processes with a cwd, root, executable, open file or mapping on the file
  // system mounted at `mount_point` (or, if nothing is mounted there, under
  // that path). Best effort: processes that exit during the scan are skipped.
  virtual std::vector<HoldingProcess> processes_holding(const std::string& mount_point) = 0;
};

// mount(2), umount2(2) and /proc.
class SystemMounter final : public Mounter {
 public:
  Result<std::monostate> mount(const std::string& device, const std::string& mount_point, const std::string& fstype,
                               const std::string& options) override;
  Result<UnmountReport> unmount(const std::string& mount_point, const UnmountPolicy& policy) override;
  std::vector<HoldingProcess> processes_holding(const std::string& mount_point) override;
};

}  // namespace vrrpd::replication
