// File: src/storage/s3.cc
//
// The S3 client behind ObjectStore: every request through http::Client, signed by libcurl's SigV4
// (http::AwsSigV4), retried there on 5xx, 429 and 503 SlowDown. Bodies stream both ways: uploads are read
// from the file (or memory) part by part, downloads written to a file as they arrive. Large objects go up
// as a multipart upload, which S3 shows only once completed and which is aborted when a part fails, so no
// reader ever sees half an object.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>

#include "base/digest.h"
#include "http/http.h"
#include "storage/storage.h"

namespace wasmq::storage {
namespace {

using Reader = std::function<size_t(int64_t offset, char* buf, size_t max)>;

constexpr uint64_t kMinPartSize = 5u << 20;  // S3's least part size (but the last)
constexpr int kMaxParts = 10'000;

// The text of the first <tag>…</tag> in an S3 XML answer, entities decoded; "" when absent.
std::string XmlValue(std::string_view xml, std::string_view tag, size_t* from = nullptr) {
  const std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  const size_t start = xml.find(open, from ? *from : 0);
  if (start == std::string_view::npos) return "";
  const size_t end = xml.find(close, start + open.size());
  if (end == std::string_view::npos) return "";
  if (from) *from = end + close.size();
  std::string_view raw = xml.substr(start + open.size(), end - start - open.size());
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '&') {
      out += raw[i];
      continue;
    }
    static const std::pair<std::string_view, char> entities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool done = false;
    for (const auto& [name, c] : entities)
      if (raw.substr(i).starts_with(name)) {
        out += c;
        i += name.size() - 1;
        done = true;
        break;
      }
    if (!done) out += raw[i];
  }
  return out;
}

class S3Store final : public ObjectStore {
 public:
  explicit S3Store(S3Options o) : o_(std::move(o)), client_({.user_agent = "wasmq"}) {
    o_.part_size = std::max<uint64_t>(o_.part_size, kMinPartSize);
    if (o_.region.empty()) o_.region = "us-east-1";  // libcurl would guess one from the host name
    sig_.credentials = {o_.access_key, o_.secret_key, o_.session_token};
    sig_.region = o_.region;
    sig_.service = "s3";
  }

  queue::Result<void> PutBytes(const std::string& key, std::string_view bytes,
                               const std::string& content_type) override {
    return Put(key, static_cast<int64_t>(bytes.size()), content_type,
               [bytes](int64_t offset, char* buf, size_t max) {
                 if (offset >= static_cast<int64_t>(bytes.size())) return size_t{0};
                 const size_t n = std::min(max, bytes.size() - static_cast<size_t>(offset));
                 std::memcpy(buf, bytes.data() + offset, n);
                 return n;
               });
  }

  queue::Result<void> PutFile(const std::string& key, const std::string& path,
                              const std::string& content_type) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0)
      return queue::Unavailable("storage: cannot read the file for " + key + ": " + std::strerror(errno));
    const int raw = fd.get();
    return Put(key, st.st_size, content_type, [raw](int64_t offset, char* buf, size_t max) {
      ssize_t n;
      do n = ::pread(raw, buf, max, offset);
      while (n < 0 && errno == EINTR);
      return n < 0 ? CURL_READFUNC_ABORT_VALUE : static_cast<size_t>(n);
    });
  }

  queue::Result<OpenFile> Get(const std::string& key) override {
    std::string dir = o_.spool_dir.empty() ? std::filesystem::temp_directory_path().string() : o_.spool_dir;
    OpenFile f;
    f.fd = CreateSpoolFile(dir);
    if (!f.fd) return queue::Unavailable(std::string("storage: cannot make a temporary file: ") + std::strerror(errno));
    auto r = Download(key, f.fd.get(), &f.size);
    if (!r) return r.error();
    ::lseek(f.fd.get(), 0, SEEK_SET);
    return f;
  }

  queue::Result<void> GetToFile(const std::string& key, const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) return queue::Unavailable("storage: cannot create the local copy of " + key + ": " + std::strerror(errno));
    uint64_t size = 0;
    auto r = Download(key, fd.get(), &size);
    if (r && ::fsync(fd.get()) != 0) r = queue::Unavailable("storage: cannot write the local copy of " + key);
    if (!r) ::unlink(path.c_str());
    return r;
  }

  queue::Result<std::string> GetBytes(const std::string& key, size_t max) override {
    http::Request req = Base("GET", ObjectUrl(key));
    if (max == 0) return std::string();
    req.headers.push_back("Range: bytes=0-" + std::to_string(max - 1));
    std::string out;
    req.sink = [&out, max](std::string_view chunk) {
      out.append(chunk.substr(0, max - out.size()));
      return out.size() < max;  // a server ignoring Range: stop once there is enough
    };
    req.max_body_bytes = std::numeric_limits<size_t>::max();
    http::Response r = client_.Send(req);
    if (r.error.kind == http::ErrorKind::Aborted && out.size() == max) return out;
    if (r.status == 416) return std::string();  // an empty object has no byte 0
    if (auto e = Failed(r, key)) return *e;
    return out;
  }

  queue::Result<uint64_t> Head(const std::string& key) override {
    http::Response r = client_.Send(Base("HEAD", ObjectUrl(key)));
    if (auto e = Failed(r, key)) return *e;
    const std::string length = r.Header("content-length");
    return length.empty() ? 0 : std::stoull(length);
  }

  queue::Result<std::vector<std::string>> List(const std::string& prefix) override {
    std::vector<std::string> keys;
    const std::string full = FullKey(prefix);
    std::string token;
    const size_t strip = o_.prefix.empty() ? 0 : o_.prefix.size() + 1;
    do {
      // The query in SigV4's canonical order (sorted keys, values encoded), since libcurl signs it as given.
      std::string query;
      if (!token.empty()) query += "continuation-token=" + http::AwsUriEncode(token, false) + "&";
      query += "list-type=2&prefix=" + http::AwsUriEncode(full, false);
      http::Response r = client_.Send(Base("GET", BucketUrl() + "?" + query));
      if (auto e = Failed(r, prefix)) return *e;
      size_t at = 0;
      while (true) {
        const size_t contents = r.body.find("<Contents>", at);
        if (contents == std::string::npos) break;
        at = contents;
        std::string key = XmlValue(r.body, "Key", &at);
        if (key.size() >= strip) keys.push_back(key.substr(strip));
      }
      token = XmlValue(r.body, "IsTruncated") == "true" ? XmlValue(r.body, "NextContinuationToken") : "";
    } while (!token.empty());
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  queue::Result<void> Delete(const std::string& key) override {
    http::Response r = client_.Send(Base("DELETE", ObjectUrl(key)));
    if (!r.error && r.status == 404) return {};
    if (auto e = Failed(r, key)) return *e;
    return {};
  }

  std::string PresignGet(const std::string& key, std::chrono::seconds ttl, const std::string& content_type,
                         const std::string& content_disposition) const override {
    std::string query;
    if (!content_disposition.empty())
      query += "response-content-disposition=" + http::AwsUriEncode(content_disposition, false);
    if (!content_type.empty())
      query += std::string(query.empty() ? "" : "&") + "response-content-type=" + http::AwsUriEncode(content_type, false);
    const std::string url = ObjectUrl(key) + (query.empty() ? "" : "?" + query);
    return http::PresignAwsUrl(sig_, "GET", url, static_cast<int64_t>(std::time(nullptr)), ttl.count());
  }

 private:
  // The value curl's read callback returns to abort (CURL_READFUNC_ABORT) without including curl here.
  static constexpr size_t CURL_READFUNC_ABORT_VALUE = 0x10000000;

  std::string FullKey(const std::string& key) const { return o_.prefix.empty() ? key : o_.prefix + "/" + key; }
  std::string BucketUrl() const {
    if (!o_.endpoint.empty()) return o_.endpoint + "/" + o_.bucket;  // path-style for a custom endpoint
    return "https://" + o_.bucket + ".s3." + o_.region + ".amazonaws.com";
  }
  std::string ObjectUrl(const std::string& key) const {
    return BucketUrl() + "/" + http::AwsUriEncode(FullKey(key), true);
  }

  http::Request Base(std::string method, std::string url) const {
    http::Request req;
    req.method = std::move(method);
    req.url = std::move(url);
    req.aws_sigv4 = &sig_;
    req.timeouts.total = std::chrono::duration_cast<http::Millis>(o_.timeout);
    req.timeouts.low_speed_bytes = 1;  // a stalled store ends the request; a slow one does not
    req.timeouts.low_speed_time = std::chrono::seconds(30);
    req.retry.retries = o_.retries;
    req.retry.backoff = http::Millis(200);
    req.retry.max_backoff = http::Millis(5'000);
    return req;
  }

  // An error for an answer that is not a 2xx: NotFound for 404, Unavailable naming S3's code otherwise.
  static std::optional<queue::Error> Failed(const http::Response& r, const std::string& key) {
    if (r.error)
      return queue::Unavailable("storage: " + key + ": " + std::string(http::KindName(r.error.kind)) + ": " +
                                r.error.reason + (r.attempts > 1 ? " (after " + std::to_string(r.attempts) + " attempts)" : ""));
    if (r.status >= 200 && r.status < 300) return std::nullopt;
    if (r.status == 404) return queue::NotFound("storage: no object " + key);
    std::string code = XmlValue(r.body, "Code"), message = XmlValue(r.body, "Message");
    return queue::Unavailable("storage: " + key + ": HTTP " + std::to_string(r.status) +
                              (code.empty() ? "" : " " + code) + (message.empty() ? "" : ": " + message.substr(0, 200)));
  }

  queue::Result<void> Download(const std::string& key, int fd, uint64_t* size) {
    http::Request req = Base("GET", ObjectUrl(key));
    req.max_body_bytes = std::numeric_limits<size_t>::max();
    uint64_t written = 0;
    req.sink = [fd, &written](std::string_view chunk) {
      while (!chunk.empty()) {
        ssize_t n = ::write(fd, chunk.data(), chunk.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        chunk.remove_prefix(static_cast<size_t>(n));
        written += static_cast<uint64_t>(n);
      }
      return true;
    };
    http::Response r = client_.Send(req);
    if (auto e = Failed(r, key)) return *e;
    *size = written;
    return {};
  }

  queue::Result<void> Put(const std::string& key, int64_t size, const std::string& content_type, Reader read) {
    if (static_cast<uint64_t>(size) > o_.part_size) return PutMultipart(key, size, content_type, read);
    http::Request req = Base("PUT", ObjectUrl(key));
    req.headers.push_back("Content-Type: " + content_type);
    req.body_reader = {size, std::move(read)};
    http::Response r = client_.Send(req);
    if (auto e = Failed(r, key)) return *e;
    return {};
  }

  queue::Result<void> PutMultipart(const std::string& key, int64_t size, const std::string& content_type,
                                   const Reader& read) {
    const std::string url = ObjectUrl(key);
    const int64_t part = static_cast<int64_t>(
        std::max<uint64_t>(o_.part_size, (static_cast<uint64_t>(size) + kMaxParts - 1) / kMaxParts));
    const int parts = static_cast<int>((size + part - 1) / part);

    http::Request create = Base("POST", url + "?uploads=");
    create.headers.push_back("Content-Type: " + content_type);
    create.retry.any_method = true;  // a repeated create only leaves an unused upload id (never visible)
    http::Response created = client_.Send(create);
    if (auto e = Failed(created, key)) return *e;
    const std::string upload_id = XmlValue(created.body, "UploadId");
    if (upload_id.empty()) return queue::Unavailable("storage: " + key + ": CreateMultipartUpload gave no UploadId");
    const std::string id_query = "uploadId=" + http::AwsUriEncode(upload_id, false);

    auto abort = [&](queue::Error e) -> queue::Error {
      // Best effort: an upload left behind is invisible, and a bucket lifecycle rule can expire it.
      client_.Send(Base("DELETE", url + "?" + id_query));
      e.message = "storage: upload of " + key + " failed, aborted (nothing stored): " + e.message;
      return e;
    };

    std::string complete = "<CompleteMultipartUpload>";
    for (int n = 1; n <= parts; ++n) {
      const int64_t offset = (n - 1) * part, length = std::min(part, size - offset);
      http::Request put = Base("PUT", url + "?partNumber=" + std::to_string(n) + "&" + id_query);
      put.body_reader = {length, [&read, offset, length](int64_t at, char* buf, size_t max) {
                           if (at >= length) return size_t{0};
                           return read(offset + at, buf, std::min<size_t>(max, static_cast<size_t>(length - at)));
                         }};
      http::Response r = client_.Send(put);
      if (auto e = Failed(r, key + " part " + std::to_string(n) + "/" + std::to_string(parts))) return abort(*e);
      const std::string etag = r.Header("etag");
      if (etag.empty()) return abort(queue::Unavailable("part " + std::to_string(n) + " was answered without an ETag"));
      complete += "<Part><PartNumber>" + std::to_string(n) + "</PartNumber><ETag>" + etag + "</ETag></Part>";
    }
    complete += "</CompleteMultipartUpload>";

    http::Request finish = Base("POST", url + "?" + id_query);
    finish.headers.push_back("Content-Type: application/xml");
    finish.body = complete;
    finish.retry.any_method = true;  // completing twice is answered alike
    http::Response done = client_.Send(finish);
    if (auto e = Failed(done, key)) return abort(*e);
    // S3 may answer 200 and report the failure in the body.
    if (done.body.find("<Error>") != std::string::npos)
      return abort(queue::Unavailable("CompleteMultipartUpload: " + XmlValue(done.body, "Code") + ": " +
                                      XmlValue(done.body, "Message").substr(0, 200)));
    return {};
  }

  S3Options o_;
  http::Client client_;
  http::AwsSigV4 sig_;
};

}  // namespace

std::shared_ptr<ObjectStore> OpenS3(S3Options options) { return std::make_shared<S3Store>(std::move(options)); }

std::string TaskOutputKey(const std::string& task_id, const std::string& output_dir, std::string_view name) {
  return "tasks/" + task_id + "/" + (output_dir.empty() ? std::string("out") : output_dir) + "/" + std::string(name);
}

}  // namespace wasmq::storage
