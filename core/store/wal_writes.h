#pragma once
// SQLite writes each frame of its WAL with two write system calls, the frame's header and then
// its page: a group commit of 70 pages costs 140 of them, each walking the kernel's write path
// on its own. The VFS here wraps SQLite's default one and gathers a connection's WAL writes in
// memory, to hand them to the kernel a few at a time (at most 120 KiB each) when the commit
// syncs the WAL. Only the WAL is wrapped; every other file is the default VFS's own.
//
// It is only for a connection at synchronous=FULL or EXTRA: SQLite tells other connections
// about a commit's frames only after it has synced the WAL, and the sync is what hands the
// gathered writes on. At NORMAL or OFF a commit does not sync the WAL, and readers would look
// for frames that are still in this process's memory.

#include <string>

namespace ciclo::store {

// The SQLite URI that opens the database file at `path` through this VFS (registered at the
// first call; not as SQLite's default).
std::string walGatheringUri(const std::string& path);

}  // namespace ciclo::store
