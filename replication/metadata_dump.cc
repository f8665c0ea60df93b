#include "replication/metadata_dump.h"

#include <cstdio>

#include "replication/bitmap.h"

namespace vrrpd::replication {

namespace {

const char* yes_no(bool b) { return b ? "yes" : "no"; }

}  // namespace

Result<MetadataDump> read_metadata_dump(BlockStorage& md, MetadataLayout layout) {
  using R = Result<MetadataDump>;
  Result<Superblock> sb = read_metadata(md, layout);
  if (!sb.ok()) return R::failure(sb.error());
  MetadataDump d;
  d.sb = sb.value();
  Result<OutOfSyncBitmap> bm = OutOfSyncBitmap::load(md, d.sb.bitmap_offset, d.sb.data_size);
  if (!bm.ok()) return R::failure("reading the bitmap: " + bm.error());
  d.out_of_sync_blocks = bm->count();
  Result<AlRecovery> al = recover_activity_log(md, d.sb);
  if (!al.ok()) return R::failure("reading the activity log: " + al.error());
  d.al = al.value();
  return d;
}

std::string format_metadata_dump(const MetadataDump& d) {
  const Superblock& sb = d.sb;
  const Generations& g = sb.generations;
  std::string uuid;
  for (uint8_t b : sb.device_uuid) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", b);
    uuid += two;
  }
  std::string out;
  auto line = [&out](const std::string& key, const std::string& value) { out += key + ": " + value + "\n"; };
  line("metadata", std::string("format 1, ") + (sb.layout == MetadataLayout::kInternal ? "internal" : "external") +
                       ", superblock at offset " + std::to_string(sb.superblock_offset) + ", update " +
                       std::to_string(sb.sequence));
  line("data size", std::to_string(sb.data_size) + " bytes (" + std::to_string(sb.data_size >> 10) + " KiB)");
  line("node id", std::to_string(sb.node_id));
  line("device uuid", uuid);
  line("generations", generations_text(g) + " (current:bitmap:history:history; bit 0: was Primary)");
  line("flags", std::string("consistent ") + yes_no(sb.flags.consistent) + ", was-primary " +
                    yes_no(sb.flags.was_primary) + ", outdated " + yes_no(sb.flags.outdated) + ", peer-outdated " +
                    yes_no(sb.flags.peer_outdated));
  line("out of sync", std::to_string(d.out_of_sync_blocks * (kBlockSize / 1024)) + " KiB (" +
                          std::to_string(d.out_of_sync_blocks) + " blocks of 4 KiB)");
  line("bitmap", "offset " + std::to_string(sb.bitmap_offset) + ", " + std::to_string(sb.bitmap_length) + " bytes");
  std::string extents;
  for (uint32_t e : d.al.extents) extents += (extents.empty() ? "" : " ") + std::to_string(e);
  line("activity log",
       "offset " + std::to_string(sb.al_offset) + ", " + std::to_string(sb.al_slots) + " slots, at most " +
           std::to_string(sb.al_max_extents) + " extents; " +
           (d.al.last_sequence == 0 ? std::string("no transaction written")
                                    : "transaction " + std::to_string(d.al.last_sequence) + ": " +
                                          std::to_string(d.al.extents.size()) + " active extents of 4 MiB" +
                                          (extents.empty() ? "" : " (" + extents + ")")));
  if (sb.flags.was_primary)
    out += "note: it went down as Primary without a clean demotion: its active extents are marked out of sync at "
           "the next up, and resynced at the next connect\n";
  if (sb.diskless_primary_generation != 0)
    out += "note: it holds the only complete copy of a Primary peer's data (generation " +
           generation_hex(sb.diskless_primary_generation) +
           (sb.flags.diskless_primary_new_generation ? ", a generation started for its writes" : "") +
           "): that Primary, Diskless or resyncing, may connect to it again after a restart\n";
  if (!sb.flags.consistent)
    out += "note: not consistent (a resync to this node did not finish): it cannot be promoted without --force\n";
  return out;
}

}  // namespace vrrpd::replication
