// mount(8)-style option strings -> mount(2) flags and data (pure; no root needed).
#include <sys/mount.h>

#include <gtest/gtest.h>

#include "replication/mounter.h"

namespace vrrpd::replication {
namespace {

ParsedMountOptions parse(std::string_view options) {
  auto parsed = parse_mount_options(options);
  EXPECT_TRUE(parsed.ok()) << parsed.error();
  return parsed.ok() ? parsed.value() : ParsedMountOptions{};
}

TEST(ParseMountOptions, GenericOptionsBecomeFlagsTheRestIsData) {
  ParsedMountOptions p = parse("noatime,errors=remount-ro");
  EXPECT_EQ(p.flags, static_cast<unsigned long>(MS_NOATIME));
  EXPECT_EQ(p.data, "errors=remount-ro");

  p = parse("ro,nosuid,nodev,noexec,user_xattr,data=ordered,dirsync");
  EXPECT_EQ(p.flags, static_cast<unsigned long>(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_DIRSYNC));
  EXPECT_EQ(p.data, "user_xattr,data=ordered");
}

TEST(ParseMountOptions, LaterOptionWinsAsInMount8) {
  EXPECT_EQ(parse("ro,rw").flags, 0u);
  EXPECT_EQ(parse("rw,ro").flags, static_cast<unsigned long>(MS_RDONLY));
  EXPECT_EQ(parse("noatime,atime").flags, 0u);
}

TEST(ParseMountOptions, EmptyDefaultsAndFstabOnlyOptionsMeanNothing) {
  for (const char* text : {"", "defaults", "defaults,nofail,_netdev,x-systemd.automount,,noauto"}) {
    SCOPED_TRACE(text);
    ParsedMountOptions p = parse(text);
    EXPECT_EQ(p.flags, 0u);
    EXPECT_EQ(p.data, "");
  }
}

TEST(ParseMountOptions, RefusesOperationsThatAreNotAFreshMount) {
  for (const char* text : {"remount,ro", "bind", "noatime,rbind", "move", "shared", "loop", "loop=/dev/loop0"}) {
    SCOPED_TRACE(text);
    auto parsed = parse_mount_options(text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_NE(parsed.error().find("is not supported here"), std::string::npos) << parsed.error();
  }
}

TEST(DescribeHolders, ListsCommAndPid) {
  EXPECT_EQ(describe_holders({}), "");
  EXPECT_EQ(describe_holders({{1234, "mysqld", "cwd"}, {99, "sleep", "fd 3 (/mnt/x)"}}),
            "mysqld (pid 1234), sleep (pid 99)");
}

}  // namespace
}  // namespace vrrpd::replication
