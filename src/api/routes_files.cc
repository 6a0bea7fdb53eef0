// File: src/api/routes_files.cc
//
// /api/v1/files…: upload (multipart/form-data, or the raw image as the body), download, metadata. What a
// file is comes from its first bytes (storage::SniffImageType), never from what the client claims; only
// images are accepted. Files belong to their uploader like tasks do.
#include "api/content_type.h"
#include "api/envelope.h"
#include "api/handlers.h"
#include "api/multipart.h"
#include "storage/storage.h"

namespace wasmq::api {
namespace {

// The upload's bytes and name, or the response refusing it.
struct Upload {
  std::string_view bytes;
  std::string filename;
};

std::variant<Upload, Response> ReadUpload(const Request& req) {
  auto mt = ParseMediaType(req.Header("content-type"));
  if (!mt)
    return Fail(415, code::kUnsupportedMediaType,
                "send the file as multipart/form-data (field 'file') or as the body with an image Content-Type");
  if (mt->type == "multipart/form-data") {
    auto parts = ParseMultipart(req.Body(), mt->params["boundary"]);
    if (!parts) return Fail(400, code::kBadRequest, parts.error().message);
    const Part* chosen = nullptr;
    for (const Part& p : *parts)
      if (!chosen && (p.name == "file" || !p.filename.empty())) chosen = &p;
    if (!chosen) return Fail(422, code::kValidationFailed, "file: the multipart body has no file part");
    return Upload{chosen->data, chosen->filename};
  }
  if (mt->type.starts_with("image/") || mt->type == "application/octet-stream") {
    Upload u{req.Body(), {}};
    // A raw body may carry its name the way a download does: Content-Disposition: …; filename="a.png".
    if (std::string_view cd = req.Header("content-disposition"); !cd.empty()) {
      std::string value = "x/" + std::string(cd);  // reuse the parameter grammar of media types
      if (auto parsed = ParseMediaType(value)) u.filename = parsed->params["filename"];
    }
    return u;
  }
  return Fail(415, code::kUnsupportedMediaType,
              "unsupported Content-Type " + mt->type + " (multipart/form-data, image/*, application/octet-stream)");
}

Response Put(ApiContext& ctx, const Request& req, const Caller& caller) {
  auto upload = ReadUpload(req);
  if (auto* bad = std::get_if<Response>(&upload)) return std::move(*bad);
  const Upload& u = std::get<Upload>(upload);
  if (u.bytes.size() > ctx.config.max_upload_bytes)
    return Fail(413, code::kPayloadTooLarge,
                "the file is " + std::to_string(u.bytes.size()) + " bytes; the limit is " +
                    std::to_string(ctx.config.max_upload_bytes));
  if (u.bytes.empty()) return Fail(422, code::kValidationFailed, "file: is empty");
  std::string_view type = storage::SniffImageType(u.bytes);
  if (!storage::IsUploadImageType(type))
    return Fail(415, code::kUnsupportedMediaType, "file: not a PNG, JPEG, WebP or GIF image");
  storage::FileInfo info;
  info.owner = caller.user;
  info.content_type = type;
  info.filename = u.filename.substr(0, 255);
  auto stored = ctx.files.Put(std::move(info), u.bytes);
  if (!stored) return FromError(stored.error());
  Response r = Ok(ToJson(*stored), 201);
  r.Set("Location", "/api/v1/files/" + stored->file_id);
  return r;
}

// The file if the caller may see it; another user's file is NotFound, as an absent one.
queue::Result<storage::FileInfo> StatOwned(ApiContext& ctx, const Caller& caller, const std::string& id) {
  auto f = ctx.files.Stat(id);
  if (f && ctx.config.auth_required && f->owner != caller.user)
    return queue::NotFound("file " + id + " not found");
  return f;
}

Response Download(ApiContext& ctx, const Request& req, const PathParams& p, const Caller& caller) {
  auto f = StatOwned(ctx, caller, p.Get("id"));
  if (!f) return FromError(f.error());
  std::string etag = "\"" + f->sha256 + "\"";
  Response r;
  r.Set("ETag", etag);
  r.Set("Cache-Control", "private, max-age=31536000, immutable");  // a file id never names other bytes
  if (req.Header("if-none-match") == etag) {
    r.status = 304;
    return r;
  }
  auto file = ctx.files.Open(f->file_id);
  if (!file) return Fail(404, code::kNotFound, "file " + f->file_id + " not found");
  r.file = std::move(file->fd);
  r.file_size = file->size;
  r.Set("Content-Type", f->content_type);
  r.Set("Content-Disposition", ContentDisposition(f->content_type, f->filename.empty() ? f->file_id : f->filename));
  r.Set("Content-Security-Policy", "sandbox");
  return r;
}

Response Info(ApiContext& ctx, const PathParams& p, const Caller& caller) {
  auto f = StatOwned(ctx, caller, p.Get("id"));
  if (!f) return FromError(f.error());
  return Ok(ToJson(*f));
}

}  // namespace

void AddFileRoutes(Router& router, ApiContext& ctx) {
  router.Add({"POST", "/api/v1/files", [&ctx](const Request& r, const PathParams&, const Caller& c) { return Put(ctx, r, c); }});
  router.Add({"GET", "/api/v1/files/{id}",
              [&ctx](const Request& r, const PathParams& p, const Caller& c) { return Download(ctx, r, p, c); }});
  router.Add({"GET", "/api/v1/files/{id}/info",
              [&ctx](const Request&, const PathParams& p, const Caller& c) { return Info(ctx, p, c); }});
}

}  // namespace wasmq::api
