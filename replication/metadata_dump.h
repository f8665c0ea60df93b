// drbdmeta dump-md for vrrpd: what a resource's metadata on disk says, read
// only, for an operator deciding by hand after a crash or a split brain
// (which node holds the newer data, whether it went down as Primary, what
// is out of sync, which extents a crashed Primary's next connect resyncs).
// For a resource that is down: while it is up the engine owns the metadata
// and `vrrpctl replication status` / `show-gi` show the live values.
#pragma once

#include <cstdint>
#include <string>

#include "replication/activity_log.h"
#include "replication/metadata.h"
#include "replication/result.h"
#include "replication/storage.h"

namespace vrrpd::replication {

struct MetadataDump {
  Superblock sb;
  uint64_t out_of_sync_blocks = 0;  // bits set in the bitmap (4 KiB blocks)
  AlRecovery al;                    // the newest valid activity-log transaction
};

// Reads the superblock of `layout` from `md` (the backing device for
// internal metadata), its bitmap and its activity log.
Result<MetadataDump> read_metadata_dump(BlockStorage& md, MetadataLayout layout);

// "key: value" lines, as `vrrpctl replication dump-md` prints them.
// Generation identifiers as in show-gi (16 hex digits, bit 0 the Primary
// flag).
std::string format_metadata_dump(const MetadataDump& d);

}  // namespace vrrpd::replication
