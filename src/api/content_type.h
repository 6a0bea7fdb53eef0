// File: src/api/content_type.h
//
// Internal to the api part: the Content-Type and Content-Disposition of a file served by name. (What an
// uploaded file is comes from its bytes: storage::SniffImageType.)
#pragma once

#include <string>
#include <string_view>

namespace wasmq::api {

// A Content-Type for a file name by its extension ("text/html; charset=utf-8" for .html, …);
// "application/octet-stream" for an unknown one.
std::string_view ContentTypeForName(std::string_view name);

// A Content-Disposition value for serving a stored file: `inline` for images, JSON and plain text, which a
// browser shows without running anything; `attachment` for the rest, so that an HTML file a module wrote
// cannot run script on the API's origin. The name is reduced to safe characters (it sits in a header).
std::string ContentDisposition(std::string_view content_type, std::string_view filename);

}  // namespace wasmq::api
