// File: src/engines/internal.h
//
// Internal to the engines part: reading the config file's fields with error messages that name the file
// and the field, the constructors of the four engine kinds (one .cc each), and how the http and comfyui
// engines call the http part (http_call.cc). A bad field is a result, never an exception: every read
// returns the value or the Error that names it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engines/engines.h"
#include "http/http.h"

namespace wasmq::engines {

using Json = nlohmann::json;

// Typed access to one JSON object of the config file; `path` prefixes every error
// ("engines.my-api.timeout_ms: must be ...").
class Fields {
 public:
  // An error unless `object` is a JSON object.
  static Result<Fields> Of(const Json& object, std::string path, std::string base_dir);
  const std::string& path() const { return path_; }
  const Json& json() const { return obj_; }
  bool Has(const char* key) const { return obj_.contains(key) && !obj_[key].is_null(); }
  Result<std::string> String(const char* key, std::optional<std::string> fallback = std::nullopt) const;
  Result<int64_t> Int(const char* key, int64_t fallback, int64_t min, int64_t max) const;
  Result<bool> Bool(const char* key, bool fallback) const;
  // A nested object (an error if present but not an object); nullopt when absent.
  Result<std::optional<Fields>> Object(const char* key) const;
  // A file path, relative ones resolved against the config file's directory.
  Result<std::string> Path(const char* key, std::optional<std::string> fallback = std::nullopt) const;
  // An error on a key not in `known` (a typo should not be ignored silently).
  Result<void> OnlyKeys(std::initializer_list<const char*> known) const;
  // The error for `key` ("" = the object itself): `return f.Fail("url", "must start with http://");`.
  Error Fail(const std::string& key, const std::string& what) const;
  const std::string& base_dir() const { return base_dir_; }

 private:
  Fields(const Json& object, std::string path, std::string base_dir);
  const Json& obj_;
  std::string path_, base_dir_;
};

Result<std::unique_ptr<Engine>> NewFaceDetectEngine(const Fields& f);
Result<std::unique_ptr<Engine>> NewFaceLandmarksEngine(const Fields& f);
Result<std::unique_ptr<Engine>> NewWasmEngine(const Fields& f);
Result<std::unique_ptr<Engine>> NewHttpEngine(const Fields& f);
Result<std::unique_ptr<Engine>> NewComfyUiEngine(const Fields& f);

// One HTTP exchange of a call: `req.timeouts.total` is the attempt's timeout, cut to the call's deadline;
// the call's CancelToken ends it within about 50 ms. A failed transfer's error.reason is the whole message.
http::Response HttpCall(http::Request req, const CallContext& ctx);

// The status a failed exchange maps to: transport failures by kind, then 429 Unavailable, other 4xx
// BadRequest, 5xx (and any other non-2xx) Failed; `what` names the request in a status message.
Response MapHttpFailure(const http::Response& r, const std::string& what);

// The image type of `data` from its first bytes ("image/png", ...), or `fallback`.
std::string SniffContentType(std::string_view data, std::string fallback);

// The default cascade the builtin face-detect loads (Debian's opencv-data).
inline constexpr const char* kDefaultFaceCascade =
    "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";

// The 68-point landmark model the builtin face-landmarks loads (Debian's libdlib-data).
inline constexpr const char* kDefaultLandmarkModel = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";

}  // namespace wasmq::engines
