// The Prometheus exposition.
#include "api/metrics.h"

#include <gtest/gtest.h>

namespace wasmq::api {
namespace {

TEST(Metrics, RendersCumulativeHistogramsAndStoreGauges) {
  Metrics m;
  m.ObserveHttp("/api/v1/tasks/{id}", "GET", 200, 0.0007);
  m.ObserveHttp("/api/v1/tasks/{id}", "GET", 200, 0.003);
  m.ObserveHttp("/api/v1/tasks/{id}", "BREW", 405, 20);
  m.ObserveTaskFinished("HEAD_SWAP", queue::TaskStatus::Done, 1.5);
  m.ObserveInstantiation("HEAD_SWAP", 0.00003);
  queue::QueueStats stats;
  stats.counts[queue::TaskStatus::Pending] = 4;
  stats.queue_length = 3;
  std::string text = m.Render(stats);
  EXPECT_NE(text.find("wasmq_store_up 1\n"), std::string::npos);
  EXPECT_NE(text.find("wasmq_tasks{status=\"pending\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("wasmq_tasks{status=\"done\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("wasmq_queue_depth 3\n"), std::string::npos);
  const std::string series = "route=\"/api/v1/tasks/{id}\",method=\"GET\",code=\"200\"";
  EXPECT_NE(text.find("wasmq_http_request_duration_seconds_bucket{" + series + ",le=\"0.0005\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("wasmq_http_request_duration_seconds_bucket{" + series + ",le=\"0.001\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("wasmq_http_request_duration_seconds_bucket{" + series + ",le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("wasmq_http_request_duration_seconds_count{" + series + "} 2\n"), std::string::npos);
  EXPECT_NE(text.find("method=\"other\",code=\"405\""), std::string::npos);  // unknown methods are folded
  EXPECT_NE(text.find("wasmq_task_duration_seconds_count{mode=\"HEAD_SWAP\",status=\"done\"} 1"), std::string::npos);
  EXPECT_NE(text.find("wasmq_wasm_instantiation_seconds_bucket{mode=\"HEAD_SWAP\",le=\"2.5e-05\"} 0"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE wasmq_task_duration_seconds histogram"), std::string::npos);
}

TEST(Metrics, ReportsTheStoreDownAndEscapesLabels) {
  Metrics m;
  EXPECT_NE(m.Render(std::nullopt).find("wasmq_store_up 0\n"), std::string::npos);
  EXPECT_EQ(EscapeLabel("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

// Every cause `wasmq doctor` names is there at 0 before any pull fails (a rate needs the series first); an
// unknown cause counts as registry-error rather than growing the label set.
TEST(Metrics, CountsModulePullFailuresByDoctorCause) {
  Metrics m;
  std::string before = m.Render(std::nullopt);
  EXPECT_NE(before.find("# TYPE wasmq_module_pull_failures_total counter\n"), std::string::npos);
  for (const char* cause : {"network", "auth", "denied", "repo-not-found", "tag-not-found", "unsupported-format",
                            "rate-limited", "registry-error", "digest-mismatch", "not-cached"})
    EXPECT_NE(before.find("wasmq_module_pull_failures_total{cause=\"" + std::string(cause) + "\"} 0\n"),
              std::string::npos)
        << cause;
  m.ObservePullFailure("auth");
  m.ObservePullFailure("auth");
  m.ObservePullFailure("something-new");
  std::string after = m.Render(std::nullopt);
  EXPECT_NE(after.find("wasmq_module_pull_failures_total{cause=\"auth\"} 2\n"), std::string::npos);
  EXPECT_NE(after.find("wasmq_module_pull_failures_total{cause=\"registry-error\"} 1\n"), std::string::npos);
  EXPECT_EQ(after.find("something-new"), std::string::npos);
}

TEST(Metrics, BoundsTheNumberOfSeries) {
  HistogramFamily h("x", "help", {"k"}, {1});
  for (size_t i = 0; i < HistogramFamily::kMaxSeries + 50; ++i) h.Observe({std::to_string(i)}, 0.5);
  std::string out;
  h.Render(out);
  EXPECT_NE(out.find("x_count{k=\"other\"} 50"), std::string::npos);
}

}  // namespace
}  // namespace wasmq::api
