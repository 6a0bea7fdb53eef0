// File: src/worker/workspace.h
//
// The files of a task on disk, under the data directory:
//
//   DATA_DIR/files/<file id>           uploaded inputs, with their metadata (owner) in <file id>.json (the
//                                      API writes them; a task names its owner's own as source_image, and
//                                      others as config "<key>_image" values)
//   DATA_DIR/tasks/<task id>/in/       the pipeline's /in (read-only to it): source.<ext> and <key>.<ext>
//   DATA_DIR/tasks/<task id>/out-<t>/  the outputs of the attempt with lease token <t> (what the pipeline
//                                      left in /out); the task's result names the accepted one
//                                      (TaskResult::output_dir). "out/" for results of older versions.
//   DATA_DIR/work/<process>/<slot>/    an executor's scratch /out while a task runs
//   DATA_DIR/empty/                    the /in of a task without a source image
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
// Staging hard-links the upload into in/ (a copy when the link fails, e.g. across file systems), so an
// input costs no copy and a later change to the upload cannot alter a running task's input.
//
// Threading: slots are per executor; everything else is safe from any thread.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "queue/queue.h"

namespace wasmq::worker {

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
  // `process` names this process's scratch under work/: ScratchName(owner) for a pool.
  explicit Workspace(std::string data_dir, std::string process = "local")
      : data_dir_(std::move(data_dir)), process_(std::move(process)) {}

  // A scratch name for a pool whose lease owner is `owner`: the owner (so that Init can tell whose is a
  // dead process's) and a random suffix (two pools with one owner in one process).
  static std::string ScratchName(const std::string& owner);

  // Creates the shared directories and this process's empty scratch slots, and removes the scratch of
  // processes OwnerIsDead says are gone (left over by a crash). Unavailable when the data directory cannot
  // be written.
  queue::Result<void> Init(int slots) const;
  // Removes this process's scratch (at shutdown).
  void Close() const;
  // The directories for one attempt in scratch slot `slot`: in/ with the inputs staged (or the shared
  // empty directory), and the slot's emptied scratch as out/ (`scratch_empty`: the caller knows it is,
  // e.g. KeepOutputs just left it so; saves a directory scan). Inputs: the source image as source.<ext>,
  // and every top-level config string under a key ending in "_image" (an upload id) as <key>.<ext>; <ext>
  // is the image type (png, jpg, gif, webp, bmp) read from the file's first bytes. Each must be exactly an
  // upload id of the task's owner (or an anonymous upload): InvalidArgument for a source image that is
  // not, NotFound naming the key for a "_image" value that is not — the same whether the id is unknown,
  // another user's or not an id at all (the task cannot succeed either way). Unavailable for a file-system
  // failure. No message names a path of the server.
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
  // Removes the task's directory (nothing if it is absent).
  void Remove(const std::string& task_id) const;

  std::string TaskDir(const std::string& task_id) const;
  std::string FilesDir() const;

 private:
  std::string ScratchDir(int slot) const;
  // The upload `id` if it is one and `owner` may use it: files/<id>; empty otherwise.
  std::filesystem::path FindUpload(const std::string& id, const std::string& owner) const;
  std::string data_dir_;
  std::string process_;
};

}  // namespace wasmq::worker
