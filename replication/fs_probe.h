// Which file system a volume holds and how far it reaches, read from its
// superblock. A shrink (vrrpctl replication resize --size below the current
// size) must not cut off the end of a file system that still spans it: the
// operator shrinks the file system first (resize2fs), then the volume.
// Only what the superblock says is used; a file system this does not know
// (or none) is not a reason to refuse, as with DRBD, which checks nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "replication/storage.h"

namespace vrrpd::replication {

struct FileSystemExtent {
  std::string type;    // "ext2/3/4" or "xfs"
  uint64_t bytes = 0;  // the file system's size: blocks times block size
};

// Reads the first 4 KiB of `volume` (ext2/3/4: the superblock at 1024; XFS:
// at 0). nullopt if neither magic is there, the fields are implausible, or
// the read fails (the caller says what it could not check).
std::optional<FileSystemExtent> probe_file_system(BlockStorage& volume);

}  // namespace vrrpd::replication
