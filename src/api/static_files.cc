// File: src/api/static_files.cc
#include "api/static_files.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <functional>

#include "api/content_type.h"
#include "api/envelope.h"
#include "api/query.h"
#include "storage/storage.h"

namespace wasmq::api {
namespace {

constexpr std::string_view kHtmlPolicy =
    "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

// A quoted entity tag. (Built with snprintf: GCC 12 warns falsely about `"\"" + std::string`.)
std::string Quoted(std::string_view text) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "\"%.*s\"", static_cast<int>(std::min<size_t>(text.size(), 60)), text.data());
  return buf;
}

std::string HexHash(std::string_view data) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016zx", std::hash<std::string_view>{}(data));
  return buf;
}

void Decorate(Response& r, std::string_view name, std::string etag) {
  std::string_view type = ContentTypeForName(name);
  r.Set("Content-Type", std::string(type));
  r.Set("ETag", std::move(etag));
  r.Set("Cache-Control", "no-cache");  // revalidate: cheap with the ETag, and a new build shows at once
  if (type.starts_with("text/html")) {
    r.Set("Content-Security-Policy", std::string(kHtmlPolicy));
    r.Set("X-Frame-Options", "DENY");
    r.Set("Referrer-Policy", "no-referrer");
  }
}

}  // namespace

StaticFiles::StaticFiles(std::string web_root) : root_(std::move(web_root)) {
  if (!root_.empty()) return;
  for (const EmbeddedFile& f : WebAssets())
    assets_.push_back({std::string(f.path), Quoted(HexHash(f.data)), f.data});
}

Response StaticFiles::Serve(const Request& req) const {
  auto decoded = PercentDecode(req.path, false);
  // Only an origin-form target ("/…") can name a file: "GET ?x" has an empty path, "OPTIONS *" another.
  // A path that does not decode names no file either, whichever way the files are served (it used to fall
  // back to index.html from the embedded copy, and 404 from a web root).
  if (!decoded || !decoded->starts_with('/')) return Fail(404, code::kNotFound, "no such page");
  std::string name = decoded->substr(1);
  if (name.empty() || name.ends_with('/')) name += "index.html";
  Response r;
  if (root_.empty()) {
    for (const Asset& a : assets_)
      if (a.path == name) {
        Decorate(r, name, a.etag);
        if (req.Header("if-none-match") == a.etag) {
          r.status = 304;
          return r;
        }
        r.body = std::string(a.data);
        return r;
      }
    return Fail(404, code::kNotFound, "no such page");
  }
  if (name.starts_with('.') || name.find("/.") != std::string::npos)
    return Fail(404, code::kNotFound, "no such page");  // no dotfiles, no '..'
  r.file = storage::OpenBeneath(root_, name, &r.file_size);
  if (!r.file) return Fail(404, code::kNotFound, "no such page");
  struct stat st;
  ::fstat(r.file.get(), &st);
  std::string etag = Quoted(std::to_string(st.st_mtim.tv_sec) + "-" + std::to_string(st.st_size));
  Decorate(r, name, etag);
  if (req.Header("if-none-match") == etag) {
    r.file.Reset();
    r.status = 304;
  }
  return r;
}

}  // namespace wasmq::api
