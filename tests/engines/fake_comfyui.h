// File: tests/engines/fake_comfyui.h
//
// A stand-in for a ComfyUI server, for tests/engines/comfyui_test.cc and tests/pipelines (POSE_CHANGE's
// generative method): the five routes the comfyui engine uses, answered from memory. It keeps the file
// uploaded to POST /upload/image and the workflow posted to /prompt, answers "not yet" to the first
// `pending_polls` GET /history requests, then a finished prompt (or an execution error), and serves
// `output` as the one output image. Run it with TestServer (http_server.h):
//   FakeComfy comfy;  TestServer server([&](const HttpReq& r) { return comfy.Handle(r); });
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "http_server.h"

namespace wasmq::engines::testing {

struct FakeComfy {
  int pending_polls = 2;
  bool fail = false, never = false;        // an execution error; a prompt that never finishes
  std::string output = "RESULT PNG";       // what GET /view answers for the output image
  std::mutex mu;
  std::string uploaded;                    // the file part of the last POST /upload/image
  nlohmann::json prompt, deleted;          // the last POST /prompt and POST /queue bodies
  int polls = 0;

  HttpReply Handle(const HttpReq& r) {
    if (r.method == "POST" && r.path() == "/upload/image") {
      std::string file = FilePart(r);
      if (file.empty()) return {400, "text/plain", "no image field"};
      std::lock_guard l(mu);
      uploaded = file;
      return {200, "application/json", R"({"name":"wasmq-1.png","subfolder":"in","type":"input"})"};
    }
    if (r.method == "POST" && r.path() == "/prompt") {
      std::lock_guard l(mu);
      prompt = nlohmann::json::parse(r.body);
      return {200, "application/json", R"({"prompt_id":"p-42","number":1,"node_errors":{}})"};
    }
    if (r.method == "GET" && r.path() == "/history/p-42") {
      std::lock_guard l(mu);
      if (++polls <= pending_polls || never) return {200, "application/json", "{}"};
      if (fail)
        return {200, "application/json",
                R"({"p-42":{"outputs":{},"status":{"status_str":"error","completed":false,
          "messages":[["execution_start",{"prompt_id":"p-42"}],["execution_error",{"prompt_id":"p-42","node_id":"3",
          "node_type":"KSampler","exception_message":"CUDA out of memory"}]]}}})"};
      return {200, "application/json", R"({"p-42":{"outputs":{"9":{"images":[{"filename":"wasmq_00001_.png",
        "subfolder":"","type":"output"}]}},"status":{"status_str":"success","completed":true,"messages":[]}}})"};
    }
    if (r.method == "POST" && r.path() == "/queue") {
      std::lock_guard l(mu);
      deleted = nlohmann::json::parse(r.body);
      return {200, "application/json", "{}"};
    }
    if (r.method == "GET" && r.path() == "/view") {
      if (r.query() != "filename=wasmq_00001_.png&subfolder=&type=output") return {404, "text/plain", "no such file"};
      return {200, "image/png", output};
    }
    return {404, "text/plain", "not found"};
  }

  // The bytes of the multipart field "image" ("" when there is none).
  static std::string FilePart(const HttpReq& r) {
    auto type = r.headers.find("content-type");
    if (type == r.headers.end() || type->second.find("boundary=") == std::string::npos) return "";
    const std::string boundary = "\r\n--" + type->second.substr(type->second.find("boundary=") + 9);
    size_t field = r.body.find("name=\"image\"");
    size_t start = field == std::string::npos ? field : r.body.find("\r\n\r\n", field);
    size_t end = start == std::string::npos ? start : r.body.find(boundary, start + 4);
    return end == std::string::npos ? "" : r.body.substr(start + 4, end - start - 4);
  }
};

}  // namespace wasmq::engines::testing
