// File: bench/api/ws_watchers_bench.cc
//
// WebSocket fan-out: W watchers connected to T tasks (watcher i watches task i mod T) receive the progress
// events that a stand-in worker pushes through the Store's Progress call, on a BenchServer in this process.
//
//   ws_watchers_bench [--watchers 1000] [--tasks 1000] [--rounds 20] [--interval-ms 0] [--threads N]
//
// The tasks are claimed under one lease each, then each round calls Progress once per task, with the
// current steady-clock time in the step text ("r=<round> t=<ns>"); a watcher takes the difference on
// arrival. So the latency covers the whole path: the SQLite commit, the store's event, the WatchHub, the
// session's queue and write, the loopback socket, and the client's read. --interval-ms paces the rounds
// (0: back to back, the throughput case). A session coalesces a progress event that is still unsent when a
// newer one of the same task arrives (ws_session.h): under overload watchers get fewer, fresher events, and
// `delivered` < `expected` shows it.
//
// Output: a human summary on stderr and one `key=value …` line on stdout for bench/api/run.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "bench_server.h"

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using wasmq::bench::Die;

int64_t NowNs() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

// One watcher: connect, handshake, then read every message; progress events are timed.
class Watcher : public std::enable_shared_from_this<Watcher> {
 public:
  Watcher(net::io_context& ioc, uint16_t port, std::string task_id, std::atomic<int>* snapshots)
      : ws_(net::make_strand(ioc)), port_(port), task_id_(std::move(task_id)), snapshots_(snapshots) {}

  void Start() {
    beast::get_lowest_layer(ws_).async_connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), port_),
        [self = shared_from_this()](beast::error_code ec) { self->OnConnect(ec); });
  }
  void Close() {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      beast::get_lowest_layer(self->ws_).socket().close(ec);
    });
  }

  std::vector<int64_t> latencies_ns;  // read after the client threads have stopped
  std::atomic<int> last_round{-1};
  std::atomic<bool> failed{false};

 private:
  void OnConnect(beast::error_code ec) {
    if (ec) return Fail("connect", ec);
    ws_.async_handshake("127.0.0.1:" + std::to_string(port_), "/api/v1/tasks/" + task_id_ + "/ws",
                        [self = shared_from_this()](beast::error_code e) {
                          if (e) return self->Fail("handshake", e);
                          self->Read();
                        });
  }

  void Read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    int64_t now = NowNs();
    if (ec) {
      if (ec != websocket::error::closed && ec != net::error::operation_aborted && ec != net::error::bad_descriptor)
        Fail("read", ec);
      return;
    }
    std::string_view text(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    // The event's JSON has "current_step":"r=<round> t=<ns>"; a string search is enough and keeps the
    // client's share of the CPU small (it shares the machine with the server).
    size_t at = text.find("\"current_step\":\"r=");
    if (at != std::string_view::npos) {
      const char* p = text.data() + at + 18;
      char* end = nullptr;
      long round = std::strtol(p, &end, 10);
      long long sent = std::strtoll(end + 3, nullptr, 10);  // skip " t="
      latencies_ns.push_back(now - sent);
      last_round.store(static_cast<int>(round));
    } else if (text.find("\"type\":\"snapshot\"") != std::string_view::npos) {
      snapshots_->fetch_add(1);
    }
    buffer_.consume(buffer_.size());
    Read();
  }

  void Fail(const char* what, beast::error_code ec) {
    if (!failed.exchange(true)) std::fprintf(stderr, "watcher of %s: %s: %s\n", task_id_.c_str(), what, ec.message().c_str());
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  uint16_t port_;
  std::string task_id_;
  std::atomic<int>* snapshots_;
};

double Percentile(std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[std::max<size_t>(rank, 1) - 1]) / 1000.0;
}

template <class Pred>
bool WaitFor(Pred pred, std::chrono::seconds limit) {
  auto deadline = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int watchers = 1000, tasks = 1000, rounds = 20, interval_ms = 0, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (a == "--watchers") watchers = v;
    else if (a == "--tasks") tasks = v;
    else if (a == "--rounds") rounds = v;
    else if (a == "--interval-ms") interval_ms = v;
    else if (a == "--threads") threads = v;
    else Die("usage: ws_watchers_bench [--watchers N] [--tasks N] [--rounds N] [--interval-ms N] [--threads N]");
  }
  if (watchers < 1 || tasks < 1 || tasks > watchers || rounds < 1) Die("need 1 <= tasks <= watchers and rounds >= 1");

  wasmq::bench::BenchServer server({.threads = threads});
  std::vector<std::string> ids;
  for (int i = 0; i < tasks; ++i) ids.push_back(server.SubmitTask());
  std::vector<wasmq::queue::Lease> leases;
  while (static_cast<int>(leases.size()) < tasks) {
    auto got = server.store().Dequeue({.owner = "bench-pusher", .lease_ms = 3'600'000, .max_tasks = tasks});
    if (!got || got->empty()) Die("cannot claim the tasks");
    for (auto& c : *got) leases.push_back(c.lease);
  }

  // The client: one I/O thread (the machine's other CPU serves).
  net::io_context ioc;
  auto work = net::make_work_guard(ioc);
  std::thread client([&ioc] { ioc.run(); });
  std::atomic<int> snapshots{0};
  std::vector<std::shared_ptr<Watcher>> ws;
  auto connect_start = Clock::now();
  for (int i = 0; i < watchers; ++i) {
    ws.push_back(std::make_shared<Watcher>(ioc, server.port(), leases[static_cast<size_t>(i % tasks)].task_id, &snapshots));
    ws.back()->Start();
  }
  if (!WaitFor([&] { return snapshots.load() == watchers; }, std::chrono::seconds(60)))
    Die("only " + std::to_string(snapshots.load()) + " of " + std::to_string(watchers) + " watchers connected");
  double connect_s = std::chrono::duration<double>(Clock::now() - connect_start).count();

  auto push_start = Clock::now();
  for (int r = 0; r < rounds; ++r) {
    for (const auto& lease : leases) {
      std::string step = "r=" + std::to_string(r) + " t=" + std::to_string(NowNs());
      if (auto p = server.store().Progress(lease, r % 101, step); !p) Die("progress: " + p.error().message);
    }
    if (interval_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  double push_s = std::chrono::duration<double>(Clock::now() - push_start).count();
  // Done when every watcher has seen the last round (coalescing may skip earlier ones, never the last).
  bool complete = WaitFor(
      [&] { return std::all_of(ws.begin(), ws.end(), [&](auto& w) { return w->last_round.load() == rounds - 1; }); },
      std::chrono::seconds(60));
  double total_s = std::chrono::duration<double>(Clock::now() - push_start).count();

  for (auto& w : ws) w->Close();
  work.reset();
  ioc.stop();
  client.join();

  std::vector<int64_t> all;
  int failed = 0;
  for (auto& w : ws) {
    all.insert(all.end(), w->latencies_ns.begin(), w->latencies_ns.end());
    failed += w->failed.load();
  }
  std::sort(all.begin(), all.end());
  long long pushed = static_cast<long long>(rounds) * tasks, expected = static_cast<long long>(rounds) * watchers;
  double events_per_s = static_cast<double>(all.size()) / total_s;
  std::fprintf(stderr,
               "%d watchers on %d tasks, %d rounds%s: connected in %.2f s; %lld Progress calls in %.2f s (%.0f/s); "
               "%zu of %lld events delivered in %.2f s (%.0f events/s); latency p50 %.0f us, p99 %.0f us, max %.0f us%s\n",
               watchers, tasks, rounds, interval_ms ? (", " + std::to_string(interval_ms) + " ms apart").c_str() : "",
               connect_s, pushed, push_s, static_cast<double>(pushed) / push_s, all.size(), expected, total_s,
               events_per_s, Percentile(all, 50), Percentile(all, 99), Percentile(all, 100),
               complete ? "" : " (INCOMPLETE: some watchers never saw the last round)");
  std::printf("watchers=%d tasks=%d rounds=%d interval_ms=%d connect_s=%.3f pushed=%lld push_per_s=%.0f delivered=%zu "
              "expected=%lld events_per_s=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f failed=%d complete=%d\n",
              watchers, tasks, rounds, interval_ms, connect_s, pushed, static_cast<double>(pushed) / push_s, all.size(),
              expected, events_per_s, Percentile(all, 50), Percentile(all, 99), Percentile(all, 100), failed, complete);
  return complete && failed == 0 ? 0 : 1;
}
