// File: src/storage/object_uploads.cc
//
// The upload store on a bucket: files/<id> holds the bytes, files/<id>.json the metadata, written last. A
// file exists once its metadata does, as in the directory store: a Put that fails half-way leaves at most
// bytes no id leads to (and removes them), never a file a reader could find half-written.
#include <cerrno>
#include <cstring>

#include "base/digest.h"
#include "storage/internal.h"
#include "storage/storage.h"

namespace wasmq::storage {
namespace {

using queue::Json;

class ObjectUploadStore final : public UploadStore {
 public:
  explicit ObjectUploadStore(std::shared_ptr<ObjectStore> bucket) : bucket_(std::move(bucket)) {}

  queue::Result<FileInfo> Put(FileInfo info, std::string_view bytes) override {
    info.created_at = queue::NowMs();
    info.file_id = queue::NewFileId(info.created_at);
    info.size = bytes.size();
    info.sha256 = base::Sha256Hex(bytes);
    std::string metadata = ToJson(info).dump(-1, ' ', false, Json::error_handler_t::replace);
    if (auto r = bucket_->PutBytes(Key(info.file_id), bytes, info.content_type); !r) return Failed(r.error());
    if (auto r = bucket_->PutBytes(Key(info.file_id) + ".json", metadata, "application/json"); !r) {
      (void)bucket_->Delete(Key(info.file_id));  // bytes no id leads to; best effort
      return Failed(r.error());
    }
    return info;
  }

  queue::Result<FileInfo> Stat(std::string_view file_id) override {
    if (!IsFileIdShape(file_id)) return NotFound(file_id);
    auto text = bucket_->GetBytes(Key(file_id) + ".json", 1u << 20);
    if (!text) return text.error().code == queue::Code::NotFound ? NotFound(file_id) : Failed(text.error());
    return ParseFileInfo(*text, file_id);
  }

  queue::Result<OpenFile> Open(std::string_view file_id) override {
    if (!IsFileIdShape(file_id)) return NotFound(file_id);
    auto f = bucket_->Get(Key(file_id));
    if (!f) return f.error().code == queue::Code::NotFound ? NotFound(file_id) : Failed(f.error());
    return f;
  }

  queue::Result<void> CopyTo(std::string_view file_id, const std::string& target) override {
    if (!IsFileIdShape(file_id)) return NotFound(file_id);
    auto r = bucket_->GetToFile(Key(file_id), target);
    if (!r) return r.error().code == queue::Code::NotFound ? NotFound(file_id) : Failed(r.error());
    return {};
  }

  queue::Result<std::string> ReadHead(std::string_view file_id, size_t n) override {
    if (!IsFileIdShape(file_id)) return NotFound(file_id);
    auto head = bucket_->GetBytes(Key(file_id), n);
    if (!head) return head.error().code == queue::Code::NotFound ? NotFound(file_id) : Failed(head.error());
    return head;
  }

 private:
  static std::string Key(std::string_view file_id) { return "files/" + std::string(file_id); }
  static queue::Error NotFound(std::string_view id) {
    return queue::NotFound("file " + std::string(id.substr(0, 128)) + " not found");
  }
  // The bucket's words go to the log; the API client learns only that the store failed.
  static queue::Error Failed(const queue::Error& e) {
    std::fprintf(stderr, "wasmq: files: %s\n", e.message.c_str());
    return queue::Unavailable("files: the object store failed: " + e.message.substr(0, 300));
  }
  std::shared_ptr<ObjectStore> bucket_;
};

}  // namespace

std::shared_ptr<UploadStore> NewObjectUploadStore(std::shared_ptr<ObjectStore> bucket) {
  return std::make_shared<ObjectUploadStore>(std::move(bucket));
}

}  // namespace wasmq::storage
