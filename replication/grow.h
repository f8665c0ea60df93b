// Online grow of a replicated volume's metadata (drbdadm resize after the
// backing devices grew): the geometry for the larger size and the
// crash-safe move of the metadata to it. Shrinking needs none of this: the
// metadata stays where it is and only the superblock's data size changes
// (Resource::shrink_to).
//
// Internal metadata sits at the end of the backing device, so a device that
// grew has its metadata in the middle; it moves to the new end:
//   1. both superblock slots at the new place are zeroed (and flushed), so
//      no stale superblock left there by an earlier, larger incarnation of
//      the device can be taken for the new one;
//   2. the whole bitmap (the grown one) and the activity-log ring (zeroed,
//      then one transaction with the active extents) are written there;
//   3. the superblock goes to both new slots, each write flushed: the first
//      one is the commit point. Until then the old metadata is untouched and
//      complete, and the new areas lie wholly past it (the device must have
//      grown by at least the metadata's size, else plan_grown_metadata()
//      refuses and says by how much);
//   4. the old metadata (bitmap, activity log, superblock slots) is zeroed
//      (discarded), so that nothing in the data area, or in the unused space
//      between the data and the new metadata, looks like metadata, and that
//      space reads as zeros (resize --assume-clean relies on it).
// A crash before 3 leaves the metadata where it was, which attach does not
// find at the end of a grown device (the same as a device grown while the
// daemon was down); see README.md for the way back.
//
// External metadata stays in place: the bitmap grows into the metadata
// storage (which must have room: 32 KiB per GiB of data), then the
// superblock with the new data size and bitmap length is written (the
// commit point; the extra bitmap pages are ignored before it).
#pragma once

#include <cstdint>
#include <vector>

#include "replication/bitmap.h"
#include "replication/metadata.h"
#include "replication/result.h"
#include "replication/storage.h"

namespace vrrpd::replication {

// The largest data size `sb`'s layout allows on storage of these sizes
// (bytes): internal, what the backing device leaves after the metadata;
// external, the data device, and no more than the metadata storage has
// bitmap room for. Never less than sb.data_size.
uint64_t max_data_size(const Superblock& sb, uint64_t md_storage_size, uint64_t data_device_size);

// The superblock after growing `sb` to `new_data_size` bytes: same identity,
// generations, flags and sequence; the new geometry. Fails, saying what to
// do, if the size does not grow, is not a multiple of 4096, does not fit,
// or (internal) the device did not grow by enough for the new metadata to
// lie past the old.
Result<Superblock> plan_grown_metadata(const Superblock& sb, uint64_t md_storage_size, uint64_t data_device_size,
                                       uint64_t new_data_size);

// Writes the metadata `new_sb` (from plan_grown_metadata(old_sb, ...)) in
// the order above. `bitmap` is the grown bitmap (new_sb.data_size); it is
// written in full. `al_extents` / `al_sequence`: the activity log's active
// set, recorded as transaction `al_sequence` in the new ring (internal
// only; the external ring does not move). On success new_sb.sequence is the
// sequence of its newest slot; on failure the old metadata is still the one
// in force (unless the failure came after the commit point, which the
// result says: committed).
struct GrowResult {
  IoStatus status;
  bool committed = false;  // the new superblock is on disk (in force even if a later step failed)
  // A flush or durable write failed (not a plain write or discard): with
  // internal metadata it may report the data's writeback errors too.
  bool durable_write_failed = false;
};
GrowResult write_grown_metadata(BlockStorage& md, const Superblock& old_sb, Superblock& new_sb,
                                OutOfSyncBitmap& bitmap, const std::vector<uint32_t>& al_extents,
                                uint64_t al_sequence);

// ---- A device that grew with its internal metadata still in the middle ----
// (grown while vrrpd was down, or a power cut between the growth and the
// resize). DRBD keeps the last known device size in a file for this
// (drbdmeta check-resize); here the metadata is searched for instead.

// Finds the newest valid internal metadata below the end of `storage`:
// scans backwards in 4 KiB steps for a superblock that records its own
// offset. Reads up to the whole device, so it is for an operator's command
// (vrrpctl replication resize on a resource that is down), not for attach.
Result<Superblock> find_internal_metadata_below_end(BlockStorage& storage);

// Moves `found` (from find_internal_metadata_below_end) to the end of
// `storage`, in grow.h's crash-safe order, keeping its data size, flags,
// bitmap and activity log (a crashed Primary's hot extents survive the
// move). The volume grows later, online, with the peer.
Result<Superblock> move_internal_metadata_to_end(BlockStorage& storage, const Superblock& found);

// Where internal metadata `sb` starts (its lowest area); it ends with
// superblock slot 1.
uint64_t old_metadata_begin(const Superblock& sb);

// A copy of `bitmap` for `new_data_size` bytes: the same bits below the
// smaller of both sizes; when it grows, the added blocks set if
// `mark_added` (they differ from the peer's until resynced); when it
// shrinks, the bits past the new end dropped.
OutOfSyncBitmap resized_bitmap(const OutOfSyncBitmap& bitmap, uint64_t new_data_size, bool mark_added);

}  // namespace vrrpd::replication
