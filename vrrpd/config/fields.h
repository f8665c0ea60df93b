// The keys that both front ends spell alike: those of a replication
// resource, a service, the witness, and an instance's failover keys. Each is
// listed once here, with its name, its type (the member it fills) and
// whether it is a secret; each parser builds its key table from these lists,
// so a key added to the model is in both syntaxes at once, with the same
// name. Ranges and cross-checks stay validate()'s.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "vrrpd/config/model.h"

namespace vrrpd::config {

template <typename Block>
struct Field {
  using Member = std::variant<std::string Block::*, long Block::*, std::chrono::milliseconds Block::*,
                              bool Block::*, std::optional<IpAddress> Block::*,
                              std::optional<Program> Block::*, std::vector<std::string> Block::*>;
  std::string key;       // the native name, e.g. "peer_address"
  Member member;
  bool secret = false;   // a string never echoed in messages (see not_shown)
};

// In the order of the native format's "valid keys" lists; `name` is not
// among them (native: a key, keepalived: the block's header).
const std::vector<Field<Resource>>& resource_fields();
const std::vector<Field<Service>>& service_fields();
const std::vector<Field<WitnessSettings>>& witness_fields();
// resources, services, takeover_timeout_ms, release_timeout_ms, fault_hold_ms:
// the Ownership keys of an instance or a sync group.
template <typename Block>
const std::vector<Field<Block>>& failover_fields();

// How a secret is shown in messages instead of its value: "(7 bytes, not shown)".
std::string not_shown(const std::string& secret);

}  // namespace vrrpd::config
