// File: src/nn/isolated_parse.cc
//
// OpenCV's ONNX importer trusts its input: corrupted graph bytes can crash it (tests/nn/robustness_test.cc
// found segmentation faults with a few flipped bytes). Graph bytes a module gives `load` are a hostile
// module's to choose, and the process that parses them runs every other task too; so they are parsed once
// in a forked child first, and only bytes the child parsed and survived are parsed in the host. The child
// runs OpenCV after fork() in a process that has threads — not async-signal-safe; a lock another thread
// held at the fork could block it, so the child is killed after kChildTimeout and the graph refused.
// Named models (the host's own files) are not checked.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "nn/internal.h"

namespace wasmq::nn {

namespace {
constexpr auto kChildTimeout = std::chrono::seconds(60);
}

Outcome<void> ParseInChild(const Backend* backend, const std::string& bytes) {
  const pid_t pid = fork();
  if (pid < 0) return Failure{Errno::RuntimeError, "cannot fork to check the graph"};
  if (pid == 0) {
    const struct rlimit no_core {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    char err[16];
    void* net = backend->read_onnx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), nullptr, err,
                                   sizeof err);
    _exit(net ? 0 : 1);  // no destructors, no atexit handlers: the parent's state is not the child's to touch
  }
  const auto give_up = std::chrono::steady_clock::now() + kChildTimeout;
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
      if (WIFEXITED(status)) return Failure{Errno::InvalidEncoding, "OpenCV cannot read the ONNX graph"};
      return Failure{Errno::InvalidEncoding, "the ONNX graph crashes OpenCV's importer (signal " +
                                                 std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0) + ")"};
    }
    if (done < 0 && errno != EINTR) return Failure{Errno::RuntimeError, "lost the process checking the graph"};
    if (std::chrono::steady_clock::now() >= give_up) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return Failure{Errno::RuntimeError, "checking the graph took too long"};
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20'000));
  }
}

}  // namespace wasmq::nn
