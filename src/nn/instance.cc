// File: src/nn/instance.cc
//
// The wasi_ephemeral_nn host functions of one module instance. A pointer or length outside the module's
// memory traps, as every wasmq host function does (the `wasmq` imports, WASI's own checks become EFAULT
// only where WASI has an errno for it; WASI-NN has none, so a trap). Everything else is an errno.
#include <algorithm>
#include <cstring>

#include "nn/internal.h"
#include "nn/tensor.h"
#include "trace/trace.h"

namespace wasmq::nn {

namespace {

using wasm::ErrorKind;
using wasm::ValType;

constexpr const char* kModule = "wasi_ephemeral_nn";
// compute gives the run's own deadline timer this long to stop the module first, so that the run reports
// the deadline as its cause (wasi::CommandResult::stopped_by) whichever noticed it first.
constexpr auto kDeadlineGrace = std::chrono::milliseconds(15);

uint32_t U32(const uint64_t* slots, int i) { return static_cast<uint32_t>(slots[i]); }

bool InMemory(const wasm::HostContext& ctx, uint64_t ptr, uint64_t len) {
  if (len == 0) return ptr <= ctx.memory_size();
  return ctx.memory_data() && ptr + len <= ctx.memory_size();
}

uint32_t LoadU32(const uint8_t* at) {
  return static_cast<uint32_t>(at[0]) | static_cast<uint32_t>(at[1]) << 8 | static_cast<uint32_t>(at[2]) << 16 |
         static_cast<uint32_t>(at[3]) << 24;
}

void StoreU32(uint8_t* at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<uint8_t>(v >> (8 * i));
}

wasm::Error OutsideMemory(const char* fn, const char* what) {
  return wasm::MakeError(ErrorKind::Trap, std::string(kModule) + "." + fn + ": " + what +
                                              " lies outside the module's memory");
}

// One forward pass handed to the pool. The waiter may leave (a cancel, the deadline): the pass then runs
// to its end if it started (it cannot be interrupted), or not at all, and its result is dropped.
struct Job {
  base::Mutex mu;
  base::CondVar cv;
  bool done GUARDED_BY(mu) = false;
  bool abandoned GUARDED_BY(mu) = false;
  std::optional<Failure> failure GUARDED_BY(mu);
  std::vector<std::shared_ptr<const Tensor>> outputs GUARDED_BY(mu);
};

struct Context {
  std::shared_ptr<Graph> graph;
  std::vector<std::shared_ptr<const Tensor>> inputs;  // by index; null until set
  std::vector<std::shared_ptr<const Tensor>> outputs;
  bool computed = false;
};

uint64_t Bytes(const std::vector<std::shared_ptr<const Tensor>>& ts) {
  uint64_t n = 0;
  for (const auto& t : ts)
    if (t) n += t->byte_size();
  return n;
}

// Runs on a pool thread.
void RunJob(const std::shared_ptr<Job>& job, const std::shared_ptr<Graph>& graph,
            const std::vector<std::shared_ptr<const Tensor>>& inputs, uint64_t max_tensor_bytes) {
  {
    base::MutexLock lock(job->mu);
    if (job->abandoned) return;  // its waiter left while it queued
  }
  std::optional<Failure> failure;
  std::vector<std::shared_ptr<const Tensor>> outputs;
  Outcome<void*> net = graph->TakeNet();
  if (!net) {
    failure = net.error();
  } else {
    const OnnxInfo& info = graph->info();
    std::vector<WasmqNnInput> in(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      in[i].name = i < info.inputs.size() ? info.inputs[i].c_str() : "";
      in[i].dims = inputs[i]->dims.data();
      in[i].rank = static_cast<int32_t>(inputs[i]->dims.size());
      in[i].data = inputs[i]->data.data();
    }
    std::vector<const char*> out_names;
    for (const std::string& n : info.outputs) out_names.push_back(n.c_str());
    struct Sink {
      std::vector<std::shared_ptr<const Tensor>>* outputs;
      uint64_t max_bytes;
      bool too_large = false;
    } sink{&outputs, max_tensor_bytes};
    auto collect = [](void* user, int32_t, const int32_t* dims, int32_t rank, const float* data, uint64_t count) {
      auto* s = static_cast<Sink*>(user);
      if (count * sizeof(float) > s->max_bytes) {
        s->too_large = true;
        return;
      }
      auto t = std::make_shared<Tensor>();
      t->dims.assign(dims, dims + rank);
      t->data.assign(data, data + count);
      s->outputs->push_back(std::move(t));
    };
    char err[512] = "";
    int64_t growth = 0;
    const int32_t n = graph->backend()->forward(*net, in.data(), static_cast<int32_t>(in.size()), out_names.data(),
                                                static_cast<int32_t>(out_names.size()), collect, &sink, &growth, err,
                                                sizeof err);
    graph->NoteFirstRun(growth);
    graph->ReturnNet(*net);
    if (n < 0) {
      failure = Failure{Errno::RuntimeError, err};
    } else if (sink.too_large) {
      failure = Failure{Errno::TooLarge, "an output is over " + std::to_string(max_tensor_bytes) + " bytes"};
      outputs.clear();
    }
  }
  base::MutexLock lock(job->mu);
  job->failure = std::move(failure);
  job->outputs = std::move(outputs);
  job->done = true;
  job->cv.NotifyAll();
}

}  // namespace

class InstanceImpl {
 public:
  explicit InstanceImpl(Host& host) : host_(host.impl()), limits_(host.config().limits) {}

  wasm::Result<void> Load(wasm::HostContext& ctx, uint64_t* slots);
  wasm::Result<void> LoadByName(wasm::HostContext& ctx, uint64_t* slots);
  wasm::Result<void> InitExecutionContext(wasm::HostContext& ctx, uint64_t* slots);
  wasm::Result<void> SetInput(wasm::HostContext& ctx, uint64_t* slots);
  wasm::Result<void> Compute(wasm::HostContext& ctx, uint64_t* slots);
  wasm::Result<void> RunCompute(wasm::HostContext& ctx, uint64_t* slots);  // Compute's work, inside its span
  wasm::Result<void> GetOutput(wasm::HostContext& ctx, uint64_t* slots);

  void SetDeadline(std::chrono::steady_clock::time_point d) { deadline_ = d; }
  void Interrupt() EXCLUDES(mu_);
  uint64_t bytes_held() const { return bytes_; }
  std::string last_error() const EXCLUDES(mu_) {
    base::MutexLock lock(mu_);
    return last_error_;
  }

 private:
  // Sets the errno result (and remembers the message).
  wasm::Result<void> Answer(uint64_t* slots, Errno e, std::string message = {}) EXCLUDES(mu_) {
    if (e != Errno::Success) {
      base::MutexLock lock(mu_);
      last_error_ = std::move(message);
    }
    slots[0] = static_cast<uint32_t>(e);
    return {};
  }
  wasm::Result<void> Answer(uint64_t* slots, const Failure& f) { return Answer(slots, f.code, f.message); }
  wasm::Result<void> AddGraph(wasm::HostContext& ctx, uint64_t* slots, std::shared_ptr<Graph> graph,
                              uint64_t counted_bytes, uint64_t out_ptr);
  Context* FindContext(uint32_t handle) {
    return handle < contexts_.size() ? contexts_[handle].get() : nullptr;
  }

  HostImpl& host_;
  const Limits limits_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  // The store's thread alone touches these.
  std::vector<std::shared_ptr<Graph>> graphs_;
  std::vector<std::unique_ptr<Context>> contexts_;
  uint64_t bytes_ = 0;
  std::atomic<bool> interrupted_{false};
  mutable base::Mutex mu_;
  std::shared_ptr<Job> waiting_ GUARDED_BY(mu_);  // the job a compute waits for, for Interrupt
  std::string last_error_ GUARDED_BY(mu_);
};

wasm::Result<void> InstanceImpl::AddGraph(wasm::HostContext& ctx, uint64_t* slots, std::shared_ptr<Graph> graph,
                                          uint64_t counted_bytes, uint64_t out_ptr) {
  if (!InMemory(ctx, out_ptr, 4)) return OutsideMemory("load", "the graph handle's address");
  bytes_ += counted_bytes;
  graphs_.push_back(std::move(graph));
  StoreU32(ctx.memory_data() + out_ptr, static_cast<uint32_t>(graphs_.size() - 1));
  return Answer(slots, Errno::Success);
}

wasm::Result<void> InstanceImpl::Load(wasm::HostContext& ctx, uint64_t* slots) {
  const uint64_t builders = U32(slots, 0), count = U32(slots, 1), out_ptr = U32(slots, 4);
  const uint32_t encoding = U32(slots, 2), target = U32(slots, 3);
  if (!InMemory(ctx, builders, count * 8)) return OutsideMemory("load", "the builder list");
  if (!InMemory(ctx, out_ptr, 4)) return OutsideMemory("load", "the graph handle's address");
  uint64_t total = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const uint8_t* b = ctx.memory_data() + builders + 8 * i;
    if (!InMemory(ctx, LoadU32(b), LoadU32(b + 4))) return OutsideMemory("load", "a builder's bytes");
    total += LoadU32(b + 4);
  }
  if (encoding != 1 && encoding != 5)
    return Answer(slots, Errno::InvalidEncoding, "encoding " + std::to_string(encoding) + ": only ONNX (1) is supported");
  if (target == 1 || target == 2)
    return Answer(slots, Errno::UnsupportedOperation, "only the CPU target (0) is supported");
  if (target != 0) return Answer(slots, Errno::InvalidArgument, "no execution target " + std::to_string(target));
  if (count != 1) return Answer(slots, Errno::InvalidArgument, "an ONNX graph is one builder (got " + std::to_string(count) + ")");
  if (total > limits_.max_graph_bytes)
    return Answer(slots, Errno::TooLarge, "the graph is over " + std::to_string(limits_.max_graph_bytes) + " bytes");
  if (graphs_.size() >= limits_.max_graphs)
    return Answer(slots, Errno::TooLarge, "more than " + std::to_string(limits_.max_graphs) + " graphs");
  if (bytes_ + total > limits_.max_instance_bytes)
    return Answer(slots, Errno::TooLarge, "over the instance's " + std::to_string(limits_.max_instance_bytes) + " bytes");
  const uint8_t* b = ctx.memory_data() + builders;
  std::string bytes(reinterpret_cast<const char*>(ctx.memory_data()) + LoadU32(b), LoadU32(b + 4));
  Outcome<std::shared_ptr<Graph>> graph = host_.LoadBytes(std::move(bytes));
  if (!graph) return Answer(slots, graph.error());
  return AddGraph(ctx, slots, std::move(*graph), total, out_ptr);
}

wasm::Result<void> InstanceImpl::LoadByName(wasm::HostContext& ctx, uint64_t* slots) {
  const uint64_t name_ptr = U32(slots, 0), name_len = U32(slots, 1), out_ptr = U32(slots, 2);
  if (!InMemory(ctx, name_ptr, name_len)) return OutsideMemory("load_by_name", "the name");
  if (!InMemory(ctx, out_ptr, 4)) return OutsideMemory("load_by_name", "the graph handle's address");
  if (graphs_.size() >= limits_.max_graphs)
    return Answer(slots, Errno::TooLarge, "more than " + std::to_string(limits_.max_graphs) + " graphs");
  const std::string name(reinterpret_cast<const char*>(ctx.memory_data()) + name_ptr, name_len);
  Outcome<std::shared_ptr<Graph>> graph = host_.LoadByName(name);
  if (!graph) return Answer(slots, graph.error());
  return AddGraph(ctx, slots, std::move(*graph), 0, out_ptr);  // the host's model: not the instance's bytes
}

wasm::Result<void> InstanceImpl::InitExecutionContext(wasm::HostContext& ctx, uint64_t* slots) {
  const uint32_t graph = U32(slots, 0);
  const uint64_t out_ptr = U32(slots, 1);
  if (!InMemory(ctx, out_ptr, 4)) return OutsideMemory("init_execution_context", "the context handle's address");
  if (graph >= graphs_.size()) return Answer(slots, Errno::InvalidArgument, "no graph " + std::to_string(graph));
  if (contexts_.size() >= limits_.max_contexts)
    return Answer(slots, Errno::TooLarge, "more than " + std::to_string(limits_.max_contexts) + " contexts");
  auto c = std::make_unique<Context>();
  c->graph = graphs_[graph];
  c->inputs.resize(std::max<size_t>(1, c->graph->info().inputs.size()));
  contexts_.push_back(std::move(c));
  StoreU32(ctx.memory_data() + out_ptr, static_cast<uint32_t>(contexts_.size() - 1));
  return Answer(slots, Errno::Success);
}

wasm::Result<void> InstanceImpl::SetInput(wasm::HostContext& ctx, uint64_t* slots) {
  const uint32_t handle = U32(slots, 0), index = U32(slots, 1);
  const uint64_t record = U32(slots, 2);
  if (!InMemory(ctx, record, 20)) return OutsideMemory("set_input", "the tensor");
  const uint8_t* r = ctx.memory_data() + record;
  const uint64_t dims_ptr = LoadU32(r), rank = LoadU32(r + 4), data_ptr = LoadU32(r + 12), data_len = LoadU32(r + 16);
  const uint8_t type = r[8];
  if (!InMemory(ctx, dims_ptr, rank * 4)) return OutsideMemory("set_input", "the tensor's dimensions");
  if (!InMemory(ctx, data_ptr, data_len)) return OutsideMemory("set_input", "the tensor's data");
  Context* c = FindContext(handle);
  if (!c) return Answer(slots, Errno::InvalidArgument, "no context " + std::to_string(handle));
  if (index >= c->inputs.size())
    return Answer(slots, Errno::InvalidArgument,
                  "no input " + std::to_string(index) + " (the graph has " + std::to_string(c->inputs.size()) + ")");
  std::vector<uint32_t> dims(rank > limits_.max_rank ? 0 : rank);
  for (uint64_t i = 0; i < dims.size(); ++i) dims[i] = LoadU32(ctx.memory_data() + dims_ptr + 4 * i);
  if (rank > limits_.max_rank)
    return Answer(slots, Errno::TooLarge, "rank " + std::to_string(rank) + " is over " + std::to_string(limits_.max_rank));
  Outcome<Tensor> t = ToF32Tensor(dims, type, ctx.memory_data() + data_ptr, data_len, limits_.max_tensor_bytes);
  if (!t) return Answer(slots, t.error());
  const uint64_t old = c->inputs[index] ? c->inputs[index]->byte_size() : 0;
  if (bytes_ - old + t->byte_size() > limits_.max_instance_bytes)
    return Answer(slots, Errno::TooLarge, "over the instance's " + std::to_string(limits_.max_instance_bytes) + " bytes");
  bytes_ = bytes_ - old + t->byte_size();
  c->inputs[index] = std::make_shared<const Tensor>(std::move(*t));
  return Answer(slots, Errno::Success);
}

wasm::Result<void> InstanceImpl::Compute(wasm::HostContext& ctx, uint64_t* slots) {
  // A child of the run's span (the worker's wasm.run): the pool's wait and the pass itself.
  trace::Span span = trace::StartSpan("nn.compute");
  const uint32_t handle = U32(slots, 0);  // the call's argument; slots[0] holds its errno afterwards
  auto result = RunCompute(ctx, slots);
  if (span.recording()) {
    span.SetAttribute("wasmq.nn.context", handle);
    if (!result) {
      span.SetError(result.error().message);
    } else if (const uint32_t err = U32(slots, 0); err != 0) {
      span.SetAttribute("wasmq.nn.errno", err);
      span.SetError(last_error());
    } else if (Context* c = FindContext(handle)) {
      span.SetAttribute("wasmq.nn.outputs", c->outputs.size());
    }
  }
  return result;
}

wasm::Result<void> InstanceImpl::RunCompute(wasm::HostContext&, uint64_t* slots) {
  const uint32_t handle = U32(slots, 0);
  Context* c = FindContext(handle);
  if (!c) return Answer(slots, Errno::InvalidArgument, "no context " + std::to_string(handle));
  for (size_t i = 0; i < c->inputs.size(); ++i)
    if (!c->inputs[i]) return Answer(slots, Errno::InvalidArgument, "input " + std::to_string(i) + " is not set");
  bytes_ -= Bytes(c->outputs);
  c->outputs.clear();
  c->computed = false;

  const auto stop_at = deadline_ == std::chrono::steady_clock::time_point::max() ? deadline_ : deadline_ + kDeadlineGrace;
  if (interrupted_.load() || std::chrono::steady_clock::now() >= stop_at)  // no pass to start, and none to drop
    return wasm::MakeError(ErrorKind::Interrupted, std::string(kModule) + ".compute: stopped (" +
                                                       (interrupted_.load() ? "the run was cancelled" : "the run's deadline passed") + ")");
  auto job = std::make_shared<Job>();
  {
    base::MutexLock lock(mu_);
    waiting_ = job;
  }
  host_.pool().Submit([job, graph = c->graph, inputs = c->inputs, max = limits_.max_tensor_bytes] {
    RunJob(job, graph, inputs, max);
  });
  bool done = false;
  {
    base::MutexLock lock(job->mu);
    auto finished = [&]() REQUIRES(job->mu) { return job->done || interrupted_.load(); };
    if (stop_at == std::chrono::steady_clock::time_point::max())
      job->cv.Wait(lock, finished);
    else
      job->cv.WaitUntil(lock, stop_at, finished);
    done = job->done;
    if (!done) job->abandoned = true;  // a pass under way finishes in the background; its result is dropped
  }
  {
    base::MutexLock lock(mu_);
    waiting_.reset();
  }
  if (!done) {
    const bool cancelled = interrupted_.load();
    return wasm::MakeError(ErrorKind::Interrupted,
                           std::string(kModule) + ".compute: stopped (" +
                               (cancelled ? "the run was cancelled" : "the run's deadline passed") + ")");
  }
  base::MutexLock lock(job->mu);
  if (job->failure) return Answer(slots, *job->failure);
  const uint64_t out_bytes = Bytes(job->outputs);
  if (bytes_ + out_bytes > limits_.max_instance_bytes)
    return Answer(slots, Errno::TooLarge, "the outputs are over the instance's " + std::to_string(limits_.max_instance_bytes) + " bytes");
  bytes_ += out_bytes;
  c->outputs = std::move(job->outputs);
  c->computed = true;
  return Answer(slots, Errno::Success);
}

wasm::Result<void> InstanceImpl::GetOutput(wasm::HostContext& ctx, uint64_t* slots) {
  const uint32_t handle = U32(slots, 0), index = U32(slots, 1);
  const uint64_t out_ptr = U32(slots, 2), out_max = U32(slots, 3), written_ptr = U32(slots, 4);
  if (!InMemory(ctx, out_ptr, out_max)) return OutsideMemory("get_output", "the output buffer");
  if (!InMemory(ctx, written_ptr, 4)) return OutsideMemory("get_output", "the size's address");
  Context* c = FindContext(handle);
  if (!c) return Answer(slots, Errno::InvalidArgument, "no context " + std::to_string(handle));
  if (!c->computed) return Answer(slots, Errno::InvalidArgument, "compute has not run on context " + std::to_string(handle));
  if (index >= c->outputs.size())
    return Answer(slots, Errno::InvalidArgument,
                  "no output " + std::to_string(index) + " (the graph has " + std::to_string(c->outputs.size()) + ")");
  const Tensor& t = *c->outputs[index];
  const uint64_t size = t.byte_size();
  if (size > out_max)
    return Answer(slots, Errno::TooLarge, "output " + std::to_string(index) + " is " + std::to_string(size) +
                                              " bytes, the buffer " + std::to_string(out_max));
  if (size) std::memcpy(ctx.memory_data() + out_ptr, t.data.data(), size);  // f32 little-endian, as the host
  StoreU32(ctx.memory_data() + written_ptr, static_cast<uint32_t>(size));
  return Answer(slots, Errno::Success);
}

void InstanceImpl::Interrupt() {
  interrupted_.store(true);
  base::MutexLock lock(mu_);
  if (waiting_) {
    base::MutexLock job_lock(waiting_->mu);  // so the waiter cannot miss the wake-up between check and wait
    waiting_->cv.NotifyAll();
  }
}

Instance::Instance(Host& host) : impl_(std::make_unique<InstanceImpl>(host)) {}
Instance::~Instance() = default;

void Instance::AddTo(wasm::Store& store, wasm::Imports& imports) {
  using Fn = wasm::Result<void> (InstanceImpl::*)(wasm::HostContext&, uint64_t*);
  struct Def {
    const char* name;
    size_t params;
    Fn fn;
  };
  static const Def kDefs[] = {
      {"load", 5, &InstanceImpl::Load},
      {"load_by_name", 3, &InstanceImpl::LoadByName},
      {"init_execution_context", 2, &InstanceImpl::InitExecutionContext},
      {"set_input", 3, &InstanceImpl::SetInput},
      {"compute", 1, &InstanceImpl::Compute},
      {"get_output", 5, &InstanceImpl::GetOutput},
  };
  InstanceImpl* impl = impl_.get();
  imports.AddResolver(kModule, [&store, impl](std::string_view name) -> wasm::Extern {
    for (const Def& d : kDefs) {
      if (name != d.name) continue;
      wasm::FuncType type{std::vector<ValType>(d.params, ValType::I32), {ValType::I32}};
      Fn fn = d.fn;
      auto host = [impl, fn](wasm::HostContext& ctx, uint64_t* slots) { return (impl->*fn)(ctx, slots); };
      return {wasm::ExternKind::Func, store.NewHostFunc(std::move(type), host, std::string(kModule) + "." + d.name)};
    }
    return {};
  });
}

void Instance::SetDeadline(std::chrono::steady_clock::time_point deadline) { impl_->SetDeadline(deadline); }
void Instance::Interrupt() { impl_->Interrupt(); }
uint64_t Instance::bytes_held() const { return impl_->bytes_held(); }
std::string Instance::last_error() const { return impl_->last_error(); }

std::vector<std::string> FunctionNames() {
  return {"load", "load_by_name", "init_execution_context", "set_input", "compute", "get_output"};
}

}  // namespace wasmq::nn
