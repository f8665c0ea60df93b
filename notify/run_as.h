// The --notify-run-as helper mode of the daemon binary. posix_spawn cannot
// change a child's credentials, so to run a notify program as another user
// ProgramRunner spawns our own binary as
//   SELF --notify-run-as USER GROUP -- PROG ARGS...
// which drops privileges and then execs PROG in place (same pid, same process
// group, so timeouts and kills reach the program itself).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vrrpd::notify {

// argv[1] that selects the helper mode; main() checks for it before anything
// else (before logging, threads or config).
inline constexpr std::string_view kRunAsFlag = "--notify-run-as";

// Exit statuses of the helper when it cannot run PROG (shell conventions).
inline constexpr int kRunAsCannotSwitchUser = 126;  // bad usage, unknown user/group, set*id failed
inline constexpr int kRunAsCannotExec = 127;        // execv(PROG) failed

// True when argv selects the helper mode.
bool is_run_as_invocation(int argc, char** argv);

// The argv that runs `program` as user:group through `self_exe`; group "" or
// "-" means the user's primary group.
std::vector<std::string> run_as_argv(const std::string& self_exe, const std::string& user,
                                     const std::string& group,
                                     const std::vector<std::string>& program);

// Helper main: resolves USER (getpwnam, or a numeric uid) and GROUP
// (getgrnam, a numeric gid, or "-" for the user's primary group), calls
// initgroups, setgid, setuid (each checked, and checked that root cannot be
// regained), then execv(PROG, ARGS). Returns only on failure: 126 with a
// message on stderr when the switch fails, 127 when execv fails.
int run_as_main(int argc, char** argv);

}  // namespace vrrpd::notify
