// File: src/policy/reloadable.cc
//
// ReloadablePolicy (policy.h, "gates"): the admission gates' policy, swapped whole on SIGHUP or when its
// file changes. Why an atomic shared_ptr rather than a lock: a decision is a few microseconds and runs on
// every request; it must never wait for a reload (which compiles a module), and a decision already running
// must finish on the policy it started with. The old Policy (and its instance pool) goes away when its last
// decision drops the reference.
#include <sys/stat.h>

#include <thread>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "json/json.h"
#include "policy/policy.h"

namespace wasmq::policy {
namespace {

// What says "the file changed": a rename over it (a new inode), a write (mtime, size). Zero when absent.
struct FileStamp {
  ino_t inode = 0;
  int64_t mtime_ns = 0;
  off_t size = -1;
  bool operator==(const FileStamp&) const = default;
};

FileStamp Stamp(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return {};
  return {st.st_ino, int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec, st.st_size};
}

}  // namespace

Result<Decision> ParseDecision(std::string_view result_set) {
  auto bad = [&](const std::string& why) {
    return Error{Error::Kind::Eval, "the policy's decision " + why + " (want true/false or {\"allow\": bool, "
                                    "\"message\": string})"};
  };
  nlohmann::json rs = ::wasmq::json::Parse(result_set);
  if (!rs.is_array()) return bad("is not a result set");
  if (rs.empty()) return Decision{false, "the policy's decision is undefined for this input"};
  if (rs.size() != 1 || !rs[0].is_object() || !rs[0].contains("result")) return bad("is not one result");
  const nlohmann::json& r = rs[0]["result"];
  if (r.is_boolean()) return Decision{r.get<bool>(), r.get<bool>() ? "" : "denied by the policy"};
  if (!r.is_object()) return bad("is a " + std::string(r.type_name()));
  auto allow = r.find("allow");
  if (allow == r.end() || !allow->is_boolean()) return bad("has no boolean \"allow\"");
  Decision d{allow->get<bool>(), ""};
  if (auto m = r.find("message"); m != r.end()) {
    if (!m->is_string()) return bad("has a \"message\" that is not a string");
    d.message = m->get<std::string>();
  }
  if (!d.allow && d.message.empty()) d.message = "denied by the policy";
  return d;
}

struct ReloadablePolicy::Watcher {
  base::Mutex mu;
  base::CondVar cv;
  bool stop GUARDED_BY(mu) = false;
  std::thread thread;
};

Result<std::unique_ptr<ReloadablePolicy>> ReloadablePolicy::Open(std::string name, Fetch fetch,
                                                                 std::string watch_file, Options options) {
  std::unique_ptr<ReloadablePolicy> p(new ReloadablePolicy());
  p->name_ = std::move(name);
  p->fetch_ = std::move(fetch);
  p->watch_file_ = std::move(watch_file);
  p->options_ = std::move(options);
  if (auto r = p->Reload(); !r) return r.error();
  return p;
}

ReloadablePolicy::~ReloadablePolicy() {
  if (!watcher_) return;
  Watcher* w = watcher_.get();
  {
    base::MutexLock lock(w->mu);
    w->stop = true;
  }
  w->cv.NotifyAll();
  w->thread.join();
}

Result<bool> ReloadablePolicy::Reload() {
  auto bytes = fetch_();
  if (!bytes) return Error{bytes.error().kind, name_ + ": " + bytes.error().message};
  auto loaded = Policy::Load(*bytes, options_);
  if (!loaded) return Error{loaded.error().kind, name_ + ": " + loaded.error().message};
  current_.store(std::shared_ptr<const Policy>(std::move(*loaded)));
  generation_.fetch_add(1);
  return true;
}

uint64_t ReloadablePolicy::generation() const { return generation_.load(); }

Result<Decision> ReloadablePolicy::Decide(std::string_view input_json) const {
  const std::shared_ptr<const Policy> policy = current_.load();  // kept for the whole decision
  auto rs = policy->Eval(input_json, 0);
  if (!rs) return Error{rs.error().kind, name_ + ": " + rs.error().message};
  auto d = ParseDecision(*rs);
  if (!d) return Error{d.error().kind, name_ + ": " + d.error().message};
  return d;
}

void ReloadablePolicy::Watch(std::chrono::milliseconds interval, std::function<void(std::string_view)> log) {
  if (watch_file_.empty() || watcher_) return;
  watcher_ = std::make_unique<Watcher>();
  Watcher* w = watcher_.get();
  w->thread = std::thread([this, w, interval, log = std::move(log)] {
    FileStamp seen = Stamp(watch_file_);
    for (;;) {
      {
        base::MutexLock lock(w->mu);
        w->cv.WaitFor(lock, interval, [w]() REQUIRES(w->mu) { return w->stop; });
        if (w->stop) return;
      }
      FileStamp now = Stamp(watch_file_);
      // A file being replaced may be absent for a moment: wait for it to be back rather than fail.
      if (now == seen || now.size < 0) continue;
      seen = now;
      auto r = Reload();
      if (log) log(r ? name_ + " reloaded (file changed)" : "keeping the current " + name_ + ": " + r.error().message);
    }
  });
}

}  // namespace wasmq::policy
