// File: src/api/ws_session.cc
#include "api/ws_session.h"

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <map>

#include "api/handlers.h"

namespace wasmq::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using queue::Json;

class WsSession final : public Session, public Watcher, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& socket, ServerState& state, Slot slot, WatchTarget target)
      : ws_(std::move(socket)), state_(state), slot_(std::move(slot)), target_(std::move(target)) {}

  ~WsSession() override {
    registration_.Reset();
    batch_registrations_.clear();
    if (counted_) state_.metrics.websocket_connections--;
    state_.sessions.Untrack(this);
  }

  void Start(http::request<http::string_body> req) {
    state_.sessions.Track(this, std::weak_ptr<Session>(shared_from_this()));
    req_ = std::move(req);
    ws_.set_option(websocket::stream_base::timeout{state_.config.header_timeout, state_.config.idle_timeout, true});
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "wasmq"); }));
    ws_.read_message_max(4096);
    ws_.async_accept(req_, [self = shared_from_this()](beast::error_code ec) { self->OnAccept(ec); });
  }

  void Deliver(const std::shared_ptr<const std::string>& json, const queue::TaskEvent& e) override {
    net::post(ws_.get_executor(), [self = shared_from_this(), json, task = e.task_id, kind = e.kind,
                                   terminal = queue::IsTerminal(e.status), at = e.at]() mutable {
      self->OnEvent({std::move(task), kind == queue::TaskEvent::Kind::Progress, terminal, at, std::move(json)});
    });
  }

  void Shutdown() override {
    net::post(ws_.get_executor(),
              [self = shared_from_this()] { self->CloseWith(websocket::close_code::going_away, "server shutting down"); });
  }

 private:
  struct Out {
    std::string task_id;
    bool progress = false;
    bool terminal = false;
    int64_t at = 0;
    std::shared_ptr<const std::string> json;
  };

  void OnAccept(beast::error_code ec) {
    if (ec) return;
    counted_ = true;
    state_.metrics.websocket_connections++;
    std::weak_ptr<Watcher> me = std::static_pointer_cast<Watcher>(shared_from_this());
    if (!target_.batch_id.empty()) {
      // A batch: the events of each of its tasks (ownership was checked for the batch as a whole).
      for (const std::string& id : target_.batch_tasks) batch_registrations_.push_back(state_.hub.WatchTask(id, me));
    } else {
      registration_ = target_.task_id.empty() ? state_.hub.WatchUser(target_.caller.user, me)
                                              : state_.hub.WatchTask(target_.task_id, me);
    }
    SendSnapshot();
    ReadLoop();
  }

  // The current state, read after registering: events committed before this read are older than it (and
  // dropped by Newer), events after it were held and follow it.
  void SendSnapshot() {
    Json message;
    if (!target_.batch_id.empty()) {
      // The batch's counts and progress, then every task's current state; events follow as for /api/v1/ws.
      auto b = state_.tasks.GetBatch(target_.batch_id);
      if (!b) return CloseWith(websocket::close_code::internal_error, "store: " + b.error().message.substr(0, 100));
      Json tasks = Json::array();
      for (const std::string& id : target_.batch_tasks) {
        auto t = state_.tasks.Get(id);
        if (!t) continue;
        snapshot_at_[t->task_id] = t->updated_at;
        tasks.push_back(queue::ToJson(queue::Summarise(*t)));
      }
      message = {{"type", "snapshot"}, {"batch", queue::ToJson(*b)}, {"tasks", std::move(tasks)}};
    } else if (!target_.task_id.empty()) {
      auto t = state_.tasks.Get(target_.task_id);
      if (!t) return CloseWith(websocket::close_code::internal_error, "store: " + t.error().message.substr(0, 100));
      snapshot_at_[t->task_id] = t->updated_at;
      message = {{"type", "snapshot"}, {"task", TaskJson(state_.config, *t)}};
      if (queue::IsTerminal(t->status)) close_after_flush_ = true;
    } else {
      Json tasks = Json::array();
      bool truncated = false;
      for (queue::TaskStatus s : {queue::TaskStatus::Processing, queue::TaskStatus::Pending}) {
        queue::ListQuery q{.status = s,
                           .user_id = state_.config.auth_required ? target_.caller.user : "",
                           .page = 1,
                           .page_size = queue::kMaxPageSize};
        auto page = state_.tasks.List(q);
        if (!page) return CloseWith(websocket::close_code::internal_error, "store: " + page.error().message.substr(0, 100));
        truncated = truncated || page->has_more;
        for (const queue::TaskSummary& t : page->tasks) {
          snapshot_at_[t.task_id] = t.updated_at;
          tasks.push_back(queue::ToJson(t));
        }
      }
      message = {{"type", "snapshot"}, {"tasks", std::move(tasks)}, {"truncated", truncated}};
    }
    snapshot_sent_ = true;
    queue_.push_back({target_.task_id, false, false, 0, std::make_shared<const std::string>(message.dump())});
    std::vector<Out> held = std::move(held_);
    for (Out& o : held) Enqueue(std::move(o));
    DoWrite();
  }

  void OnEvent(Out out) {
    if (closing_) return;
    if (!snapshot_sent_) {
      if (held_.size() >= kMaxQueued) return CloseWith(websocket::close_code::policy_error, "too slow");
      held_.push_back(std::move(out));
      return;
    }
    Enqueue(std::move(out));
    DoWrite();
  }

  void Enqueue(Out out) {
    auto seen = snapshot_at_.find(out.task_id);
    if (seen != snapshot_at_.end() && out.at < seen->second) return;  // older than the snapshot
    if (out.progress) {
      // Replace the task's last queued message if it is an unsent progress event: same place, newer value.
      for (size_t i = queue_.size(); i-- > (writing_ ? 1u : 0u);) {
        if (queue_[i].task_id != out.task_id) continue;
        if (queue_[i].progress) {
          queue_[i] = std::move(out);
          return;
        }
        break;
      }
    }
    if (queue_.size() >= kMaxQueued) return CloseWith(websocket::close_code::policy_error, "too slow");
    if (out.terminal && !target_.task_id.empty()) close_after_flush_ = true;
    queue_.push_back(std::move(out));
  }

  void DoWrite() {
    if (writing_) return;
    if (queue_.empty()) {
      if (close_after_flush_) CloseWith(websocket::close_code::normal, "task finished");
      return;
    }
    if (closed_) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(*queue_.front().json), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) return self->Stop();
      self->queue_.pop_front();
      if (self->close_code_) return self->DoClose();
      self->DoWrite();
    });
  }

  // Ends the stream with `code` once the message being written (if any) is out; drops what is queued.
  void CloseWith(websocket::close_code code, std::string reason) {
    if (closing_) return;
    closing_ = true;
    close_code_ = code;
    close_reason_ = std::move(reason);
    registration_.Reset();
    batch_registrations_.clear();
    held_.clear();
    while (queue_.size() > (writing_ ? 1u : 0u)) queue_.pop_back();
    if (!writing_) DoClose();
  }

  void DoClose() {
    if (closed_) return;
    closed_ = true;
    queue_.clear();
    websocket::close_reason reason(*close_code_, close_reason_);
    ws_.async_close(reason, [self = shared_from_this()](beast::error_code) {});
  }

  void ReadLoop() {
    ws_.async_read(read_buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Stop();
      self->read_buffer_.consume(self->read_buffer_.size());  // clients have nothing to say; ignore it
      self->ReadLoop();
    });
  }

  // The connection is gone: stop taking events; the session ends when its last handler returns.
  void Stop() {
    closing_ = true;
    registration_.Reset();
    batch_registrations_.clear();
    held_.clear();
    queue_.clear();
  }

  websocket::stream<beast::tcp_stream> ws_;
  ServerState& state_;
  Slot slot_;
  WatchTarget target_;
  http::request<http::string_body> req_;
  WatchHub::Registration registration_;
  std::vector<WatchHub::Registration> batch_registrations_;  // one per task of a watched batch
  bool counted_ = false;
  bool snapshot_sent_ = false;
  std::vector<Out> held_;                  // events before the snapshot was sent
  std::map<std::string, int64_t> snapshot_at_;  // task → updated_at in the snapshot
  std::deque<Out> queue_;                  // front is being written when writing_
  bool writing_ = false;
  bool close_after_flush_ = false;
  bool closing_ = false, closed_ = false;
  std::optional<websocket::close_code> close_code_;
  std::string close_reason_;
  beast::flat_buffer read_buffer_;
};

}  // namespace

void StartWsSession(tcp::socket socket, http::request<http::string_body> request, ServerState& state, Slot slot,
                    WatchTarget target) {
  std::make_shared<WsSession>(std::move(socket), state, std::move(slot), std::move(target))->Start(std::move(request));
}

}  // namespace wasmq::api
