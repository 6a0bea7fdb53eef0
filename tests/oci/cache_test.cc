// File: tests/oci/cache_test.cc
//
// The content-addressed cache: verified writes, corruption detection, the ref index, gc.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "oci/oci.h"
#include "registry_harness.h"
#include "test_modules.h"

namespace wasmq::oci {
namespace {

using ocitest::TempDir;

TEST(Cache, PutVerifiesAndReadDetectsCorruption) {
  TempDir dir;
  Cache cache(dir.str());
  std::string bytes = ocitest::CommandModule("c");
  std::string d = Sha256Digest(bytes);
  auto wrong = cache.PutBlob("sha256:" + std::string(64, '0'), bytes);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind, ErrorKind::DigestMismatch);
  EXPECT_FALSE(cache.HasBlob("sha256:" + std::string(64, '0')));
  ASSERT_TRUE(cache.PutBlob(d, bytes));
  EXPECT_TRUE(cache.HasBlob(d));
  EXPECT_EQ(cache.BlobPath(d), dir.str() + "/blobs/sha256/" + d.substr(7));
  EXPECT_EQ(*cache.ReadBlob(d), bytes);
  std::ofstream(cache.BlobPath(d), std::ios::binary) << "tampered";
  auto r = cache.ReadBlob(d);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::DigestMismatch);
  EXPECT_FALSE(cache.HasBlob(d)) << "a corrupt blob is removed";
  EXPECT_EQ(cache.ReadBlob(d).error().kind, ErrorKind::NotCached);
}

TEST(Cache, IndexRecordsLooksUpAndLists) {
  TempDir dir;
  Cache cache(dir.str());
  CacheEntry e;
  e.ref = "127.0.0.1:5000/app:v1";
  e.manifest_digest = "sha256:" + std::string(64, '1');
  e.module_digest = "sha256:" + std::string(64, '2');
  e.size = 42;
  e.layout = "cncf";
  ASSERT_TRUE(cache.Record(e));
  auto got = cache.Lookup(e.ref);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->module_digest, e.module_digest);
  EXPECT_EQ(got->size, 42);
  EXPECT_GT(got->last_used, 0);
  EXPECT_FALSE(cache.Lookup("127.0.0.1:5000/app:v2"));
  EXPECT_EQ(cache.List().size(), 1u);
  // A second Cache on the same directory (another process) sees it.
  EXPECT_TRUE(Cache(dir.str()).Lookup(e.ref));
}

TEST(Cache, GcDropsUnreferencedBlobsAndOldRefs) {
  TempDir dir;
  Cache cache(dir.str());
  std::string kept = ocitest::CommandModule("kept"), orphan = ocitest::CommandModule("orphan"),
              old = ocitest::CommandModule("old");
  for (const auto& b : {kept, orphan, old}) ASSERT_TRUE(cache.PutBlob(Sha256Digest(b), b));
  CacheEntry e;
  e.ref = "r/kept:1";
  e.module_digest = Sha256Digest(kept);
  ASSERT_TRUE(cache.Record(e));
  e.ref = "r/old:1";
  e.module_digest = Sha256Digest(old);
  ASSERT_TRUE(cache.Record(e));
  std::filesystem::create_directories(dir.str() + "/tmp");
  std::ofstream(dir.str() + "/tmp/x.partial") << "partial";

  GcOptions dry;
  dry.dry_run = true;
  auto d = cache.Gc(dry);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->removed_blobs.size(), 2u);  // the orphan and the partial download
  EXPECT_TRUE(cache.HasBlob(Sha256Digest(orphan)));

  auto r = cache.Gc({});
  ASSERT_TRUE(r);
  EXPECT_FALSE(cache.HasBlob(Sha256Digest(orphan)));
  EXPECT_TRUE(cache.HasBlob(Sha256Digest(kept)));
  EXPECT_TRUE(cache.HasBlob(Sha256Digest(old)));
  EXPECT_GT(r->bytes_freed, 0);

  GcOptions aged;
  aged.older_than_seconds = 0;  // every ref counts as old once a second has passed; force by editing
  {
    std::ifstream in(dir.str() + "/index.json");
    auto j = nlohmann::json::parse(in);
    j["refs"]["r/old:1"]["last_used"] = 1;
    std::ofstream(dir.str() + "/index.json") << j.dump();
  }
  aged.older_than_seconds = 3600;
  auto a = cache.Gc(aged);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->removed_refs, std::vector<std::string>{"r/old:1"});
  EXPECT_FALSE(cache.HasBlob(Sha256Digest(old)));
  EXPECT_TRUE(cache.HasBlob(Sha256Digest(kept)));
}

TEST(Cache, DefaultDirHonoursEnvironment) {
  const char* saved = std::getenv("WASMQ_CACHE_DIR");
  setenv("WASMQ_CACHE_DIR", "/tmp/wasmq-cache-test-dir", 1);
  EXPECT_EQ(Cache::DefaultDir(), "/tmp/wasmq-cache-test-dir");
  if (saved) setenv("WASMQ_CACHE_DIR", saved, 1);
  else unsetenv("WASMQ_CACHE_DIR");
}

}  // namespace
}  // namespace wasmq::oci
