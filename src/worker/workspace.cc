// File: src/worker/workspace.cc
#include "worker/workspace.h"

#include <algorithm>
#include <filesystem>
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
  if (task.source_image.empty()) return dirs;

  // The upload: files/<id> exactly, or files/<id>.<ext>. The id was validated as a plain file name.
  fs::path source;
  const fs::path files = FilesDir();
  if (fs::is_regular_file(files / task.source_image, ec)) {
    source = files / task.source_image;
  } else {
    for (auto it = fs::directory_iterator(files, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      if (it->is_regular_file() && it->path().stem() == task.source_image) {
        source = it->path();
        break;
      }
    }
  }
  if (source.empty())
    return queue::InvalidArgument("source_image: " + task.source_image + " is not in " + files.string());
  dirs.in = (fs::path(TaskDir(task.task_id)) / "in").string();
  fs::create_directories(dirs.in, ec);
  if (ec) return queue::Unavailable("cannot create " + dirs.in + ": " + ec.message());
  const fs::path target = fs::path(dirs.in) / source.filename();
  if (fs::exists(target, ec)) return dirs;  // staged by an earlier attempt
  fs::create_hard_link(source, target, ec);
  if (ec) {
    fs::copy_file(source, target, ec);
    if (ec) return queue::Unavailable("cannot stage " + source.string() + ": " + ec.message());
  }
  return dirs;
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
