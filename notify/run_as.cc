// The --notify-run-as helper: runs in a freshly spawned copy of the daemon
// binary, before any of the daemon is initialised, so it only uses libc and
// reports on stderr (which the spawned program inherits anyway).
#include "notify/run_as.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>

namespace vrrpd::notify {
namespace {

constexpr const char* kPrefix = "vrrpd --notify-run-as";

// Parses a whole decimal id ("65534"); nullopt for names.
template <typename Id>
std::optional<Id> parse_id(const char* s) {
  unsigned long value = 0;
  const char* end = s + std::strlen(s);
  auto [ptr, ec] = std::from_chars(s, end, value);
  if (s == end || ec != std::errc() || ptr != end || value != static_cast<Id>(value))
    return std::nullopt;
  return static_cast<Id>(value);
}

// getpwnam/getgrnam leave errno 0 or one of these when the name does not exist.
bool is_not_found(int err) {
  return err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM;
}

int fail(int status, const char* what, const char* name, int err) {
  if (err != 0)
    std::fprintf(stderr, "%s: %s \"%s\": %s\n", kPrefix, what, name, std::strerror(err));
  else
    std::fprintf(stderr, "%s: %s \"%s\"\n", kPrefix, what, name);
  return status;
}

}  // namespace

bool is_run_as_invocation(int argc, char** argv) {
  return argc > 1 && argv[1] != nullptr && kRunAsFlag == argv[1];
}

std::vector<std::string> run_as_argv(const std::string& self_exe, const std::string& user,
                                     const std::string& group,
                                     const std::vector<std::string>& program) {
  std::vector<std::string> argv{self_exe, std::string(kRunAsFlag), user,
                                group.empty() ? "-" : group, "--"};
  argv.insert(argv.end(), program.begin(), program.end());
  return argv;
}

int run_as_main(int argc, char** argv) {
  if (argc < 6 || !is_run_as_invocation(argc, argv) || std::strcmp(argv[4], "--") != 0 ||
      argv[5][0] == '\0') {
    std::fprintf(stderr, "usage: %s USER GROUP -- PROGRAM [ARGS...]  (GROUP \"-\": the user's group)\n",
                 kPrefix);
    return kRunAsCannotSwitchUser;
  }
  const char* user = argv[2];
  const char* group = argv[3];
  const char* program = argv[5];

  // getpwnam and getgrnam use separate static buffers; copy what we need.
  errno = 0;
  const passwd* pw = getpwnam(user);
  if (pw == nullptr && is_not_found(errno)) {
    if (auto id = parse_id<uid_t>(user)) pw = getpwuid(*id);
  }
  if (pw == nullptr)
    return fail(kRunAsCannotSwitchUser, "unknown user", user, is_not_found(errno) ? 0 : errno);
  const uid_t uid = pw->pw_uid;
  const std::string user_name = pw->pw_name;
  gid_t gid = pw->pw_gid;

  if (std::strcmp(group, "-") != 0) {
    errno = 0;
    const struct group* gr = getgrnam(group);
    if (gr == nullptr && is_not_found(errno)) {
      if (auto id = parse_id<gid_t>(group)) gr = getgrgid(*id);
    }
    if (gr == nullptr)
      return fail(kRunAsCannotSwitchUser, "unknown group", group, is_not_found(errno) ? 0 : errno);
    gid = gr->gr_gid;
  }

  // Order matters: supplementary groups and gid while still root, uid last.
  if (initgroups(user_name.c_str(), gid) != 0)
    return fail(kRunAsCannotSwitchUser, "initgroups failed for user", user, errno);
  if (setgid(gid) != 0) return fail(kRunAsCannotSwitchUser, "setgid failed for group", group, errno);
  if (setuid(uid) != 0) return fail(kRunAsCannotSwitchUser, "setuid failed for user", user, errno);
  if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
    return fail(kRunAsCannotSwitchUser, "credentials did not change for user", user, 0);
  if (uid != 0 && setuid(0) == 0)
    return fail(kRunAsCannotSwitchUser, "could regain root after switching to user", user, 0);

  execv(program, argv + 5);
  return fail(kRunAsCannotExec, "cannot execute", program, errno);
}

}  // namespace vrrpd::notify
