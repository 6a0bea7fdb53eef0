// File: src/wasi/abi.h  (internal)
//
// wasi_snapshot_preview1 as the witx files define it: errno values, rights, flags, enumerations and the
// byte layouts of the structures that cross guest memory. Values are checked against wasi-libc's
// <wasi/api.h> by tests/wasi.
#pragma once

#include <cstdint>

namespace wasmq::wasi::abi {

// errno
constexpr uint16_t kSuccess = 0;
constexpr uint16_t k2big = 1;
constexpr uint16_t kAcces = 2;
constexpr uint16_t kAddrinuse = 3;
constexpr uint16_t kAddrnotavail = 4;
constexpr uint16_t kAfnosupport = 5;
constexpr uint16_t kAgain = 6;
constexpr uint16_t kAlready = 7;
constexpr uint16_t kBadf = 8;
constexpr uint16_t kBadmsg = 9;
constexpr uint16_t kBusy = 10;
constexpr uint16_t kCanceled = 11;
constexpr uint16_t kChild = 12;
constexpr uint16_t kConnaborted = 13;
constexpr uint16_t kConnrefused = 14;
constexpr uint16_t kConnreset = 15;
constexpr uint16_t kDeadlk = 16;
constexpr uint16_t kDestaddrreq = 17;
constexpr uint16_t kDom = 18;
constexpr uint16_t kDquot = 19;
constexpr uint16_t kExist = 20;
constexpr uint16_t kFault = 21;
constexpr uint16_t kFbig = 22;
constexpr uint16_t kHostunreach = 23;
constexpr uint16_t kIdrm = 24;
constexpr uint16_t kIlseq = 25;
constexpr uint16_t kInprogress = 26;
constexpr uint16_t kIntr = 27;
constexpr uint16_t kInval = 28;
constexpr uint16_t kIo = 29;
constexpr uint16_t kIsconn = 30;
constexpr uint16_t kIsdir = 31;
constexpr uint16_t kLoop = 32;
constexpr uint16_t kMfile = 33;
constexpr uint16_t kMlink = 34;
constexpr uint16_t kMsgsize = 35;
constexpr uint16_t kMultihop = 36;
constexpr uint16_t kNametoolong = 37;
constexpr uint16_t kNetdown = 38;
constexpr uint16_t kNetreset = 39;
constexpr uint16_t kNetunreach = 40;
constexpr uint16_t kNfile = 41;
constexpr uint16_t kNobufs = 42;
constexpr uint16_t kNodev = 43;
constexpr uint16_t kNoent = 44;
constexpr uint16_t kNoexec = 45;
constexpr uint16_t kNolck = 46;
constexpr uint16_t kNolink = 47;
constexpr uint16_t kNomem = 48;
constexpr uint16_t kNomsg = 49;
constexpr uint16_t kNoprotoopt = 50;
constexpr uint16_t kNospc = 51;
constexpr uint16_t kNosys = 52;
constexpr uint16_t kNotconn = 53;
constexpr uint16_t kNotdir = 54;
constexpr uint16_t kNotempty = 55;
constexpr uint16_t kNotrecoverable = 56;
constexpr uint16_t kNotsock = 57;
constexpr uint16_t kNotsup = 58;
constexpr uint16_t kNotty = 59;
constexpr uint16_t kNxio = 60;
constexpr uint16_t kOverflow = 61;
constexpr uint16_t kOwnerdead = 62;
constexpr uint16_t kPerm = 63;
constexpr uint16_t kPipe = 64;
constexpr uint16_t kProto = 65;
constexpr uint16_t kProtonosupport = 66;
constexpr uint16_t kPrototype = 67;
constexpr uint16_t kRange = 68;
constexpr uint16_t kRofs = 69;
constexpr uint16_t kSpipe = 70;
constexpr uint16_t kSrch = 71;
constexpr uint16_t kStale = 72;
constexpr uint16_t kTimedout = 73;
constexpr uint16_t kTxtbsy = 74;
constexpr uint16_t kXdev = 75;
constexpr uint16_t kNotcapable = 76;

// rights
constexpr uint64_t kRightFdDatasync = 1ull << 0;
constexpr uint64_t kRightFdRead = 1ull << 1;
constexpr uint64_t kRightFdSeek = 1ull << 2;
constexpr uint64_t kRightFdFdstatSetFlags = 1ull << 3;
constexpr uint64_t kRightFdSync = 1ull << 4;
constexpr uint64_t kRightFdTell = 1ull << 5;
constexpr uint64_t kRightFdWrite = 1ull << 6;
constexpr uint64_t kRightFdAdvise = 1ull << 7;
constexpr uint64_t kRightFdAllocate = 1ull << 8;
constexpr uint64_t kRightPathCreateDirectory = 1ull << 9;
constexpr uint64_t kRightPathCreateFile = 1ull << 10;
constexpr uint64_t kRightPathLinkSource = 1ull << 11;
constexpr uint64_t kRightPathLinkTarget = 1ull << 12;
constexpr uint64_t kRightPathOpen = 1ull << 13;
constexpr uint64_t kRightFdReaddir = 1ull << 14;
constexpr uint64_t kRightPathReadlink = 1ull << 15;
constexpr uint64_t kRightPathRenameSource = 1ull << 16;
constexpr uint64_t kRightPathRenameTarget = 1ull << 17;
constexpr uint64_t kRightPathFilestatGet = 1ull << 18;
constexpr uint64_t kRightPathFilestatSetSize = 1ull << 19;
constexpr uint64_t kRightPathFilestatSetTimes = 1ull << 20;
constexpr uint64_t kRightFdFilestatGet = 1ull << 21;
constexpr uint64_t kRightFdFilestatSetSize = 1ull << 22;
constexpr uint64_t kRightFdFilestatSetTimes = 1ull << 23;
constexpr uint64_t kRightPathSymlink = 1ull << 24;
constexpr uint64_t kRightPathRemoveDirectory = 1ull << 25;
constexpr uint64_t kRightPathUnlinkFile = 1ull << 26;
constexpr uint64_t kRightPollFdReadwrite = 1ull << 27;
constexpr uint64_t kRightSockShutdown = 1ull << 28;
constexpr uint64_t kRightSockAccept = 1ull << 29;

// What a regular file descriptor can have.
constexpr uint64_t kFileRights = kRightFdDatasync | kRightFdRead | kRightFdSeek | kRightFdFdstatSetFlags |
                                 kRightFdSync | kRightFdTell | kRightFdWrite | kRightFdAdvise |
                                 kRightFdAllocate | kRightFdFilestatGet | kRightFdFilestatSetSize |
                                 kRightFdFilestatSetTimes | kRightPollFdReadwrite;
// What a directory descriptor can have.
constexpr uint64_t kDirRights =
    kRightFdFdstatSetFlags | kRightFdSync | kRightFdDatasync | kRightFdAdvise | kRightPathCreateDirectory |
    kRightPathCreateFile | kRightPathLinkSource | kRightPathLinkTarget | kRightPathOpen | kRightFdReaddir |
    kRightPathReadlink | kRightPathRenameSource | kRightPathRenameTarget | kRightPathFilestatGet |
    kRightPathFilestatSetSize | kRightPathFilestatSetTimes | kRightFdFilestatGet | kRightFdFilestatSetTimes |
    kRightPathSymlink | kRightPathRemoveDirectory | kRightPathUnlinkFile;
// Rights that change the file system: removed from read-only preopens.
constexpr uint64_t kWriteRights =
    kRightFdWrite | kRightFdAllocate | kRightFdFilestatSetSize | kRightFdFilestatSetTimes |
    kRightPathCreateDirectory | kRightPathCreateFile | kRightPathLinkSource | kRightPathLinkTarget |
    kRightPathRenameSource | kRightPathRenameTarget | kRightPathFilestatSetSize | kRightPathFilestatSetTimes |
    kRightPathSymlink | kRightPathRemoveDirectory | kRightPathUnlinkFile;
constexpr uint64_t kAllRights = (1ull << 30) - 1;

// filetype
constexpr uint8_t kFiletypeUnknown = 0;
constexpr uint8_t kFiletypeBlockDevice = 1;
constexpr uint8_t kFiletypeCharacterDevice = 2;
constexpr uint8_t kFiletypeDirectory = 3;
constexpr uint8_t kFiletypeRegularFile = 4;
constexpr uint8_t kFiletypeSocketDgram = 5;
constexpr uint8_t kFiletypeSocketStream = 6;
constexpr uint8_t kFiletypeSymbolicLink = 7;

// fdflags
constexpr uint16_t kFdflagAppend = 1 << 0;
constexpr uint16_t kFdflagDsync = 1 << 1;
constexpr uint16_t kFdflagNonblock = 1 << 2;
constexpr uint16_t kFdflagRsync = 1 << 3;
constexpr uint16_t kFdflagSync = 1 << 4;
constexpr uint16_t kFdflagsAll = 0x1f;

// oflags
constexpr uint16_t kOflagCreat = 1 << 0;
constexpr uint16_t kOflagDirectory = 1 << 1;
constexpr uint16_t kOflagExcl = 1 << 2;
constexpr uint16_t kOflagTrunc = 1 << 3;
constexpr uint16_t kOflagsAll = 0xf;

// lookupflags
constexpr uint32_t kLookupSymlinkFollow = 1 << 0;

// fstflags
constexpr uint16_t kFstAtim = 1 << 0;
constexpr uint16_t kFstAtimNow = 1 << 1;
constexpr uint16_t kFstMtim = 1 << 2;
constexpr uint16_t kFstMtimNow = 1 << 3;

// whence
constexpr uint8_t kWhenceSet = 0;
constexpr uint8_t kWhenceCur = 1;
constexpr uint8_t kWhenceEnd = 2;

// clockid
constexpr uint32_t kClockRealtime = 0;
constexpr uint32_t kClockMonotonic = 1;
constexpr uint32_t kClockProcessCputime = 2;
constexpr uint32_t kClockThreadCputime = 3;

// advice
constexpr uint8_t kAdviceNormal = 0;
constexpr uint8_t kAdviceSequential = 1;
constexpr uint8_t kAdviceRandom = 2;
constexpr uint8_t kAdviceWillneed = 3;
constexpr uint8_t kAdviceDontneed = 4;
constexpr uint8_t kAdviceNoreuse = 5;

// eventtype, subclockflags, eventrwflags
constexpr uint8_t kEventClock = 0;
constexpr uint8_t kEventFdRead = 1;
constexpr uint8_t kEventFdWrite = 2;
constexpr uint16_t kSubclockAbstime = 1 << 0;
constexpr uint16_t kEventrwHangup = 1 << 0;

// preopentype
constexpr uint8_t kPreopentypeDir = 0;

// Structure sizes and field offsets (witx-calculated; wasm32).
constexpr uint32_t kIovecSize = 8;    // buf u32 @0, buf_len u32 @4
constexpr uint32_t kFdstatSize = 24;  // filetype u8 @0, flags u16 @2, base u64 @8, inheriting u64 @16
constexpr uint32_t kFilestatSize =
    64;  // dev @0 ino @8 filetype u8 @16 nlink @24 size @32 atim @40 mtim @48 ctim @56
constexpr uint32_t kPrestatSize = 8;        // tag u8 @0, pr_name_len u32 @4
constexpr uint32_t kDirentSize = 24;        // d_next u64 @0, d_ino u64 @8, d_namlen u32 @16, d_type u8 @20
constexpr uint32_t kSubscriptionSize = 48;  // userdata u64 @0, tag u8 @8, union @16
constexpr uint32_t kEventSize =
    32;  // userdata u64 @0, error u16 @8, type u8 @10, nbytes u64 @16, flags u16 @24

}  // namespace wasmq::wasi::abi
