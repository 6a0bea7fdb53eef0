// File: src/trace/exporter.cc
//
// The batching exporter: finished spans wait in a bounded queue; one background thread sends them in
// batches (when a batch is full or the oldest has waited `delay`) as OTLP/JSON over src/http. The threads
// that end spans only take a lock and push: a full queue drops the span and counts it.
#include <atomic>
#include <deque>
#include <limits>
#include <thread>

#include "base/mutex.h"
#include "http/http.h"
#include "trace/internal.h"

namespace wasmq::trace {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kComplaintInterval = std::chrono::minutes(1);

class Exporter {
 public:
  void Start(Settings settings, std::function<void(std::string_view)> log) EXCLUDES(mu_) {
    if (thread_.joinable()) return;
    settings_ = std::move(settings);
    log_ = std::move(log);
    {
      base::MutexLock lock(mu_);
      accepting_ = true;
      stopping_ = false;
    }
    thread_ = std::thread([this] { Loop(); });
    sampler_.store(&settings_.sampler, std::memory_order_release);
  }

  const Sampler* sampler() const { return sampler_.load(std::memory_order_acquire); }

  void Enqueue(SpanData&& span) EXCLUDES(mu_) {
    base::MutexLock lock(mu_);
    if (!accepting_ || queue_.size() >= settings_.max_queue) {
      ++dropped_;
      return;
    }
    queue_.push_back(std::move(span));
    // Wake the thread when its delay starts (the first span) and when a batch is full; not for each span.
    if (queue_.size() == 1 || queue_.size() == settings_.max_batch) cv_.NotifyAll();
  }

  void Shutdown(std::chrono::milliseconds budget) EXCLUDES(mu_) {
    sampler_.store(nullptr, std::memory_order_release);
    if (!thread_.joinable()) return;
    {
      base::MutexLock lock(mu_);
      stopping_ = true;
      flush_deadline_ = Clock::now() + budget;
      cutoff_ns_ = (flush_deadline_ - Clock::time_point{}).count();
      cv_.NotifyAll();
    }
    thread_.join();
    base::MutexLock lock(mu_);
    accepting_ = false;
    dropped_ += queue_.size();
    queue_.clear();
  }

  Stats stats() const EXCLUDES(mu_) {
    base::MutexLock lock(mu_);
    return {exported_.load(), dropped_, failed_.load()};
  }

 private:
  void Loop() EXCLUDES(mu_) {
    for (;;) {
      std::vector<SpanData> batch;
      Clock::time_point deadline;
      {
        base::MutexLock lock(mu_);
        // The delay runs from the moment the queue stops being empty, so a lone span waits at most `delay`.
        cv_.Wait(lock, [&]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
        if (!stopping_) {
          auto until = Clock::now() + settings_.delay;
          cv_.WaitUntil(lock, until,
                        [&]() REQUIRES(mu_) { return stopping_ || queue_.size() >= settings_.max_batch; });
        }
        if (stopping_ && (queue_.empty() || Clock::now() >= flush_deadline_)) return;
        size_t n = std::min(queue_.size(), settings_.max_batch);
        batch.reserve(n);
        for (size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        deadline = stopping_ ? std::min(flush_deadline_, Clock::now() + settings_.timeout)
                             : Clock::now() + settings_.timeout;
      }
      Send(batch, deadline);
    }
  }

  void Send(const std::vector<SpanData>& batch, Clock::time_point deadline) {
    http::Request req;
    req.method = "POST";
    req.url = settings_.traces_url;
    req.headers = settings_.headers;
    req.headers.push_back("Content-Type: application/json");
    req.body = EncodeOtlpJson(settings_.resource, batch);
    req.timeouts.total = settings_.timeout;
    req.timeouts.connect = std::min<std::chrono::milliseconds>(settings_.timeout, std::chrono::milliseconds(5'000));
    req.deadline = deadline;
    // OTLP/HTTP: 429, 502, 503 and 504 may be retried; the client retries 429 and 5xx.
    req.retry = {.retries = 2, .backoff = std::chrono::milliseconds(200), .max_backoff = std::chrono::seconds(2),
                 .any_method = true};
    req.max_body_bytes = 1 << 20;
    // A request under way when Shutdown's budget runs out is given up, whatever its own timeout.
    req.cancelled = [this] { return (Clock::now() - Clock::time_point{}).count() > cutoff_ns_.load(); };
    http::Response r = client_.Send(req);
    if (!r.error && r.status >= 200 && r.status < 300) {
      exported_ += batch.size();
      return;
    }
    failed_ += batch.size();
    Complain(r.error ? std::string(http::KindName(r.error.kind)) + ": " + r.error.reason
                     : "HTTP " + std::to_string(r.status));
  }

  // One line a minute at most: a collector that is down would otherwise fill the log.
  void Complain(const std::string& why) {
    auto now = Clock::now();
    if (!log_ || (last_complaint_ != Clock::time_point{} && now - last_complaint_ < kComplaintInterval)) return;
    last_complaint_ = now;
    log_("traces: export to " + http::RedactUrl(settings_.traces_url) + " failed (" + why + "); " +
         std::to_string(failed_.load()) + " span(s) lost so far");
  }

  Settings settings_;  // written by Start before the thread starts, then read only
  std::function<void(std::string_view)> log_;
  http::Client client_{http::ClientOptions{.user_agent = "wasmq-otlp/1"}};
  std::atomic<const Sampler*> sampler_{nullptr};
  std::thread thread_;
  std::atomic<uint64_t> exported_{0}, failed_{0};
  std::atomic<Clock::rep> cutoff_ns_{std::numeric_limits<Clock::rep>::max()};  // Shutdown's flush deadline
  Clock::time_point last_complaint_{};  // the export thread's own

  mutable base::Mutex mu_;
  base::CondVar cv_;
  std::deque<SpanData> queue_ GUARDED_BY(mu_);
  bool accepting_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  Clock::time_point flush_deadline_ GUARDED_BY(mu_){};
  uint64_t dropped_ GUARDED_BY(mu_) = 0;
};

// Never destroyed: a span may end on some thread while the process exits.
Exporter& TheExporter() {
  static Exporter* e = new Exporter();
  return *e;
}

}  // namespace

namespace internal {

const Sampler* ActiveSampler() { return TheExporter().sampler(); }
void Enqueue(SpanData&& span) { TheExporter().Enqueue(std::move(span)); }
int64_t NowUnixNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace internal

void Start(Settings settings, std::function<void(std::string_view)> log) {
  if (!settings.enabled) return;
  TheExporter().Start(std::move(settings), std::move(log));
}

void Shutdown(std::chrono::milliseconds budget) { TheExporter().Shutdown(budget); }
bool Enabled() { return internal::ActiveSampler() != nullptr; }
Stats ExportStats() { return TheExporter().stats(); }

}  // namespace wasmq::trace
