// Object storage against a real S3-compatible server (s3rver; it checks access keys, not V4 signatures:
// tests/http/aws_sigv4_test.cc does): put, get,
// stat, list and delete; a 20 MiB multipart upload; a presigned URL fetched by plain curl; 503 SlowDown
// retried; s3rver killed mid-upload (the object absent, the error clear); the upload store and the
// workspace on the bucket. And the pure parts: the s3:// URL, the credentials, and the presigned URL
// against the example in the AWS documentation.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "base/digest.h"
#include "fault_proxy.h"
#include "helpers.h"
#include "http/http.h"
#include "s3rver_harness.h"
#include "storage/storage.h"

namespace wasmq::storage {
namespace {

using testing::FaultProxy;
using testing::S3rver;
using testing::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string ReadFd(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// A tiny PNG's first bytes: what the sniffer takes for an image.
const std::string kPng = std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) + std::string(64, 'p');

// ---- Pure parts

// The example "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)" of the Amazon S3
// documentation: GET test.txt of examplebucket, 24 May 2013, valid 86400 s.
TEST(Presign, MatchesTheAwsDocumentationExample) {
  http::AwsSigV4 aws;
  aws.credentials = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
  aws.region = "us-east-1";
  const int64_t when = 1369353600;  // 2013-05-24T00:00:00Z
  const std::string url =
      http::PresignAwsUrl(aws, "GET", "https://examplebucket.s3.amazonaws.com/test.txt", when, 86400);
  EXPECT_EQ(url,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  // Logs never show the signature or the credential.
  EXPECT_EQ(http::RedactUrl(url).find("aeeed9bb"), std::string::npos);
}

TEST(Presign, UriEncodingIsSigV4s) {
  EXPECT_EQ(http::AwsUriEncode("a b/c~d_e.f-g+h=", true), "a%20b/c~d_e.f-g%2Bh%3D");
  EXPECT_EQ(http::AwsUriEncode("a/b", false), "a%2Fb");
}

std::function<std::string(const char*)> Env(std::map<std::string, std::string> m) {
  return [m](const char* k) {
    auto it = m.find(k);
    return it == m.end() ? std::string() : it->second;
  };
}

TEST(S3Url, ParsesBucketPrefixEndpointAndRegion) {
  auto o = ParseS3Url("s3://my-bucket/a/b/?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=eu-west-3",
                      Env({{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SK"}, {"AWS_SESSION_TOKEN", "T"}}));
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->bucket, "my-bucket");
  EXPECT_EQ(o->prefix, "a/b");
  EXPECT_EQ(o->endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(o->region, "eu-west-3");
  EXPECT_EQ(o->access_key, "AK");
  EXPECT_EQ(o->session_token, "T");
  auto plain = ParseS3Url("s3://b", Env({{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SK"},
                                         {"AWS_DEFAULT_REGION", "ap-south-1"}}));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->prefix, "");
  EXPECT_EQ(plain->endpoint, "");
  EXPECT_EQ(plain->region, "ap-south-1");
}

TEST(S3Url, RefusesWhatIsWrongWithoutNamingSecrets) {
  auto env = Env({{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SUPERSECRET"}});
  for (const char* bad : {"s3://", "s3://Upper/x", "s3://b?color=red", "s3://b?endpoint=ftp://x", "http://b"}) {
    auto o = ParseS3Url(bad, env);
    ASSERT_FALSE(o.ok()) << bad;
    EXPECT_EQ(o.error().code, queue::Code::InvalidArgument);
    EXPECT_EQ(o.error().message.find("SUPERSECRET"), std::string::npos);
  }
  auto none = ParseS3Url("s3://b", Env({{"HOME", "/nonexistent"}}));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("AWS_ACCESS_KEY_ID"), std::string::npos);
}

TEST(S3Url, ReadsTheSharedCredentialsFileProfile) {
  TempDir dir;
  std::ofstream(dir.file("credentials")) << "[default]\naws_access_key_id = DEF\naws_secret_access_key = DEFS\n\n"
                                            "[ci]\naws_access_key_id=CIK\naws_secret_access_key=CIS\n"
                                            "aws_session_token=CIT\nregion=us-west-2\n";
  auto o = ParseS3Url("s3://b", Env({{"AWS_SHARED_CREDENTIALS_FILE", dir.file("credentials")}, {"AWS_PROFILE", "ci"}}));
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->access_key, "CIK");
  EXPECT_EQ(o->secret_key, "CIS");
  EXPECT_EQ(o->session_token, "CIT");
  EXPECT_EQ(o->region, "us-west-2");
  std::filesystem::create_directories(dir.file(".aws"));
  std::filesystem::copy_file(dir.file("credentials"), dir.file(".aws/credentials"));
  auto home = ParseS3Url("s3://b", Env({{"HOME", dir.str()}, {"AWS_REGION", "eu-north-1"}}));
  ASSERT_TRUE(home.ok()) << home.error().message;
  EXPECT_EQ(home->access_key, "DEF");
  EXPECT_EQ(home->region, "eu-north-1");
}

// ---- Against s3rver

class S3Test : public ::testing::Test {
 protected:
  void SetUp() override {
    s3_ = S3rver::Start("wasmq-test");
    ASSERT_NE(s3_, nullptr) << S3rver::last_error();
  }
  std::shared_ptr<ObjectStore> Bucket(const std::string& prefix = "t", uint64_t part_size = 5u << 20) {
    S3Options o = s3_->Options(prefix);
    o.part_size = part_size;
    o.spool_dir = tmp_.str();
    return OpenS3(o);
  }
  std::unique_ptr<S3rver> s3_;
  TempDir tmp_;
};

TEST_F(S3Test, PutGetStatListDelete) {
  auto bucket = Bucket("pre/fix");
  ASSERT_TRUE(bucket->PutBytes("a/one.txt", "hello, bucket", "text/plain").ok());
  ASSERT_TRUE(bucket->PutBytes("a/two bytes.bin", std::string("\0\1", 2)).ok());
  ASSERT_TRUE(bucket->PutBytes("b/empty", "").ok());

  auto size = bucket->Head("a/one.txt");
  ASSERT_TRUE(size.ok()) << size.error().message;
  EXPECT_EQ(*size, 13u);
  EXPECT_EQ(*bucket->GetBytes("a/one.txt", 5), "hello");
  EXPECT_EQ(*bucket->GetBytes("a/one.txt", 1000), "hello, bucket");
  auto f = bucket->Get("a/two bytes.bin");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->size, 2u);
  EXPECT_EQ(ReadFd(f->fd.get()), std::string("\0\1", 2));
  ASSERT_TRUE(bucket->GetToFile("a/one.txt", tmp_.file("one")).ok());
  EXPECT_EQ(Slurp(tmp_.file("one")), "hello, bucket");

  auto keys = bucket->List("a/");
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_EQ(*keys, (std::vector<std::string>{"a/one.txt", "a/two bytes.bin"}));
  EXPECT_EQ(bucket->List("")->size(), 3u);
  // Below another prefix, nothing of ours.
  EXPECT_TRUE(Bucket("other")->List("")->empty());

  auto missing = bucket->Head("a/none");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, queue::Code::NotFound);
  EXPECT_EQ(bucket->Get("a/none").error().code, queue::Code::NotFound);
  EXPECT_FALSE(std::filesystem::exists(tmp_.file("none")));
  EXPECT_FALSE(bucket->GetToFile("a/none", tmp_.file("none")).ok());
  EXPECT_FALSE(std::filesystem::exists(tmp_.file("none")));

  ASSERT_TRUE(bucket->Delete("a/one.txt").ok());
  ASSERT_TRUE(bucket->Delete("a/one.txt").ok());  // absent: fine
  EXPECT_EQ(*bucket->List("a/"), std::vector<std::string>{"a/two bytes.bin"});
}

// s3rver checks the access key (not V4 signatures: tests/http/aws_sigv4_test.cc verifies those).
TEST_F(S3Test, UnknownAccessKeyIsRefused) {
  S3Options o = s3_->Options("t");
  o.access_key = "NOBODY";
  o.secret_key = "not-the-key";
  auto r = OpenS3(o)->PutBytes("x", "y");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("HTTP 403 InvalidAccessKeyId"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("not-the-key"), std::string::npos);
}

TEST_F(S3Test, MultipartUploadOfTwentyMiB) {
  const std::string data = RandomBytes(20u << 20, 7);
  std::ofstream(tmp_.file("big.bin"), std::ios::binary) << data;
  auto bucket = Bucket("t", 5u << 20);  // four parts
  ASSERT_TRUE(bucket->PutFile("big/file.bin", tmp_.file("big.bin")).ok());
  EXPECT_EQ(*bucket->Head("big/file.bin"), data.size());
  ASSERT_TRUE(bucket->GetToFile("big/file.bin", tmp_.file("back.bin")).ok());
  EXPECT_EQ(base::Sha256Hex(Slurp(tmp_.file("back.bin"))), base::Sha256Hex(data));
  // From memory too (the API's uploads), in 5 MiB + 1 byte parts' worth.
  const std::string six = RandomBytes((6u << 20) + 1, 8);
  ASSERT_TRUE(bucket->PutBytes("big/mem.bin", six).ok());
  EXPECT_EQ(base::Sha256Hex(ReadFd(bucket->Get("big/mem.bin")->fd.get())), base::Sha256Hex(six));
}

TEST_F(S3Test, PresignedUrlIsFetchedByPlainCurl) {
  auto bucket = Bucket("p");
  ASSERT_TRUE(bucket->PutBytes("tasks/t1/out-1/result.png", kPng, "image/png").ok());
  const std::string url = bucket->PresignGet("tasks/t1/out-1/result.png", std::chrono::seconds(60), "image/png",
                                             "attachment; filename=\"result.png\"");
  EXPECT_NE(url.find("X-Amz-Signature="), std::string::npos);
  const std::string out = tmp_.file("fetched"), headers = tmp_.file("headers");
  std::string cmd = "curl -s -f -D '" + headers + "' -o '" + out + "' '" + url + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_EQ(Slurp(out), kPng);
  EXPECT_NE(Slurp(headers).find("filename=\"result.png\""), std::string::npos) << Slurp(headers);
  // The signature itself is checked against the AWS documentation's example (Presign.*): s3rver does not
  // verify V4 signatures, only the access key.
  std::string stranger = url;
  stranger.replace(stranger.find("Credential=S3RVER"), 17, "Credential=NOBODY");
  cmd = "curl -s -f -o /dev/null '" + stranger + "'";
  EXPECT_NE(std::system(cmd.c_str()), 0);
}

TEST_F(S3Test, SlowDownIsRetried) {
  FaultProxy proxy(s3_->port());
  S3Options o = s3_->Options("t");
  o.endpoint = proxy.endpoint();
  o.retries = 3;
  auto bucket = OpenS3(o);
  proxy.SlowDownNext(2);
  ASSERT_TRUE(bucket->PutBytes("x", "after two 503s").ok());
  EXPECT_EQ(proxy.slowed_down(), 2);
  proxy.SlowDownNext(1);
  EXPECT_EQ(*bucket->GetBytes("x", 100), "after two 503s");
  EXPECT_EQ(proxy.slowed_down(), 3);
  // More throttling than retries: the error says so.
  proxy.SlowDownNext(10);
  auto r = bucket->PutBytes("y", "never");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("503 SlowDown"), std::string::npos) << r.error().message;
  EXPECT_EQ(proxy.slowed_down(), 7);  // the first try and three retries
  proxy.SlowDownNext(0);
  EXPECT_EQ(bucket->Head("y").error().code, queue::Code::NotFound);
}

// s3rver killed (SIGKILL) while a 20 MiB multipart upload is under way: the upload fails with an error that
// says what happened, and after a restart the object is absent — not half there.
TEST_F(S3Test, StoreKilledMidUploadLeavesNothingVisible) {
  const std::string data = RandomBytes(20u << 20, 9);
  std::ofstream(tmp_.file("big.bin"), std::ios::binary) << data;
  FaultProxy proxy(s3_->port());
  S3Options o = s3_->Options("t");
  o.endpoint = proxy.endpoint();
  o.part_size = 5u << 20;
  o.retries = 2;
  auto bucket = OpenS3(o);
  proxy.OnSentBytes(8u << 20, [this] { s3_->Kill(); });  // in the second part
  auto r = bucket->PutFile("big/killed.bin", tmp_.file("big.bin"));
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("upload of big/killed.bin failed, aborted (nothing stored)"), std::string::npos) << m;
  EXPECT_NE(m.find("part 2/4"), std::string::npos) << m;
  EXPECT_EQ(r.error().code, queue::Code::Unavailable);

  ASSERT_TRUE(s3_->Restart()) << S3rver::last_error();
  auto direct = Bucket("t");
  EXPECT_EQ(direct->Head("big/killed.bin").error().code, queue::Code::NotFound);
  EXPECT_TRUE(direct->List("big/")->empty());
  // The store works again: the same upload now succeeds.
  ASSERT_TRUE(direct->PutFile("big/killed.bin", tmp_.file("big.bin")).ok());
  EXPECT_EQ(*direct->Head("big/killed.bin"), data.size());
}

TEST_F(S3Test, UploadStoreOnTheBucket) {
  auto bucket = Bucket("u");
  auto files = NewObjectUploadStore(bucket);
  FileInfo info;
  info.owner = "alice";
  info.content_type = "image/png";
  info.filename = "me.png";
  auto put = files->Put(info, kPng);
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_TRUE(IsFileIdShape(put->file_id));
  EXPECT_EQ(put->sha256, base::Sha256Hex(kPng));
  // Bytes and metadata, the metadata last.
  EXPECT_EQ(*bucket->List("files/"),
            (std::vector<std::string>{"files/" + put->file_id, "files/" + put->file_id + ".json"}));

  auto st = files->Stat(put->file_id);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(st->owner, "alice");
  EXPECT_EQ(st->size, kPng.size());
  EXPECT_EQ(st->filename, "me.png");
  auto open = files->Open(put->file_id);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(ReadFd(open->fd.get()), kPng);
  EXPECT_EQ(*files->ReadHead(put->file_id, 8), kPng.substr(0, 8));
  ASSERT_TRUE(files->CopyTo(put->file_id, tmp_.file("staged")).ok());
  EXPECT_EQ(Slurp(tmp_.file("staged")), kPng);

  EXPECT_EQ(files->Stat("img_missing").error().code, queue::Code::NotFound);
  EXPECT_EQ(files->Stat("../etc").error().code, queue::Code::NotFound);
  EXPECT_EQ(files->Open("img_missing").error().code, queue::Code::NotFound);
  // Bytes without metadata (a Put cut short) are no file.
  ASSERT_TRUE(bucket->PutBytes("files/img_half", kPng).ok());
  EXPECT_EQ(files->Stat("img_half").error().code, queue::Code::NotFound);
}

TEST_F(S3Test, WorkspaceStagesFromAndPublishesToTheBucket) {
  auto bucket = Bucket("w");
  auto files = NewObjectUploadStore(bucket);
  FileInfo info;
  info.owner = "bob";
  info.content_type = "image/png";
  auto up = files->Put(info, kPng);
  ASSERT_TRUE(up.ok());
  TempDir data;
  Workspace ws(data.str(), "local", files, bucket);
  ASSERT_TRUE(ws.Init(1, [](const std::string&) { return false; }).ok());
  queue::TaskInfo task;
  task.task_id = "task_s3_1";
  task.user_id = "bob";
  task.source_image = up->file_id;
  auto dirs = ws.Prepare(task, 0);
  ASSERT_TRUE(dirs.ok()) << dirs.error().message;
  EXPECT_EQ(Slurp(dirs->in + "/source.png"), kPng);
  // Another user's upload is not staged.
  queue::TaskInfo foreign = task;
  foreign.user_id = "eve";
  EXPECT_EQ(ws.Prepare(foreign, 0).error().code, queue::Code::InvalidArgument);

  std::ofstream(dirs->out + "/result.png") << "result";
  std::filesystem::create_directories(dirs->out + "/sub");
  std::ofstream(dirs->out + "/sub/log.txt") << "log";
  auto kept = ws.KeepOutputs(task, *dirs, 42);
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_EQ(kept->dir, "out-42");
  EXPECT_EQ(*bucket->List("tasks/task_s3_1/"),
            (std::vector<std::string>{"tasks/task_s3_1/out-42/result.png", "tasks/task_s3_1/out-42/sub/log.txt"}));
  EXPECT_EQ(TaskOutputKey("task_s3_1", "out-42", "result.png"), "tasks/task_s3_1/out-42/result.png");
  EXPECT_EQ(*bucket->GetBytes(TaskOutputKey("task_s3_1", "out-42", "sub/log.txt"), 100), "log");

  // A second attempt's outputs, then the first is accepted: the other is pruned, in the bucket too.
  auto dirs2 = ws.Prepare(task, 0);
  std::ofstream(dirs2->out + "/late.png") << "late";
  ASSERT_TRUE(ws.KeepOutputs(task, *dirs2, 43).ok());
  ws.PruneOutputs(task.task_id, "out-42");
  EXPECT_EQ(bucket->List("tasks/task_s3_1/out-43/")->size(), 0u);
  EXPECT_EQ(bucket->List("tasks/task_s3_1/out-42/")->size(), 2u);
  ws.Remove(task.task_id);
  EXPECT_TRUE(bucket->List("tasks/task_s3_1/")->empty());
  ws.Close();
}

}  // namespace
}  // namespace wasmq::storage
