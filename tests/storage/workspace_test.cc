// Task workspaces: scratch /out, staged inputs, outputs kept per attempt and published, cleanup.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "helpers.h"
#include "storage/storage.h"

namespace wasmq::storage {
namespace {

namespace fs = std::filesystem;

const auto kNobodyIsDead = [](const std::string&) { return false; };

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(WorkspaceTest, ScratchOutAndStagedInput) {
  testing::TempDir dir;
  Workspace ws(dir.str());
  ASSERT_TRUE(ws.Init(2, kNobodyIsDead).ok());
  testing::WriteUpload(ws.FilesDir(), "img_1", "", "\xff\xd8\xff\xe0 JPEG");
  queue::TaskInfo t;
  t.task_id = "task_x";
  auto plain = ws.Prepare(t, 0);  // no source image: the shared empty /in, no per-task directory
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_TRUE(std::filesystem::is_empty(plain->in));
  EXPECT_FALSE(std::filesystem::exists(ws.TaskDir("task_x")));
  auto kept = ws.KeepOutputs(t, *plain, 1);  // nothing written: nothing kept
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->files.empty());
  EXPECT_EQ(kept->dir, "");
  EXPECT_FALSE(std::filesystem::exists(ws.TaskDir("task_x")));

  t.source_image = "img_1";
  auto d = ws.Prepare(t, 1);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(std::filesystem::exists(d->in + "/source.jpg"));  // the ABI name: /in/source.<ext>
  std::ofstream(d->out + "/junk.txt") << "from a failed attempt";
  auto again = ws.Prepare(t, 1);  // a new attempt starts with an empty /out
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(std::filesystem::is_empty(again->out));
  std::ofstream(again->out + "/a.txt") << "a";
  std::filesystem::create_directories(again->out + "/sub");
  std::ofstream(again->out + "/sub/b.txt") << "b";
  auto files = ws.KeepOutputs(t, *again, 7);  // kept per attempt: out-<lease token>
  ASSERT_TRUE(files.ok()) << files.error().message;
  EXPECT_EQ(files->files, (std::vector<std::string>{"a.txt", "sub/b.txt"}));
  EXPECT_EQ(files->dir, "out-7");
  EXPECT_TRUE(std::filesystem::exists(ws.TaskDir("task_x") + "/out-7/sub/b.txt"));
  EXPECT_TRUE(std::filesystem::is_empty(again->out));  // the slot is ready for its next task
  // Another attempt's outputs never replace these; the store's answer decides which directory stays.
  std::ofstream(again->out + "/late.txt") << "late";
  auto late = ws.KeepOutputs(t, *again, 6);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->dir, "out-6");
  EXPECT_TRUE(std::filesystem::exists(ws.TaskDir("task_x") + "/out-7/a.txt"));
  std::filesystem::create_directories(ws.TaskDir("task_x") + "/out");  // an older version's
  ws.PruneOutputs("task_x", "out-7");                                  // out-7 accepted
  EXPECT_FALSE(std::filesystem::exists(ws.TaskDir("task_x") + "/out-6"));
  EXPECT_FALSE(std::filesystem::exists(ws.TaskDir("task_x") + "/out"));
  EXPECT_TRUE(std::filesystem::exists(ws.TaskDir("task_x") + "/out-7/a.txt"));
  EXPECT_TRUE(std::filesystem::exists(ws.TaskDir("task_x") + "/in/source.jpg"));
  ws.DiscardOutputs("task_x", "out-7");
  EXPECT_FALSE(std::filesystem::exists(ws.TaskDir("task_x") + "/out-7"));

  t.source_image = "img_2";
  auto missing = ws.Prepare(t, 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, queue::Code::InvalidArgument);
  ws.Remove("task_x");
  EXPECT_FALSE(std::filesystem::exists(ws.TaskDir("task_x")));
}

// The extension an input gets is the one sniffer's answer for its bytes, the metadata's claim aside.
TEST(WorkspaceTest, StagedInputsAreNamedByTheirBytes) {
  testing::TempDir dir;
  Workspace ws(dir.str());
  ASSERT_TRUE(ws.Init(1, kNobodyIsDead).ok());
  const std::string bmp = "BM" + std::string("\x46\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0", 16) + "pixels";
  testing::WriteUpload(ws.FilesDir(), "img_png", "", std::string("\x89PNG\r\n\x1a\n", 8) + "p");
  testing::WriteUpload(ws.FilesDir(), "img_gif", "", "GIF89a....");
  testing::WriteUpload(ws.FilesDir(), "img_webp", "", "RIFF" + std::string("\x10\0\0\0", 4) + "WEBPVP8 ....");
  testing::WriteUpload(ws.FilesDir(), "img_bmp", "", bmp);
  testing::WriteUpload(ws.FilesDir(), "img_text", "", "BMW");  // no longer "bmp": not an image at all
  testing::WriteUpload(ws.FilesDir(), "img_gif8", "", "GIF8 but no version");
  queue::TaskInfo t;
  t.task_id = "task_names";
  t.source_image = "img_png";
  t.config = {{"a_image", "img_gif"},
              {"b_image", "img_webp"},
              {"c_image", "img_bmp"},
              {"d_image", "img_text"},
              {"e_image", "img_gif8"}};
  auto d = ws.Prepare(t, 0);
  ASSERT_TRUE(d.ok()) << d.error().message;
  for (const char* name : {"source.png", "a_image.gif", "b_image.webp", "c_image.bmp", "d_image", "e_image"})
    EXPECT_TRUE(fs::exists(d->in + "/" + name)) << name;
  EXPECT_EQ(Slurp(d->in + "/c_image.bmp"), bmp);
  // Staged by a hard link: no copy of the bytes.
  EXPECT_EQ(fs::hard_link_count(ws.FilesDir() + "/img_bmp"), 2u);
}

// Only the task owner's own uploads, or anonymous ones, are staged; anything else fails the same way.
TEST(WorkspaceTest, InputsAreTheOwnersOwnUploads) {
  testing::TempDir dir;
  Workspace ws(dir.str());
  ASSERT_TRUE(ws.Init(1, kNobodyIsDead).ok());
  testing::WriteUpload(ws.FilesDir(), "img_alice", "alice", "GIF89a");
  testing::WriteUpload(ws.FilesDir(), "img_anon", "", "GIF89a");
  fs::create_symlink(ws.FilesDir() + "/img_alice", ws.FilesDir() + "/img_link");
  std::ofstream(ws.FilesDir() + "/img_link.json") << R"({"file_id":"img_link","user_id":null})";
  testing::WriteUpload(ws.FilesDir(), "img_liar", "", "GIF89a");
  std::ofstream(ws.FilesDir() + "/img_liar.json") << R"({"file_id":"img_alice","user_id":null})";
  queue::TaskInfo t;
  t.task_id = "task_owner";
  t.user_id = "alice";
  t.source_image = "img_alice";
  ASSERT_TRUE(ws.Prepare(t, 0).ok());
  t.source_image = "img_anon";
  ASSERT_TRUE(ws.Prepare(t, 0).ok());
  t.user_id = "mallory";
  auto foreign = ws.Prepare(t, 0);
  ASSERT_TRUE(foreign.ok());  // anonymous: anyone's
  t.source_image = "img_alice";
  for (const char* id :
       {"img_alice", "img_alice.json", "img_link", "img_liar", "../files/img_anon", "img_"}) {
    t.source_image = id;
    auto r = ws.Prepare(t, 0);
    ASSERT_FALSE(r.ok()) << id;
    EXPECT_EQ(r.error().code, queue::Code::InvalidArgument) << id;
    EXPECT_EQ(r.error().message, "source_image: no uploaded file " + std::string(id));
    EXPECT_EQ(r.error().message.find(dir.str()), std::string::npos);
  }
  t.source_image = "";
  t.config = {{"mask_image", "img_alice"}};
  auto r = ws.Prepare(t, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, queue::Code::NotFound);
  EXPECT_EQ(r.error().message, "config.mask_image: no uploaded file img_alice");
  t.config = {{"../x_image", "img_anon"}};  // a key that cannot be a file name is left to the config
  auto skipped = ws.Prepare(t, 0);
  ASSERT_TRUE(skipped.ok());
  EXPECT_TRUE(fs::is_empty(skipped->in));
}

// A dead process's scratch goes at Init; a live one's and this process's stay.
TEST(WorkspaceTest, InitRemovesOnlyTheDeadsScratch) {
  testing::TempDir dir;
  Workspace dead(dir.str(), Workspace::ScratchName("host/1"));
  Workspace live(dir.str(), Workspace::ScratchName("host/2"));
  ASSERT_TRUE(dead.Init(1, kNobodyIsDead).ok());
  ASSERT_TRUE(live.Init(1, kNobodyIsDead).ok());
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.file("work")), fs::directory_iterator()), 2);
  Workspace me(dir.str(), Workspace::ScratchName("host/3"));
  std::vector<std::string> asked;
  ASSERT_TRUE(me.Init(1, [&](const std::string& owner) {
                  asked.push_back(owner);
                  return owner == "host/1";
                }).ok());
  std::sort(asked.begin(), asked.end());
  EXPECT_EQ(asked, (std::vector<std::string>{"host/1", "host/2"}));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.file("work")), fs::directory_iterator()), 2);
  me.Close();
  live.Close();
  EXPECT_TRUE(fs::is_empty(dir.file("work")));
}

// What the API and `wasmq task output` read: the accepted attempt's directory, "out" for older results,
// never through a link a module planted, never outside the task's directory.
TEST(TaskOutputTest, OpensOnlyRegularFilesBelowTheAttemptsDirectory) {
  testing::TempDir dir;
  const std::string tasks = TasksDir(dir.str());
  EXPECT_EQ(tasks, dir.str() + "/tasks");
  EXPECT_EQ(UploadsDir(dir.str()), dir.str() + "/files");
  fs::create_directories(tasks + "/task_a/out-7/sub");
  fs::create_directories(tasks + "/task_a/out");
  std::ofstream(tasks + "/task_a/out-7/sub/r.png") << "seven";
  std::ofstream(tasks + "/task_a/out/r.png") << "older";
  std::ofstream(dir.file("secret")) << "secret";
  fs::create_symlink(dir.file("secret"), tasks + "/task_a/out-7/link.png");
  fs::create_symlink(dir.file("tasks/task_a/out-7/sub"), tasks + "/task_a/out-7/dirlink");
  uint64_t size = 0;
  UniqueFd f = OpenTaskOutput(tasks, "task_a", "out-7", "sub/r.png", &size);
  ASSERT_TRUE(f);
  EXPECT_EQ(size, 5u);
  ASSERT_TRUE(OpenTaskOutput(tasks, "task_a", "", "r.png", &size));
  EXPECT_EQ(size, 5u);
  for (const char* name : {"link.png", "dirlink/r.png", "../out/r.png", "sub/../sub/r.png", "", "sub",
                           "/etc/passwd", "missing.png"})
    EXPECT_FALSE(OpenTaskOutput(tasks, "task_a", "out-7", name, &size)) << name;
  EXPECT_FALSE(OpenTaskOutput(tasks, "..", "task_a", "out-7/sub/r.png", &size));
  EXPECT_FALSE(OpenTaskOutput(tasks, "task_a", "../task_a/out-7", "sub/r.png", &size));
  EXPECT_FALSE(OpenTaskOutput(tasks, "task_a/out-7", "sub", "r.png", &size));
}

}  // namespace
}  // namespace wasmq::storage
