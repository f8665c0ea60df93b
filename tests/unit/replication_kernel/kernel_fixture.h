// Fixture for the frontend's system tests: a fresh temporary directory per
// test, skips without root, /dev/fuse or /dev/loop-control, and a tear-down
// that runs also after a failed assertion and undoes everything in the
// frontend's stop order (kill helper processes, unmount file systems, detach
// loop devices, stop FUSE exports, remove the directory), then checks that no
// mount or loop device still references the directory.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "replication/fuse_export.h"
#include "replication/loop_device.h"
#include "replication/mounter.h"
#include "replication/storage.h"
#include "replication/volume.h"

extern char** environ;

namespace vrrpd::replication {

class KernelFrontendTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kVolumeBytes = 64ull << 20;

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (FUSE mounts, loop devices, mount(2))";
    if (::access("/dev/fuse", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/fuse is missing: no FUSE in this kernel";
    if (::access("/dev/loop-control", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/loop-control is missing: no loop driver";
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/var/tmp") + "/vrrpd-frontend-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    root_ = pattern;
  }

  void TearDown() override {
    if (root_.empty()) return;
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    children_.clear();
    // File systems under root_, newest first (stop order step 1).
    std::vector<MountEntry> table = read_mount_table();
    for (auto it = table.rbegin(); it != table.rend(); ++it) {
      if (it->fstype != "fuse.vrrpd" && under_root(it->mount_point)) {
        if (::umount2(it->mount_point.c_str(), 0) != 0) ::umount2(it->mount_point.c_str(), MNT_DETACH);
      }
    }
    loops_.clear();    // step 2: detach
    exports_.clear();  // step 3: stop FUSE
    wrappers_.clear();  // volumes over volumes (a request loop's thread), after their exports
    volumes_.clear();
    storages_.clear();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
    EXPECT_FALSE(ec) << "cannot remove " << root_ << ": " << ec.message();
    // Nothing may be left behind.
    for (const MountEntry& m : read_mount_table()) {
      EXPECT_FALSE(under_root(m.mount_point)) << "still mounted: " << m.mount_point << " (" << m.fstype << ")";
    }
    for (const auto& entry : std::filesystem::directory_iterator("/sys/block", ec)) {
      std::ifstream in(entry.path() / "loop" / "backing_file");
      std::string backing;
      std::getline(in, backing);
      EXPECT_FALSE(!backing.empty() && under_root(backing))
          << entry.path().filename().string() << " still attached to " << backing;
    }
  }

  bool under_root(const std::string& path) const { return path == root_ || path.starts_with(root_ + "/"); }

  std::string path(const std::string& relative) const { return root_ + "/" + relative; }

  // A sparse backing file of `bytes` and a StorageVolume over it.
  StorageVolume& make_volume(const std::string& name, bool writable, uint64_t bytes = kVolumeBytes) {
    auto storage = FileStorage::create(path(name + ".img"), bytes);
    EXPECT_TRUE(storage.ok()) << storage.error();
    if (!storage.ok()) std::abort();
    storages_.push_back(std::move(storage.value()));
    volumes_.push_back(std::make_unique<StorageVolume>(*storages_.back(), writable));
    return *volumes_.back();
  }

  // Keeps a Volume made by the test (a wrapper of make_volume()'s) alive
  // until the tear-down has stopped the exports that serve it.
  template <typename V>
  V& keep_volume(std::unique_ptr<V> volume) {
    V& kept = *volume;
    wrappers_.push_back(std::move(volume));
    return kept;
  }

  // Starts an export of `volume` at root_/NAME/fuse; fails the test if it cannot.
  FuseExport* export_volume(Volume& volume, const std::string& name) {
    auto e = FuseExport::start(volume, {.mount_point = path(name + "/fuse"), .name = name});
    EXPECT_TRUE(e.ok()) << e.error();
    if (!e.ok()) return nullptr;
    exports_.push_back(std::move(e.value()));
    return exports_.back().get();
  }

  LoopDevice* keep(std::unique_ptr<LoopDevice> loop) {
    loops_.push_back(std::move(loop));
    return loops_.back().get();
  }

  // Attaches a loop device to the export's file; fails the test if it cannot.
  LoopDevice* attach_loop(const FuseExport& fuse, LoopAttachOptions options) {
    auto attached = LoopDevice::attach(fuse.file_path(), options);
    EXPECT_TRUE(attached.ok()) << attached.error();
    return attached.ok() ? keep(std::move(attached.value())) : nullptr;
  }

  // mkfs.ext4 on the loop device, then mounts it at root_/mnt with `options`.
  // Returns the mount point, "" (and a test failure) if a step failed.
  std::string format_and_mount(const LoopDevice& loop, const std::string& options) {
    EXPECT_EQ(run({"mkfs.ext4", "-q", "-F", "-E", "nodiscard", loop.device_path()}), 0)
        << "mkfs.ext4 on " << loop.device_path() << " failed";
    const std::string mount_point = path("mnt");
    std::filesystem::create_directories(mount_point);
    auto mounted = SystemMounter().mount(loop.device_path(), mount_point, "ext4", options);
    EXPECT_TRUE(mounted.ok()) << mounted.error();
    return mounted.ok() ? mount_point : "";
  }

  // The whole frontend on a fresh writable 64 MiB volume "r0": export, loop
  // device, ext4 mounted at root_/mnt with `mount_options`. On a failed step
  // the test has failed and mount_point is "".
  struct Frontend {
    FuseExport* fuse = nullptr;
    LoopDevice* loop = nullptr;
    std::string mount_point;
  };
  Frontend mounted_frontend(const std::string& mount_options) {
    Frontend f;
    f.fuse = export_volume(make_volume("r0", /*writable=*/true), "r0");
    if (f.fuse != nullptr) f.loop = attach_loop(*f.fuse, {.name = "r0"});
    if (f.loop != nullptr) f.mount_point = format_and_mount(*f.loop, mount_options);
    return f;
  }

 public:
  // Runs a program (no shell) and returns its exit status, -1 if it did not
  // exit normally. stdout goes to `stdout_path` when given.
  static int run(const std::vector<std::string>& argv, const std::string& stdout_path = "") {
    pid_t pid = spawn(argv, stdout_path, "", "");
    if (pid < 0) return -1;
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 protected:
  // Starts `sleep 600` with `held_file` open as its fd 3: a process that keeps
  // a mount busy. Killed by the tear-down if the test does not reap it.
  pid_t spawn_holder(const std::string& held_file) { return spawn_child({"sleep", "600"}, held_file); }

  // Starts `argv` as a child the tear-down kills; `fd3_path` opened as fd 3,
  // `cwd` its working directory.
  pid_t spawn_child(const std::vector<std::string>& argv, const std::string& fd3_path = "",
                    const std::string& cwd = "") {
    pid_t pid = spawn(argv, "", fd3_path, cwd);
    if (pid > 0) children_.push_back(pid);
    return pid;
  }

  void kill_child(pid_t pid) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    std::erase(children_, pid);
  }

  static std::string read_text(const std::string& file) {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string root_;

 private:
  static pid_t spawn(const std::vector<std::string>& argv, const std::string& stdout_path,
                     const std::string& fd3_path, const std::string& cwd = "") {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (!stdout_path.empty()) {
      posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    }
    if (!fd3_path.empty()) posix_spawn_file_actions_addopen(&actions, 3, fd3_path.c_str(), O_RDONLY, 0);
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    return rc == 0 ? pid : -1;
  }

  // Destroyed in TearDown in the stop order: loops before exports before volumes.
  std::vector<std::unique_ptr<FileStorage>> storages_;
  std::vector<std::unique_ptr<StorageVolume>> volumes_;
  std::vector<std::unique_ptr<Volume>> wrappers_;  // made by keep_volume()
  std::vector<std::unique_ptr<FuseExport>> exports_;
  std::vector<std::unique_ptr<LoopDevice>> loops_;
  std::vector<pid_t> children_;
};

}  // namespace vrrpd::replication
