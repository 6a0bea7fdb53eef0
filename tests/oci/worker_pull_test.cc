// File: tests/oci/worker_pull_test.cc
//
// The worker's PipelineRegistry takes a module by OCI reference: pulled through the cache at Load(), and
// from the cache alone when offline with the registry gone.
#include <gtest/gtest.h>

#include "oci/oci.h"
#include "registry_harness.h"
#include "test_modules.h"
#include "config/config.h"
#include "worker/registry.h"

namespace wasmq::oci {
namespace {

using ocitest::RegistryServer;
using ocitest::TempDir;

TEST(WorkerPull, PipelineByReferenceThroughTheCache) {
  TempDir dir;
  auto reg = RegistryServer::StartAnonymous();
  ASSERT_TRUE(reg) << RegistryServer::last_error();
  std::string ref = reg->host() + "/pipelines/bg:v1";
  PushOptions po;
  po.client.credentials.use_env = false;
  ASSERT_TRUE(Push(ocitest::CommandModule("worker"), ref, po));

  worker::OciSource source;
  source.cache_dir = dir.file("cache");
  {
    worker::PipelineRegistry registry;
    registry.SetOci(source);
    auto r = registry.Load({{"BACKGROUND_CHANGE", ref}});
    ASSERT_TRUE(r) << r.error().message;
    const worker::Pipeline* p = registry.Find("BACKGROUND_CHANGE");
    ASSERT_NE(p, nullptr);
    EXPECT_NE(p->path.find(ref), std::string::npos) << p->path;
  }
  reg->Kill();
  {
    worker::PipelineRegistry online;  // the registry is gone and offline is off: a clear error
    online.SetOci(source);
    auto r = online.Load({{"BACKGROUND_CHANGE", ref}});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("network"), std::string::npos) << r.error().message;
  }
  source.offline = true;
  worker::PipelineRegistry offline;
  offline.SetOci(source);
  auto r = offline.Load({{"BACKGROUND_CHANGE", "oci://" + ref}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NE(offline.Find("BACKGROUND_CHANGE"), nullptr);
  auto missing = offline.Load({{"POSE_CHANGE", reg->host() + "/pipelines/pose:v1"}});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("not-cached"), std::string::npos) << missing.error().message;
}

TEST(WorkerPull, TaskModulesOnlyUnderAllowedPrefixes) {
  TempDir dir;
  auto reg = RegistryServer::StartAnonymous();
  ASSERT_TRUE(reg) << RegistryServer::last_error();
  std::string ref = reg->host() + "/tasks/custom:v1";
  PushOptions po;
  po.client.credentials.use_env = false;
  ASSERT_TRUE(Push(ocitest::CommandModule("custom"), ref, po));

  worker::OciSource source;
  source.cache_dir = dir.file("cache");
  {
    worker::PipelineRegistry closed;  // no --task-modules: tasks cannot choose code
    closed.SetOci(source);
    auto r = closed.TaskModule(ref);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, queue::Code::InvalidArgument);
    EXPECT_NE(r.error().message.find("--task-modules"), std::string::npos) << r.error().message;
  }
  source.task_module_prefixes = {reg->host() + "/tasks/"};
  worker::PipelineRegistry registry;
  registry.SetOci(source);
  auto first = registry.TaskModule("oci://" + ref);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_NE(*first, nullptr);
  auto outside = registry.TaskModule(reg->host() + "/other/custom:v1");
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code, queue::Code::InvalidArgument) << outside.error().message;
  EXPECT_FALSE(registry.TaskModule("not a reference!"));
  auto absent = registry.TaskModule(reg->host() + "/tasks/absent:v1");
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code, queue::Code::NotFound) << absent.error().message;  // no retry can help

  reg->Kill();  // known modules stay compiled for the process; unknown ones now fail as retryable
  auto again = registry.TaskModule(ref);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->get(), first->get());
  auto gone = registry.TaskModule(reg->host() + "/tasks/other:v1");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, queue::Code::Unavailable);
  EXPECT_NE(gone.error().message.find("network"), std::string::npos) << gone.error().message;
}

TEST(WorkerPull, ConfigSettingsForReferences) {
  TempDir dir;
  auto no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  config::LoadInput in;
  in.getenv = no_env;
  in.dotenv_path = dir.file("none.env");
  in.flags = {{"pipelines", "HEAD_SWAP=127.0.0.1:5000/formy/head:v1,POSE_CHANGE=oci://ghcr.io/formy/pose"},
              {"cache-dir", dir.file("c")},
              {"offline", "on"},
              {"insecure-registries", "reg.lan:5000,edge.lan"},
              {"k8s-secret", dir.Write("secret.yaml", "kind: Secret\n")},
              {"task-modules", "reg.lan:5000/pipelines/,ghcr.io/formy/"}};
  auto c = config::Load(in);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->pipelines.at("HEAD_SWAP"), "127.0.0.1:5000/formy/head:v1");
  EXPECT_EQ(c->pipelines.at("POSE_CHANGE"), "oci://ghcr.io/formy/pose");
  EXPECT_EQ(c->cache_dir, dir.file("c"));
  EXPECT_TRUE(c->offline);
  EXPECT_EQ(c->insecure_registries, (std::vector<std::string>{"reg.lan:5000", "edge.lan"}));
  EXPECT_EQ(c->task_modules, (std::vector<std::string>{"reg.lan:5000/pipelines/", "ghcr.io/formy/"}));
  in.flags = {{"offline", "maybe"}};
  auto bad = config::Load(in);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("offline"), std::string::npos) << bad.error().message;
  in.flags = {{"pipelines", "HEAD_SWAP=missing/file.wasm"}};
  EXPECT_FALSE(config::Load(in)) << "a .wasm path that does not exist is still an error";
}

}  // namespace
}  // namespace wasmq::oci
