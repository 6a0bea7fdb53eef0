// File: src/worker/workspace.cc
#include "worker/workspace.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <system_error>

#include "worker/owner.h"

namespace wasmq::worker {

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

// Ids and config keys become file names: letters, digits, '_', '-', '.' only, and not "." or "..", so no
// path can leave the data directory (the same rule the task model applies to source_image).
bool IsPlainName(const std::string& s) {
  if (s.empty() || s == "." || s == ".." || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

// The extension an input gets in /in: the image type its first bytes show (the API stores uploads without
// one), else none.
std::string ImageExtension(const fs::path& file) {
  char head[12] = {};
  std::ifstream in(file, std::ios::binary);
  in.read(head, sizeof head);
  const std::string_view h(head, static_cast<size_t>(in.gcount()));
  if (h.starts_with("\x89PNG\r\n\x1a\n")) return "png";
  if (h.starts_with("\xff\xd8\xff")) return "jpg";
  if (h.starts_with("GIF8")) return "gif";
  if (h.starts_with("RIFF") && h.size() >= 12 && h.substr(8, 4) == "WEBP") return "webp";
  if (h.starts_with("BM")) return "bmp";
  return "";
}

// The shape of an upload id as the API makes and accepts them (api/file_store.cc, IsFileIdShape): "img_"
// then letters, digits, '_' and '-' only — no '.', so never the metadata file img_….json or a suffixed
// name, and no '/', so never a path.
bool IsUploadId(const std::string& id) {
  if (!id.starts_with("img_") || id.size() <= 4 || id.size() > queue::kMaxIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

}  // namespace

std::string Workspace::TaskDir(const std::string& task_id) const {
  return (fs::path(data_dir_) / "tasks" / task_id).string();
}
std::string Workspace::FilesDir() const { return (fs::path(data_dir_) / "files").string(); }
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

queue::Result<void> Workspace::Init(int slots) const {
  std::error_code ec;
  for (const fs::path& d : {fs::path(data_dir_) / "tasks", fs::path(data_dir_) / "empty"}) {
    fs::create_directories(d, ec);
    if (ec) return queue::Unavailable("cannot create " + d.string() + ": " + ec.message());
  }
  EmptyDir(fs::path(data_dir_) / "empty");
  // The scratch of a crashed process of this host: only when OwnerIsDead is sure (a live process on another
  // machine or container sharing the directory keeps its own).
  const fs::path work = fs::path(data_dir_) / "work";
  for (auto it = fs::directory_iterator(work, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    const size_t tilde = name.rfind('~');
    if (name == process_ || tilde == std::string::npos) continue;
    std::string owner = name.substr(0, tilde);
    std::replace(owner.begin(), owner.end(), '+', '/');
    std::error_code ignored;
    if (OwnerIsDead(owner)) fs::remove_all(it->path(), ignored);
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
    std::string name;  // in /in, without the extension
    fs::path upload;
  };
  std::vector<Input> inputs;
  // Unknown, foreign and malformed ids fail alike, naming the field and the id given, never a path: the
  // message must not tell a caller that another user's upload exists, nor where the data lives.
  if (!task.source_image.empty()) {
    fs::path upload = FindUpload(task.source_image, task.user_id);
    if (upload.empty())
      return queue::InvalidArgument("source_image: no uploaded file " + task.source_image.substr(0, 128));
    inputs.push_back({"source", upload});
  }
  if (task.config.is_object()) {
    for (auto it = task.config.begin(); it != task.config.end(); ++it) {
      const std::string& key = it.key();
      if (!key.ends_with("_image") || !it->is_string() || it->get_ref<const std::string&>().empty()) continue;
      const std::string& id = it->get_ref<const std::string&>();
      if (!IsPlainName(key))
        continue;  // cannot be a file name in /in; the pipeline sees it in the config only
      fs::path upload = FindUpload(id, task.user_id);
      if (upload.empty()) return queue::NotFound("config." + key + ": no uploaded file " + id.substr(0, 128));
      inputs.push_back({key, upload});
    }
  }
  if (inputs.empty()) return dirs;

  dirs.in = (fs::path(TaskDir(task.task_id)) / "in").string();
  fs::create_directories(dirs.in, ec);
  if (ec) return queue::Unavailable("cannot create the task's input directory: " + ec.message());
  for (const Input& input : inputs) {
    const std::string ext = ImageExtension(input.upload);
    const fs::path target = fs::path(dirs.in) / (input.name + (ext.empty() ? "" : "." + ext));
    if (fs::exists(target, ec)) continue;  // staged by an earlier attempt
    fs::create_hard_link(input.upload, target, ec);
    if (ec) {
      fs::copy_file(input.upload, target, ec);
      if (ec) return queue::Unavailable("cannot stage the input " + input.name + ": " + ec.message());
    }
  }
  return dirs;
}

fs::path Workspace::FindUpload(const std::string& id, const std::string& owner) const {
  // An upload is what the API stored: files/<id> (a regular file, not a link) and its metadata
  // files/<id>.json naming the id and the owner. Only the exact id shape is looked up, so neither the
  // metadata file nor any other name under files/ (or outside it) can be staged.
  if (!IsUploadId(id)) return {};
  std::error_code ec;
  const fs::path files = FilesDir(), upload = files / id;
  if (!fs::is_regular_file(fs::symlink_status(upload, ec))) return {};
  std::ifstream in(files / (id + ".json"));
  if (!in) return {};
  std::stringstream text;
  text << in.rdbuf();
  const queue::Json meta = queue::Json::parse(text.str(), nullptr, false);
  if (!meta.is_object()) return {};
  auto file_id = meta.find("file_id"), user = meta.find("user_id");
  if (file_id == meta.end() || *file_id != id) return {};
  // The task's owner's own upload, or an anonymous one (made with auth off, where every caller is the same
  // anonymous user and may read every file anyway).
  const std::string uploader = user != meta.end() && user->is_string() ? user->get<std::string>() : "";
  if (!uploader.empty() && uploader != owner) return {};
  return upload;
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
  return kept;
}

void Workspace::DiscardOutputs(const std::string& task_id, const std::string& dir) const {
  if (dir.empty()) return;
  std::error_code ec;
  fs::remove_all(fs::path(TaskDir(task_id)) / dir, ec);
}

void Workspace::PruneOutputs(const std::string& task_id, const std::string& keep) const {
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
}

}  // namespace wasmq::worker
