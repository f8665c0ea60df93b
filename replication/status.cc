// DRBD's names for the resource states; see status.h.
#include "replication/status.h"

namespace vrrpd::replication {

const char* to_string(Role r) {
  switch (r) {
    case Role::kPrimary: return "Primary";
    case Role::kSecondary: return "Secondary";
  }
  return "Unknown";
}

const char* to_string(std::optional<Role> r) { return r ? to_string(*r) : "Unknown"; }

const char* to_string(DiskState d) {
  switch (d) {
    case DiskState::kDiskless: return "Diskless";
    case DiskState::kAttaching: return "Attaching";
    case DiskState::kInconsistent: return "Inconsistent";
    case DiskState::kOutdated: return "Outdated";
    case DiskState::kUpToDate: return "UpToDate";
    case DiskState::kConsistent: return "Consistent";
  }
  return "DUnknown";
}

const char* to_string(std::optional<DiskState> d) { return d ? to_string(*d) : "DUnknown"; }

const char* to_string(ConnectionState c) {
  switch (c) {
    case ConnectionState::kStandAlone: return "StandAlone";
    case ConnectionState::kDisconnecting: return "Disconnecting";
    case ConnectionState::kConnecting: return "Connecting";
    case ConnectionState::kConnected: return "Connected";
  }
  return "Unknown";
}

const char* to_string(ReplicationState r) {
  switch (r) {
    case ReplicationState::kOff: return "Off";
    case ReplicationState::kEstablished: return "Established";
    case ReplicationState::kSyncSource: return "SyncSource";
    case ReplicationState::kSyncTarget: return "SyncTarget";
    case ReplicationState::kVerifyS: return "VerifyS";
    case ReplicationState::kVerifyT: return "VerifyT";
    case ReplicationState::kPausedSyncS: return "PausedSyncS";
    case ReplicationState::kPausedSyncT: return "PausedSyncT";
    case ReplicationState::kAhead: return "Ahead";
    case ReplicationState::kBehind: return "Behind";
  }
  return "Unknown";
}

const char* to_string(FenceAnswer a) {
  switch (a) {
    case FenceAnswer::kOutdated: return "outdated";
    case FenceAnswer::kInconsistent: return "inconsistent";
    case FenceAnswer::kPrimary: return "primary";
    case FenceAnswer::kConnected: return "connected";
    case FenceAnswer::kRefused: return "refused";
  }
  return "refused";
}

}  // namespace vrrpd::replication
