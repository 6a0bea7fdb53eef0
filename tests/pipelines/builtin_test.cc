// The built-in pipelines ship inside the binary: the registry adds them for the modes nothing else
// serves, the configuration can turn them off, and `wasmq serve` with no pipeline flags runs a
// BACKGROUND_CHANGE task from upload to download.
#include <signal.h>

#include <chrono>
#include <thread>

#include "api/client.h"
#include "config/config.h"
#include "harness.h"

namespace wasmq::pipelines::testing {
namespace {

TEST(Builtin, RegistryAddsTheThreeModesUnlessTaken) {
  ASSERT_EQ(pipelines::BuiltinModules().size(), 3u);
  worker::PipelineRegistry registry;
  // A module the operator gave for HEAD_SWAP wins over the built-in one.
  const auto& pose = pipelines::BuiltinModules();
  auto it = std::find_if(pose.begin(), pose.end(), [](const auto& b) { return b.mode == "POSE_CHANGE"; });
  ASSERT_NE(it, pose.end());
  auto bytes = std::span(reinterpret_cast<const uint8_t*>(it->bytes.data()), it->bytes.size());
  ASSERT_TRUE(registry.AddBytes("HEAD_SWAP", "/opt/mine.wasm", bytes).ok());
  ASSERT_TRUE(registry.AddBuiltins(pipelines::BuiltinModules()).ok());
  EXPECT_EQ(registry.modes(), (std::vector<std::string>{"BACKGROUND_CHANGE", "HEAD_SWAP", "POSE_CHANGE"}));
  EXPECT_EQ(registry.Find("HEAD_SWAP")->path, "/opt/mine.wasm");
  EXPECT_EQ(registry.Find("BACKGROUND_CHANGE")->path, "builtin:BACKGROUND_CHANGE");
  // Bytes that are not a WASI command are refused with the mode and the name.
  auto bad = registry.AddBytes("X", "builtin:X", std::span<const uint8_t>());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("builtin:X"), std::string::npos) << bad.error().message;
}

TEST(Builtin, ConfigKeepsThemUnlessPipelinesIsGivenEmpty) {
  auto load = [](std::map<std::string, std::string> flags) {
    config::LoadInput in;
    in.flags = std::move(flags);
    in.getenv = [](const std::string&) { return std::optional<std::string>(); };
    in.dotenv_path = "/nonexistent/.env";
    return config::Load(in);
  };
  auto defaults = load({});
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  EXPECT_TRUE(defaults->builtin_pipelines);
  EXPECT_TRUE(defaults->pipelines.empty());
  auto off = load({{"pipelines", ""}});
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_FALSE(off->builtin_pipelines);
}

// Upload a photo, post BACKGROUND_CHANGE, watch it, download the result — against the real binary.
TEST(Builtin, ServeRunsBackgroundChangeOutOfTheBox) {
  TempDir dir;
  const std::string err_path = dir.file("serve.err");
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(dir.file("serve.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1), dup2(err, 2);
    setenv("WASMQ_STORE", ("sqlite:" + dir.file("tasks.db")).c_str(), 1);
    setenv("WASMQ_DATA_DIR", dir.file("data").c_str(), 1);
    setenv("WASMQ_ADDR", "127.0.0.1:0", 1);
    unsetenv("WASMQ_PIPELINES");
    unsetenv("WASMQ_PIPELINES_DIR");
    execl(WASMQ_BINARY, WASMQ_BINARY, "serve", static_cast<char*>(nullptr));
    _exit(127);
  }
  struct Killer {
    pid_t pid;
    ~Killer() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } killer{pid};
  // serve logs its URL once it listens; wait for that line (bounded).
  std::string url;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       url.empty() && std::chrono::steady_clock::now() < deadline;) {
    std::string log = Slurp(err_path);
    if (size_t at = log.find("on http://"); at != std::string::npos && log.find('/', at + 10) != std::string::npos)
      url = log.substr(at + 3, log.find('/', at + 10) - at - 3);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(url.empty()) << Slurp(err_path);
  EXPECT_NE(Slurp(err_path).find("pipeline BACKGROUND_CHANGE = builtin:BACKGROUND_CHANGE"), std::string::npos);

  Image photo(64, 64, {30, 180, 40});
  for (int y = 16; y < 48; ++y)
    for (int x = 16; x < 48; ++x) photo.set(x, y, {220, 30, 30});
  std::ofstream(dir.file("photo.png"), std::ios::binary) << EncodePng(photo);
  api::Client client({.server = url});
  auto file = client.Upload(dir.file("photo.png"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto task = client.Submit({{"mode", "BACKGROUND_CHANGE"},
                             {"source_image", (*file)["file_id"]},
                             {"config", {{"background_color", "#0000ff"}, {"feather", 0}}}});
  ASSERT_TRUE(task.ok()) << task.error().message;
  std::string id = (*task)["task_id"];
  int messages = 0;
  auto watched = client.Watch(id, [&](const Json&) { return ++messages > 0; });
  ASSERT_TRUE(watched.ok()) << watched.error().message;
  auto done = client.Get(id);
  ASSERT_TRUE(done.ok());
  ASSERT_EQ((*done)["status"], "done") << done->dump();
  EXPECT_GE(messages, 1);
  EXPECT_EQ((*done)["progress"], 100);
  EXPECT_EQ((*done)["result"]["output"]["output"], "result.png") << done->dump();
  auto png = client.Fetch("/api/v1/tasks/" + id + "/outputs/result.png");
  ASSERT_TRUE(png.ok()) << png.error().message;
  Image result = DecodeImage(*png);
  ASSERT_EQ(result.w, 64);
  EXPECT_EQ(result.at(2, 2), (Rgb{0, 0, 255}));
  EXPECT_EQ(result.at(32, 32), (Rgb{220, 30, 30}));
}

}  // namespace
}  // namespace wasmq::pipelines::testing
