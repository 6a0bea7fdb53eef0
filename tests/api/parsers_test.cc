// The api part's parsers on their own: query strings, media types, multipart bodies, content types, routes.
#include <gtest/gtest.h>

#include "api/content_type.h"
#include "api/multipart.h"
#include "api/query.h"
#include "api/router.h"
#include "harness.h"

namespace wasmq::api {
namespace {

TEST(Query, DecodesPairsInOrder) {
  auto q = ParseQuery("a=1&b=x%20y&c&&d=e+f&a=2");
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 5u);
  EXPECT_EQ((*q)[1], (std::pair<std::string, std::string>{"b", "x y"}));
  EXPECT_EQ((*q)[2], (std::pair<std::string, std::string>{"c", ""}));
  EXPECT_EQ((*q)[3].second, "e f");
  EXPECT_EQ(QueryValue(*q, "a"), "2");  // the last one wins
  EXPECT_EQ(QueryValue(*q, "z"), std::nullopt);
}

TEST(Query, RefusesBadEscapesNulAndTooManyParameters) {
  EXPECT_FALSE(ParseQuery("a=%").ok());
  EXPECT_FALSE(ParseQuery("a=%4").ok());
  EXPECT_FALSE(ParseQuery("a=%zz").ok());
  EXPECT_FALSE(ParseQuery("a=%00").ok());
  std::string many;
  for (int i = 0; i < 65; ++i) many += "p" + std::to_string(i) + "=1&";
  EXPECT_FALSE(ParseQuery(many).ok());
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(PercentDecode("%2F%2f", false), "//");
}

TEST(MediaType, ParsesTypeAndParameters) {
  auto mt = ParseMediaType(R"(Multipart/Form-Data; boundary="a b\"c"; charset=utf-8)");
  ASSERT_TRUE(mt.ok());
  EXPECT_EQ(mt->type, "multipart/form-data");
  EXPECT_EQ(mt->params["boundary"], "a b\"c");
  EXPECT_EQ(mt->params["charset"], "utf-8");
  EXPECT_TRUE(ParseMediaType("application/json;").ok());
  for (const char* bad : {"", "json", "/json", "application/", "a/b; x", "a/b; x=\"open", "a/b; =1", "a b/c"})
    EXPECT_FALSE(ParseMediaType(bad).ok()) << bad;
}

TEST(Multipart, SplitsPartsAndKeepsBinaryData) {
  std::string data("\x00\r\n--notit\r\n\xff", 14);
  std::string body = "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n"
                     "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
                     "Content-Type: image/png\r\n\r\n" + data + "\r\n--XyZ--\r\nepilogue";
  auto parts = ParseMultipart(body, "XyZ");
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "title");
  EXPECT_EQ((*parts)[0].data, "hello");
  EXPECT_EQ((*parts)[0].content_type, "text/plain");
  EXPECT_EQ((*parts)[1].filename, "a.png");
  EXPECT_EQ((*parts)[1].content_type, "image/png");
  EXPECT_EQ((*parts)[1].data, data);
}

TEST(Multipart, AcceptsBareLineFeedsAndEmptyParts) {
  auto parts = ParseMultipart("--b\nContent-Disposition: form-data; name=x\n\n\n--b--", "b");
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].data, "");
}

TEST(Multipart, RefusesMalformedBodies) {
  const std::string disp = "Content-Disposition: form-data; name=\"f\"\r\n\r\n";
  for (const std::string& body : {
           std::string(""),                                  // nothing
           std::string("--b\r\n") + disp + "data",           // no closing boundary
           std::string("no boundary at all"),                // no opening boundary
           std::string("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--"),  // no disposition
           std::string("--b\r\nContent-Disposition: attachment\r\n\r\nx\r\n--b--"),
           std::string("--b\r\nBroken header line\r\n\r\nx\r\n--b--"),
           std::string("--b\r\n") + disp,                    // headers end, data never closes
           std::string("--bX\r\n") + disp + "x\r\n--b--",   // text after a boundary
           std::string("--b"),                               // truncated
       })
    EXPECT_FALSE(ParseMultipart(body, "b").ok()) << body;
  EXPECT_FALSE(ParseMultipart("--b--", "").ok());
  EXPECT_FALSE(ParseMultipart("--b--", std::string(71, 'b')).ok());
  std::string many;
  for (int i = 0; i < 33; ++i) many += "--b\r\n" + disp + "x\r\n";
  EXPECT_FALSE(ParseMultipart(many + "--b--", "b").ok());
  std::string big_header = "--b\r\nX-Pad: " + std::string(9000, 'a') + "\r\n" + disp + "x\r\n--b--";
  EXPECT_FALSE(ParseMultipart(big_header, "b").ok());
}

TEST(Magic, ServesActiveContentAsAttachment) {
  EXPECT_EQ(ContentTypeForName("x/a.PNG"), "image/png");
  EXPECT_EQ(ContentTypeForName("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeForName("noext"), "application/octet-stream");
  EXPECT_EQ(ContentDisposition("image/png", "dir/a b\".png"), "inline; filename=\"a_b_.png\"");
  EXPECT_EQ(ContentDisposition("text/html; charset=utf-8", "x.html"), "attachment; filename=\"x.html\"");
  EXPECT_EQ(ContentDisposition("image/png", ""), "inline; filename=\"file\"");
}

TEST(Router, MatchesPatternsAndDecodesPlaceholders) {
  auto p = MatchPattern("/api/v1/tasks/{id}", "/api/v1/tasks/task%5F1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->Get("id"), "task_1");
  EXPECT_FALSE(MatchPattern("/api/v1/tasks/{id}", "/api/v1/tasks/"));
  EXPECT_FALSE(MatchPattern("/api/v1/tasks/{id}", "/api/v1/tasks/a/b"));
  EXPECT_FALSE(MatchPattern("/api/v1/tasks/{id}", "/api/v1/tasks/%zz"));
  EXPECT_FALSE(MatchPattern("/a", "a"));
  auto rest = MatchPattern("/t/{id}/outputs/{path...}", "/t/x/outputs/dir/a%20b.png");
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->Get("path"), "dir/a b.png");
  EXPECT_FALSE(MatchPattern("/t/{id}/outputs/{path...}", "/t/x/outputs"));
  EXPECT_FALSE(MatchPattern("/t/{id}/outputs/{path...}", "/t/x/outputs/a//b"));
  EXPECT_FALSE(MatchPattern("/t/{id}/outputs/{path...}", "/t/x/outputs/a%2Fb"));  // no hidden levels
}

TEST(Router, PrefersEarlierRoutesAndReportsAllowedMethods) {
  Router r;
  r.Add({.method = "GET", .pattern = "/tasks/stats"});
  r.Add({.method = "GET", .pattern = "/tasks/{id}"});
  r.Add({.method = "POST", .pattern = "/tasks/{id}/cancel"});
  EXPECT_EQ(r.Find("GET", "/tasks/stats").route->pattern, "/tasks/stats");
  EXPECT_EQ(r.Find("HEAD", "/tasks/x").route->pattern, "/tasks/{id}");
  auto m = r.Find("DELETE", "/tasks/x");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"GET", "HEAD"}));
  EXPECT_TRUE(r.Find("GET", "/nothing").allowed.empty());
}

}  // namespace
}  // namespace wasmq::api
