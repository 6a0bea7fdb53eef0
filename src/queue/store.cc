// File: src/queue/store.cc
#include "queue/store.h"

namespace wasmq::queue {
namespace {

Result<void> FinishOne(Store& store, Finish item) {
  std::vector<Finish> items(1);  // (not an initializer list: it trips GCC 12's -Wmaybe-uninitialized in json)
  items[0] = std::move(item);
  return std::move(store.FinishMany(items)[0]);
}

Finish Item(Finish::Kind kind, const Lease& lease) {
  Finish f;
  f.kind = kind;
  f.lease = lease;
  return f;
}

}  // namespace

Result<void> Store::CheckNew(const TaskInfo& t) {
  if (t.status != TaskStatus::Pending) return InvalidArgument("status: a new task must be pending");
  if (t.task_id.empty()) return InvalidArgument("task_id: is required");
  if (!IsValidModeName(t.mode)) return InvalidArgument("mode: invalid mode name '" + t.mode + "'");
  return {};
}

Result<void> Store::Complete(const Lease& lease, const TaskResult& result) {
  Finish f = Item(Finish::Kind::Complete, lease);
  f.result = result;
  return FinishOne(*this, std::move(f));
}

Result<void> Store::Fail(const Lease& lease, const TaskError& error) {
  Finish f = Item(Finish::Kind::Fail, lease);
  f.error = error;
  return FinishOne(*this, std::move(f));
}

Result<void> Store::Retry(const Lease& lease, const TaskError& error, int64_t run_at) {
  Finish f = Item(Finish::Kind::Retry, lease);
  f.error = error;
  f.run_at = run_at;
  return FinishOne(*this, std::move(f));
}

Result<void> Store::Release(const Lease& lease) { return FinishOne(*this, Item(Finish::Kind::Release, lease)); }

namespace {
Error NotKept(std::string_view backend) {
  return Unavailable("the " + std::string(backend) + " store keeps no task history or worker registry");
}
}  // namespace

Result<std::vector<HistoryEvent>> Store::History(std::string_view) { return NotKept(backend()); }
Result<TaskInfo> Store::Requeue(std::string_view) { return NotKept(backend()); }
// A store without flows still creates a plain task (a test double that forwards Create).
Result<Submitted> Store::Submit(const TaskInfo& task, const SubmitOptions& options) {
  if (!options.idempotency_key.empty() || !task.depends_on.empty() || !task.batch_id.empty())
    return Unavailable("the " + std::string(backend()) + " store keeps no idempotency keys or dependencies");
  if (auto r = Create(task); !r) return r.error();
  return Submitted{task, false};
}
Result<void> Store::CreateBatch(const BatchInfo&, const std::vector<TaskInfo>&) { return NotKept(backend()); }
Result<BatchInfo> Store::GetBatch(std::string_view) { return NotKept(backend()); }
Result<DeadLetterPage> Store::DeadLetters(const DeadLetterQuery&) { return NotKept(backend()); }
Result<void> Store::PutWorker(const WorkerInfo&) { return NotKept(backend()); }
Result<std::vector<WorkerInfo>> Store::Workers() { return NotKept(backend()); }
Result<std::vector<FinishedTask>> Store::Finished(int64_t, int64_t, const std::string*) { return NotKept(backend()); }

}  // namespace wasmq::queue
