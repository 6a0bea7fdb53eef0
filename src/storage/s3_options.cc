// File: src/storage/s3_options.cc
//
// `s3://BUCKET/PREFIX?endpoint=…&region=…` and the credentials the AWS tools read: the environment first,
// then the shared credentials file's profile.
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <string>

#include "base/strings.h"
#include "storage/storage.h"

namespace wasmq::storage {
namespace {

std::string FromEnvironment(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// "%2F" and the like in a query value (an endpoint URL may be written encoded).
std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The [profile] section's aws_access_key_id, aws_secret_access_key and aws_session_token of an INI file.
bool ReadCredentialsFile(const std::string& path, const std::string& profile, S3Options& o) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line, section;
  bool found = false;
  while (std::getline(in, line)) {
    std::string_view t = base::Trim(line);
    if (t.empty() || t.front() == '#' || t.front() == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      section = std::string(base::Trim(t.substr(1, t.size() - 2)));
      if (section.starts_with("profile ")) section = std::string(base::Trim(std::string_view(section).substr(8)));
      continue;
    }
    if (section != profile) continue;
    const size_t eq = t.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string key = base::Lower(base::Trim(t.substr(0, eq)));
    const std::string value(base::Trim(t.substr(eq + 1)));
    if (key == "aws_access_key_id") o.access_key = value, found = true;
    else if (key == "aws_secret_access_key") o.secret_key = value;
    else if (key == "aws_session_token") o.session_token = value;
    else if (key == "region" && o.region.empty()) o.region = value;
  }
  return found;
}

}  // namespace

bool IsObjectStorageUrl(std::string_view url) { return url.starts_with("s3://"); }

queue::Result<S3Options> ParseS3Url(std::string_view url, const std::function<std::string(const char*)>& env_in) {
  const auto env = env_in ? env_in : std::function<std::string(const char*)>(FromEnvironment);
  if (!IsObjectStorageUrl(url)) return queue::InvalidArgument("storage: not an s3:// URL");
  S3Options o;
  std::string_view rest = url.substr(5);
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  const size_t slash = rest.find('/');
  o.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) o.prefix = std::string(rest.substr(slash + 1));
  while (o.prefix.ends_with('/')) o.prefix.pop_back();
  if (o.bucket.empty() || o.bucket.size() > 63 ||
      o.bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos)
    return queue::InvalidArgument("storage: the bucket name must be 1-63 of a-z 0-9 . - (s3://BUCKET/PREFIX)");
  if (o.prefix.starts_with('/') || o.prefix.find("//") != std::string::npos)
    return queue::InvalidArgument("storage: the prefix must not have empty path segments");
  while (!query.empty()) {
    std::string_view kv = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), kv.size() + 1));
    const size_t eq = kv.find('=');
    const std::string key(kv.substr(0, eq));
    const std::string value = eq == std::string_view::npos ? "" : PercentDecode(kv.substr(eq + 1));
    if (key == "endpoint") o.endpoint = value;
    else if (key == "region") o.region = value;
    else return queue::InvalidArgument("storage: unknown parameter '" + key.substr(0, 40) + "' (endpoint, region)");
  }
  while (o.endpoint.ends_with('/')) o.endpoint.pop_back();
  if (!o.endpoint.empty() && !o.endpoint.starts_with("http://") && !o.endpoint.starts_with("https://"))
    return queue::InvalidArgument("storage: endpoint must be an http:// or https:// URL");

  std::string file_region;  // the profile's region: after the URL's and the environment's
  o.access_key = env("AWS_ACCESS_KEY_ID");
  o.secret_key = env("AWS_SECRET_ACCESS_KEY");
  o.session_token = env("AWS_SESSION_TOKEN");
  if (o.access_key.empty() || o.secret_key.empty()) {
    o.access_key.clear(), o.secret_key.clear(), o.session_token.clear();
    std::string file = env("AWS_SHARED_CREDENTIALS_FILE");
    if (file.empty() && !env("HOME").empty()) file = env("HOME") + "/.aws/credentials";
    std::string profile = env("AWS_PROFILE");
    if (profile.empty()) profile = "default";
    S3Options from_file;
    if (!file.empty() && ReadCredentialsFile(file, profile, from_file) && !from_file.secret_key.empty()) {
      o.access_key = from_file.access_key;
      o.secret_key = from_file.secret_key;
      o.session_token = from_file.session_token;
      file_region = from_file.region;
    }
    if (o.access_key.empty())
      return queue::InvalidArgument(
          "storage: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile (AWS_PROFILE, "
          "default \"default\") in AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials");
  }
  if (o.region.empty()) o.region = env("AWS_REGION");
  if (o.region.empty()) o.region = env("AWS_DEFAULT_REGION");
  if (o.region.empty()) o.region = file_region;
  if (o.region.empty()) o.region = "us-east-1";
  return o;
}

}  // namespace wasmq::storage
