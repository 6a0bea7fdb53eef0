// File: src/worker/owner.cc
#include "worker/owner.h"

#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <vector>

namespace wasmq::worker {
namespace {

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "unknown";
  std::string host = buf;
  std::replace(host.begin(), host.end(), '/', '_');  // a field of the name
  return host;
}

std::string Nonce() {
  unsigned char b[16] = {};
  for (size_t got = 0; got < sizeof b;) {
    ssize_t n = getrandom(b + got, sizeof b - got, 0);
    if (n > 0)
      got += static_cast<size_t>(n);
    else if (errno != EINTR)
      break;
  }
  char hex[2 * sizeof b + 1];
  for (size_t i = 0; i < sizeof b; ++i) std::snprintf(hex + 2 * i, 3, "%02x", b[i]);
  return hex;
}

// The kernel's random id of this boot; "" when it cannot be read (then no owner is ever judged).
std::string BootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  bool plain = !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-';
  });
  return plain ? id : "";
}

// This process's pid namespace (the inode of /proc/self/ns/pid): pids are compared only within it.
std::string PidNamespace() {
  struct stat st = {};
  if (stat("/proc/self/ns/pid", &st) != 0) return "";
  return std::to_string(st.st_ino);
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

struct Identity {
  std::string host, boot, pid_ns;
};
const Identity& Me() {
  static const Identity me{HostName(), BootId(), PidNamespace()};
  return me;
}

}  // namespace

const std::string& ThisProcessOwner() {
  static const std::string owner = "wasmq/" + Me().host + "/" + std::to_string(getpid()) + "/" + Nonce() +
                                   "/" + (Me().boot.empty() ? "-" : Me().boot) + "/" +
                                   (Me().pid_ns.empty() ? "-" : Me().pid_ns);
  return owner;
}

bool OwnerIsDead(std::string_view owner) {
  auto parts = Split(owner);
  if (parts.size() != 6 || parts[0] != "wasmq") return false;
  const Identity& me = Me();
  // Without our own boot id and pid namespace nothing can be told apart: leave it to the lease.
  if (me.boot.empty() || me.pid_ns.empty()) return false;
  if (parts[1] != me.host || parts[4] != me.boot || parts[5] != me.pid_ns) return false;
  long pid = 0;
  auto [p, ec] = std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), pid);
  if (ec != std::errc() || p != parts[2].data() + parts[2].size() || pid <= 0) return false;
  // Same boot and pid namespace: a pid names one process at a time, so our own pid under another nonce is a
  // predecessor that is gone.
  if (pid == getpid()) return owner != ThisProcessOwner();
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace wasmq::worker
