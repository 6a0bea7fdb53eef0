// File: tests/queue/sentinel_harness.h
//
// A Redis Sentinel deployment for the tests, on free loopback ports: a primary, its replicas (one by
// default) and three sentinels watching it under one master name, with failure detection tuned for tests
// (down-after-milliseconds 500, failover-timeout 3000). Each sentinel's file already names the others and
// the replicas (sentinel myid / known-sentinel / known-replica: the lines a sentinel writes itself once it
// has learnt them), so a failover can be voted at once instead of after the first hello messages. Start
// returns once every replica is in sync and every sentinel answers; every process is a RedisServer, killed
// by pid.
//
//   auto cluster = SentinelCluster::Start();
//   ASSERT_NE(cluster, nullptr) << RedisServer::last_error();
//   auto store = OpenStore(cluster->url());   // redis+sentinel://127.0.0.1:P1,…/wasmq-test/0
#pragma once

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "redis_harness.h"

namespace wasmq::testing {

class SentinelCluster {
 public:
  static constexpr const char* kMaster = "wasmq-test";

  static std::unique_ptr<SentinelCluster> Start(int replicas = 1, int sentinels = 3) {
    std::unique_ptr<SentinelCluster> c(new SentinelCluster());
    auto primary = RedisServer::Start(NodeArgs());
    if (!primary) return nullptr;
    const int primary_port = primary->port();
    c->nodes_.push_back(std::move(primary));
    for (int i = 0; i < replicas; ++i) {
      auto r = RedisServer::Start(NodeArgs({"--replicaof", "127.0.0.1", std::to_string(primary_port)}));
      if (!r) return nullptr;
      c->nodes_.push_back(std::move(r));
    }
    if (!c->WaitForReplicas(primary_port, replicas, std::chrono::seconds(20))) {
      RedisServer::Error() = "the replicas did not come in sync with the primary within 20 s";
      return nullptr;
    }
    std::vector<int> ports;
    std::vector<std::string> ids;
    for (int i = 0; i < sentinels; ++i) {
      ports.push_back(RedisServer::FreePort());
      char id[41];
      std::snprintf(id, sizeof id, "%032d%08d", static_cast<int>(getpid()), i);
      ids.push_back(id);
    }
    for (int i = 0; i < sentinels; ++i) {
      std::string conf = "sentinel myid " + ids[i] + "\n";
      conf += "sentinel monitor " + std::string(kMaster) + " 127.0.0.1 " + std::to_string(primary_port) + " 2\n";
      conf += "sentinel down-after-milliseconds " + std::string(kMaster) + " 500\n";
      conf += "sentinel failover-timeout " + std::string(kMaster) + " 3000\n";
      for (size_t n = 1; n < c->nodes_.size(); ++n)
        conf += "sentinel known-replica " + std::string(kMaster) + " 127.0.0.1 " +
                std::to_string(c->nodes_[n]->port()) + "\n";
      for (int o = 0; o < sentinels; ++o)
        if (o != i)
          conf += "sentinel known-sentinel " + std::string(kMaster) + " 127.0.0.1 " + std::to_string(ports[o]) +
                  " " + ids[o] + "\n";
      auto s = RedisServer::StartSentinel(conf, ports[i]);
      if (!s) return nullptr;
      c->sentinels_.push_back(std::move(s));
    }
    if (c->WaitForPrimary(primary_port, std::chrono::seconds(20)) != primary_port) {
      RedisServer::Error() = "the sentinels did not name the primary within 20 s";
      return nullptr;
    }
    return c;
  }

  // redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,…/MASTER/DB
  std::string url(int db = 0, const std::string& master = kMaster) const {
    std::string u = "redis+sentinel://";
    for (size_t i = 0; i < sentinels_.size(); ++i) {
      if (i) u += ',';
      u += "127.0.0.1:";
      u += std::to_string(sentinels_[i]->port());
    }
    return u + "/" + master + "/" + std::to_string(db);
  }

  // A data node's arguments: a replica's full sync starts at once (the default waits 5 s for more
  // replicas to share a diskless transfer).
  static std::vector<std::string> NodeArgs(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--repl-diskless-sync-delay", "0"});
    return extra;
  }

  RedisServer& node(size_t i) { return *nodes_[i]; }
  size_t nodes() const { return nodes_.size(); }
  RedisServer& sentinel(size_t i) { return *sentinels_[i]; }
  RedisServer* NodeOnPort(int port) {
    for (auto& n : nodes_)
      if (n->port() == port) return n.get();
    return nullptr;
  }

  // The primary's port as the first sentinel that answers names it; 0 if none does.
  int PrimaryPort() const {
    for (const auto& s : sentinels_) {
      const std::string r =
          RedisServer::RawCommand(s->port(), std::string("SENTINEL get-master-addr-by-name ") + kMaster);
      if (!r.starts_with("*2")) continue;
      // *2 $9 127.0.0.1 $5 PORT: the last line.
      size_t end = r.rfind("\r\n");
      size_t start = r.rfind("\r\n", end - 1);
      if (end == std::string::npos || start == std::string::npos) continue;
      return std::atoi(r.c_str() + start + 2);
    }
    return 0;
  }

  // True when the node on `port` answers ROLE as a master.
  static bool IsMaster(int port) {
    return RedisServer::RawCommand(port, "ROLE").find("$6\r\nmaster") != std::string::npos;
  }

  // Polls (1 ms doubling to 20 ms) until the sentinels name a primary other than `old_port` that answers
  // ROLE master; its port, or 0 after `timeout`. With old_port = 0: until they name any live primary.
  int WaitForPrimary(int wanted_or_0, std::chrono::milliseconds timeout, int old_port = 0) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::milliseconds(1);
    while (std::chrono::steady_clock::now() < deadline) {
      const int p = PrimaryPort();
      if (p != 0 && p != old_port && (wanted_or_0 == 0 || p == wanted_or_0) && IsMaster(p)) return p;
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(20));
    }
    return 0;
  }
  int WaitForNewPrimary(int old_port, std::chrono::milliseconds timeout) {
    return WaitForPrimary(0, timeout, old_port);
  }

  // For a failure message: what each sentinel names, each node's role, and the last lines of each
  // sentinel's log (+sdown, +odown, +elected-leader, -failover-abort-…).
  std::string Describe() const {
    std::string out;
    for (const auto& n : nodes_) {
      const std::string role = RedisServer::RawCommand(n->port(), "ROLE");
      out += "node " + std::to_string(n->port()) + ": " +
             (role.find("master") != std::string::npos  ? "master"
              : role.find("slave") != std::string::npos ? "replica"
                                                        : "down") +
             "\n";
    }
    for (const auto& s : sentinels_) {
      out += "sentinel " + std::to_string(s->port()) + " log:\n";
      std::ifstream log(s->dir() / "redis.log");
      std::vector<std::string> lines;
      for (std::string line; std::getline(log, line);) lines.push_back(line);
      for (size_t i = lines.size() > 15 ? lines.size() - 15 : 0; i < lines.size(); ++i)
        out += "  " + lines[i] + "\n";
    }
    return out;
  }

  // Polls until the node on `primary_port` has `n` replicas online (INFO replication).
  static bool WaitForReplicas(int primary_port, int n, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::milliseconds(1);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string info = RedisServer::RawCommand(primary_port, "INFO replication");
      int online = 0;
      for (size_t at = info.find("state=online"); at != std::string::npos; at = info.find("state=online", at + 1))
        ++online;
      if (online >= n) return true;
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  SentinelCluster() = default;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
  std::vector<std::unique_ptr<RedisServer>> sentinels_;
};

}  // namespace wasmq::testing
