// File: src/wasm/image.cc
//
// Building a module's initial memory image in a memfd, and mapping it copy-on-write (see image.h).
#include "wasm/image.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace wasmq::wasm {

namespace {

// pwrite() the whole range, retrying on short writes and EINTR.
bool WriteAll(int fd, const uint8_t* data, uint64_t size, uint64_t offset) {
  while (size > 0) {
    ssize_t n = pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

}  // namespace

std::unique_ptr<MemoryImage> MemoryImage::Build(const ModuleInfo& m) {
  if (m.num_imported_memories != 0 || m.memories.empty()) return nullptr;
  const uint64_t initial = m.memories[0].limits.min * kPageSize;
  // Every active segment must have a constant offset and fit: then applying them in order is exactly
  // what instantiation would do, and nothing traps.
  uint64_t end = 0;
  for (const DataSegment& seg : m.datas) {
    if (seg.mode != SegmentMode::Active) continue;
    if (seg.memory_index != 0 || seg.offset.op != ConstExpr::Op::I32Const) return nullptr;
    uint64_t offset = static_cast<uint32_t>(seg.offset.bits);
    if (offset + seg.size > initial) return nullptr;
    if (seg.size != 0) end = std::max(end, offset + seg.size);
  }
  if (end == 0 || end < kMinBytes) return nullptr;

  // The file spans the whole initial memory, so that it is one mapping per instance (not an image
  // mapping plus anonymous pages after it): the mapping count is what limits how many instances fit
  // (vm.max_map_count). The holes cost nothing until touched; a read of one allocates a zero page in
  // the file, shared by all instances.
  int fd = memfd_create("wasmq-memory-image", MFD_CLOEXEC);
  if (fd < 0) return nullptr;
  bool ok = ftruncate(fd, static_cast<off_t>(initial)) == 0;
  for (const DataSegment& seg : m.datas) {
    if (!ok) break;
    if (seg.mode != SegmentMode::Active || seg.size == 0) continue;
    ok = WriteAll(fd, m.bytes.data() + seg.begin, seg.size, static_cast<uint32_t>(seg.offset.bits));
  }
  if (!ok) {
    close(fd);
    return nullptr;
  }
  return std::unique_ptr<MemoryImage>(new MemoryImage(fd, initial));
}

MemoryImage::~MemoryImage() { close(fd_); }

bool MemoryImage::MapAt(uint8_t* data) const {
  void* p = mmap(data, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd_, 0);
  return p != MAP_FAILED;
}

bool MemoryImage::ZeroAt(uint8_t* data, uint64_t size) {
  void* p = mmap(data, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  return p != MAP_FAILED;
}

}  // namespace wasmq::wasm
