// File: src/worker/workspace.cc
#include "worker/workspace.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <system_error>

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
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

// The extension an input gets in /in: the image type its first bytes show (the API stores uploads without
// one), else the upload's own extension, else none.
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
  std::string ext = file.extension().string();
  if (ext.size() > 1 && IsPlainName(ext.substr(1))) return ext.substr(1);
  return "";
}

}  // namespace

std::string Workspace::TaskDir(const std::string& task_id) const {
  return (fs::path(data_dir_) / "tasks" / task_id).string();
}
std::string Workspace::FilesDir() const { return (fs::path(data_dir_) / "files").string(); }
std::string Workspace::ScratchDir(int slot) const {
  return (fs::path(data_dir_) / "work" / std::to_string(slot)).string();
}

queue::Result<void> Workspace::Init(int slots) const {
  std::error_code ec;
  for (const fs::path& d : {fs::path(data_dir_) / "tasks", fs::path(data_dir_) / "empty"}) {
    fs::create_directories(d, ec);
    if (ec) return queue::Unavailable("cannot create " + d.string() + ": " + ec.message());
  }
  EmptyDir(fs::path(data_dir_) / "empty");
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
  if (ec) return queue::Unavailable("cannot empty " + dirs.out + ": " + ec.message());

  // What goes into /in: the source image as source.<ext>, and each config "<key>_image" upload as
  // <key>.<ext>. Missing inputs are found before anything is created.
  struct Input {
    std::string name;  // in /in, without the extension
    fs::path upload;
  };
  std::vector<Input> inputs;
  if (!task.source_image.empty()) {
    fs::path upload = FindUpload(task.source_image);
    if (upload.empty())
      return queue::InvalidArgument("source_image: " + task.source_image + " is not in " + FilesDir());
    inputs.push_back({"source", upload});
  }
  if (task.config.is_object()) {
    for (auto it = task.config.begin(); it != task.config.end(); ++it) {
      const std::string& key = it.key();
      if (!key.ends_with("_image") || !it->is_string() || it->get_ref<const std::string&>().empty()) continue;
      const std::string& id = it->get_ref<const std::string&>();
      if (!IsPlainName(key)) continue;  // cannot be a file name in /in; the pipeline sees it in the config only
      fs::path upload = IsPlainName(id) ? FindUpload(id) : fs::path();
      if (upload.empty())
        return queue::NotFound("config." + key + ": no uploaded file " + id.substr(0, 128) + " in " + FilesDir());
      inputs.push_back({key, upload});
    }
  }
  if (inputs.empty()) return dirs;

  dirs.in = (fs::path(TaskDir(task.task_id)) / "in").string();
  fs::create_directories(dirs.in, ec);
  if (ec) return queue::Unavailable("cannot create " + dirs.in + ": " + ec.message());
  for (const Input& input : inputs) {
    const std::string ext = ImageExtension(input.upload);
    const fs::path target = fs::path(dirs.in) / (input.name + (ext.empty() ? "" : "." + ext));
    if (fs::exists(target, ec)) continue;  // staged by an earlier attempt
    fs::create_hard_link(input.upload, target, ec);
    if (ec) {
      fs::copy_file(input.upload, target, ec);
      if (ec) return queue::Unavailable("cannot stage " + input.upload.string() + ": " + ec.message());
    }
  }
  return dirs;
}

fs::path Workspace::FindUpload(const std::string& id) const {
  // The upload: files/<id> exactly, or files/<id>.<ext> (not the API's <id>.json metadata).
  std::error_code ec;
  const fs::path files = FilesDir();
  if (fs::is_regular_file(files / id, ec)) return files / id;
  for (auto it = fs::directory_iterator(files, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && it->path().stem() == id && it->path().extension() != ".json") return it->path();
  }
  return {};
}

queue::Result<std::vector<std::string>> Workspace::KeepOutputs(const queue::TaskInfo& task,
                                                               const TaskDirs& dirs) const {
  std::error_code ec;
  if (fs::is_empty(dirs.out, ec) || ec) return std::vector<std::string>{};
  const fs::path task_dir = TaskDir(task.task_id), kept = task_dir / "out";
  fs::create_directories(task_dir, ec);
  if (!ec) fs::remove_all(kept, ec);  // a stale copy from an attempt whose result was never recorded
  if (!ec) fs::rename(dirs.out, kept, ec);
  if (!ec) fs::create_directory(dirs.out, ec);  // the slot's next scratch
  if (ec) return queue::Unavailable("cannot keep the outputs in " + kept.string() + ": " + ec.message());
  return ListFiles(kept.string());
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
