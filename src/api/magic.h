// File: src/api/magic.h
//
// Internal to the api part: what an uploaded file is, decided by its first bytes (never by the name or the
// Content-Type a client claims), and the Content-Type of a file served by name.
#pragma once

#include <string>
#include <string_view>

namespace wasmq::api {

// "image/png", "image/jpeg", "image/webp" or "image/gif" when `bytes` starts like one; empty otherwise.
std::string_view SniffImageType(std::string_view bytes);

// A Content-Type for a file name by its extension ("text/html; charset=utf-8" for .html, …);
// "application/octet-stream" for an unknown one.
std::string_view ContentTypeForName(std::string_view name);

// A Content-Disposition value for serving a stored file: `inline` for images, JSON and plain text, which a
// browser shows without running anything; `attachment` for the rest, so that an HTML file a module wrote
// cannot run script on the API's origin. The name is reduced to safe characters (it sits in a header).
std::string ContentDisposition(std::string_view content_type, std::string_view filename);

}  // namespace wasmq::api
