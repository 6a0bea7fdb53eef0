// File: src/worker/owner.cc
#include "worker/owner.h"

#include <signal.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <vector>

namespace wasmq::worker {
namespace {

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::string Nonce() {
  unsigned char b[8] = {};
  while (getrandom(b, sizeof b, 0) < 0 && errno == EINTR) {
  }
  char hex[17];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", b[i]);
  return hex;
}

std::vector<std::string_view> Split(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t pos;
  while ((pos = s.find('/')) != std::string_view::npos) {
    parts.push_back(s.substr(0, pos));
    s.remove_prefix(pos + 1);
  }
  parts.push_back(s);
  return parts;
}

}  // namespace

const std::string& ThisProcessOwner() {
  static const std::string owner = "wasmq/" + HostName() + "/" + std::to_string(getpid()) + "/" + Nonce();
  return owner;
}

bool OwnerIsDead(std::string_view owner) {
  auto parts = Split(owner);
  if (parts.size() != 4 || parts[0] != "wasmq") return false;
  static const std::string host = HostName();
  if (parts[1] != host) return false;
  long pid = 0;
  auto [p, ec] = std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), pid);
  if (ec != std::errc() || p != parts[2].data() + parts[2].size() || pid <= 0) return false;
  if (pid == getpid()) return owner != ThisProcessOwner();
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace wasmq::worker
