// A loop device (/dev/loopN) over the file the FUSE export serves, so that an
// ordinary file system can be mounted on the replicated volume. Set up with
// /dev/loop-control and LOOP_CONFIGURE (LOOP_SET_FD + LOOP_SET_STATUS64 on
// kernels before 5.8), with LO_FLAGS_AUTOCLEAR: the device is released by the
// kernel at its last close, so a crashed daemon leaks no loop device once the
// file system on it is unmounted. This object keeps the device open for as
// long as it is attached, which is what keeps autoclear from firing early.
//
// Stop order of the frontend (see README "Frontend"): unmount the file system,
// detach the loop device, stop the FUSE export. detach() refuses while the
// device is mounted; FuseExport::stop() refuses while the loop is attached.
//
// Set-up path: blocking calls returning Result; not for the VRRP loop thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "replication/result.h"

namespace vrrpd::replication {

struct LoopAttachOptions {
  // Attach read-only (LO_FLAGS_READ_ONLY; the file is opened O_RDONLY): what a
  // volume that is not writable on this node needs.
  bool read_only = false;
  // Owner tag stored as lo_file_name, "vrrpd:NAME" (LOOP_GET_STATUS64 and
  // older losetup show it); at most 57 bytes of NAME are kept.
  std::string name;
  // Optional stable path for users, e.g. /run/vrrpd/r0/dev: a symlink to
  // /dev/loopN created after the attach and removed by detach(). Its parent
  // directory is created if missing.
  std::string link_path;
  // Ask for LO_FLAGS_DIRECT_IO (no page cache on the backing file, so data is
  // not cached twice). Dropped silently if the kernel refuses it for the file;
  // LoopDevice::direct_io() tells what the kernel actually does.
  bool direct_io = true;
  // How long detach() waits for the kernel to release the device (ms).
  std::chrono::milliseconds detach_timeout{5000};
};

class LoopDevice {
 public:
  // Attaches `file` to a free loop device; retries when another process takes
  // the free device first. Errors read like
  // "cannot attach /run/vrrpd/r0/fuse/dev to a loop device: no free loop device".
  static Result<std::unique_ptr<LoopDevice>> attach(const std::string& file, const LoopAttachOptions& options);

  // Detaches if still attached; logs (does not throw) when that fails.
  ~LoopDevice();
  LoopDevice(const LoopDevice&) = delete;
  LoopDevice& operator=(const LoopDevice&) = delete;

  // Releases the device (LOOP_CLR_FD) and removes the symlink. Refuses while a
  // file system on the device is mounted ("unmount it first"). If another
  // process still has the device open the kernel defers the release to its
  // last close; detach() waits detach_timeout for that, then reports who.
  Result<std::monostate> detach();

  // The backing file grew (online resize): LOOP_SET_CAPACITY, after which
  // the device has the file's new size (the kernel announces the change;
  // resize2fs or xfs_growfs then grows the file system). The file's size as
  // the kernel knows it must be current first (FuseExport::size_changed()
  // and a stat of the file for the export).
  Result<uint64_t> refresh_capacity();

  bool attached() const { return fd_ >= 0; }
  // "/dev/loop3"
  const std::string& device_path() const { return device_path_; }
  int number() const { return number_; }
  const std::string& backing_file() const { return backing_file_; }
  const std::string& link_path() const { return options_.link_path; }
  bool read_only() const { return options_.read_only; }
  // Whether the kernel does direct I/O to the backing file (sysfs loop/dio).
  bool direct_io() const;

 private:
  LoopDevice(int fd, int number, std::string backing_file, LoopAttachOptions options);
  // Removes link_path if it still points at this device.
  void remove_link() const;
  int fd_;  // open /dev/loopN, held while attached (keeps autoclear from firing)
  int number_;
  std::string device_path_;
  std::string backing_file_;
  LoopAttachOptions options_;
};

// Loop devices (/dev/loopN) whose backing file is `path`, from
// /sys/block/loop*/loop/backing_file; what `losetup -j PATH` lists.
std::vector<std::string> loop_devices_backed_by(const std::string& path);

// Points `link_path` at `target` atomically (symlink to a temporary name, then
// rename over), creating the parent directory if missing.
Result<std::monostate> replace_symlink(const std::string& target, const std::string& link_path);

}  // namespace vrrpd::replication
