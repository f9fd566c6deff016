#include "store/wal_writes.h"

#include <Poco/Path.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "ciclo/text.h"

namespace ciclo::store {

namespace {

// The VFS this one wraps: SQLite's default when walGatheringUri() first ran.
sqlite3_vfs* base = nullptr;

// Writes are handed on at the latest when this much is waiting: a transaction larger than
// that is handed on a megabyte at a time.
constexpr std::size_t kMostWaiting = std::size_t{1} << 20;
// The default (unix) VFS writes at most 128 KiB - 1 bytes in one call: it masks the length
// with 0x1ffff, so a write of exactly 128 KiB would write nothing and report a full disk.
constexpr std::size_t kMostPerWrite = 120 * 1024;

// A WAL opened through this VFS: the real file, opened by the default VFS right behind this
// struct, and the writes SQLite made that the real file has not received yet. They always
// follow one another in the file (`waitingAt` is where the first of them goes): a write
// elsewhere first hands on what is waiting, so the file receives every write in SQLite's order.
struct WalFile {
  sqlite3_file file;  // first: SQLite sees a WalFile as this
  sqlite3_file* real;
  std::vector<char> waiting;
  sqlite3_int64 waitingAt = 0;
};

WalFile& walOf(sqlite3_file* f) {
  return *reinterpret_cast<WalFile*>(f);
}

int handOn(WalFile& w) {
  int rc = SQLITE_OK;
  for (std::size_t at = 0; at < w.waiting.size() && rc == SQLITE_OK; at += kMostPerWrite) {
    const std::size_t n = std::min(kMostPerWrite, w.waiting.size() - at);
    rc = w.real->pMethods->xWrite(w.real, w.waiting.data() + at, static_cast<int>(n),
                                  w.waitingAt + static_cast<sqlite3_int64>(at));
  }
  w.waiting.clear();
  return rc;
}

int walWrite(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  WalFile& w = walOf(f);
  if (!w.waiting.empty() && offset != w.waitingAt + static_cast<sqlite3_int64>(w.waiting.size())) {
    if (const int rc = handOn(w); rc != SQLITE_OK) return rc;
  }
  if (w.waiting.empty()) {
    w.waitingAt = offset;
    w.waiting.reserve(kMostWaiting);
  }
  const auto* bytes = static_cast<const char*>(data);
  w.waiting.insert(w.waiting.end(), bytes, bytes + amount);
  return w.waiting.size() >= kMostWaiting ? handOn(w) : SQLITE_OK;
}

// Every other operation sees the file with all of SQLite's writes in it. The one that matters
// most is the sync that ends each commit: SQLite tells readers of a transaction's frames only
// after it, so no other connection ever reads the WAL where writes are still waiting.
int walRead(sqlite3_file* f, void* data, int amount, sqlite3_int64 offset) {
  WalFile& w = walOf(f);
  if (const int rc = handOn(w); rc != SQLITE_OK) return rc;
  return w.real->pMethods->xRead(w.real, data, amount, offset);
}

int walTruncate(sqlite3_file* f, sqlite3_int64 size) {
  WalFile& w = walOf(f);
  if (const int rc = handOn(w); rc != SQLITE_OK) return rc;
  return w.real->pMethods->xTruncate(w.real, size);
}

int walSync(sqlite3_file* f, int flags) {
  WalFile& w = walOf(f);
  if (const int rc = handOn(w); rc != SQLITE_OK) return rc;
  return w.real->pMethods->xSync(w.real, flags);
}

int walFileSize(sqlite3_file* f, sqlite3_int64* size) {
  WalFile& w = walOf(f);
  if (const int rc = handOn(w); rc != SQLITE_OK) return rc;
  return w.real->pMethods->xFileSize(w.real, size);
}

int walFileControl(sqlite3_file* f, int op, void* arg) {
  WalFile& w = walOf(f);
  if (const int rc = handOn(w); rc != SQLITE_OK) return rc;
  return w.real->pMethods->xFileControl(w.real, op, arg);
}

int walClose(sqlite3_file* f) {
  WalFile& w = walOf(f);
  const int written = handOn(w);
  const int closed = w.real->pMethods->xClose(w.real);
  w.~WalFile();
  return written != SQLITE_OK ? written : closed;
}

int walLock(sqlite3_file* f, int level) {
  WalFile& w = walOf(f);
  return w.real->pMethods->xLock(w.real, level);
}

int walUnlock(sqlite3_file* f, int level) {
  WalFile& w = walOf(f);
  return w.real->pMethods->xUnlock(w.real, level);
}

int walCheckReservedLock(sqlite3_file* f, int* out) {
  WalFile& w = walOf(f);
  return w.real->pMethods->xCheckReservedLock(w.real, out);
}

int walSectorSize(sqlite3_file* f) {
  WalFile& w = walOf(f);
  return w.real->pMethods->xSectorSize(w.real);
}

int walDeviceCharacteristics(sqlite3_file* f) {
  WalFile& w = walOf(f);
  return w.real->pMethods->xDeviceCharacteristics(w.real);
}

// Version 1: shared memory and memory mapping are the database file's, never the WAL's.
const sqlite3_io_methods kWalMethods = {
    .iVersion = 1,
    .xClose = walClose,
    .xRead = walRead,
    .xWrite = walWrite,
    .xTruncate = walTruncate,
    .xSync = walSync,
    .xFileSize = walFileSize,
    .xLock = walLock,
    .xUnlock = walUnlock,
    .xCheckReservedLock = walCheckReservedLock,
    .xFileControl = walFileControl,
    .xSectorSize = walSectorSize,
    .xDeviceCharacteristics = walDeviceCharacteristics,
    .xShmMap = nullptr,
    .xShmLock = nullptr,
    .xShmBarrier = nullptr,
    .xShmUnmap = nullptr,
    .xFetch = nullptr,
    .xUnfetch = nullptr,
};

constexpr std::size_t realFileAt() {
  return (sizeof(WalFile) + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) *
         alignof(std::max_align_t);
}

int open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* outFlags) {
  if (!(flags & SQLITE_OPEN_WAL)) return base->xOpen(base, name, f, flags, outFlags);
  auto* w = new (f) WalFile{};
  w->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + realFileAt());
  const int rc = base->xOpen(base, name, w->real, flags, outFlags);
  if (rc != SQLITE_OK) {
    w->~WalFile();
    f->pMethods = nullptr;  // SQLite closes only a file whose open succeeded
    return rc;
  }
  f->pMethods = &kWalMethods;
  return SQLITE_OK;
}

sqlite3_vfs gathering() {
  sqlite3_vfs v{};
  v.iVersion = base->iVersion;
  v.szOsFile = static_cast<int>(realFileAt()) + base->szOsFile;
  v.mxPathname = base->mxPathname;
  v.zName = "ciclo-wal";
  v.xOpen = open;
  // The rest is the default VFS's.
  v.xDelete = [](sqlite3_vfs*, const char* name, int sync) {
    return base->xDelete(base, name, sync);
  };
  v.xAccess = [](sqlite3_vfs*, const char* name, int flags, int* out) {
    return base->xAccess(base, name, flags, out);
  };
  v.xFullPathname = [](sqlite3_vfs*, const char* name, int n, char* out) {
    return base->xFullPathname(base, name, n, out);
  };
  v.xDlOpen = [](sqlite3_vfs*, const char* name) { return base->xDlOpen(base, name); };
  v.xDlError = [](sqlite3_vfs*, int n, char* out) { base->xDlError(base, n, out); };
  v.xDlSym = [](sqlite3_vfs*, void* lib, const char* symbol) {
    return base->xDlSym(base, lib, symbol);
  };
  v.xDlClose = [](sqlite3_vfs*, void* lib) { base->xDlClose(base, lib); };
  v.xRandomness = [](sqlite3_vfs*, int n, char* out) { return base->xRandomness(base, n, out); };
  v.xSleep = [](sqlite3_vfs*, int micros) { return base->xSleep(base, micros); };
  v.xCurrentTime = [](sqlite3_vfs*, double* out) { return base->xCurrentTime(base, out); };
  v.xGetLastError = [](sqlite3_vfs*, int n, char* out) {
    return base->xGetLastError(base, n, out);
  };
  if (base->iVersion >= 2) {
    v.xCurrentTimeInt64 = [](sqlite3_vfs*, sqlite3_int64* out) {
      return base->xCurrentTimeInt64(base, out);
    };
  }
  if (base->iVersion >= 3) {
    v.xSetSystemCall = [](sqlite3_vfs*, const char* name, sqlite3_syscall_ptr call) {
      return base->xSetSystemCall(base, name, call);
    };
    v.xGetSystemCall = [](sqlite3_vfs*, const char* name) {
      return base->xGetSystemCall(base, name);
    };
    v.xNextSystemCall = [](sqlite3_vfs*, const char* name) {
      return base->xNextSystemCall(base, name);
    };
  }
  return v;
}

}  // namespace

std::string walGatheringUri(const std::string& path) {
  static std::once_flag once;
  static sqlite3_vfs vfs;
  std::call_once(once, [] {
    base = sqlite3_vfs_find(nullptr);
    vfs = gathering();
    sqlite3_vfs_register(&vfs, 0);
  });
  // The absolute path, each of its segments percent-encoded.
  const std::string absolute = Poco::Path(path).absolute().toString();
  std::string uri = "file://";
  for (std::size_t at = 0;;) {
    const std::size_t slash = absolute.find('/', at);
    uri += sdk::percentEncode(std::string_view(absolute).substr(at, slash - at));
    if (slash == std::string::npos) break;
    uri += '/';
    at = slash + 1;
  }
  return uri + "?vfs=" + vfs.zName;
}

}  // namespace ciclo::store
