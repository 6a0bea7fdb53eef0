// /api/v1/files against the real server: uploads as multipart and raw bodies, downloads, metadata, and every
// refusal (type by magic bytes, size limit, malformed multipart).
#include <fstream>

#include "harness.h"

namespace wasmq::api::testing {
namespace {

class FilesTest : public ApiTest {
 protected:
  void SetUp() override { StartServer({.max_upload_bytes = 4096}); }
  HttpReply PostFile(const std::string& body, const std::string& type, Headers extra = {}) {
    extra.emplace_back("Content-Type", type);
    return Http(port(), "POST", "/api/v1/files", body, extra);
  }
};

TEST_F(FilesTest, MultipartUploadStoresTheImage) {
  std::string png = PngBytes(100);
  HttpReply r = PostFile(Multipart("BOUND", "file", "me.png", "image/png", png), "multipart/form-data; boundary=BOUND");
  ASSERT_EQ(r.status, 201) << r.body;
  Json f = r.json()["data"];
  std::string id = f["file_id"];
  EXPECT_TRUE(id.starts_with("img_"));
  EXPECT_EQ(f["size"], png.size());
  EXPECT_EQ(f["content_type"], "image/png");
  EXPECT_EQ(f["sha256"], Sha256Hex(png));
  EXPECT_EQ(f["filename"], "me.png");
  EXPECT_EQ(r.header("location"), "/api/v1/files/" + id);
  // Where a worker stages it from: FILES_DIR/<id>, the bytes exactly.
  std::ifstream in(std::filesystem::path(config_.files_dir) / id, std::ios::binary);
  std::string stored((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(stored, png);
}

TEST_F(FilesTest, RawUploadsAreTypedByTheirBytes) {
  HttpReply r = PostFile(JpegBytes(), "application/octet-stream", {{"Content-Disposition", "inline; filename=\"x.jpg\""}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["data"]["content_type"], "image/jpeg");
  EXPECT_EQ(r.json()["data"]["filename"], "x.jpg");
  r = PostFile(WebpBytes(), "image/png");  // the claim is wrong; the bytes decide
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(r.json()["data"]["content_type"], "image/webp");
}

TEST_F(FilesTest, DownloadServesTheBytesWithAnETag) {
  std::string png = PngBytes(10);
  std::string id = PostFile(png, "image/png").json()["data"]["file_id"];
  HttpReply r = Get("/api/v1/files/" + id);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, png);
  EXPECT_EQ(r.header("content-type"), "image/png");
  EXPECT_EQ(r.header("etag"), "\"" + Sha256Hex(png) + "\"");
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(Http(port(), "GET", "/api/v1/files/" + id, "", {{"If-None-Match", r.header("etag")}}).status, 304);
  HttpReply head = Http(port(), "HEAD", "/api/v1/files/" + id);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), std::to_string(png.size()));
  HttpReply info = Get("/api/v1/files/" + id + "/info");
  ASSERT_EQ(info.status, 200);
  EXPECT_EQ(info.json()["data"]["sha256"], Sha256Hex(png));
  for (std::string missing : {"img_20230101_nothere", "img_..", "nothing", "img_a%2F..%2F..%2Ftasks.db"}) {
    EXPECT_EQ(Get("/api/v1/files/" + missing).status, 404) << missing;
    EXPECT_EQ(Get("/api/v1/files/" + missing + "/info").status, 404) << missing;
  }
}

TEST_F(FilesTest, RefusesWhatIsNotAnImage) {
  HttpReply r = PostFile("<html>hello</html>", "image/png");
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(r.error_code(), "UNSUPPORTED_MEDIA_TYPE");
  EXPECT_EQ(PostFile(Multipart("b", "file", "x.png", "image/png", "MZ\x90"), "multipart/form-data; boundary=b").status, 415);
  EXPECT_EQ(PostFile(PngBytes(), "text/plain").status, 415);
  EXPECT_EQ(PostFile(PngBytes(), "not a type").status, 415);
  r = PostFile("", "image/png");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.error_code(), "VALIDATION_FAILED");
}

TEST_F(FilesTest, RefusesMalformedMultipart) {
  HttpReply r = PostFile("--b\r\nno headers end", "multipart/form-data; boundary=b");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_code(), "BAD_REQUEST");
  EXPECT_EQ(PostFile("whatever", "multipart/form-data").status, 400);  // no boundary
  std::string text_only = "--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhi\r\n--b--\r\n";
  r = PostFile(text_only, "multipart/form-data; boundary=b");
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("no file part"), std::string::npos);
}

TEST_F(FilesTest, EnforcesTheSizeLimit) {
  HttpReply r = PostFile(PngBytes(5000), "image/png");  // limit 4096
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.error_code(), "PAYLOAD_TOO_LARGE");
  r = PostFile(Multipart("b", "file", "x.png", "image/png", PngBytes(5000)), "multipart/form-data; boundary=b");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(PostFile(PngBytes(4096 - 8), "image/png").status, 201);  // exactly at the limit
  // Far past the limit: refused from the Content-Length alone, before the body is read; with
  // Expect: 100-continue the client is told not to send it at all.
  std::string answer = Raw(port(), "POST /api/v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                                   "Content-Length: 999999999\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(RawStatus(answer), 413) << answer;
  EXPECT_EQ(answer.find("100 Continue"), std::string::npos);
}

TEST_F(FilesTest, ExpectContinueIsAnsweredForAcceptableBodies) {
  std::string png = PngBytes(10);
  std::string head = "POST /api/v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nConnection: close\r\n"
                     "Content-Length: " + std::to_string(png.size()) + "\r\nExpect: 100-continue\r\n\r\n";
  std::string answer = Raw(port(), head + png);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201")) << answer;
}

}  // namespace
}  // namespace wasmq::api::testing
