// File: src/engines/comfyui_engine.cc
//
// The `comfyui` engine: runs a workflow on a ComfyUI server through its HTTP API (docs/engines.md):
//   1. the call's payload (an input image) is uploaded: POST /upload/image, multipart field "image"
//      → {"name", "subfolder", "type"}; the workflow's "{{input_image}}" becomes "subfolder/name"
//   2. every "{{key}}" in the workflow template is replaced from the request JSON (then the config's
//      "defaults"; "{{seed}}" falls back to a random seed); a string that is only a placeholder takes the
//      value with its JSON type, so "{{seed}}" can become the number 42
//   3. POST /prompt {"prompt": workflow, "client_id"} → {"prompt_id"}
//   4. GET /history/{prompt_id} every poll_interval_ms until the prompt has outputs (or its status says
//      error: ENGINE_FAILED with the node's exception message), bounded by timeout_ms
//      (a timeout or cancel takes a still-queued prompt off the queue: POST /queue {"delete": [id]})
//   5. GET /view?filename=&subfolder=&type= of the first output image → the response payload;
//      the response JSON is {"prompt_id", "images": [{"filename", "subfolder", "type", "node"}...]}
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "base/encoding.h"
#include "engines/internal.h"
#include "json/json.h"

namespace wasmq::engines {

namespace {

struct ComfyConfig {
  std::string base;  // without a trailing slash
  Json workflow;
  Json defaults = Json::object();
  std::string output_node;
  std::chrono::milliseconds poll{500}, request_timeout{30'000};
  std::vector<std::string> headers;
};

uint64_t RandomU64() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng();
}

class ComfyUiEngine final : public Engine {
 public:
  ComfyUiEngine(ComfyConfig c, int64_t timeout_ms) : c_(std::move(c)) { timeout_ms_ = timeout_ms; }
  std::string_view kind() const override { return "comfyui"; }

  Response Call(const Request& request, const CallContext& ctx) const override {
    Json values = wasmq::json::Parse(request.json);
    if (!values.is_object()) return Failure(Status::BadRequest, "the request must be a JSON object");
    if (!request.payload.empty()) {
      Response up = Upload(request.payload, ctx, &values);
      if (up.status != Status::Ok) return up;
    }
    Json workflow = c_.workflow;
    std::string missing;
    Substitute(workflow, values, &missing);
    if (!missing.empty())
      return Failure(Status::BadRequest, "the workflow's placeholder {{" + missing +
                                             "}} has no value (give \"" + missing + "\" in the request)");

    const std::string client_id = "wasmq-" + std::to_string(RandomU64());
    http::Response posted =
        Send("POST", "/prompt", Json{{"prompt", workflow}, {"client_id", client_id}}.dump(), ctx);
    if (posted.error || posted.status != 200) return Failed(posted, "POST /prompt");
    Json answer = wasmq::json::Parse(posted.body);
    if (!answer.is_object() || !answer.contains("prompt_id") || !answer["prompt_id"].is_string())
      return Failure(Status::Failed, "POST /prompt answered no prompt_id");
    const std::string prompt_id = answer["prompt_id"].get<std::string>();

    Json entry;
    while (true) {
      http::Response h = Send("GET", "/history/" + base::PercentEncode(prompt_id), "", ctx);
      if (h.error || h.status != 200) {  // the deadline may have passed during the poll itself
        Forget(prompt_id);
        return Failed(h, "GET /history");
      }
      Json history = wasmq::json::Parse(h.body);
      if (history.is_object() && history.contains(prompt_id) && history[prompt_id].is_object()) {
        entry = history[prompt_id];
        if (auto err = ExecutionError(entry))
          return Failure(Status::Failed, "prompt " + prompt_id + ": " + *err);
        if (Finished(entry)) break;
      }
      if (ctx.Remaining() <= c_.poll) {
        Forget(prompt_id);
        if (ctx.cancel && ctx.cancel->cancelled()) return Failure(Status::Cancelled, "cancelled");
        return Failure(Status::Timeout, "prompt " + prompt_id + " did not finish within " +
                                            std::to_string(timeout_ms_) + " ms");
      }
      if (ctx.cancel ? !ctx.cancel->SleepFor(c_.poll) : (std::this_thread::sleep_for(c_.poll), false)) {
        Forget(prompt_id);
        return Failure(Status::Cancelled, "cancelled");
      }
    }

    Json images = Images(entry);
    if (images.empty())
      return Failure(Status::Failed, "prompt " + prompt_id + " finished without an output image");
    const Json& first = images[0];
    std::string query = "/view?filename=" + base::PercentEncode(first.value("filename", "")) +
                        "&subfolder=" + base::PercentEncode(first.value("subfolder", "")) +
                        "&type=" + base::PercentEncode(first.value("type", "output"));
    http::Response view = Send("GET", query, "", ctx, std::max(ctx.max_response_payload, size_t{1}));
    if (view.error || view.status != 200) return Failed(view, "GET /view");
    Response out;
    out.payload = std::move(view.body);
    out.json = Json{{"prompt_id", prompt_id}, {"images", images}}.dump();
    return out;
  }

 private:
  http::Response Send(const std::string& method, const std::string& path, std::string json_body,
                      const CallContext& ctx, size_t max_bytes = 16u << 20) const {
    http::Request h;
    h.method = method;
    h.url = c_.base + path;
    h.headers = c_.headers;
    h.timeouts.total = c_.request_timeout;
    h.max_body_bytes = max_bytes;
    if (method == "POST") {
      h.body = std::move(json_body);
      h.headers.push_back("Content-Type: application/json");
    }
    return HttpCall(std::move(h), ctx);
  }

  // Best effort, after a timeout or cancel: takes the prompt off ComfyUI's queue if it has not started
  // (POST /queue {"delete": [id]}), so abandoned work does not hold the server. One that already runs is
  // left to finish: /interrupt would stop whatever runs, possibly another client's prompt.
  void Forget(const std::string& prompt_id) const {
    CallContext quick;
    quick.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    Send("POST", "/queue", Json{{"delete", {prompt_id}}}.dump(), quick);
  }

  Response Failed(const http::Response& r, const std::string& what) const {
    Response f = MapHttpFailure(r, "ComfyUI " + what);
    if (!r.error && r.status >= 400 && r.status < 500) {
      // /prompt explains a refused workflow in {"error": {"message", "details"}, "node_errors": {...}}.
      Json j = wasmq::json::Parse(r.body);
      if (j.is_object() && j.contains("error") && j["error"].is_object()) {
        f.message =
            "ComfyUI " + what + " refused the workflow: " + j["error"].value("message", "") +
            (j["error"].value("details", "").empty() ? "" : " (" + j["error"].value("details", "") + ")");
      }
    }
    return f;
  }

  Response Upload(const std::string& image, const CallContext& ctx, Json* values) const {
    http::Request h;
    h.method = "POST";
    h.url = c_.base + "/upload/image";
    h.headers = c_.headers;
    h.timeouts.total = c_.request_timeout;
    const std::string type = SniffContentType(image, "application/octet-stream");
    const std::string ext = type == "image/jpeg"   ? ".jpg"
                            : type == "image/png"  ? ".png"
                            : type == "image/webp" ? ".webp"
                                                   : "";
    h.multipart.push_back({"image", image, "wasmq-" + std::to_string(RandomU64()) + ext, type});
    h.multipart.push_back({"overwrite", "true"});
    http::Response r = HttpCall(std::move(h), ctx);
    if (r.error || r.status != 200) return Failed(r, "POST /upload/image");
    Json j = wasmq::json::Parse(r.body);
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string())
      return Failure(Status::Failed, "POST /upload/image answered no name");
    std::string subfolder = j.value("subfolder", "");
    (*values)["input_image"] =
        subfolder.empty() ? j["name"].get<std::string>() : subfolder + "/" + j["name"].get<std::string>();
    return {};
  }

  // Replaces every {{key}} in the strings of `node`. `missing` gets the first key without a value.
  void Substitute(Json& node, const Json& values, std::string* missing) const {
    if (node.is_object() || node.is_array()) {
      for (auto& child : node) Substitute(child, values, missing);
      return;
    }
    if (!node.is_string()) return;
    std::string s = node.get<std::string>();
    size_t open = s.find("{{");
    if (open == std::string::npos) return;
    size_t close = s.find("}}", open);
    if (open == 0 && close == s.size() - 2 && s.find("{{", 2) == std::string::npos) {  // "{{key}}" alone
      if (auto v = Value(s.substr(2, s.size() - 4), values))
        node = *v;
      else if (missing->empty())
        *missing = s.substr(2, s.size() - 4);
      return;
    }
    std::string out;
    size_t at = 0;
    while ((open = s.find("{{", at)) != std::string::npos &&
           (close = s.find("}}", open)) != std::string::npos) {
      out += s.substr(at, open - at);
      std::string key = s.substr(open + 2, close - open - 2);
      auto v = Value(key, values);
      if (!v && missing->empty()) *missing = key;
      if (v) out += v->is_string() ? v->get<std::string>() : v->dump();
      at = close + 2;
    }
    node = out + s.substr(at);
  }

  std::optional<Json> Value(const std::string& key, const Json& values) const {
    if (values.contains(key)) return values[key];
    if (c_.defaults.contains(key)) return c_.defaults[key];
    if (key == "seed") return Json(RandomU64() >> 20);  // ComfyUI's seeds are up to 2^64; keep it JSON-safe
    return std::nullopt;
  }

  // The execution error a finished prompt reports, if any.
  static std::optional<std::string> ExecutionError(const Json& entry) {
    if (!entry.contains("status") || !entry["status"].is_object()) return std::nullopt;
    const Json& st = entry["status"];
    if (st.value("status_str", "") != "error") return std::nullopt;
    if (st.contains("messages") && st["messages"].is_array())
      for (const Json& m : st["messages"])
        if (m.is_array() && m.size() == 2 && m[0] == "execution_error" && m[1].is_object()) {
          const Json& d = m[1];
          return "node " + d.value("node_id", std::string("?")) + " (" +
                 d.value("node_type", std::string("?")) +
                 ") failed: " + d.value("exception_message", std::string("execution error"));
        }
    return std::string("execution error");
  }

  static bool Finished(const Json& entry) {
    bool has_outputs = entry.contains("outputs") && entry["outputs"].is_object() && !entry["outputs"].empty();
    if (entry.contains("status") && entry["status"].is_object() && entry["status"].contains("completed"))
      return entry["status"].value("completed", false) && has_outputs;
    return has_outputs;
  }

  Json Images(const Json& entry) const {
    Json list = Json::array();
    auto add = [&](const std::string& node, const Json& out) {
      if (!out.is_object() || !out.contains("images") || !out["images"].is_array()) return;
      for (const Json& img : out["images"])
        if (img.is_object() && img.contains("filename") && img["filename"].is_string())
          list.push_back({{"filename", img["filename"]},
                          {"subfolder", img.value("subfolder", "")},
                          {"type", img.value("type", "output")},
                          {"node", node}});
    };
    const Json& outputs = entry["outputs"];
    if (!c_.output_node.empty() && outputs.contains(c_.output_node))
      add(c_.output_node, outputs[c_.output_node]);
    for (auto it = outputs.begin(); it != outputs.end(); ++it)
      if (it.key() != c_.output_node) add(it.key(), it.value());
    return list;
  }

  ComfyConfig c_;
};

}  // namespace

Result<std::unique_ptr<Engine>> NewComfyUiEngine(const Fields& f) {
  if (auto r = f.OnlyKeys({"kind", "url", "workflow", "defaults", "output_node", "poll_interval_ms",
                           "timeout_ms", "request_timeout_ms", "headers"});
      !r)
    return r.error();
  ComfyConfig c;
  const Result<std::string> url = f.String("url");
  if (!url) return url.error();
  c.base = *url;
  if (!c.base.starts_with("http://") && !c.base.starts_with("https://"))
    return f.Fail("url", "must start with http:// or https://");
  while (c.base.ends_with("/")) c.base.pop_back();
  if (!f.Has("workflow"))
    return f.Fail("workflow", "is required (a file path or an inline API-format workflow object)");
  if (f.json()["workflow"].is_object()) {
    c.workflow = f.json()["workflow"];
  } else {
    const Result<std::string> path = f.Path("workflow");
    if (!path) return path.error();
    std::ifstream in(*path, std::ios::binary);
    if (!in) return f.Fail("workflow", "cannot read " + *path);
    std::stringstream text;
    text << in.rdbuf();
    c.workflow = wasmq::json::Parse(text.str());
    if (!c.workflow.is_object())
      return f.Fail("workflow", *path + " is not a JSON object (save the workflow in API format)");
  }
  const Result<std::optional<Fields>> defaults = f.Object("defaults");
  if (!defaults) return defaults.error();
  if (*defaults) c.defaults = (*defaults)->json();
  const Result<std::string> output_node = f.String("output_node", "");
  if (!output_node) return output_node.error();
  c.output_node = *output_node;
  const Result<std::optional<Fields>> headers = f.Object("headers");
  if (!headers) return headers.error();
  if (const std::optional<Fields>& h = *headers)
    for (auto it = h->json().begin(); it != h->json().end(); ++it) {
      if (!it->is_string() || it->get<std::string>().find_first_of("\r\n") != std::string::npos)
        return h->Fail(it.key(), "must be a one-line string");
      c.headers.push_back(it.key() + ": " + it->get<std::string>());
    }
  const Result<int64_t> poll_ms = f.Int("poll_interval_ms", 500, 1, 60'000);
  if (!poll_ms) return poll_ms.error();
  const Result<int64_t> request_timeout_ms = f.Int("request_timeout_ms", 30'000, 1, 600'000);
  if (!request_timeout_ms) return request_timeout_ms.error();
  const Result<int64_t> timeout_ms = f.Int("timeout_ms", 300'000, 1, 24 * 3'600'000);
  if (!timeout_ms) return timeout_ms.error();
  c.poll = std::chrono::milliseconds(*poll_ms);
  c.request_timeout = std::chrono::milliseconds(*request_timeout_ms);
  return std::unique_ptr<Engine>(std::make_unique<ComfyUiEngine>(std::move(c), *timeout_ms));
}

}  // namespace wasmq::engines
