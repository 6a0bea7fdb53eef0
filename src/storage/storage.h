// File: src/storage/storage.h
//
// The storage part's public header: what wasmq keeps under its data directory, and the one place that knows
// how it is laid out. The worker, the API and the command line ask this part for files; none of them spells
// a path below DATA_DIR.
//
//   DATA_DIR/files/<file id>           an upload's bytes, exactly as sent (UploadStore)
//   DATA_DIR/files/<file id>.json      its metadata, as ToJson(FileInfo) writes it (owner, type, sha256)
//   DATA_DIR/tasks/<task id>/in/       the pipeline's /in (read-only to it): source.<ext> and <key>.<ext>
//   DATA_DIR/tasks/<task id>/out-<t>/  the outputs of the attempt with lease token <t> (what the pipeline
//                                      left in /out); the task's result names the accepted one
//                                      (TaskResult::output_dir). "out/" for results of older versions.
//   DATA_DIR/work/<process>/<slot>/    an executor's scratch /out while a task runs
//   DATA_DIR/empty/                    the /in of a task without inputs
//
// Object storage (`--storage s3://BUCKET/PREFIX?endpoint=…&region=…`, docs/storage.md): uploads are reached
// only through the UploadStore interface (Put, Stat, Open, CopyTo), so a bucket replaces the directory
// without the API or the worker changing; OpenLocalUploadStore is the directory implementation,
// NewObjectUploadStore the bucket's. Task workspaces stay on each worker's local disk (a module runs on
// preopened directories); with a bucket, the Workspace also publishes an attempt's kept outputs to it, and
// the API reads them back from there (or redirects to a presigned URL). In the bucket, below PREFIX/:
//
//   files/<file id>, files/<file id>.json     an upload and its metadata (written last)
//   tasks/<task id>/out-<t>/<name>            an attempt's outputs, published before its result is recorded
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "queue/queue.h"

namespace wasmq::storage {

// ---- The layout

std::string UploadsDir(const std::string& data_dir);  // DATA_DIR/files
std::string TasksDir(const std::string& data_dir);    // DATA_DIR/tasks

// ---- Open files

// An owned file descriptor (closed on destruction).
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  explicit operator bool() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

 private:
  int fd_ = -1;
};

// A file for an upload's body while it arrives: made in `uploads_dir` (the file system the upload will be
// stored on) and unlinked at once, so nothing is left behind whatever happens to the connection. Invalid,
// with errno set, when it cannot be made.
UniqueFd CreateSpoolFile(const std::string& uploads_dir);

// A regular file open for reading, and its size when opened.
struct OpenFile {
  UniqueFd fd;
  uint64_t size = 0;
};

// Opens the regular file `relative` ("a/b.png") below `root` for reading. Walks the path one component at
// a time with O_NOFOLLOW, so no symlink anywhere on the way is followed, and refuses "", ".", ".." and
// empty components. An invalid fd when any of that fails or the file is not a regular file; `size` is set
// otherwise. For what others wrote (a module's outputs) and for the dashboard directory.
UniqueFd OpenBeneath(std::string_view root, std::string_view relative, uint64_t* size);

// A done task's output `name` (a relative path, as the result lists it) from the attempt directory
// `output_dir` the result names ("" means "out", where older versions kept outputs), below `tasks_dir`
// (TasksDir). Reached as OpenBeneath does: a module may have planted a symlink. An invalid fd when it is
// not there (or the task id or directory is not a plain name).
UniqueFd OpenTaskOutput(const std::string& tasks_dir, const std::string& task_id,
                        const std::string& output_dir, std::string_view name, uint64_t* size);

// ---- What a file is, by its first bytes (never by its name or a client's claim)

// Bytes SniffImageType looks at, at most.
inline constexpr size_t kSniffBytes = 32;
// "image/png", "image/jpeg", "image/gif", "image/webp" or "image/bmp" when `head` (a file's first bytes)
// starts as the format's specification says such a file starts; empty otherwise (also for a head cut
// short before the signature ends).
std::string_view SniffImageType(std::string_view head);
// The extension for a type SniffImageType returns ("png", "jpg", "gif", "webp", "bmp"); empty otherwise.
std::string_view ImageExtension(std::string_view media_type);
// Whether an upload of this type is accepted: PNG, JPEG, WebP and GIF (the API's documented set).
bool IsUploadImageType(std::string_view media_type);

// ---- Uploads

struct FileInfo {
  std::string file_id;       // img_YYYYMMDD_…
  std::string owner;         // the uploader's user id ("" = the anonymous user)
  std::string content_type;  // as sniffed from the bytes
  uint64_t size = 0;
  std::string sha256;      // lower-case hex
  std::string filename;    // as the client named it, for Content-Disposition; may be empty
  int64_t created_at = 0;  // ms since the epoch
};
// {"file_id", "user_id" (null for anonymous), "content_type", "size", "sha256", "filename", "created_at"
// (ISO 8601), "url"}: what the API answers and what the metadata file holds.
queue::Json ToJson(const FileInfo& f);

// Whether `id` has the shape of a file id ("img_" then at least one of [A-Za-z0-9_-], at most 128
// characters): anything else cannot name a file, so it never reaches the store. No '.' (never the metadata
// file img_….json or a suffixed name) and no '/' (never a path).
bool IsFileIdShape(std::string_view id);

// Where uploaded files live. Files are immutable; a file exists once its metadata does (a crash never
// leaves a visible half-written one). Every call is thread-safe. Errors name what failed, never a path of
// the server (API clients read them).
class UploadStore {
 public:
  virtual ~UploadStore() = default;
  // Stores `bytes` as a new file. `info` gives owner, content_type and filename; the store fills the rest.
  virtual queue::Result<FileInfo> Put(FileInfo info, std::string_view bytes) = 0;
  // NotFound for an unknown or malformed id; Internal for corrupt metadata.
  virtual queue::Result<FileInfo> Stat(std::string_view file_id) = 0;
  // The bytes, open for reading (the HTTP session streams them). NotFound as Stat, or when the bytes are
  // gone or are not a regular file.
  virtual queue::Result<OpenFile> Open(std::string_view file_id) = 0;
  // Puts the bytes at the local path `target` (which must not exist): a task's input in /in. The
  // directory store hard-links (no copy; a later change to the upload cannot alter a running task's
  // input), copying when the link fails (e.g. across file systems). Unavailable when it cannot.
  virtual queue::Result<void> CopyTo(std::string_view file_id, const std::string& target) = 0;
  // The file's first `n` bytes (fewer for a shorter file): what its type is sniffed from when it is staged.
  // By default read through Open; a bucket reads only those bytes.
  virtual queue::Result<std::string> ReadHead(std::string_view file_id, size_t n);
};

// The directory store: DIR/<id> and DIR/<id>.json. Creates `dir` if needed; Unavailable when it cannot.
queue::Result<std::unique_ptr<UploadStore>> OpenLocalUploadStore(std::string dir);

// ---- Object storage: an S3-compatible bucket

// Where the objects are and how to reach them: from `s3://BUCKET/PREFIX?endpoint=URL&region=R`. With an
// endpoint (MinIO, s3rver, Ceph…) requests use path-style addressing (ENDPOINT/BUCKET/KEY); without, AWS's
// virtual-hosted https://BUCKET.s3.REGION.amazonaws.com/KEY.
struct S3Options {
  std::string bucket;
  std::string prefix;    // "" or "a/b" (no leading or trailing '/'): every key is below it
  std::string endpoint;  // "http://127.0.0.1:9000"; "" for AWS
  std::string region;    // ?region=, else AWS_REGION, AWS_DEFAULT_REGION, else us-east-1
  std::string access_key, secret_key, session_token;
  uint64_t part_size = 8u << 20;  // multipart upload above this, in parts this big (at least 5 MiB)
  int retries = 4;                // per request, on 5xx, 429, 503 SlowDown and broken connections
  std::string spool_dir;          // where downloads land before they are served ("": the temp directory)
  std::chrono::seconds timeout{300};  // one request (a part, a download)
};

// Whether `url` names object storage (starts with "s3://").
bool IsObjectStorageUrl(std::string_view url);
// Parses the URL and finds credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with
// AWS_SESSION_TOKEN), else the profile AWS_PROFILE ("default") of the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials). `env` reads the environment (tests pass theirs).
// InvalidArgument naming what is wrong; no secret is ever in a message.
queue::Result<S3Options> ParseS3Url(std::string_view url,
                                    const std::function<std::string(const char*)>& env = nullptr);

// A bucket (or a prefix of one). Keys are relative to the prefix. An object is visible only once whole: a
// single PUT is atomic, and a large one is a multipart upload completed only after every part arrived
// (aborted on failure). Errors: NotFound for an absent key, Unavailable for the rest (naming the key and
// why, never a secret). Thread-safe.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  virtual queue::Result<void> PutBytes(const std::string& key, std::string_view bytes,
                                       const std::string& content_type = "application/octet-stream") = 0;
  virtual queue::Result<void> PutFile(const std::string& key, const std::string& path,
                                      const std::string& content_type = "application/octet-stream") = 0;
  // The object into an unlinked temporary file (spool_dir), rewound: what the API streams.
  virtual queue::Result<OpenFile> Get(const std::string& key) = 0;
  // The object into the new local file `path` (removed again on failure).
  virtual queue::Result<void> GetToFile(const std::string& key, const std::string& path) = 0;
  // The first `max` bytes of the object (a Range request); the whole object when it is smaller.
  virtual queue::Result<std::string> GetBytes(const std::string& key, size_t max) = 0;
  // The object's size.
  virtual queue::Result<uint64_t> Head(const std::string& key) = 0;
  // Keys below `prefix` (relative to the store's prefix, like every key), sorted.
  virtual queue::Result<std::vector<std::string>> List(const std::string& prefix) = 0;
  // Removes the object; an absent one is not an error.
  virtual queue::Result<void> Delete(const std::string& key) = 0;
  // A URL anyone may GET the object with for `ttl`, with the answer's Content-Type and
  // Content-Disposition as given (when not empty).
  virtual std::string PresignGet(const std::string& key, std::chrono::seconds ttl,
                                 const std::string& content_type = {},
                                 const std::string& content_disposition = {}) const = 0;
};

// The S3 client: requests through http::Client, signed by libcurl (SigV4).
std::shared_ptr<ObjectStore> OpenS3(S3Options options);

// The upload store on a bucket: files/<id> then files/<id>.json (the metadata last, so a file exists only
// once whole).
std::shared_ptr<UploadStore> NewObjectUploadStore(std::shared_ptr<ObjectStore> bucket);

// Where a kept output is in the bucket: tasks/<task id>/<dir>/<name> ("" dir: "out").
std::string TaskOutputKey(const std::string& task_id, const std::string& output_dir, std::string_view name);

// ---- Task workspaces (the worker's side)
//
// Why a scratch /out: creating directories is the most expensive thing a tiny task does (on ext4, inode
// allocation costs more than the task's three SQLite commits together), so a run writes into its executor's
// reusable scratch directory, and only a task that succeeds *with* outputs pays for a directory under
// tasks/<id>/ — by a rename, not a copy. Outputs of a failed attempt are discarded: the next attempt starts
// from an empty /out. The scratch is per process (<process> is the pool's owner name and a random suffix):
// processes sharing a data directory (a fleet on NFS) never write into or empty each other's.
//
// Why a directory per attempt, published by the store: a worker stalled past its lease (SIGSTOP, GC, an
// NFS stall) may wake up and finish its module after another worker's attempt was accepted. Its outputs go
// to its own out-<token>, which no reader looks at: the result the store accepted names the directory, and
// that directory was complete before the result was recorded. After the store answers, the recorder
// deletes a refused attempt's directory (DiscardOutputs), or, for the accepted one, every other attempt's
// left by a crash (PruneOutputs). A download therefore sees the accepted files or none, never a mix.
//
// Threading: slots are per executor; everything else is safe from any thread.

struct TaskDirs {
  std::string in, out;
};

// An attempt's outputs once moved out of the scratch: the directory under tasks/<id>/ ("" when the pipeline
// wrote nothing) and the files in it, as sorted relative paths.
struct KeptOutputs {
  std::string dir;
  std::vector<std::string> files;
};

class Workspace {
 public:
  // `process` names this process's scratch under work/: ScratchName(owner) for a pool. Inputs are staged
  // from `uploads`; by default the directory store in UploadsDir(data_dir). With a `bucket`, KeepOutputs
  // also publishes the outputs to it (TaskOutputKey), and DiscardOutputs, PruneOutputs and Remove delete
  // them there too: a fleet with no shared file system serves outputs from the bucket.
  explicit Workspace(std::string data_dir, std::string process = "local",
                     std::shared_ptr<UploadStore> uploads = nullptr, std::shared_ptr<ObjectStore> bucket = nullptr);

  // A scratch name for a pool whose lease owner is `owner`: the owner (so that Init can tell whose is a
  // dead process's) and a random suffix (two pools with one owner in one process).
  static std::string ScratchName(const std::string& owner);

  // Creates the shared directories and this process's empty scratch slots, and removes the scratch of
  // processes whose owner `owner_is_dead` is sure is gone (left over by a crash). Unavailable when the data
  // directory cannot be written.
  queue::Result<void> Init(int slots,
                           const std::function<bool(const std::string& owner)>& owner_is_dead) const;
  // Removes this process's scratch (at shutdown).
  void Close() const;
  // The directories for one attempt in scratch slot `slot`: in/ with the inputs staged (or the shared
  // empty directory), and the slot's emptied scratch as out/ (`scratch_empty`: the caller knows it is,
  // e.g. KeepOutputs just left it so; saves a directory scan). Inputs: the source image as source.<ext>,
  // and every top-level config string under a key ending in "_image" (an upload id) as <key>.<ext>; <ext>
  // is ImageExtension of the file's first bytes. Each must be exactly an upload id of the task's owner (or
  // an anonymous upload): InvalidArgument for a source image that is not, NotFound naming the key for a
  // "_image" value that is not — the same whether the id is unknown, another user's or not an id at all
  // (the task cannot succeed either way). Unavailable for a file-system failure. No message names a path of
  // the server.
  queue::Result<TaskDirs> Prepare(const queue::TaskInfo& task, int slot, bool scratch_empty = false) const;
  // After a successful run under lease token `token`: moves what the pipeline wrote to
  // tasks/<id>/out-<token> (a name no other attempt uses) and returns it with the files. An empty scratch
  // moves nothing. Either way the scratch is empty afterwards.
  queue::Result<KeptOutputs> KeepOutputs(const queue::TaskInfo& task, const TaskDirs& dirs,
                                         int64_t token) const;
  // Deletes tasks/<id>/<dir>: the outputs of an attempt whose result the store refused.
  void DiscardOutputs(const std::string& task_id, const std::string& dir) const;
  // Deletes every attempt's output directory of the task but `keep` (the accepted one): those of attempts
  // whose result was never recorded (a crash between keeping and recording).
  void PruneOutputs(const std::string& task_id, const std::string& keep) const;
  // Regular files under `dir`, as sorted relative paths (at most `limit`).
  std::vector<std::string> ListFiles(const std::string& dir, size_t limit = 10'000) const;
  // Removes the task's directory (nothing if it is absent): TTL cleanup.
  void Remove(const std::string& task_id) const;

  std::string TaskDir(const std::string& task_id) const;
  std::string FilesDir() const;

 private:
  std::string ScratchDir(int slot) const;
  std::string data_dir_;
  std::string process_;
  std::shared_ptr<UploadStore> uploads_;
  std::shared_ptr<ObjectStore> bucket_;
  void DeleteFromBucket(const std::string& task_id, const std::function<bool(const std::string& dir)>& which) const;
};

}  // namespace wasmq::storage
