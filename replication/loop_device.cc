// Loop device attach/detach through /dev/loop-control and the loop ioctls
// (see loop_device.h).
#include "replication/loop_device.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "replication/mounter.h"
#include "vrrpd/base/log.h"

namespace vrrpd::replication {
namespace {

using Clock = std::chrono::steady_clock;
// Another process may take the device LOOP_CTL_GET_FREE handed us; try again
// this many times before giving up.
constexpr int kAttachAttempts = 16;
constexpr std::chrono::milliseconds kPollInterval{20};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

std::string sysfs_loop_dir(int number) { return "/sys/block/loop" + std::to_string(number) + "/loop"; }

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// lo_file_name/lo_flags as LOOP_CONFIGURE and LOOP_SET_STATUS64 take them.
loop_info64 make_loop_info(const LoopAttachOptions& options, bool direct_io) {
  loop_info64 info{};
  info.lo_flags = LO_FLAGS_AUTOCLEAR;
  if (options.read_only) info.lo_flags |= LO_FLAGS_READ_ONLY;
  if (direct_io) info.lo_flags |= LO_FLAGS_DIRECT_IO;
  std::string tag = "vrrpd:" + options.name;
  std::strncpy(reinterpret_cast<char*>(info.lo_file_name), tag.c_str(), LO_NAME_SIZE - 1);
  return info;
}

// Binds `file_fd` to the open loop device `dev_fd`. Returns 0 or an errno;
// `direct_io` is cleared when the kernel refused direct I/O for this file.
int configure_loop(int dev_fd, int file_fd, const LoopAttachOptions& options, bool& direct_io) {
  loop_config config{};
  config.fd = static_cast<__u32>(file_fd);
  config.info = make_loop_info(options, direct_io);
  if (::ioctl(dev_fd, LOOP_CONFIGURE, &config) == 0) return 0;
  int e = errno;
  if (e == EINVAL && direct_io) {
    // Direct I/O not possible on this file (alignment, no O_DIRECT support):
    // run through the page cache instead.
    direct_io = false;
    config.info = make_loop_info(options, false);
    if (::ioctl(dev_fd, LOOP_CONFIGURE, &config) == 0) return 0;
    e = errno;
  }
  if (e != EINVAL && e != ENOTTY) return e;
  // Kernel before 5.8: no LOOP_CONFIGURE. Read-only comes from the file's
  // open mode here; autoclear from SET_STATUS64; direct I/O is a third call.
  if (::ioctl(dev_fd, LOOP_SET_FD, file_fd) != 0) return errno;
  loop_info64 info = make_loop_info(options, false);
  info.lo_flags &= LO_FLAGS_AUTOCLEAR;
  if (::ioctl(dev_fd, LOOP_SET_STATUS64, &info) != 0) {
    e = errno;
    ::ioctl(dev_fd, LOOP_CLR_FD, 0);
    return e;
  }
  if (direct_io && ::ioctl(dev_fd, LOOP_SET_DIRECT_IO, 1UL) != 0) direct_io = false;
  return 0;
}

// Processes that have `device` open, for the "deferred" message.
std::string processes_with_open(const std::string& device) {
  std::string text;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return text;
  while (dirent* p = ::readdir(proc)) {
    if (p->d_name[0] < '1' || p->d_name[0] > '9') continue;
    const std::string fd_dir = std::string("/proc/") + p->d_name + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (fds == nullptr) continue;
    while (dirent* f = ::readdir(fds)) {
      std::error_code ec;
      if (std::filesystem::read_symlink(fd_dir + "/" + f->d_name, ec) == device) {
        if (!text.empty()) text += ", ";
        text += read_first_line(std::string("/proc/") + p->d_name + "/comm") + " (pid " + p->d_name + ")";
        break;
      }
    }
    ::closedir(fds);
  }
  ::closedir(proc);
  return text;
}

}  // namespace

Result<std::monostate> replace_symlink(const std::string& target, const std::string& link_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path link(link_path);
  if (link.has_parent_path()) fs::create_directories(link.parent_path(), ec);
  if (ec) {
    return Result<std::monostate>::failure("cannot create " + link.parent_path().string() + ": " + ec.message());
  }
  const std::string temporary = link_path + ".tmp" + std::to_string(::getpid());
  ::unlink(temporary.c_str());
  if (::symlink(target.c_str(), temporary.c_str()) != 0 || ::rename(temporary.c_str(), link_path.c_str()) != 0) {
    int e = errno;
    ::unlink(temporary.c_str());
    return Result<std::monostate>::failure("cannot point " + link_path + " at " + target + ": " + std::strerror(e));
  }
  return std::monostate{};
}

std::vector<std::string> loop_devices_backed_by(const std::string& path) {
  std::vector<std::string> devices;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/block", ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("loop")) continue;
    std::string backing = read_first_line(entry.path().string() + "/loop/backing_file");
    // The kernel appends " (deleted)" when the file was unlinked.
    if (backing == path || backing == path + " (deleted)") devices.push_back("/dev/" + name);
  }
  return devices;
}

Result<std::unique_ptr<LoopDevice>> LoopDevice::attach(const std::string& file, const LoopAttachOptions& options) {
  using R = Result<std::unique_ptr<LoopDevice>>;
  const std::string what = "cannot attach " + file + " to a loop device: ";
  Fd file_fd(::open(file.c_str(), (options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
  if (file_fd.get() < 0) {
    int e = errno;
    std::string hint = (e == EROFS || e == EACCES) && !options.read_only
                           ? " (the volume is not writable on this node; attach read-only)"
                           : "";
    return R::failure(what + "cannot open it " + (options.read_only ? "read-only" : "read-write") + ": " +
                      std::strerror(e) + hint);
  }
  Fd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (control.get() < 0) return R::failure(what + "/dev/loop-control: " + std::strerror(errno));

  int last_errno = 0;
  for (int attempt = 0; attempt < kAttachAttempts; ++attempt) {
    int number = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (number < 0) {
      return R::failure(what + "no free loop device (LOOP_CTL_GET_FREE: " + std::strerror(errno) + ")");
    }
    const std::string device = "/dev/loop" + std::to_string(number);
    Fd dev_fd(::open(device.c_str(), (options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
    if (dev_fd.get() < 0) {
      // The node may appear a moment after LOOP_CTL_GET_FREE created the device.
      last_errno = errno;
      std::this_thread::sleep_for(kPollInterval);
      continue;
    }
    bool direct_io = options.direct_io;
    last_errno = configure_loop(dev_fd.get(), file_fd.get(), options, direct_io);
    if (last_errno == EBUSY) continue;  // someone else bound it first
    if (last_errno != 0) return R::failure(what + device + ": " + std::strerror(last_errno));

    std::unique_ptr<LoopDevice> loop(new LoopDevice(dev_fd.release(), number, file, options));
    if (!options.link_path.empty()) {
      auto linked = replace_symlink(device, options.link_path);
      if (!linked) {
        (void)loop->detach();
        return R::failure(what + linked.error());
      }
    }
    return loop;
  }
  return R::failure(what + "no free loop device after " + std::to_string(kAttachAttempts) +
                    " attempts (last error: " + std::strerror(last_errno) + ")");
}

LoopDevice::LoopDevice(int fd, int number, std::string backing_file, LoopAttachOptions options)
    : fd_(fd),
      number_(number),
      device_path_("/dev/loop" + std::to_string(number)),
      backing_file_(std::move(backing_file)),
      options_(std::move(options)) {}

LoopDevice::~LoopDevice() {
  if (!attached()) return;
  auto detached = detach();
  if (detached) return;
  // Typically still mounted: let go anyway. Autoclear releases the device
  // when the file system on it is unmounted.
  log::error(detached.error() + "; leaving " + device_path_ + " to autoclear");
  if (fd_ >= 0) ::close(fd_);
  remove_link();
}

void LoopDevice::remove_link() const {
  if (options_.link_path.empty()) return;
  std::error_code ec;
  if (std::filesystem::read_symlink(options_.link_path, ec) == device_path_) ::unlink(options_.link_path.c_str());
}

bool LoopDevice::direct_io() const { return read_first_line(sysfs_loop_dir(number_) + "/dio") == "1"; }

Result<std::monostate> LoopDevice::detach() {
  using R = Result<std::monostate>;
  if (!attached()) return std::monostate{};
  const std::string what = "cannot detach " + device_path_ + " (" + backing_file_ + "): ";
  struct stat st;
  if (::fstat(fd_, &st) == 0) {
    for (const MountEntry& m : read_mount_table()) {
      if (m.dev_major == major(st.st_rdev) && m.dev_minor == minor(st.st_rdev)) {
        return R::failure(what + "a file system on it is mounted at " + m.mount_point + "; unmount it first");
      }
    }
  }
  // A mount in another namespace, swap or a device mapper table claims the
  // device exclusively; the kernel would defer the release indefinitely.
  int probe = ::open(device_path_.c_str(), O_RDONLY | O_EXCL | O_CLOEXEC);
  if (probe < 0 && errno == EBUSY) {
    return R::failure(what + "the device is claimed (mounted in another mount namespace, or used as swap?)");
  }
  if (probe >= 0) ::close(probe);

  // Kernels before 5.x answer EBUSY while others have the device open; newer
  // ones accept and release it at the last close.
  const auto deadline = Clock::now() + options_.detach_timeout;
  while (::ioctl(fd_, LOOP_CLR_FD, 0) != 0) {
    int e = errno;
    if (e == ENXIO) break;  // already unbound
    if (e != EBUSY || Clock::now() >= deadline) return R::failure(what + "LOOP_CLR_FD: " + std::strerror(e));
    std::this_thread::sleep_for(kPollInterval);
  }
  ::close(fd_);
  fd_ = -1;
  // Nobody should find the device through the stable path from here on.
  remove_link();

  // The loop/ directory in sysfs exists only while the device is bound.
  const std::string backing_file_sysfs = sysfs_loop_dir(number_) + "/backing_file";
  while (read_first_line(backing_file_sysfs) == backing_file_) {
    if (Clock::now() >= deadline) {
      std::string users = processes_with_open(device_path_);
      return R::failure("detach of " + device_path_ + " deferred: still open by " +
                        (users.empty() ? std::string("another process") : users) +
                        "; the kernel releases it at the last close");
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return std::monostate{};
}

Result<uint64_t> LoopDevice::refresh_capacity() {
  using R = Result<uint64_t>;
  if (fd_ < 0) return R::failure("loop device not attached");
  if (::ioctl(fd_, LOOP_SET_CAPACITY, 0) != 0)
    return R::failure(device_path_ + ": LOOP_SET_CAPACITY: " + std::strerror(errno));
  uint64_t bytes = 0;
  if (::ioctl(fd_, BLKGETSIZE64, &bytes) != 0)
    return R::failure(device_path_ + ": BLKGETSIZE64: " + std::strerror(errno));
  return bytes;
}

}  // namespace vrrpd::replication
