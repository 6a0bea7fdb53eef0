// File: src/storage/workspace.cc
//
// Task workspaces: an attempt's /in staged from the uploads, its scratch /out, the outputs kept per attempt
// and published by the store's answer, and the task directories' removal (storage.h, "Task workspaces").
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>

#include "storage/internal.h"
#include "storage/storage.h"

namespace wasmq::storage {

namespace fs = std::filesystem;

namespace {

// Removes what is inside `dir`, keeping `dir`. Cheap when it is already empty (one readdir).
std::error_code EmptyDir(const fs::path& dir) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    fs::remove_all(it->path(), ec);
    if (ec) return ec;
  }
  return ec;
}

// The extension an input gets in /in: the image type its first bytes show (uploads are stored without one),
// else none.
std::string ExtensionOf(std::string_view head) { return std::string(ImageExtension(SniffImageType(head))); }

}  // namespace

Workspace::Workspace(std::string data_dir, std::string process, std::shared_ptr<UploadStore> uploads,
                     std::shared_ptr<ObjectStore> bucket)
    : data_dir_(std::move(data_dir)),
      process_(std::move(process)),
      uploads_(uploads ? std::move(uploads)
                       : std::shared_ptr<UploadStore>(NewLocalUploadStore(UploadsDir(data_dir_)))),
      bucket_(std::move(bucket)) {}

std::string Workspace::TaskDir(const std::string& task_id) const {
  return (fs::path(TasksDir(data_dir_)) / task_id).string();
}
std::string Workspace::FilesDir() const { return UploadsDir(data_dir_); }
std::string Workspace::ScratchDir(int slot) const {
  return (fs::path(data_dir_) / "work" / process_ / std::to_string(slot)).string();
}

std::string Workspace::ScratchName(const std::string& owner) {
  // '/' (and anything else that is not a plain file-name character) becomes '+'; the suffix follows a '~'.
  std::string name = owner.substr(0, 200);
  for (char& c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      c = '+';
  unsigned char b[4] = {};
  while (getrandom(b, sizeof b, 0) < 0 && errno == EINTR) {
  }
  char hex[9];
  std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
  return name + "~" + hex;
}

queue::Result<void> Workspace::Init(
    int slots, const std::function<bool(const std::string& owner)>& owner_is_dead) const {
  std::error_code ec;
  for (const fs::path& d : {fs::path(TasksDir(data_dir_)), fs::path(data_dir_) / "empty"}) {
    fs::create_directories(d, ec);
    if (ec) return queue::Unavailable("cannot create " + d.string() + ": " + ec.message());
  }
  EmptyDir(fs::path(data_dir_) / "empty");
  // The scratch of a crashed process of this host: only when owner_is_dead is sure (a live process on another
  // machine or container sharing the directory keeps its own).
  const fs::path work = fs::path(data_dir_) / "work";
  for (auto it = fs::directory_iterator(work, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    const size_t tilde = name.rfind('~');
    if (name == process_ || tilde == std::string::npos) continue;
    std::string owner = name.substr(0, tilde);
    std::replace(owner.begin(), owner.end(), '+', '/');
    std::error_code ignored;
    if (owner_is_dead(owner)) fs::remove_all(it->path(), ignored);
  }
  ec.clear();
  for (int i = 0; i < slots; ++i) {
    fs::create_directories(ScratchDir(i), ec);
    if (!ec) ec = EmptyDir(ScratchDir(i));
    if (ec) return queue::Unavailable("cannot prepare " + ScratchDir(i) + ": " + ec.message());
  }
  return {};
}

queue::Result<TaskDirs> Workspace::Prepare(const queue::TaskInfo& task, int slot, bool scratch_empty) const {
  TaskDirs dirs{(fs::path(data_dir_) / "empty").string(), ScratchDir(slot)};
  std::error_code ec;
  if (!scratch_empty) ec = EmptyDir(dirs.out);
  if (ec) return queue::Unavailable("cannot empty the output directory: " + ec.message());

  // What goes into /in: the source image as source.<ext>, and each config "<key>_image" upload as
  // <key>.<ext>. Missing inputs are found before anything is created.
  struct Input {
    std::string name;  // in /in, with the extension
    std::string id;
  };
  std::vector<Input> inputs;
  // An upload is one the store has, of the task's owner or anonymous (made with auth off, where every caller
  // is the same anonymous user and may read every file anyway), whose bytes are there. Only the exact id
  // shape is looked up (UploadStore), so neither the metadata file nor any other name can be staged.
  auto find = [&](const std::string& id, const std::string& name) -> std::optional<Input> {
    auto info = uploads_->Stat(id);
    if (!info || (!info->owner.empty() && info->owner != task.user_id)) return std::nullopt;
    auto head = uploads_->ReadHead(id, kSniffBytes);
    if (!head) return std::nullopt;
    const std::string ext = ExtensionOf(*head);
    return Input{name + (ext.empty() ? "" : "." + ext), id};
  };
  // Unknown, foreign and malformed ids fail alike, naming the field and the id given, never a path: the
  // message must not tell a caller that another user's upload exists, nor where the data lives.
  if (!task.source_image.empty()) {
    auto input = find(task.source_image, "source");
    if (!input)
      return queue::InvalidArgument("source_image: no uploaded file " + task.source_image.substr(0, 128));
    inputs.push_back(std::move(*input));
  }
  if (task.config.is_object()) {
    for (auto it = task.config.begin(); it != task.config.end(); ++it) {
      const std::string& key = it.key();
      if (!key.ends_with("_image") || !it->is_string() || it->get_ref<const std::string&>().empty()) continue;
      const std::string& id = it->get_ref<const std::string&>();
      if (!IsPlainName(key))
        continue;  // cannot be a file name in /in; the pipeline sees it in the config only
      auto input = find(id, key);
      if (!input) return queue::NotFound("config." + key + ": no uploaded file " + id.substr(0, 128));
      inputs.push_back(std::move(*input));
    }
  }
  if (inputs.empty()) return dirs;

  dirs.in = (fs::path(TaskDir(task.task_id)) / "in").string();
  fs::create_directories(dirs.in, ec);
  if (ec) return queue::Unavailable("cannot create the task's input directory: " + ec.message());
  for (const Input& input : inputs) {
    const fs::path target = fs::path(dirs.in) / input.name;
    if (fs::exists(target, ec)) continue;  // staged by an earlier attempt
    if (auto r = uploads_->CopyTo(input.id, target.string()); !r)
      return queue::Unavailable("cannot stage the input " + input.name + ": " + r.error().message);
  }
  return dirs;
}

queue::Result<KeptOutputs> Workspace::KeepOutputs(const queue::TaskInfo& task, const TaskDirs& dirs,
                                                  int64_t token) const {
  std::error_code ec;
  if (fs::is_empty(dirs.out, ec) || ec) return KeptOutputs{};
  KeptOutputs kept{"out-" + std::to_string(token), {}};
  const fs::path task_dir = TaskDir(task.task_id), target = task_dir / kept.dir;
  fs::create_directories(task_dir, ec);
  // Only this attempt ever has this token: whatever is there is a leftover of our own.
  if (!ec) fs::remove_all(target, ec);
  if (!ec) fs::rename(dirs.out, target, ec);
  if (!ec) fs::create_directory(dirs.out, ec);  // the slot's next scratch
  if (ec) return queue::Unavailable("cannot keep the outputs: " + ec.message());
  kept.files = ListFiles(target.string());
  // Published to the bucket before the result naming them is recorded: a reader that finds the result
  // finds every file. A failure fails the attempt (which is retried), leaving nothing a result names.
  if (bucket_) {
    for (const std::string& name : kept.files) {
      if (auto r = bucket_->PutFile(TaskOutputKey(task.task_id, kept.dir, name), (target / name).string()); !r) {
        DeleteFromBucket(task.task_id, [&](const std::string& d) { return d == kept.dir; });
        return queue::Unavailable("cannot publish the output " + name + ": " + r.error().message);
      }
    }
  }
  return kept;
}

void Workspace::DeleteFromBucket(const std::string& task_id,
                                 const std::function<bool(const std::string& dir)>& which) const {
  if (!bucket_) return;
  const std::string prefix = "tasks/" + task_id + "/";
  auto keys = bucket_->List(prefix);
  if (!keys) return;  // best effort, as on disk: TTL cleanup comes back
  for (const std::string& key : *keys) {
    const std::string dir = key.substr(prefix.size(), key.find('/', prefix.size()) - prefix.size());
    if (which(dir)) (void)bucket_->Delete(key);
  }
}

void Workspace::DiscardOutputs(const std::string& task_id, const std::string& dir) const {
  if (dir.empty()) return;
  std::error_code ec;
  fs::remove_all(fs::path(TaskDir(task_id)) / dir, ec);
  DeleteFromBucket(task_id, [&](const std::string& d) { return d == dir; });
}

void Workspace::PruneOutputs(const std::string& task_id, const std::string& keep) const {
  DeleteFromBucket(task_id, [&](const std::string& d) { return d != keep && (d == "out" || d.starts_with("out-")); });
  std::error_code ec;
  std::vector<fs::path> stale;
  for (auto it = fs::directory_iterator(TaskDir(task_id), ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name != keep && (name == "out" || name.starts_with("out-"))) stale.push_back(it->path());
  }
  for (const fs::path& p : stale) fs::remove_all(p, ec);
}

void Workspace::Close() const {
  std::error_code ec;
  fs::remove_all(fs::path(data_dir_) / "work" / process_, ec);
}

std::vector<std::string> Workspace::ListFiles(const std::string& dir, size_t limit) const {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(fs::relative(it->path(), dir).string());
    if (files.size() >= limit) break;
  }
  std::sort(files.begin(), files.end());
  return files;
}

void Workspace::Remove(const std::string& task_id) const {
  std::error_code ec;
  fs::remove_all(TaskDir(task_id), ec);
  DeleteFromBucket(task_id, [](const std::string&) { return true; });
}

}  // namespace wasmq::storage
