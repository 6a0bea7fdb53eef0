// File: src/wasm/image.h  (internal)
//
// Prepared initial memory images. A module that defines its memory and initialises it with active data
// segments at constant offsets gets the same initial bytes in every instance. Instead of copying the
// segments into fresh memory at each instantiation, the engine writes them once into an in-memory file
// (memfd) and maps that file copy-on-write (MAP_PRIVATE) into each new instance's reserved range: pages
// the instance never writes stay shared between all instances, and instantiation costs one mmap whatever
// the data's size.
//
// An image keeps one file descriptor (the memfd) open for its module's lifetime; when none can be made
// (memfd_create fails, e.g. out of descriptors) the module simply keeps the copying path.
//
// Modules whose image cannot be known in advance keep the copying path: an imported memory, a data offset
// read from an imported global, or a segment that does not fit the initial memory (it must trap at
// instantiation after the writes before it, as WebAssembly 2.0 specifies).
#pragma once

#include <cstdint>
#include <memory>

#include "wasm/module.h"

namespace wasmq::wasm {

class MemoryImage {
 public:
  // Below this many bytes of data (up to the last byte written), copying the segments is as cheap as
  // mapping a file (bench/coldstart --data-bytes).
  static constexpr uint64_t kMinBytes = 8 * 1024;

  // The image of `m`'s defined memory 0 with its active data segments applied, or null when the module
  // has none or needs the copying path (see above), or when no memfd can be made.
  static std::unique_ptr<MemoryImage> Build(const ModuleInfo& m);
  ~MemoryImage();
  MemoryImage(const MemoryImage&) = delete;
  MemoryImage& operator=(const MemoryImage&) = delete;

  // Maps the image copy-on-write over [data, data + size()), the whole initial memory, inside the
  // memory's reservation. False when the mapping fails (the range is then unchanged or
  // PROT_NONE; the caller fails the instantiation).
  bool MapAt(uint8_t* data) const;
  // Replaces [data, data + size()) with zero pages again (used when instantiation fails after mapping,
  // before the data segments would have been written).
  static bool ZeroAt(uint8_t* data, uint64_t size);

  uint64_t size() const { return size_; }  // the initial memory size in bytes

 private:
  MemoryImage(int fd, uint64_t size) : fd_(fd), size_(size) {}
  int fd_;
  uint64_t size_;
};

}  // namespace wasmq::wasm
