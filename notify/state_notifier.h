// Maps VRRP state changes of instances and sync groups onto keepalived's
// notify programs (notify_master/backup/fault/stop and the generic notify),
// queued per instance or group so a transition's programs run in order and
// never overlap with the next transition's (keepalived lets them race).
#pragma once

#include <string>
#include <string_view>

#include "notify/program_runner.h"
#include "vrrpd/config/model.h"

namespace vrrpd::notify {

// The states keepalived reports to notify programs.
enum class NotifyState { kMaster, kBackup, kFault, kStop };

// "MASTER", "BACKUP", "FAULT", "STOP": the words keepalived passes.
std::string_view to_string(NotifyState state);

struct StateChange {
  bool is_group = false;  // a sync group rather than a single instance
  std::string name;       // vrrp_instance / vrrp_sync_group name
  NotifyState state = NotifyState::kBackup;
  int priority = 0;       // current priority, passed as the last argument
};

// The serial key a change's programs are queued under: "instance:NAME" or
// "group:NAME".
std::string notify_serial_key(const StateChange& change);

class StateNotifier {
 public:
  // `programs` (a ProgramRunner in the daemon) must outlive the notifier.
  explicit StateNotifier(ProgramQueue& programs);

  // Queues, under notify_serial_key(change): the state's own program
  // (notify_master/backup/fault/stop) with its configured argv, then the
  // generic `notify` program with keepalived's arguments appended:
  // INSTANCE|GROUP, the name, MASTER|BACKUP|FAULT|STOP, the priority.
  // Programs that are not configured are skipped. Returns at once.
  void notify(const config::NotifyPrograms& programs, const StateChange& change);

 private:
  ProgramQueue& programs_;
};

}  // namespace vrrpd::notify
