// File: src/wasi/wasi.cc
//
// The Wasi context (setup, stdio, interruption), the binding of every wasi_snapshot_preview1 import to the
// engine, and the imports that are not about files: args, environ, clocks, random, poll_oneoff, proc_*,
// sched_yield, sock_*. File descriptors are in fd.cc, paths in path.cc.
#include "wasi/wasi.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "wasi/impl.h"

namespace wasmq::wasi {

using namespace abi;

namespace {

uint64_t ToNs(const timespec& ts) {
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t NowNs(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return ToNs(ts);
}

bool HostClock(uint32_t id, clockid_t* out) {
  switch (id) {
    case kClockRealtime:
      *out = CLOCK_REALTIME;
      return true;
    case kClockMonotonic:
      *out = CLOCK_MONOTONIC;
      return true;
    case kClockProcessCputime:
      *out = CLOCK_PROCESS_CPUTIME_ID;
      return true;
    case kClockThreadCputime:
      *out = CLOCK_THREAD_CPUTIME_ID;
      return true;
    default:
      return false;
  }
}

uint64_t SatAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Setup

WasiImpl::WasiImpl(WasiConfig config) : config_(std::move(config)) {}

WasiImpl::~WasiImpl() {
  if (wake_pipe_[0] >= 0) close(wake_pipe_[0]);
  if (wake_pipe_[1] >= 0) close(wake_pipe_[1]);
}

wasm::Result<void> WasiImpl::Init() {
  if (pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0)
    return wasm::MakeError(wasm::ErrorKind::Resource,
                           std::string("cannot create a pipe: ") + strerror(errno));

  const StdioMode modes[3] = {config_.stdin_mode, config_.stdout_mode, config_.stderr_mode};
  for (int i = 0; i < 3; ++i) {
    auto e = std::make_unique<FdEntry>();
    e->kind = FdKind::Stdio;
    e->stdio = i;
    e->mode = modes[i];
    e->rights_base = (i == 0 ? kRightFdRead : kRightFdWrite | kRightFdSync | kRightFdDatasync) |
                     kRightFdFdstatSetFlags | kRightFdFilestatGet | kRightPollFdReadwrite;
    e->filetype = kFiletypeUnknown;
    if (e->mode == StdioMode::Inherit) {
      struct stat st;
      if (fstat(i, &st) == 0) e->filetype = isatty(i) ? kFiletypeCharacterDevice : FiletypeOfMode(st.st_mode);
      int fl = fcntl(i, F_GETFL);
      if (fl >= 0 && (fl & O_APPEND)) e->fdflags |= kFdflagAppend;
    }
    fds_[static_cast<uint32_t>(i)] = std::move(e);
  }

  uint32_t next = 3;
  for (const Preopen& p : config_.preopens) {
    if (p.guest_path.empty())
      return wasm::MakeError(wasm::ErrorKind::Resource,
                             "preopen of '" + p.host_path + "' has an empty guest path");
    int fd = open(p.host_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
      return wasm::MakeError(wasm::ErrorKind::Resource, "cannot open directory '" + p.host_path +
                                                            "' (preopened as '" + p.guest_path +
                                                            "'): " + strerror(errno));
    auto e = std::make_unique<FdEntry>();
    e->kind = FdKind::Dir;
    e->host.Reset(fd);
    e->filetype = kFiletypeDirectory;
    e->rights_base = kDirRights;
    e->rights_inheriting = kDirRights | kFileRights;
    if (p.read_only) {
      e->rights_base &= ~kWriteRights;
      e->rights_inheriting &= ~kWriteRights;
    }
    e->preopen = p.guest_path;
    fds_[next++] = std::move(e);
  }
  return {};
}

void WasiImpl::Interrupt() {
  interrupted_.store(true);
  char c = 1;
  ssize_t n = write(wake_pipe_[1], &c, 1);
  (void)n;  // a full pipe already wakes every waiter
}

void WasiImpl::ResetInterrupt() {
  char buf[64];
  while (read(wake_pipe_[0], buf, sizeof buf) > 0) {
  }
  interrupted_.store(false);
}

void WasiImpl::SetInterruptedTrap() { trap_ = wasm::MakeError(wasm::ErrorKind::Interrupted, "interrupted"); }

bool WasiImpl::WaitInterruptible(std::vector<pollfd>& fds, uint64_t deadline_ns, bool has_deadline) {
  if (interrupted_.load()) {
    SetInterruptedTrap();
    return false;
  }
  fds.push_back({wake_pipe_[0], POLLIN, 0});
  timespec ts{};
  timespec* tsp = nullptr;
  if (has_deadline) {
    uint64_t now = NowNs(CLOCK_MONOTONIC);
    uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
    ts.tv_sec =
        static_cast<time_t>(std::min<uint64_t>(left / 1'000'000'000ull, std::numeric_limits<int32_t>::max()));
    ts.tv_nsec = static_cast<long>(left % 1'000'000'000ull);
    tsp = &ts;
  }
  int r = ppoll(fds.data(), fds.size(), tsp, nullptr);
  bool woken = r > 0 && (fds.back().revents & POLLIN);
  fds.pop_back();
  if (woken || interrupted_.load()) {
    SetInterruptedTrap();
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// args, environ

namespace {

uint16_t SizesGet(const GuestMemory& m, const std::vector<std::string>& v, uint32_t count_ptr,
                  uint32_t size_ptr) {
  uint64_t size = 0;
  for (const std::string& s : v) size += s.size() + 1;
  if (size > UINT32_MAX) return k2big;
  if (!m.Check(count_ptr, 4) || !m.Check(size_ptr, 4)) return kFault;
  m.Store<uint32_t>(count_ptr, static_cast<uint32_t>(v.size()));
  m.Store<uint32_t>(size_ptr, static_cast<uint32_t>(size));
  return kSuccess;
}

uint16_t ListGet(const GuestMemory& m, const std::vector<std::string>& v, uint32_t ptrs, uint32_t buf) {
  uint64_t size = 0;
  for (const std::string& s : v) size += s.size() + 1;
  if (!m.Check(ptrs, 4ull * v.size()) || !m.Check(buf, size)) return kFault;
  uint64_t off = buf;
  for (size_t i = 0; i < v.size(); ++i) {
    m.Store<uint32_t>(ptrs + 4ull * i, static_cast<uint32_t>(off));
    std::memcpy(m.At(off), v[i].data(), v[i].size());
    m.At(off)[v[i].size()] = 0;
    off += v[i].size() + 1;
  }
  return kSuccess;
}

}  // namespace

uint16_t WasiImpl::args_get(M m, uint32_t argv, uint32_t argv_buf) {
  return ListGet(m, config_.args, argv, argv_buf);
}
uint16_t WasiImpl::args_sizes_get(M m, uint32_t argc_ptr, uint32_t size_ptr) {
  return SizesGet(m, config_.args, argc_ptr, size_ptr);
}
uint16_t WasiImpl::environ_get(M m, uint32_t environ, uint32_t environ_buf) {
  return ListGet(m, config_.env, environ, environ_buf);
}
uint16_t WasiImpl::environ_sizes_get(M m, uint32_t count_ptr, uint32_t size_ptr) {
  return SizesGet(m, config_.env, count_ptr, size_ptr);
}

// ---------------------------------------------------------------------------------------------------------
// clocks, random, scheduling

uint16_t WasiImpl::clock_res_get(M m, uint32_t id, uint32_t res_ptr) {
  clockid_t c;
  if (!HostClock(id, &c)) return kInval;
  timespec ts{};
  if (clock_getres(c, &ts) != 0) return HostErrno(errno);
  if (!m.Store<uint64_t>(res_ptr, std::max<uint64_t>(ToNs(ts), 1))) return kFault;
  return kSuccess;
}

uint16_t WasiImpl::clock_time_get(M m, uint32_t id, uint64_t precision, uint32_t time_ptr) {
  clockid_t c;
  if (!HostClock(id, &c)) return kInval;
  timespec ts{};
  if (clock_gettime(c, &ts) != 0) return HostErrno(errno);
  if (!m.Store<uint64_t>(time_ptr, ToNs(ts))) return kFault;
  return kSuccess;
}

uint16_t WasiImpl::random_get(M m, uint32_t buf, uint32_t buf_len) {
  if (!m.Check(buf, buf_len)) return kFault;
  uint8_t* p = m.At(buf);
  size_t left = buf_len;
  while (left > 0) {
    ssize_t n = getrandom(p, std::min<size_t>(left, 1u << 20), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return HostErrno(errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return kSuccess;
}

uint16_t WasiImpl::sched_yield(M) {
  ::sched_yield();
  return kSuccess;
}

void WasiImpl::proc_exit(M, uint32_t code) {
  exit_code_ = code;
  wasm::Error err = wasm::MakeError(wasm::ErrorKind::Exit, "exit with status " + std::to_string(code));
  err.exit_code = static_cast<int>(code);
  trap_ = std::move(err);
}

// Raising a signal inside the sandbox has no meaning that would not affect the host process.
uint16_t WasiImpl::proc_raise(M, uint32_t) { return kNosys; }

// ---------------------------------------------------------------------------------------------------------
// poll_oneoff

uint16_t WasiImpl::poll_oneoff(M m, uint32_t in, uint32_t out, uint32_t nsubscriptions,
                               uint32_t nevents_ptr) {
  if (nsubscriptions == 0) return kInval;
  const uint64_t n = nsubscriptions;
  if (!m.Check(in, n * kSubscriptionSize) || !m.Check(out, n * kEventSize) || !m.Check(nevents_ptr, 4))
    return kFault;

  struct Sub {
    uint64_t userdata = 0;
    uint8_t type = 0;
    uint16_t error = 0;
    bool ready = false;
    bool is_clock = false;
    uint64_t deadline = 0;  // CLOCK_MONOTONIC ns
    uint64_t nbytes = 0;
    uint16_t flags = 0;
    int poll_index = -1;
  };
  std::vector<Sub> subs(nsubscriptions);
  std::vector<pollfd> pfds;
  const uint64_t now = NowNs(CLOCK_MONOTONIC);
  bool has_deadline = false;
  uint64_t min_deadline = UINT64_MAX;
  bool any_ready = false;

  for (uint32_t i = 0; i < nsubscriptions; ++i) {
    const uint64_t base = in + uint64_t{i} * kSubscriptionSize;
    Sub& s = subs[i];
    m.Load<uint64_t>(base, &s.userdata);
    m.Load<uint8_t>(base + 8, &s.type);
    if (s.type == kEventClock) {
      uint32_t id = 0;
      uint64_t timeout = 0;
      uint16_t flags = 0;
      m.Load<uint32_t>(base + 16, &id);
      m.Load<uint64_t>(base + 24, &timeout);
      m.Load<uint16_t>(base + 40, &flags);
      s.is_clock = true;
      if (id != kClockRealtime && id != kClockMonotonic) {
        s.ready = true;
        s.error = (id == kClockProcessCputime || id == kClockThreadCputime) ? kNotsup : kInval;
      } else if (flags & kSubclockAbstime) {
        if (id == kClockMonotonic) {
          s.deadline = timeout;
        } else {
          uint64_t rt = NowNs(CLOCK_REALTIME);
          s.deadline = timeout > rt ? SatAdd(now, timeout - rt) : now;
        }
      } else {
        s.deadline = SatAdd(now, timeout);
      }
      if (!s.ready) {
        has_deadline = true;
        min_deadline = std::min(min_deadline, s.deadline);
      }
    } else if (s.type == kEventFdRead || s.type == kEventFdWrite) {
      uint32_t fd = 0;
      m.Load<uint32_t>(base + 16, &fd);
      FdEntry* e = nullptr;
      uint16_t err = Get(fd, kRightPollFdReadwrite, &e);
      const bool reading = s.type == kEventFdRead;
      if (err != kSuccess) {
        s.ready = true;
        s.error = err;
      } else if (e->kind == FdKind::Stdio && e->mode == StdioMode::Inherit) {
        s.poll_index = static_cast<int>(pfds.size());
        pfds.push_back({e->stdio, static_cast<short>(reading ? POLLIN : POLLOUT), 0});
      } else if (e->kind == FdKind::Stdio) {
        s.ready = true;
        if (reading) {
          size_t left = e->mode == StdioMode::Capture && stdin_pos_ < config_.stdin_data.size()
                            ? config_.stdin_data.size() - stdin_pos_
                            : 0;
          s.nbytes = left;
          if (left == 0) s.flags = kEventrwHangup;
        }
      } else {
        // Regular files are always ready; for reading, nbytes is what is left after the offset.
        s.ready = true;
        if (reading) {
          struct stat st;
          off_t pos = lseek(e->host.get(), 0, SEEK_CUR);
          if (fstat(e->host.get(), &st) == 0 && pos >= 0 && st.st_size > pos)
            s.nbytes = static_cast<uint64_t>(st.st_size - pos);
        }
      }
    } else {
      return kInval;
    }
    any_ready = any_ready || s.ready;
  }

  while (true) {
    if (any_ready) {
      if (!pfds.empty()) poll(pfds.data(), pfds.size(), 0);
    } else if (!WaitInterruptible(pfds, min_deadline, has_deadline)) {
      return kSuccess;  // trap_ is set
    }
    bool fired = any_ready;
    for (Sub& s : subs) {
      if (s.poll_index >= 0) {
        short re = pfds[static_cast<size_t>(s.poll_index)].revents;
        if (re == 0) continue;
        s.ready = true;
        if (re & POLLNVAL) s.error = kBadf;
        if (re & POLLHUP) s.flags = kEventrwHangup;
        if (s.type == kEventFdRead) {
          int avail = 0;
          if (ioctl(pfds[static_cast<size_t>(s.poll_index)].fd, FIONREAD, &avail) == 0 && avail > 0)
            s.nbytes = static_cast<uint64_t>(avail);
        }
        fired = true;
      }
    }
    if (has_deadline) {
      uint64_t t = NowNs(CLOCK_MONOTONIC);
      for (Sub& s : subs) {
        if (s.is_clock && !s.ready && s.deadline <= t) {
          s.ready = true;
          fired = true;
        }
      }
    }
    if (fired) break;
  }

  uint32_t nevents = 0;
  for (const Sub& s : subs) {
    if (!s.ready) continue;
    const uint64_t base = out + uint64_t{nevents} * kEventSize;
    std::memset(m.At(base), 0, kEventSize);
    m.Store<uint64_t>(base, s.userdata);
    m.Store<uint16_t>(base + 8, s.error);
    m.Store<uint8_t>(base + 10, s.type);
    if (!s.is_clock) {
      m.Store<uint64_t>(base + 16, s.nbytes);
      m.Store<uint16_t>(base + 24, s.flags);
    }
    ++nevents;
  }
  m.Store<uint32_t>(nevents_ptr, nevents);
  return kSuccess;
}

// ---------------------------------------------------------------------------------------------------------
// sockets: a module can only get fds from us, and we never hand out a socket.

uint16_t WasiImpl::sock_accept(M, uint32_t fd, uint32_t, uint32_t) {
  FdEntry* e = nullptr;
  uint16_t err = Get(fd, 0, &e);
  return err != kSuccess ? err : kNotsock;
}
uint16_t WasiImpl::sock_recv(M, uint32_t fd, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t) {
  FdEntry* e = nullptr;
  uint16_t err = Get(fd, 0, &e);
  return err != kSuccess ? err : kNotsock;
}
uint16_t WasiImpl::sock_send(M, uint32_t fd, uint32_t, uint32_t, uint32_t, uint32_t) {
  FdEntry* e = nullptr;
  uint16_t err = Get(fd, 0, &e);
  return err != kSuccess ? err : kNotsock;
}
uint16_t WasiImpl::sock_shutdown(M, uint32_t fd, uint32_t) {
  FdEntry* e = nullptr;
  uint16_t err = Get(fd, 0, &e);
  return err != kSuccess ? err : kNotsock;
}

// ---------------------------------------------------------------------------------------------------------
// Binding to the engine

namespace {

template <typename T>
constexpr wasm::ValType TypeOf() {
  static_assert(std::is_same_v<T, uint32_t> || std::is_same_v<T, uint64_t>);
  return std::is_same_v<T, uint64_t> ? wasm::ValType::I64 : wasm::ValType::I32;
}

template <typename R, typename... A, size_t... I>
R CallWith(WasiImpl* self, R (WasiImpl::*fn)(const GuestMemory&, A...), const GuestMemory& m,
           const uint64_t* slots, std::index_sequence<I...>) {
  return (self->*fn)(m, static_cast<A>(slots[I])...);
}

constexpr const char* kModule = "wasi_snapshot_preview1";

// The host function of one WASI call, bound to its WasiImpl through HostContext::data(): one static
// definition per function serves every context (see Defs() and WasiImpl::AddToImports).
template <typename T>
struct Binding;
template <typename R, typename... A>
struct Binding<R (WasiImpl::*)(const GuestMemory&, A...)> {
  template <R (WasiImpl::*Fn)(const GuestMemory&, A...)>
  static wasm::Result<void> Call(wasm::HostContext& ctx, uint64_t* slots) {
    auto* self = static_cast<WasiImpl*>(ctx.data());
    if (self->interrupted_.load(std::memory_order_relaxed)) {
      return wasm::MakeError(wasm::ErrorKind::Interrupted, "interrupted");
    }
    GuestMemory m(ctx.memory_data(), ctx.memory_size());
    if constexpr (std::is_void_v<R>) {
      CallWith(self, Fn, m, slots, std::index_sequence_for<A...>{});
    } else {
      uint16_t err = CallWith(self, Fn, m, slots, std::index_sequence_for<A...>{});
      slots[0] = err;
    }
    if (self->trap_) {
      wasm::Error e = std::move(*self->trap_);
      self->trap_.reset();
      return e;
    }
    return {};
  }
  static wasm::FuncType Type() {
    wasm::FuncType type;
    type.params = {TypeOf<A>()...};
    if constexpr (!std::is_void_v<R>) type.results = {wasm::ValType::I32};
    return type;
  }
};

template <auto Fn>
wasm::HostFuncDef Def(const char* name) {
  using B = Binding<decltype(Fn)>;
  return wasm::HostFuncDef(B::Type(), &B::template Call<Fn>, std::string(kModule) + "." + name);
}

#define WASMQ_WASI_FUNCTIONS(X)                                                                            \
  X(args_get)                                                                                              \
  X(args_sizes_get) X(environ_get) X(environ_sizes_get) X(clock_res_get) X(clock_time_get) X(fd_advise)    \
      X(fd_allocate) X(fd_close) X(fd_datasync) X(fd_fdstat_get) X(fd_fdstat_set_flags)                    \
          X(fd_fdstat_set_rights) X(fd_filestat_get) X(fd_filestat_set_size) X(fd_filestat_set_times)      \
              X(fd_pread) X(fd_prestat_get) X(fd_prestat_dir_name) X(fd_pwrite) X(fd_read) X(fd_readdir)   \
                  X(fd_renumber) X(fd_seek) X(fd_sync) X(fd_tell) X(fd_write) X(path_create_directory)     \
                      X(path_filestat_get) X(path_filestat_set_times) X(path_link) X(path_open)            \
                          X(path_readlink) X(path_remove_directory) X(path_rename) X(path_symlink)         \
                              X(path_unlink_file) X(poll_oneoff) X(proc_exit) X(proc_raise) X(sched_yield) \
                                  X(random_get) X(sock_accept) X(sock_recv) X(sock_send) X(sock_shutdown)

struct NamedDef {
  std::string_view name;
  wasm::HostFuncDef def;
};

// Every WASI function's definition, made once per process, sorted by name.
const std::vector<NamedDef>& Defs() {
  static const std::vector<NamedDef> defs = [] {
    std::vector<NamedDef> d;
#define WASMQ_DEF(name) d.push_back(NamedDef{#name, Def<&WasiImpl::name>(#name)});
    WASMQ_WASI_FUNCTIONS(WASMQ_DEF)
#undef WASMQ_DEF
    std::sort(d.begin(), d.end(), [](const NamedDef& a, const NamedDef& b) { return a.name < b.name; });
    return d;
  }();
  return defs;
}

}  // namespace

// Only the functions a module imports are created, when instantiation asks for them: a command module
// imports a handful of the ~45, and a per-task store would otherwise make all of them.
void WasiImpl::AddToImports(wasm::Store& store, wasm::Imports& imports) {
  const std::vector<NamedDef>& defs = Defs();
  imports.AddResolver(kModule, [this, &store, &defs](std::string_view name) -> wasm::Extern {
    auto it = std::lower_bound(defs.begin(), defs.end(), name,
                               [](const NamedDef& d, std::string_view n) { return d.name < n; });
    if (it == defs.end() || it->name != name) return {};
    return wasm::Extern{wasm::ExternKind::Func, store.NewHostFunc(it->def, this)};
  });
}

std::vector<std::string> FunctionNames() {
  std::vector<std::string> names;
#define WASMQ_NAME(name) names.emplace_back(#name);
  WASMQ_WASI_FUNCTIONS(WASMQ_NAME)
#undef WASMQ_NAME
  return names;
}

// ---------------------------------------------------------------------------------------------------------
// Public API

Wasi::Wasi(std::unique_ptr<WasiImpl> impl) : impl_(std::move(impl)) {}
Wasi::~Wasi() = default;

wasm::Result<std::unique_ptr<Wasi>> Wasi::Create(WasiConfig config) {
  auto impl = std::make_unique<WasiImpl>(std::move(config));
  if (auto r = impl->Init(); !r) return r.error();
  return std::unique_ptr<Wasi>(new Wasi(std::move(impl)));
}

void Wasi::AddToImports(wasm::Store& store, wasm::Imports& imports) { impl_->AddToImports(store, imports); }
void Wasi::Interrupt() { impl_->Interrupt(); }
void Wasi::ResetInterrupt() { impl_->ResetInterrupt(); }
const std::string& Wasi::stdout_data() const { return impl_->stdout_buf_; }
const std::string& Wasi::stderr_data() const { return impl_->stderr_buf_; }
uint64_t Wasi::stdout_dropped() const { return impl_->stdout_dropped_; }
uint64_t Wasi::stderr_dropped() const { return impl_->stderr_dropped_; }
std::optional<uint32_t> Wasi::exit_code() const { return impl_->exit_code_; }
const std::optional<std::string>& Wasi::output_quota_exceeded() const { return impl_->quota_exceeded_; }
int64_t Wasi::output_bytes() const { return impl_->out_bytes_; }
int64_t Wasi::output_files() const { return impl_->out_files_; }

wasm::Result<uint32_t> RunCommand(wasm::Store& store, const wasm::Instance& instance) {
  wasm::FuncInst* start = instance.GetFunc("_start");
  if (!start) return wasm::MakeError(wasm::ErrorKind::Unlinkable, "the module exports no _start function");
  const wasm::FuncType& type = wasm::GetFuncType(start);
  if (!type.params.empty() || !type.results.empty())
    return wasm::MakeError(wasm::ErrorKind::Unlinkable,
                           "_start has type " + wasm::FuncTypeString(type) + ", expected () -> ()");
  auto r = store.Call(start, {});
  if (r) return uint32_t{0};
  if (r.error().kind == wasm::ErrorKind::Exit) return static_cast<uint32_t>(r.error().exit_code);
  return r.error();
}

}  // namespace wasmq::wasi
