// The directory upload store: its on-disk layout (which existing data directories hold), metadata, ids,
// reading the bytes back and staging them.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "helpers.h"
#include "json/json.h"
#include "storage/storage.h"

namespace wasmq::storage {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string ReadAll(const OpenFile& f) {
  std::string bytes(f.size, '\0');
  EXPECT_EQ(::pread(f.fd.get(), bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  return bytes;
}

TEST(UploadStoreTest, PutWritesTheBytesAndTheMetadataBesideThem) {
  testing::TempDir dir;
  auto store = OpenLocalUploadStore(dir.file("files"));  // created when missing
  ASSERT_TRUE(store.ok()) << store.error().message;
  FileInfo in;
  in.owner = "alice";
  in.content_type = "image/gif";
  in.filename = "cat.gif";
  auto put = (*store)->Put(in, "GIF89a-bytes");
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_TRUE(IsFileIdShape(put->file_id)) << put->file_id;
  EXPECT_EQ(put->size, 12u);
  EXPECT_EQ(put->sha256.size(), 64u);
  EXPECT_GT(put->created_at, 0);
  // The layout every existing data directory has: DIR/<id> the bytes as sent, DIR/<id>.json the metadata.
  EXPECT_EQ(Slurp(dir.file("files/" + put->file_id)), "GIF89a-bytes");
  queue::Json meta = json::Parse(Slurp(dir.file("files/" + put->file_id + ".json")));
  EXPECT_EQ(meta, ToJson(*put));
  EXPECT_EQ(meta["user_id"], "alice");
  EXPECT_EQ(meta["url"], "/api/v1/files/" + put->file_id);
  for (const auto& e : fs::directory_iterator(dir.file("files")))  // no temporary left behind
    EXPECT_FALSE(e.path().string().ends_with(".tmp")) << e.path();

  auto stat = (*store)->Stat(put->file_id);
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->owner, "alice");
  EXPECT_EQ(stat->content_type, "image/gif");
  EXPECT_EQ(stat->size, 12u);
  EXPECT_EQ(stat->sha256, put->sha256);
  EXPECT_EQ(stat->filename, "cat.gif");
  EXPECT_EQ(stat->created_at / 1000, put->created_at / 1000);  // ISO 8601 keeps milliseconds at most
  auto open = (*store)->Open(put->file_id);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(ReadAll(*open), "GIF89a-bytes");
}

TEST(UploadStoreTest, Sha256IsOfTheBytes) {
  testing::TempDir dir;
  auto store = OpenLocalUploadStore(dir.str());
  ASSERT_TRUE(store.ok());
  auto put = (*store)->Put({}, "abc");
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // FIPS 180-2
  EXPECT_EQ(ToJson(*put)["user_id"], nullptr);                                                 // anonymous
}

TEST(UploadStoreTest, ReadsMetadataAnOlderVersionWrote) {
  testing::TempDir dir;
  testing::WriteUpload(dir.str(), "img_20231117_old", "", "\x89PNG");
  auto store = OpenLocalUploadStore(dir.str());
  ASSERT_TRUE(store.ok());
  auto stat = (*store)->Stat("img_20231117_old");
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->owner, "");
  EXPECT_EQ(stat->content_type, "image/png");
  EXPECT_EQ(stat->size, 4u);
}

TEST(UploadStoreTest, UnknownMalformedAndCorruptIds) {
  testing::TempDir dir;
  auto store = OpenLocalUploadStore(dir.str());
  ASSERT_TRUE(store.ok());
  testing::WriteUpload(dir.str(), "img_ok", "bob", "GIF89a");
  std::ofstream(dir.file("img_corrupt")) << "GIF89a";
  std::ofstream(dir.file("img_corrupt.json")) << "{not json";
  std::ofstream(dir.file("img_wrongtype.json")) << R"({"file_id":"img_wrongtype","size":"big"})";
  std::ofstream(dir.file("img_other.json")) << R"({"file_id":"img_ok"})";
  for (const char* id : {"img_missing", "img_ok.json", "../img_ok", "img_", "IMG_ok", "img_ok/x", ""}) {
    auto s = (*store)->Stat(id);
    ASSERT_FALSE(s.ok()) << id;
    EXPECT_EQ(s.error().code, queue::Code::NotFound) << id;
    EXPECT_EQ(s.error().message.find(dir.str()), std::string::npos);
    EXPECT_FALSE((*store)->Open(id).ok()) << id;
    EXPECT_FALSE((*store)->CopyTo(id, dir.file("copy")).ok()) << id;
  }
  for (const char* id : {"img_corrupt", "img_wrongtype", "img_other"}) {
    auto s = (*store)->Stat(id);
    ASSERT_FALSE(s.ok()) << id;
    EXPECT_EQ(s.error().code, queue::Code::Internal) << id;
  }
  EXPECT_FALSE(fs::exists(dir.file("copy")));
}

TEST(UploadStoreTest, OpenAndCopyToRefuseWhatIsNotARegularFile) {
  testing::TempDir dir;
  auto store = OpenLocalUploadStore(dir.file("files"));
  ASSERT_TRUE(store.ok());
  std::ofstream(dir.file("secret")) << "secret";
  fs::create_symlink(dir.file("secret"), dir.file("files/img_link"));
  std::ofstream(dir.file("files/img_link.json")) << R"({"file_id":"img_link","user_id":null})";
  fs::create_directory(dir.file("files/img_dir"));
  ASSERT_EQ(::mkfifo(dir.file("files/img_fifo").c_str(), 0600), 0);  // opening must not wait for a writer
  EXPECT_TRUE((*store)->Stat("img_link").ok());                      // the metadata is there...
  auto open = (*store)->Open("img_link");  // ...but the bytes are a link: never followed
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.error().code, queue::Code::NotFound);
  EXPECT_FALSE((*store)->Open("img_dir").ok());
  EXPECT_FALSE((*store)->Open("img_fifo").ok());
  EXPECT_FALSE((*store)->CopyTo("img_fifo", dir.file("copy")).ok());
  EXPECT_FALSE((*store)->CopyTo("img_link", dir.file("copy")).ok());
  EXPECT_FALSE((*store)->CopyTo("img_dir", dir.file("copy")).ok());
  EXPECT_FALSE(fs::exists(dir.file("copy")));
}

TEST(UploadStoreTest, CopyToLinksTheBytes) {
  testing::TempDir dir;
  auto store = OpenLocalUploadStore(dir.file("files"));
  ASSERT_TRUE(store.ok());
  auto put = (*store)->Put({}, "GIF89a");
  ASSERT_TRUE(put.ok());
  ASSERT_TRUE((*store)->CopyTo(put->file_id, dir.file("in.gif")).ok());
  EXPECT_EQ(Slurp(dir.file("in.gif")), "GIF89a");
  EXPECT_EQ(fs::hard_link_count(dir.file("in.gif")), 2u);
  auto again = (*store)->CopyTo(put->file_id, dir.file("in.gif"));  // the target must not exist
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, queue::Code::Unavailable);
  EXPECT_EQ(again.error().message.find(dir.str()), std::string::npos) << again.error().message;
}

TEST(UploadStoreTest, FileIdShape) {
  for (const char* ok : {"img_20231117_abc", "img_a", "img_A-b_9"}) EXPECT_TRUE(IsFileIdShape(ok)) << ok;
  for (const char* bad : {"", "img_", "img", "task_1", "img_a.json", "img_a/b", "img_a b", "img_..", "xmg_a"})
    EXPECT_FALSE(IsFileIdShape(bad)) << bad;
  EXPECT_TRUE(IsFileIdShape("img_" + std::string(124, 'a')));
  EXPECT_FALSE(IsFileIdShape("img_" + std::string(125, 'a')));
}

}  // namespace
}  // namespace wasmq::storage
