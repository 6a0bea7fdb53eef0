// File: tests/wasi/helpers.h
//
// Shared by the WASI tests: scratch directories, the compiled test modules (WASI_MODULES_DIR), and
// running the built `wasmq` binary (WASMQ_BINARY) with captured output, an environment of our choosing
// and a hard time limit.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace wasmq::wasi::testing {

inline std::string ModulePath(const std::string& name) {
  return std::string(WASI_MODULES_DIR) + "/" + name + ".wasm";
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

inline bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// A fresh directory, removed (with everything in it) at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wasmq_wasi_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct RunResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out, err;
  double seconds = 0;
};

// A `wasmq` process started with stdout/stderr going to files and stdin from `stdin_data`.
class Process {
 public:
  Process(const std::vector<std::string>& args, const std::string& stdin_data = "",
          const std::vector<std::string>& extra_env = {})
      : dir_() {
    const std::string in = dir_ / "stdin", out = dir_ / "stdout", err = dir_ / "stderr";
    WriteFile(in, stdin_data);
    start_ = std::chrono::steady_clock::now();
    pid_ = fork();
    if (pid_ == 0) {
      int fi = open(in.c_str(), O_RDONLY), fo = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644),
          fe = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fi < 0 || fo < 0 || fe < 0) _exit(127);
      dup2(fi, 0);
      dup2(fo, 1);
      dup2(fe, 2);
      for (const std::string& e : extra_env) putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> argv;
      std::string bin = WASMQ_BINARY;
      argv.push_back(bin.data());
      std::vector<std::string> copy = args;
      for (std::string& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0 && !waited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Waits (killing the process after `limit`) and collects the result.
  RunResult Wait(std::chrono::seconds limit = std::chrono::seconds(60)) {
    RunResult r;
    int status = 0;
    while (true) {
      pid_t w = waitpid(pid_, &status, WNOHANG);
      if (w == pid_) break;
      if (std::chrono::steady_clock::now() - start_ > limit) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    waited_ = true;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = ReadFile(dir_ / "stdout");
    r.err = ReadFile(dir_ / "stderr");
    return r;
  }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  bool waited_ = false;
  std::chrono::steady_clock::time_point start_;
};

inline RunResult RunWasmq(const std::vector<std::string>& args, const std::string& stdin_data = "",
                          const std::vector<std::string>& extra_env = {}) {
  Process p(args, stdin_data, extra_env);
  return p.Wait();
}

inline int CountLines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace wasmq::wasi::testing
