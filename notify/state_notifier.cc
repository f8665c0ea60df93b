// StateNotifier: keepalived's notify program arguments, queued per instance.
#include "notify/state_notifier.h"

#include <optional>
#include <utility>
#include <vector>

#include "vrrpd/base/log.h"

namespace vrrpd::notify {
namespace {

const std::optional<config::Program>& program_for(const config::NotifyPrograms& p, NotifyState s) {
  switch (s) {
    case NotifyState::kMaster: return p.master;
    case NotifyState::kBackup: return p.backup;
    case NotifyState::kFault: return p.fault;
    case NotifyState::kStop: return p.stop;
  }
  return p.stop;  // unreachable: every enumerator is handled above
}

}  // namespace

std::string_view to_string(NotifyState state) {
  switch (state) {
    case NotifyState::kMaster: return "MASTER";
    case NotifyState::kBackup: return "BACKUP";
    case NotifyState::kFault: return "FAULT";
    case NotifyState::kStop: return "STOP";
  }
  return "UNKNOWN";
}

std::string notify_serial_key(const StateChange& change) {
  return (change.is_group ? "group:" : "instance:") + change.name;
}

StateNotifier::StateNotifier(ProgramQueue& programs) : programs_(programs) {}

void StateNotifier::notify(const config::NotifyPrograms& programs, const StateChange& change) {
  const std::string key = notify_serial_key(change);
  const std::string_view kind = change.is_group ? "GROUP" : "INSTANCE";

  if (const auto& specific = program_for(programs, change.state)) {
    if (specific->argv.empty())
      log::warning("notify program for " + key + " " + std::string(to_string(change.state)) +
                   " has no argv (" + specific->where.to_string() + "), skipped");
    else
      programs_.run(key, specific->argv);
  }

  if (const auto& generic = programs.generic) {
    if (generic->argv.empty()) {
      log::warning("notify program for " + key + " has no argv (" + generic->where.to_string() +
                   "), skipped");
      return;
    }
    std::vector<std::string> argv = generic->argv;
    argv.emplace_back(kind);
    argv.push_back(change.name);
    argv.emplace_back(to_string(change.state));
    argv.push_back(std::to_string(change.priority));
    programs_.run(key, std::move(argv));
  }
}

}  // namespace vrrpd::notify
