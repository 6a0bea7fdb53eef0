// File: src/api/static_files.h
//
// Internal to the api part: the dashboard's files. By default the copy of web/ compiled into the binary
// (web_assets.cc, generated at build time), so `wasmq serve` needs nothing beside it; with a web root, the
// files of that directory (for working on the dashboard without rebuilding). "/" serves index.html.
// Answers carry an ETag and honour If-None-Match; HTML gets a Content-Security-Policy that allows only this
// origin's scripts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"

namespace wasmq::api {

struct EmbeddedFile {
  std::string_view path;  // "index.html", "app.js"
  std::string_view data;
};
// Defined in the generated web_assets.cc.
extern const std::vector<EmbeddedFile>& WebAssets();

class StaticFiles {
 public:
  explicit StaticFiles(std::string web_root);  // "" = embedded
  // GET or HEAD of `path` (percent-encoded, from the request). 404 as JSON for anything absent.
  Response Serve(const Request& req) const;

 private:
  struct Asset {
    std::string path, etag;
    std::string_view data;
  };
  std::string root_;
  std::vector<Asset> assets_;
};

}  // namespace wasmq::api
