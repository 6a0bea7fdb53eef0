// File: src/queue/flows.cc
#include "queue/flows.h"

#include <cstdio>

namespace wasmq::queue {

std::string IdempotencyFingerprint(const TaskCreateRequest& r) {
  // nlohmann's object is a std::map: dump() orders keys, so equal requests give equal text.
  Json j = {{"mode", r.mode},
            {"source_image", r.source_image},
            {"config", r.config.is_null() ? Json::object() : r.config},
            {"priority", r.priority},
            {"max_retries", r.max_retries ? Json(*r.max_retries) : Json(nullptr)},
            {"timeout_ms", r.timeout_ms ? Json(*r.timeout_ms) : Json(nullptr)},
            {"depends_on", r.depends_on},
            {"user_id", r.user_id}};
  const std::string text = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

void TallyBatch(BatchInfo* b, const std::vector<std::pair<TaskStatus, int>>& tasks) {
  b->counts.clear();
  for (TaskStatus s : kAllStatuses) b->counts[s] = 0;
  b->finished = 0;
  double sum = 0;
  for (const auto& [status, progress] : tasks) {
    ++b->counts[status];
    if (IsTerminal(status)) {
      ++b->finished;
      sum += 100;
    } else {
      sum += progress;
    }
  }
  b->progress = tasks.empty() ? 100.0 : sum / static_cast<double>(tasks.size());
}

Json ToJson(const BatchInfo& b) {
  Json counts = Json::object();
  for (const auto& [status, n] : b.counts) counts[std::string(ToString(status))] = n;
  return {{"batch_id", b.batch_id},
          {"user_id", b.user_id.empty() ? Json(nullptr) : Json(b.user_id)},
          {"created_at", b.created_at ? Json(FormatTime(b.created_at)) : Json(nullptr)},
          {"size", b.task_ids.size()},
          {"task_ids", b.task_ids},
          {"counts", counts},
          {"finished", b.finished},
          {"progress", b.progress},
          {"done", b.finished == static_cast<int64_t>(b.task_ids.size())}};
}

}  // namespace wasmq::queue
