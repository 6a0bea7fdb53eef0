// Ids: the seed's shape, and no repeats — across threads and across fork().
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <set>
#include <thread>

#include "queue/queue.h"

namespace wasmq::queue {
namespace {

TEST(IdsTest, SeedShape) {
  const int64_t t = 1700208000000;  // 2023-11-17
  EXPECT_TRUE(std::regex_match(NewTaskId(t), std::regex("task_20231117_[0-9a-z]{18}")));
  EXPECT_TRUE(std::regex_match(NewFileId(t), std::regex("img_20231117_[0-9a-z]{18}")));
  EXPECT_TRUE(std::regex_match(NewUserId(), std::regex("user_[0-9a-z]{16}")));
  EXPECT_TRUE(IsTaskId(NewTaskId(t)));
  EXPECT_FALSE(IsTaskId("task_20231117_abc123"));
  EXPECT_FALSE(IsTaskId("img_20231117_0123456789abcdefgh"));
  EXPECT_FALSE(IsTaskId("task_2023111x_0123456789abcdefgh"));
  EXPECT_FALSE(IsTaskId("task_20231117_0123456789ABCDEFGH"));
}

// Ids of one day sort by creation time (the store's index grows at its end).
TEST(IdsTest, SortByCreationWithinADay) {
  const int64_t day = 1700179200000;  // 2023-11-17T00:00:00Z
  EXPECT_TRUE(NewTaskId(day).starts_with("task_20231117_000000"));
  EXPECT_TRUE(NewTaskId(day + 86'399'999).starts_with("task_20231117_1ffunz"));  // 86399999 in base 36
  std::string prev;
  for (int64_t t = day; t < day + 86'400'000; t += 3'599'999) {
    std::string id = NewTaskId(t);
    EXPECT_LT(prev, id);
    prev = id;
  }
}

TEST(IdsTest, NoCollisionsAcrossThreads) {
  constexpr int kThreads = 4, kPerThread = 50'000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      for (int j = 0; j < kPerThread; ++j) ids[i].push_back(NewTaskId(1700208000000));
    });
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), size_t{kThreads} * kPerThread);
}

// A forked child shares no generator state with its parent: their ids differ.
TEST(IdsTest, ForkedProcessesMakeDifferentIds) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string id = NewTaskId(1700208000000);
    (void)!write(fds[1], id.data(), id.size());
    _exit(0);
  }
  std::string mine = NewTaskId(1700208000000);
  char buf[64] = {};
  ssize_t n = read(fds[0], buf, sizeof buf);
  waitpid(pid, nullptr, 0);
  close(fds[0]);
  close(fds[1]);
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(buf, n), mine);
}

}  // namespace
}  // namespace wasmq::queue
