// verify_bench: what the trust policy adds to a pull of a module that is cached and signed (issue #18's
// goal: at most 1 ms). A docker-registry holds a module signed with a fresh key; the module is pulled once
// into a fresh cache, then each case runs N times and prints p50/p99:
//   pull-by-digest        oci::Pull of the pinned digest from the cache (no network): the baseline
//   verify-uncached       CheckModuleTrust with no VerifiedCache: the full verification (registry requests)
//   verify-cached-digest  CheckModuleTrust of REF@DIGEST with a warm VerifiedCache: the overhead on a pull
//                         by digest, what serve/worker pay for a task module they pull again
//   verify-cached-tag     the same by tag: one manifest request to resolve the tag (which a pull by tag
//                         makes anyway), then the cache
// Usage: verify_bench [ITERATIONS]   (default 2000; the uncached case runs ITERATIONS/20 times)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "oci/oci.h"
#include "registry_harness.h"
#include "sign/sign.h"
#include "test_modules.h"

using namespace wasmq;

namespace {

void Report(const char* name, int n, const std::function<bool()>& once) {
  std::vector<double> us;
  us.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    if (!once()) {
      std::fprintf(stderr, "%s failed\n", name);
      std::exit(1);
    }
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  std::printf("%-22s n=%-6d p50 %9.1f us   p99 %9.1f us\n", name, n, us[us.size() / 2],
              us[std::min(us.size() - 1, us.size() * 99 / 100)]);
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  auto reg = ocitest::RegistryServer::StartAnonymous();
  if (!reg) {
    std::fprintf(stderr, "docker-registry: %s\n", ocitest::RegistryServer::last_error().c_str());
    return 1;
  }
  ocitest::TempDir dir("wasmq-verify-bench");
  const std::string ref = reg->host() + "/bench/signed:v1";
  auto pushed = oci::Push(ocitest::CommandModule("bench"), ref, {});
  auto key = sign::PrivateKey::Generate();
  if (!pushed || !key || !sign::SignImage(ref, *key, {})) return 1;
  dir.Write("bench.pub", key->PublicPem());
  auto policy = sign::ParseTrustPolicy(R"({"rules": [{"match": "*", "keys": ["bench.pub"]}]})", dir.str());
  if (!policy) return 1;
  const std::string pinned = reg->host() + "/bench/signed@" + pushed->manifest_digest;
  oci::PullOptions pull;
  pull.cache_dir = dir.file("cache");
  if (!oci::Pull(pinned, pull)) return 1;

  sign::VerifiedCache cache;
  Report("pull-by-digest", n, [&] { return oci::Pull(pinned, pull).ok(); });
  Report("verify-uncached", std::max(1, n / 20), [&] { return sign::CheckModuleTrust(*policy, ref, false, {}).ok(); });
  if (!sign::CheckModuleTrust(*policy, pinned, false, {}, &cache)) return 1;  // warms the cache
  Report("verify-cached-digest", n, [&] {
    auto d = sign::CheckModuleTrust(*policy, pinned, false, {}, &cache);
    return d.ok() && d->from_cache;
  });
  Report("verify-cached-tag", n, [&] {
    auto d = sign::CheckModuleTrust(*policy, ref, false, {}, &cache);
    return d.ok() && d->from_cache;
  });
  return 0;
}
