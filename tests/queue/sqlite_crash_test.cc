// kill -9 at any instant loses nothing that was acknowledged and leaves no half-written row.
//
// A child process runs the store's whole cycle (create, claim, progress, complete) as fast as it can and
// reports each acknowledged change on a pipe; the parent SIGKILLs it at a random moment, then reopens the
// file and checks every acknowledged change is there, the database is intact, and the task caught
// mid-flight is recovered. Repeated on the same file so later rounds start from a crashed state.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <random>
#include <sstream>

#include "helpers.h"

namespace wasmq::queue {
namespace {

using testing::NewTask;
using testing::TempDir;

[[noreturn]] void ChildLoop(const std::string& path, int round, int fd) {
  auto store = SqliteStore::Open(path);
  if (!store) _exit(3);
  auto say = [fd](const std::string& line) {
    std::string l = line + "\n";
    if (write(fd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) _exit(4);
  };
  for (int i = 0;; ++i) {
    std::string id = "task_r" + std::to_string(round) + "_" + std::to_string(i);
    if (!(*store)->Create(NewTask(id, "HEAD_SWAP", NowMs()))) _exit(5);
    say("C " + id);
    auto got = (*store)->Dequeue({.owner = "child", .lease_ms = 60'000});
    if (!got || got->empty()) _exit(6);
    const Claimed& c = got->front();
    if (!(*store)->Progress(c.lease, 50, "half")) _exit(7);
    if (!(*store)->Complete(c.lease, TaskResult{{"out.png"}, nullptr, 1})) _exit(8);
    say("D " + c.task.task_id);
  }
}

TEST(SqliteCrashTest, KillNineAtRandomInstantsLosesNothing) {
  TempDir dir;
  const std::string path = dir.file("crash.db");
  std::mt19937 rng(12345);
  std::set<std::string> created, done;
  for (int round = 0; round < 8; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      ChildLoop(path, round, fds[1]);
    }
    close(fds[1]);
    // Let it get going (the first line proves it opened the store), then kill at a random instant.
    std::string buffer;
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof buf);
    ASSERT_GT(n, 0) << "child died before its first write";
    buffer.append(buf, n);
    usleep(std::uniform_int_distribution<int>(1'000, 60'000)(rng));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself with " << WEXITSTATUS(status);
    while ((n = read(fds[0], buf, sizeof buf)) > 0) buffer.append(buf, n);
    close(fds[0]);
    std::istringstream lines(buffer);
    std::string kind, id;
    while (lines >> kind >> id) (kind == "C" ? created : done).insert(id);

    auto store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.error().message;
    {
      sqlite3* db;
      ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
      sqlite3_stmt* st;
      ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
      ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
      EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
      sqlite3_finalize(st);
      sqlite3_close(db);
    }
    for (const std::string& c : created) {
      auto t = (*store)->Get(c);
      ASSERT_TRUE(t.ok()) << "acknowledged task " << c << " lost: " << t.error().message;
      if (done.count(c)) {
        EXPECT_EQ(t->status, TaskStatus::Done) << c;
        ASSERT_TRUE(t->result) << c;
        EXPECT_EQ(t->result->output_files, std::vector<std::string>{"out.png"});
      }
    }
    // The task in flight (at most one) comes back when its owner is known dead; finish it.
    auto rec = (*store)->RecoverLeases([](std::string_view owner) { return owner == "child"; });
    ASSERT_TRUE(rec.ok());
    EXPECT_LE(rec->requeued.size(), 1u);
    for (;;) {
      auto got = (*store)->Dequeue({.owner = "parent", .max_tasks = 10});
      ASSERT_TRUE(got.ok());
      if (got->empty()) break;
      for (const Claimed& c : *got) ASSERT_TRUE((*store)->Complete(c.lease, {}).ok());
    }
    auto stats = (*store)->Stats();
    EXPECT_EQ(stats->counts[TaskStatus::Processing], 0);
    EXPECT_EQ(stats->counts[TaskStatus::Pending], 0);
  }
  EXPECT_GT(done.size(), 8u) << "the child should have finished some tasks";
}

}  // namespace
}  // namespace wasmq::queue
