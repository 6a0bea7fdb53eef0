// AWS SigV4 as libcurl computes it for http::Request::aws_sigv4, checked by an independent verifier: the
// test server records each request, and the test recomputes the signature from what arrived (the method,
// path, query, every header the request says it signed, the payload hash) the way the AWS documentation
// defines it, then compares. s3rver, the object storage tests' server, does not check V4 signatures, so
// this is where a signature S3 would refuse is caught (libcurl 7.88 signed an "Expect:" it did not send).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "base/digest.h"
#include "base/encoding.h"
#include "engines/http_server.h"
#include "http/http.h"

namespace wasmq::http {
namespace {

using engines::testing::HttpReply;
using engines::testing::HttpReq;
using engines::testing::TestServer;

const AwsCredentials kKeys{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "SESSION/TOKEN+="};

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  return out;
}

// "" when the request's Authorization verifies under `secret`; else what is wrong.
std::string Verify(const HttpReq& r, const std::string& secret) {
  auto auth = r.headers.find("authorization");
  if (auth == r.headers.end()) return "no Authorization";
  const std::string& a = auth->second;
  if (!a.starts_with("AWS4-HMAC-SHA256 ")) return "not SigV4: " + a;
  auto field = [&](const std::string& name) {
    size_t at = a.find(name + "=");
    if (at == std::string::npos) return std::string();
    at += name.size() + 1;
    return a.substr(at, a.find_first_of(", ", at) - at);
  };
  const std::string credential = field("Credential"), signed_headers = field("SignedHeaders"),
                    signature = field("Signature");
  const std::vector<std::string> scope = Split(credential, '/');  // key/date/region/service/aws4_request
  if (scope.size() != 5) return "bad Credential " + credential;
  std::string canonical_headers;
  for (const std::string& h : Split(signed_headers, ';')) {
    auto it = r.headers.find(h);
    if (it == r.headers.end()) return "signed header " + h + " was not sent";
    canonical_headers += h + ":" + std::string(it->second) + "\n";
  }
  // The query as sent, its pairs sorted (the client sends them encoded).
  std::vector<std::string> pairs = Split(r.query(), '&');
  for (std::string& p : pairs)
    if (p.find('=') == std::string::npos) p += "=";
  std::sort(pairs.begin(), pairs.end());
  std::string query;
  for (const std::string& p : pairs) query += (query.empty() ? "" : "&") + p;
  const std::string payload = r.headers.count("x-amz-content-sha256") ? r.headers.at("x-amz-content-sha256") : "";
  if (payload != "UNSIGNED-PAYLOAD" && payload != base::Sha256Hex(r.body)) return "payload hash " + payload;
  const std::string canonical = r.method + "\n" + r.path() + "\n" + query + "\n" + canonical_headers + "\n" +
                                signed_headers + "\n" + payload;
  const std::string to_sign = "AWS4-HMAC-SHA256\n" + r.headers.at("x-amz-date") + "\n" + scope[1] + "/" +
                              scope[2] + "/" + scope[3] + "/aws4_request\n" + base::Sha256Hex(canonical);
  std::string key = base::HmacSha256("AWS4" + secret, scope[1]);
  for (const std::string& part : {scope[2], scope[3], std::string("aws4_request")}) key = base::HmacSha256(key, part);
  const std::string expected = base::HexEncode(base::HmacSha256(key, to_sign));
  return expected == signature ? "" : "signature mismatch; canonical request:\n" + canonical;
}

class AwsSigV4Test : public ::testing::Test {
 protected:
  AwsSigV4Test()
      : server_([](const HttpReq&) { return HttpReply{200, "application/xml", "<ok/>"}; }) {
    sig_.credentials = kKeys;
    sig_.region = "eu-west-3";
  }
  HttpReq Last() { return server_.requests().back(); }
  std::string Url(const std::string& rest) { return server_.url() + rest; }

  TestServer server_;
  AwsSigV4 sig_;
  Client client_;
};

TEST_F(AwsSigV4Test, InMemoryBodyIsSignedWithItsHashAndTheToken) {
  Request req;
  req.method = "PUT";
  req.url = Url("/bucket/a/b%20c.txt");
  req.headers = {"Content-Type: text/plain"};
  req.body = "hello, signed world";
  req.aws_sigv4 = &sig_;
  Response r = client_.Send(req);
  ASSERT_FALSE(r.error) << r.error.reason;
  const HttpReq got = Last();
  EXPECT_EQ(Verify(got, kKeys.secret_key), "");
  EXPECT_NE(Verify(got, "another secret"), "");
  EXPECT_EQ(got.headers.at("x-amz-content-sha256"), base::Sha256Hex("hello, signed world"));
  EXPECT_EQ(got.headers.at("x-amz-security-token"), kKeys.session_token);
  const std::string& auth = got.headers.at("authorization");
  EXPECT_NE(auth.find("Credential=AKIDEXAMPLE/"), std::string::npos);
  EXPECT_NE(auth.find("/eu-west-3/s3/aws4_request"), std::string::npos);
  EXPECT_NE(auth.find("x-amz-security-token"), std::string::npos);
  EXPECT_EQ(auth.find("expect"), std::string::npos) << auth;
}

TEST_F(AwsSigV4Test, StreamedBodyIsUnsignedPayloadAndStillVerifies) {
  const std::string body(2u << 20, 'z');  // large enough for libcurl's Expect: 100-continue
  Request req;
  req.method = "PUT";
  req.url = Url("/bucket/big?partNumber=2&uploadId=abc%2Fdef");
  req.body_reader = {static_cast<int64_t>(body.size()), [&](int64_t off, char* buf, size_t max) {
                       const size_t n = std::min(max, body.size() - static_cast<size_t>(off));
                       std::memcpy(buf, body.data() + off, n);
                       return n;
                     }};
  req.aws_sigv4 = &sig_;
  Response r = client_.Send(req);
  ASSERT_FALSE(r.error) << r.error.reason;
  const HttpReq got = Last();
  EXPECT_EQ(got.body.size(), body.size());
  EXPECT_EQ(got.headers.at("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  EXPECT_EQ(Verify(got, kKeys.secret_key), "");
}

TEST_F(AwsSigV4Test, GetWithAQueryAndPostWithEmptyValueVerify) {
  Request get;
  get.url = Url("/bucket?list-type=2&prefix=a%2Fb%2F");
  get.aws_sigv4 = &sig_;
  ASSERT_FALSE(client_.Send(get).error);
  EXPECT_EQ(Verify(Last(), kKeys.secret_key), "");
  EXPECT_EQ(Last().headers.at("x-amz-content-sha256"), base::Sha256Hex(""));
  Request post;
  post.method = "POST";
  post.url = Url("/bucket/key?uploads=");
  post.headers = {"Content-Type: image/png"};
  post.aws_sigv4 = &sig_;
  ASSERT_FALSE(client_.Send(post).error);
  EXPECT_EQ(Verify(Last(), kKeys.secret_key), "");
}

TEST_F(AwsSigV4Test, NoSignatureOrTokenFollowsARedirectElsewhere) {
  TestServer other([](const HttpReq&) { return HttpReply{200, "text/plain", "elsewhere"}; });
  TestServer origin([&](const HttpReq&) {
    return HttpReply{302, "text/plain", "", {{"Location", "http://localhost" + other.url().substr(other.url().rfind(':')) + "/x"}}};
  });
  Request req;
  req.url = origin.url() + "/bucket/k";
  req.follow_redirects = true;
  req.aws_sigv4 = &sig_;
  Response r = client_.Send(req);
  ASSERT_FALSE(r.error) << r.error.reason;
  EXPECT_EQ(r.body, "elsewhere");
  ASSERT_EQ(other.requests().size(), 1u);
  const HttpReq& hop = other.requests()[0];
  EXPECT_EQ(hop.headers.count("authorization"), 0u);
  EXPECT_EQ(hop.headers.count("x-amz-security-token"), 0u);
}

}  // namespace
}  // namespace wasmq::http
