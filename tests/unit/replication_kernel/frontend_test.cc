// The volume's path to the kernel, for real: FUSE export -> loop device ->
// ext4 -> mount, the read-only case, a busy unmount, and the stop order.
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>

#include "tests/unit/replication_kernel/kernel_fixture.h"
#include "vrrpd/base/clock.h"
#include "vrrpd/base/event_loop.h"

namespace vrrpd::replication {
namespace {

using namespace std::chrono_literals;

const std::string kContent = "vrrpd frontend test: the quick brown fox jumps over the lazy dog\n";

void write_file_durably(const std::string& file, const std::string& content) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << file << ": " << std::strerror(errno);
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ASSERT_EQ(::fsync(fd), 0);
  ASSERT_EQ(::close(fd), 0);
}

std::string loop_file_name(const std::string& device) {
  int fd = ::open(device.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  loop_info64 info{};
  int rc = ::ioctl(fd, LOOP_GET_STATUS64, &info);
  ::close(fd);
  return rc == 0 ? reinterpret_cast<const char*>(info.lo_file_name) : "";
}

TEST_F(KernelFrontendTest, ExportServesTheVolumeAsOneFile) {
  StorageVolume& volume = make_volume("r0", /*writable=*/true, 1 << 20);
  ASSERT_TRUE(volume.write(4096, std::span(reinterpret_cast<const uint8_t*>(kContent.data()), kContent.size())).ok());
  FuseExport* fuse = export_volume(volume, "r0");
  ASSERT_NE(fuse, nullptr);

  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(fuse->mount_point())) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"dev"});
  EXPECT_EQ(std::filesystem::file_size(fuse->file_path()), 1u << 20);
  auto mount = find_mount(fuse->mount_point());
  ASSERT_TRUE(mount.has_value());
  EXPECT_EQ(mount->fstype, "fuse.vrrpd");
  EXPECT_EQ(mount->source, "vrrpd:r0");

  int fd = ::open(fuse->file_path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  std::string read_back(kContent.size(), '\0');
  ASSERT_EQ(::pread(fd, read_back.data(), read_back.size(), 4096), static_cast<ssize_t>(kContent.size()));
  EXPECT_EQ(read_back, kContent);
  const std::string patch = "written through FUSE";
  ASSERT_EQ(::pwrite(fd, patch.data(), patch.size(), 8192), static_cast<ssize_t>(patch.size()));
  ASSERT_EQ(::fsync(fd), 0);
  // Past the end: nothing to read; no room to write.
  char byte;
  EXPECT_EQ(::pread(fd, &byte, 1, 1 << 20), 0);
  EXPECT_EQ(::pwrite(fd, &byte, 1, 1 << 20), -1);
  EXPECT_EQ(fuse->open_handles(), 1u);
  ::close(fd);

  std::string on_volume(patch.size(), '\0');
  ASSERT_TRUE(volume.read(8192, std::span(reinterpret_cast<uint8_t*>(on_volume.data()), on_volume.size())).ok());
  EXPECT_EQ(on_volume, patch);
  EXPECT_GE(fuse->counters().flushes, 1u);
  EXPECT_GE(fuse->counters().write_bytes, patch.size());

  auto stopped = fuse->stop();
  ASSERT_TRUE(stopped.ok()) << stopped.error();
  EXPECT_FALSE(find_mount(fuse->mount_point()).has_value());
}

TEST_F(KernelFrontendTest, FileWrittenOnExt4OverLoopOverFuseLandsInTheBackingFile) {
  StorageVolume& volume = make_volume("r0", /*writable=*/true);
  FuseExport* fuse = export_volume(volume, "r0");
  ASSERT_NE(fuse, nullptr);
  LoopDevice* loop = attach_loop(*fuse, {.name = "r0", .link_path = path("r0/dev")});
  ASSERT_NE(loop, nullptr);
  EXPECT_EQ(std::filesystem::read_symlink(path("r0/dev")), loop->device_path());
  EXPECT_EQ(loop_file_name(loop->device_path()), "vrrpd:r0");
  EXPECT_EQ(loop_devices_backed_by(fuse->file_path()), std::vector<std::string>{loop->device_path()});
  EXPECT_FALSE(loop->read_only());
  std::cout << "[          ] loop direct I/O over FUSE: " << (loop->direct_io() ? "on" : "off") << "\n";

  const std::string mount_point = format_and_mount(*loop, "noatime,errors=remount-ro");
  ASSERT_FALSE(mount_point.empty());
  SystemMounter mounter;
  write_file_durably(mount_point + "/hello.txt", kContent);

  auto unmounted = mounter.unmount(mount_point, {.grace = 2s});
  ASSERT_TRUE(unmounted.ok()) << unmounted.error();
  auto detached = loop->detach();
  ASSERT_TRUE(detached.ok()) << detached.error();
  EXPECT_FALSE(std::filesystem::is_symlink(path("r0/dev")));
  auto stopped = fuse->stop();
  ASSERT_TRUE(stopped.ok()) << stopped.error();

  // Read the file out of the backing file with e2fsprogs, not through our code.
  const std::string out = path("debugfs.out");
  ASSERT_EQ(run({"debugfs", "-R", "cat /hello.txt", path("r0.img")}, out), 0);
  EXPECT_EQ(read_text(out), kContent);
}

// A Volume with a request loop, as the engine's Resource has: an EventLoop
// on its own thread. The start_* forms complete on a later loop turn (as a
// replicated write does) and record that they ran on the loop's thread; the
// blocking forms, which the export must not use in this mode, are counted.
class LoopServedVolume final : public Volume {
 public:
  explicit LoopServedVolume(StorageVolume& inner) : inner_(inner), loop_(clock_) {
    thread_ = std::thread([this] {
      loop_thread_ = std::this_thread::get_id();
      loop_.run();
    });
  }
  ~LoopServedVolume() override {
    loop_.stop();
    thread_.join();
  }
  uint64_t size() const override { return inner_.size(); }
  bool writable() const override { return inner_.writable(); }
  IoStatus read(uint64_t offset, std::span<uint8_t> out) override {
    ++blocking_calls;
    return inner_.read(offset, out);
  }
  IoStatus write(uint64_t offset, std::span<const uint8_t> data) override {
    ++blocking_calls;
    return inner_.write(offset, data);
  }
  IoStatus flush() override {
    ++blocking_calls;
    return inner_.flush();
  }
  EventLoop* request_loop() override { return &loop_; }
  void start_read(uint64_t offset, std::span<uint8_t> out, Completion done) override {
    note_thread();
    IoStatus s = inner_.read(offset, out);
    loop_.post([s, done = std::move(done)] { done(s); });
  }
  void start_write(uint64_t offset, std::span<const uint8_t> data, Completion done) override {
    note_thread();
    ++loop_writes;
    loop_.post([this, offset, data, done = std::move(done)] { done(inner_.write(offset, data)); });
  }
  void start_flush(Completion done) override {
    note_thread();
    loop_.post([this, done = std::move(done)] { done(inner_.flush()); });
  }

  std::atomic<int> blocking_calls{0}, loop_writes{0}, off_loop_calls{0};

 private:
  void note_thread() {
    if (std::this_thread::get_id() != loop_thread_) ++off_loop_calls;
  }
  StorageVolume& inner_;
  MonotonicClock clock_;
  EventLoop loop_;
  std::thread thread_;
  std::thread::id loop_thread_;
};

TEST_F(KernelFrontendTest, ExportServedOnTheVolumesRequestLoopCarriesExt4) {
  auto& volume = keep_volume(std::make_unique<LoopServedVolume>(make_volume("r0", /*writable=*/true)));
  FuseExport* fuse = export_volume(volume, "r0");
  ASSERT_NE(fuse, nullptr);
  LoopDevice* loop = attach_loop(*fuse, {.name = "r0"});
  ASSERT_NE(loop, nullptr);
  const std::string mount_point = format_and_mount(*loop, "noatime");
  ASSERT_FALSE(mount_point.empty());
  write_file_durably(mount_point + "/hello.txt", kContent);
  // Larger than the copied size: the write keeps libfuse's receive buffer.
  const std::string big(1 << 20, 'x');
  write_file_durably(mount_point + "/big.bin", big);
  ASSERT_TRUE(SystemMounter().unmount(mount_point, {.grace = 2s}).ok());
  ASSERT_TRUE(loop->detach().ok());
  auto stopped = fuse->stop();
  ASSERT_TRUE(stopped.ok()) << stopped.error();

  EXPECT_GT(volume.loop_writes.load(), 0);
  EXPECT_EQ(volume.blocking_calls.load(), 0) << "a request was served by a worker thread";
  EXPECT_EQ(volume.off_loop_calls.load(), 0) << "a request was started off the volume's loop";
  EXPECT_GE(fuse->counters().flushes, 2u);
  const std::string out = path("debugfs.out");
  ASSERT_EQ(run({"debugfs", "-R", "cat /hello.txt", path("r0.img")}, out), 0);
  EXPECT_EQ(read_text(out), kContent);
  ASSERT_EQ(run({"debugfs", "-R", "cat /big.bin", path("r0.img")}, out), 0);
  EXPECT_TRUE(read_text(out) == big) << "big.bin differs";
}

// Counts the flushes that reach it and fails them on command.
class FlushCountingVolume final : public Volume {
 public:
  explicit FlushCountingVolume(StorageVolume& inner) : inner_(inner) {}
  uint64_t size() const override { return inner_.size(); }
  bool writable() const override { return inner_.writable(); }
  IoStatus read(uint64_t offset, std::span<uint8_t> out) override { return inner_.read(offset, out); }
  IoStatus write(uint64_t offset, std::span<const uint8_t> data) override { return inner_.write(offset, data); }
  IoStatus flush() override {
    ++flushes;
    return fail_flushes ? IoStatus::error(EIO) : inner_.flush();
  }
  std::atomic<int> flushes{0};
  std::atomic<bool> fail_flushes{false};

 private:
  StorageVolume& inner_;
};

// What a file on a disk does with O_DSYNC and RWF_DSYNC: the write is
// answered after a flush (the kernel's FUSE sends none of its own), and
// fails with the flush. The engine's metadata writes are RWF_DSYNC, and the
// system tests' faulty disk serves the engine's backing file this way.
TEST_F(KernelFrontendTest, ADsyncWriteIsAnsweredAfterAFlushOfTheVolume) {
  auto& volume = keep_volume(std::make_unique<FlushCountingVolume>(make_volume("r0", /*writable=*/true)));
  FuseExport* fuse = export_volume(volume, "r0");
  ASSERT_NE(fuse, nullptr);
  int fd = ::open(fuse->file_path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  std::vector<char> small(4096, 's'), large(256 << 10, 'l');
  ASSERT_EQ(::pwrite(fd, small.data(), small.size(), 0), static_cast<ssize_t>(small.size()));
  EXPECT_EQ(volume.flushes.load(), 0) << "a plain write is not flushed";
  iovec iov{small.data(), small.size()};
  ASSERT_EQ(::pwritev2(fd, &iov, 1, 8192, RWF_DSYNC), static_cast<ssize_t>(small.size()));
  EXPECT_EQ(volume.flushes.load(), 1);
  iovec big{large.data(), large.size()};
  ASSERT_EQ(::pwritev2(fd, &big, 1, 65536, RWF_DSYNC), static_cast<ssize_t>(large.size()));
  EXPECT_EQ(volume.flushes.load(), 2) << "a large write too";
  volume.fail_flushes = true;
  EXPECT_EQ(::pwritev2(fd, &iov, 1, 8192, RWF_DSYNC), -1);
  EXPECT_EQ(errno, EIO);
  volume.fail_flushes = false;
  ::close(fd);
  fd = ::open(fuse->file_path().c_str(), O_RDWR | O_DSYNC | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const int before = volume.flushes.load();
  ASSERT_EQ(::pwrite(fd, small.data(), small.size(), 0), static_cast<ssize_t>(small.size()));
  EXPECT_EQ(volume.flushes.load(), before + 1) << "opened O_DSYNC";
  ::close(fd);
  EXPECT_GE(fuse->counters().flushes, 3u);
  auto stopped = fuse->stop();
  ASSERT_TRUE(stopped.ok()) << stopped.error();
}

TEST_F(KernelFrontendTest, ADsyncWriteOnTheVolumesRequestLoopIsFlushedThere) {
  auto& volume = keep_volume(std::make_unique<LoopServedVolume>(make_volume("r0", /*writable=*/true)));
  FuseExport* fuse = export_volume(volume, "r0");
  ASSERT_NE(fuse, nullptr);
  int fd = ::open(fuse->file_path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  std::vector<char> small(4096, 's'), large(256 << 10, 'l');
  iovec iov{small.data(), small.size()}, big{large.data(), large.size()};
  ASSERT_EQ(::pwrite(fd, small.data(), small.size(), 0), static_cast<ssize_t>(small.size()));
  EXPECT_EQ(fuse->counters().flushes, 0u);
  ASSERT_EQ(::pwritev2(fd, &iov, 1, 8192, RWF_DSYNC), static_cast<ssize_t>(small.size()));
  EXPECT_EQ(fuse->counters().flushes, 1u);
  ASSERT_EQ(::pwritev2(fd, &big, 1, 65536, RWF_DSYNC), static_cast<ssize_t>(large.size()));
  EXPECT_EQ(fuse->counters().flushes, 2u);
  ::close(fd);
  auto stopped = fuse->stop();
  ASSERT_TRUE(stopped.ok()) << stopped.error();
  EXPECT_EQ(volume.blocking_calls.load(), 0) << "served by a worker thread";
  EXPECT_EQ(volume.off_loop_calls.load(), 0) << "started off the volume's loop";
}

TEST_F(KernelFrontendTest, ExportOnARequestLoopDestroyedOutOfOrderAbortsInsteadOfHanging) {
  auto& volume = keep_volume(std::make_unique<LoopServedVolume>(make_volume("r0", /*writable=*/true)));
  auto started = FuseExport::start(volume, {.mount_point = path("r0/fuse"), .name = "r0"});
  ASSERT_TRUE(started.ok()) << started.error();
  std::unique_ptr<FuseExport> fuse = std::move(started.value());
  LoopDevice* loop = attach_loop(*fuse, {.name = "r0"});
  ASSERT_NE(loop, nullptr);
  fuse.reset();  // stop() is refused (loop attached): the destructor aborts
  int fd = ::open(loop->device_path().c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  alignas(4096) static char block[4096];
  EXPECT_EQ(::pread(fd, block, sizeof block, 0), -1) << "I/O must fail once the export is gone";
  ::close(fd);
  EXPECT_TRUE(loop->detach().ok());
}

TEST_F(KernelFrontendTest, NonWritableVolumeAttachesReadOnlyAndMountsOnlyWithRo) {
  // Put a file system with a file on the volume while it is writable.
  StorageVolume& volume = make_volume("r0", /*writable=*/true);
  {
    FuseExport* fuse = export_volume(volume, "r0");
    ASSERT_NE(fuse, nullptr);
    auto loop = LoopDevice::attach(fuse->file_path(), {.name = "r0"});
    ASSERT_TRUE(loop.ok()) << loop.error();
    ASSERT_FALSE(format_and_mount(*loop.value(), "").empty());
    write_file_durably(path("mnt/hello.txt"), kContent);
    ASSERT_TRUE(SystemMounter().unmount(path("mnt"), {}).ok());
    ASSERT_TRUE(loop.value()->detach().ok());
    ASSERT_TRUE(fuse->stop().ok());
  }

  volume.set_writable(false);
  FuseExport* fuse = export_volume(volume, "r0");
  ASSERT_NE(fuse, nullptr);
  EXPECT_EQ(::open(fuse->file_path().c_str(), O_RDWR | O_CLOEXEC), -1);
  EXPECT_EQ(errno, EROFS);

  auto writable_attach = LoopDevice::attach(fuse->file_path(), {.name = "r0"});
  ASSERT_FALSE(writable_attach.ok());
  EXPECT_NE(writable_attach.error().find("cannot attach " + fuse->file_path() + " to a loop device"), std::string::npos)
      << writable_attach.error();
  EXPECT_NE(writable_attach.error().find("Read-only file system"), std::string::npos) << writable_attach.error();

  auto attached = LoopDevice::attach(fuse->file_path(), {.read_only = true, .name = "r0"});
  ASSERT_TRUE(attached.ok()) << attached.error();
  LoopDevice* loop = keep(std::move(attached.value()));
  EXPECT_TRUE(loop->read_only());
  EXPECT_EQ(read_text("/sys/block/loop" + std::to_string(loop->number()) + "/ro"), "1\n");
  int fd = ::open(loop->device_path().c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {  // the kernel lets a read-only disk be opened for writing, but not written
    char block[512] = {};
    EXPECT_EQ(::pwrite(fd, block, sizeof block, 0), -1);
    EXPECT_EQ(errno, EPERM);
    ::close(fd);
  }

  SystemMounter mounter;
  auto rw_mount = mounter.mount(loop->device_path(), path("mnt"), "ext4", "noatime");
  ASSERT_FALSE(rw_mount.ok());
  EXPECT_NE(rw_mount.error().find(loop->device_path() + " is read-only"), std::string::npos) << rw_mount.error();
  EXPECT_NE(rw_mount.error().find("mount it with \"ro\""), std::string::npos) << rw_mount.error();

  auto ro_mount = mounter.mount(loop->device_path(), path("mnt"), "ext4", "ro,noatime");
  ASSERT_TRUE(ro_mount.ok()) << ro_mount.error();
  EXPECT_EQ(read_text(path("mnt/hello.txt")), kContent);
  EXPECT_EQ(fuse->counters().writes, 0u);
  ASSERT_TRUE(mounter.unmount(path("mnt"), {}).ok());
}

TEST_F(KernelFrontendTest, BusyUnmountNamesTheHolderAndSucceedsOnceItIsGone) {
  const Frontend frontend = mounted_frontend("noatime");
  ASSERT_FALSE(frontend.mount_point.empty());
  const std::string& mount_point = frontend.mount_point;
  LoopDevice* loop = frontend.loop;
  SystemMounter mounter;
  write_file_durably(mount_point + "/db.ibd", kContent);

  pid_t holder = spawn_holder(mount_point + "/db.ibd");
  ASSERT_GT(holder, 0);
  // Wait until the child has exec'd and holds the file.
  std::vector<HoldingProcess> holders;
  for (int i = 0; i < 100; ++i) {
    holders = mounter.processes_holding(mount_point);
    if (!holders.empty() && holders[0].comm == "sleep") break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(holders.size(), 1u);
  EXPECT_EQ(holders[0].pid, holder);
  EXPECT_EQ(holders[0].comm, "sleep");
  EXPECT_EQ(holders[0].how, "fd 3 (" + mount_point + "/db.ibd)");

  const auto started = std::chrono::steady_clock::now();
  auto busy = mounter.unmount(mount_point, {.grace = 500ms});
  const auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(busy.ok());
  EXPECT_GE(waited, 500ms);
  EXPECT_NE(busy.error().find("still in use after"), std::string::npos) << busy.error();
  EXPECT_NE(busy.error().find("sleep (pid " + std::to_string(holder) + ")"), std::string::npos) << busy.error();
  EXPECT_TRUE(find_mount(mount_point).has_value());

  // Still mounted, so the loop device may not go, nor the export under it.
  auto early_detach = loop->detach();
  ASSERT_FALSE(early_detach.ok());
  EXPECT_NE(early_detach.error().find("mounted at " + mount_point + "; unmount it first"), std::string::npos)
      << early_detach.error();

  kill_child(holder);
  auto unmounted = mounter.unmount(mount_point, {.grace = 2s});
  ASSERT_TRUE(unmounted.ok()) << unmounted.error();
  EXPECT_TRUE(mounter.processes_holding(mount_point).empty());
}

TEST_F(KernelFrontendTest, UnmountKillsTheHoldersWhenThePolicySaysSo) {
  ASSERT_FALSE(mounted_frontend("").mount_point.empty());
  SystemMounter mounter;
  write_file_durably(path("mnt/data"), kContent);
  pid_t holder = spawn_holder(path("mnt/data"));
  ASSERT_GT(holder, 0);
  for (int i = 0; i < 100 && mounter.processes_holding(path("mnt")).empty(); ++i) std::this_thread::sleep_for(20ms);

  // The child is ours, so it stays a zombie until reaped, but a zombie holds no files.
  auto unmounted = mounter.unmount(path("mnt"), {.grace = 200ms, .kill_holders = true, .kill_grace = 2s});
  ASSERT_TRUE(unmounted.ok()) << unmounted.error();
  int status = 0;
  ASSERT_EQ(::waitpid(holder, &status, 0), holder);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  // The report names whom it signalled, for the log and the journal.
  ASSERT_EQ(unmounted.value().signalled.size(), 1u);
  EXPECT_EQ(unmounted.value().signalled[0].first.pid, holder);
  EXPECT_EQ(unmounted.value().signalled[0].second, SIGTERM);
}

TEST_F(KernelFrontendTest, ProcessesHoldingFindsWorkingDirectoriesAndExecutables) {
  const std::string mount_point = mounted_frontend("").mount_point;
  ASSERT_FALSE(mount_point.empty());
  std::filesystem::create_directory(mount_point + "/data");
  std::filesystem::copy_file("/bin/sleep", mount_point + "/mysqld");
  pid_t in_cwd = spawn_child({"sleep", "600"}, "", mount_point + "/data");
  pid_t running_from = spawn_child({mount_point + "/mysqld", "600"});
  ASSERT_GT(in_cwd, 0);
  ASSERT_GT(running_from, 0);

  SystemMounter mounter;
  std::vector<HoldingProcess> holders;
  for (int i = 0; i < 100 && holders.size() < 2; ++i) {
    std::this_thread::sleep_for(20ms);
    holders = mounter.processes_holding(mount_point);
  }
  ASSERT_EQ(holders.size(), 2u) << describe_holders(holders);
  std::sort(holders.begin(), holders.end(), [&](auto& a, auto& b) { return (a.pid == in_cwd) > (b.pid == in_cwd); });
  EXPECT_EQ(holders[0].pid, in_cwd);
  EXPECT_EQ(holders[0].how, "cwd");
  EXPECT_EQ(holders[1].pid, running_from);
  EXPECT_EQ(holders[1].comm, "mysqld");
  EXPECT_EQ(holders[1].how, "exe");
}

TEST_F(KernelFrontendTest, StaleExportOfACrashedDaemonIsReplaced) {
  // What a vrrpd killed with SIGKILL leaves: a fuse.vrrpd mount whose
  // /dev/fuse descriptor is closed, so every access fails with ENOTCONN.
  const std::string mount_point = path("r0/fuse");
  std::filesystem::create_directories(mount_point);
  int fuse_fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  ASSERT_GE(fuse_fd, 0);
  const std::string data = "fd=" + std::to_string(fuse_fd) + ",rootmode=40000,user_id=0,group_id=0";
  ASSERT_EQ(::mount("vrrpd:r0", mount_point.c_str(), "fuse.vrrpd", MS_NOSUID | MS_NODEV, data.c_str()), 0)
      << std::strerror(errno);
  ::close(fuse_fd);
  struct stat st;
  ASSERT_NE(::stat(mount_point.c_str(), &st), 0);
  ASSERT_EQ(errno, ENOTCONN);

  StorageVolume& volume = make_volume("r0", /*writable=*/true, 1 << 20);
  FuseExport* fuse = export_volume(volume, "r0");
  ASSERT_NE(fuse, nullptr);
  EXPECT_EQ(std::filesystem::file_size(fuse->file_path()), 1u << 20);
}

TEST_F(KernelFrontendTest, StopOutOfOrderIsRefusedAndNamesTheLoopDevice) {
  StorageVolume& volume = make_volume("r0", /*writable=*/true);
  FuseExport* fuse = export_volume(volume, "r0");
  ASSERT_NE(fuse, nullptr);
  LoopDevice* loop = attach_loop(*fuse, {.name = "r0"});
  ASSERT_NE(loop, nullptr);

  auto refused = fuse->stop();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("loop device " + loop->device_path() + " is attached to " + fuse->file_path()),
            std::string::npos)
      << refused.error();
  EXPECT_TRUE(fuse->running());
  // The export still serves the loop device.
  int fd = ::open(loop->device_path().c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  char block[4096];
  EXPECT_EQ(::pread(fd, block, sizeof block, 0), static_cast<ssize_t>(sizeof block));
  ::close(fd);

  ASSERT_TRUE(loop->detach().ok());
  auto stopped = fuse->stop();
  ASSERT_TRUE(stopped.ok()) << stopped.error();
  EXPECT_FALSE(fuse->running());
}

TEST_F(KernelFrontendTest, ExportDestroyedOutOfOrderAbortsTheConnectionInsteadOfHanging) {
  StorageVolume& volume = make_volume("r0", /*writable=*/true);
  auto started = FuseExport::start(volume, {.mount_point = path("r0/fuse"), .name = "r0"});
  ASSERT_TRUE(started.ok()) << started.error();
  std::unique_ptr<FuseExport> fuse = std::move(started.value());
  LoopDevice* loop = attach_loop(*fuse, {.name = "r0"});
  ASSERT_NE(loop, nullptr);

  fuse.reset();  // stop() is refused (loop attached), so the destructor aborts
  EXPECT_FALSE(find_mount(path("r0/fuse")).has_value());
  int fd = ::open(loop->device_path().c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  alignas(4096) static char block[4096];
  EXPECT_EQ(::pread(fd, block, sizeof block, 0), -1) << "I/O must fail once the export is gone";
  ::close(fd);
  auto detached = loop->detach();
  EXPECT_TRUE(detached.ok()) << detached.error();
}

TEST_F(KernelFrontendTest, ObserverLearnsTheConnectionWhichAnAbortThroughFusectlEnds) {
  StorageVolume& volume = make_volume("r0", /*writable=*/true, 1 << 20);
  std::vector<std::pair<unsigned, bool>> notes;  // on the thread calling start() / stop()
  auto started = FuseExport::start(
      volume, {.mount_point = path("r0/fuse"), .name = "r0",
               .on_connection = [&notes](unsigned connection, bool serving) { notes.emplace_back(connection, serving); }});
  ASSERT_TRUE(started.ok()) << started.error();
  std::unique_ptr<FuseExport> fuse = std::move(started.value());
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_TRUE(notes[0].second);
  const unsigned connection = notes[0].first;
  auto mount = find_mount(fuse->mount_point());
  ASSERT_TRUE(mount.has_value());
  EXPECT_EQ(connection, mount->dev_minor);  // the N of /sys/fs/fuse/connections/N

  int fd = ::open(fuse->file_path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  char byte = 0;
  ASSERT_EQ(::pread(fd, &byte, 1, 0), 1);
  EXPECT_EQ(abort_fuse_connection(connection), 0);
  errno = 0;
  EXPECT_EQ(::pread(fd, &byte, 1, 0), -1) << "I/O must fail once the connection is aborted";
  EXPECT_EQ(errno, ENOTCONN);
  ::close(fd);
  // The session ends as after an unmount; the observer hears of it.
  ASSERT_TRUE(fuse->stop().ok());
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[1], std::make_pair(connection, false));
  EXPECT_EQ(abort_fuse_connection(connection), ENOENT);
}

TEST_F(KernelFrontendTest, StopEndsTheExportEvenIfAnotherMountNamespaceKeptACopy) {
  StorageVolume& volume = make_volume("r0", /*writable=*/true, 1 << 20);
  FuseExport* fuse = export_volume(volume, "r0");
  ASSERT_NE(fuse, nullptr);
  // A private mount namespace made now holds its own copy of the FUSE mount,
  // which our unmount does not remove (a service with PrivateTmp= does this).
  pid_t child = spawn_child({"unshare", "--mount", "--propagation", "private", "sleep", "600"});
  ASSERT_GT(child, 0);
  for (int i = 0; i < 100 && read_text("/proc/" + std::to_string(child) + "/comm") != "sleep\n"; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(read_text("/proc/" + std::to_string(child) + "/comm"), "sleep\n");

  auto stopped = fuse->stop();  // must not wait for the other namespace
  ASSERT_TRUE(stopped.ok()) << stopped.error();
  EXPECT_FALSE(fuse->running());
  kill_child(child);
}

// Blocks the backing file has allocated (st_blocks, 512-byte units).
uint64_t allocated_blocks(const std::string& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) : 0;
}

TEST_F(KernelFrontendTest, DiscardAndZeroOutOfTheLoopDeviceReachTheVolume) {
  constexpr uint64_t kMiB = 1u << 20;
  StorageVolume& volume = make_volume("r0", /*writable=*/true, 8 * kMiB);
  const std::vector<uint8_t> filled(8 * kMiB, 0xAB);
  ASSERT_TRUE(volume.write(0, filled).ok());
  ASSERT_TRUE(volume.flush().ok());
  const uint64_t blocks_before = allocated_blocks(path("r0.img"));
  ASSERT_GE(blocks_before, 8 * kMiB / 512);
  FuseExport* fuse = export_volume(volume, "r0");
  ASSERT_NE(fuse, nullptr);
  LoopDevice* loop = attach_loop(*fuse, {.name = "r0"});
  ASSERT_NE(loop, nullptr);
  // The loop device offers discard, at the granularity statfs gives.
  const std::string queue = "/sys/block/" + std::filesystem::path(loop->device_path()).filename().string() + "/queue/";
  EXPECT_EQ(read_text(queue + "discard_granularity"), "4096\n");
  EXPECT_NE(read_text(queue + "discard_max_bytes"), "0\n");

  int fd = ::open(loop->device_path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  uint64_t range[2] = {1 * kMiB, 4 * kMiB};
  ASSERT_EQ(::ioctl(fd, BLKDISCARD, range), 0) << std::strerror(errno);
  uint64_t zero_range[2] = {6 * kMiB, 64 * 1024};
  ASSERT_EQ(::ioctl(fd, BLKZEROOUT, zero_range), 0) << std::strerror(errno);
  ::close(fd);

  std::vector<uint8_t> back(8 * kMiB);
  ASSERT_TRUE(volume.read(0, back).ok());
  auto all = [&](uint64_t from, uint64_t to, uint8_t v) {
    return std::all_of(back.begin() + from, back.begin() + to, [v](uint8_t c) { return c == v; });
  };
  EXPECT_TRUE(all(0, 1 * kMiB, 0xAB));
  EXPECT_TRUE(all(1 * kMiB, 5 * kMiB, 0));
  EXPECT_TRUE(all(5 * kMiB, 6 * kMiB, 0xAB));
  EXPECT_TRUE(all(6 * kMiB, 6 * kMiB + 64 * 1024, 0));
  EXPECT_TRUE(all(6 * kMiB + 64 * 1024, 8 * kMiB, 0xAB));
  // A hole in the backing file (ext4 under the test directory punches holes).
  EXPECT_LE(allocated_blocks(path("r0.img")), blocks_before - 4 * kMiB / 512);
  EXPECT_GE(fuse->counters().discards, 2u);
  EXPECT_EQ(fuse->counters().discard_bytes, 4 * kMiB + 64 * 1024);

  // On the file itself: only modes that keep the size and layout.
  int file = ::open(fuse->file_path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(file, 0) << std::strerror(errno);
  EXPECT_EQ(::fallocate(file, FALLOC_FL_COLLAPSE_RANGE, 0, 4096), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  EXPECT_EQ(::fallocate(file, 0, 8 * kMiB, 4096), -1);  // would grow the file
  EXPECT_EQ(errno, EOPNOTSUPP);
  EXPECT_EQ(::fallocate(file, 0, 0, 4096), 0);  // already allocated
  EXPECT_EQ(::fallocate(file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 7 * kMiB, 4096), 0);
  ::close(file);
  ASSERT_TRUE(volume.read(0, back).ok());
  EXPECT_TRUE(all(7 * kMiB, 7 * kMiB + 4096, 0));
  EXPECT_TRUE(all(7 * kMiB + 4096, 8 * kMiB, 0xAB));
}

TEST_F(KernelFrontendTest, DiscardOnAReadOnlyVolumeIsRefused) {
  StorageVolume& volume = make_volume("r0", /*writable=*/false, 1 << 20);
  EXPECT_EQ(volume.discard(0, 4096).errno_value(), EROFS);
}

TEST_F(KernelFrontendTest, SecondExportAtTheSameDirectoryIsRefused) {
  StorageVolume& volume = make_volume("r0", /*writable=*/true, 1 << 20);
  FuseExport* fuse = export_volume(volume, "r0");
  ASSERT_NE(fuse, nullptr);
  auto second = FuseExport::start(volume, {.mount_point = fuse->mount_point(), .name = "r0"});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().find("already exported there"), std::string::npos) << second.error();
}

}  // namespace
}  // namespace vrrpd::replication
