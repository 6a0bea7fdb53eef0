// Issue 17, the API's side: what one request, one unauthenticated client or one user can do to the server
// or to another user. Each test reproduces a hole found by the review and the black-box probe.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.h"

namespace wasmq::api::testing {
namespace {

using namespace std::chrono_literals;

// ---- One request must not kill the server

// 70 000 '[' (140 KB, under the 1 MiB body limit) parsed, then serialised to preview it: a stack overflow
// that took the whole process down.
TEST_F(ApiTest, DeeplyNestedJsonIs400AndTheServerSurvives) {
  StartServer();
  const int kDepth = 70'000;
  std::string arrays = std::string(kDepth, '[') + std::string(kDepth, ']');
  for (const std::string& body :
       {arrays, std::string(kDepth, '['), R"({"mode":"HEAD_SWAP","config":{"a":)" + arrays + "}}",
        R"({"mode":"HEAD_SWAP","priority":)" + arrays + "}"}) {
    HttpReply r = Http(port(), "POST", "/api/v1/tasks", body, {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 400) << r.body.substr(0, 200);
    EXPECT_EQ(r.error_code(), "MALFORMED_JSON");
    EXPECT_NE(r.body.find("nested deeper than 64 levels"), std::string::npos) << r.body.substr(0, 200);
  }
  EXPECT_EQ(Get("/healthz").status, 200);
  // 64 levels are still a task's config.
  std::string ok =
      R"({"mode":"HEAD_SWAP","config":{"a":)" + std::string(62, '[') + std::string(62, ']') + "}}";
  EXPECT_EQ(Http(port(), "POST", "/api/v1/tasks", ok, {{"Content-Type", "application/json"}}).status, 201);
}

}  // namespace
}  // namespace wasmq::api::testing
