#include "app/cli/local_ranks.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include "app/cli/flag_checks.h"
#include "core/dist/communicator.h"
#include "core/runtime/error.h"

namespace dpo::cli {

namespace {

std::vector<std::string>& invocation_storage() {
  static std::vector<std::string> args;
  return args;
}

std::atomic<bool> g_launcher_interrupted{false};
void on_launcher_interrupt(int) { g_launcher_interrupted = true; }

std::string describe(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return std::string("was killed by signal ") + std::to_string(sig) +
           (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

struct Child {
  pid_t pid = -1;
  int err_fd = -1;  // ranks > 0: their stderr
  std::string err;  // what it wrote there
  std::optional<int> status;
};

}  // namespace

void set_invocation(int argc, char** argv) {
  auto& args = invocation_storage();
  args.assign(argv, argv + argc);
}

const std::vector<std::string>& invocation() { return invocation_storage(); }

int launch_local_ranks(int nproc, double timeout_seconds, double grace_seconds) {
  const auto& args = invocation();
  if (args.empty()) throw std::logic_error("launch_local_ranks: set_invocation was not called");
  // The rendezvous is a c10d FileStore in a folder only this user can enter: no port listens.
  const char* tmp = std::getenv("TMPDIR");
  std::string folder_pattern =
      (tmp != nullptr && *tmp != '\0' ? std::string(tmp) : "/tmp") + "/dpo-rendezvous-XXXXXX";
  std::vector<char> pattern(folder_pattern.begin(), folder_pattern.end());
  pattern.push_back('\0');
  if (::mkdtemp(pattern.data()) == nullptr)
    throw Error(std::string("--nproc: cannot make a rendezvous folder ") + folder_pattern + ": " +
                std::strerror(errno));
  const std::string folder = pattern.data();
  const std::string store_file = folder + "/store";
  struct RemoveFolder {
    std::string path;
    ~RemoveFolder() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } remove_folder{folder};
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  // Whoever started the launcher (a shell, the studio) going away stops the run as Ctrl+C would.
  auto previous_int = std::signal(SIGINT, on_launcher_interrupt);
  auto previous_term = std::signal(SIGTERM, on_launcher_interrupt);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  std::vector<Child> children(static_cast<size_t>(nproc));
  std::cout << "starting " << nproc << " processes on this machine (rank 0 reports)\n" << std::flush;
  for (int r = 0; r < nproc; ++r) {
    int pipe_fds[2] = {-1, -1};
    if (r > 0 && ::pipe2(pipe_fds, O_CLOEXEC) != 0)
      throw Error(std::string("--nproc: pipe: ") + std::strerror(errno));
    const pid_t pid = ::fork();
    if (pid < 0) throw Error(std::string("--nproc: fork: ") + std::strerror(errno));
    if (pid == 0) {
      // A rank never outlives its launcher.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() == 1) ::_exit(kExitFailed);
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("DPO_RENDEZVOUS_FILE", store_file.c_str(), 1);
      ::setenv("DPO_DIST_TIMEOUT", std::to_string(static_cast<int64_t>(timeout_seconds)).c_str(), 1);
      if (r > 0) {
        const int null_fd = ::open("/dev/null", O_WRONLY);
        if (null_fd >= 0) ::dup2(null_fd, STDOUT_FILENO);
        ::dup2(pipe_fds[1], STDERR_FILENO);
      }
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "error: --nproc: cannot start rank %d: %s\n", r, std::strerror(errno));
      ::_exit(kExitFailed);
    }
    children[static_cast<size_t>(r)].pid = pid;
    if (r > 0) {
      ::close(pipe_fds[1]);
      children[static_cast<size_t>(r)].err_fd = pipe_fds[0];
    }
  }

  bool forwarded = false;
  std::optional<size_t> first_failure;
  std::chrono::steady_clock::time_point failed_at;
  bool killed_rest = false;
  auto alive = [&] {
    size_t n = 0;
    for (const auto& c : children) n += c.status ? 0 : 1;
    return n;
  };
  while (alive() > 0) {
    std::vector<pollfd> fds;
    for (const auto& c : children)
      if (c.err_fd >= 0) fds.push_back({c.err_fd, POLLIN, 0});
    if (!fds.empty())
      ::poll(fds.data(), fds.size(), 100);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (auto& c : children) {
      if (c.err_fd < 0) continue;
      char buffer[4096];
      pollfd one{c.err_fd, POLLIN, 0};
      while (::poll(&one, 1, 0) > 0 && (one.revents & (POLLIN | POLLHUP))) {
        const ssize_t n = ::read(c.err_fd, buffer, sizeof(buffer));
        if (n <= 0) {
          ::close(c.err_fd);
          c.err_fd = -1;
          break;
        }
        if (c.err.size() < (1u << 20)) c.err.append(buffer, static_cast<size_t>(n));
      }
    }
    if (g_launcher_interrupted && !forwarded) {
      forwarded = true;
      for (const auto& c : children)
        if (!c.status) ::kill(c.pid, SIGINT);
    }
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      for (size_t r = 0; r < children.size(); ++r) {
        if (children[r].pid != pid) continue;
        children[r].status = status;
        const bool failed =
            !(WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == kExitInterrupted));
        if (failed && !first_failure) {
          first_failure = r;
          failed_at = std::chrono::steady_clock::now();
        }
      }
    }
    if (first_failure && !killed_rest &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - failed_at).count() > grace_seconds) {
      killed_rest = true;
      for (const auto& c : children)
        if (!c.status) ::kill(c.pid, SIGKILL);
    }
  }
  for (auto& c : children)
    if (c.err_fd >= 0) ::close(c.err_fd);
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  // A rank killed by a signal is the cause; the others' collectives failed because of it.
  for (size_t r = 0; first_failure && r < children.size(); ++r)
    if (WIFSIGNALED(*children[r].status) &&
        !(killed_rest && WTERMSIG(*children[r].status) == SIGKILL && r != *first_failure)) {
      first_failure = r;
      break;
    }
  // Rank 0's own error line is already on this stderr and says it all, unless it was killed.
  const bool rank0_said_it = first_failure && *first_failure == 0 && WIFEXITED(*children[0].status);
  if (first_failure && !rank0_said_it)
    std::cerr << "error: rank " << *first_failure << " (pid " << children[*first_failure].pid << ") "
              << describe(*children[*first_failure].status) << "; the run stopped on all " << children.size()
              << " ranks\n";
  // The failed rank's own words (rank 0 has already printed its own on this stderr).
  if (first_failure && *first_failure > 0) {
    const auto& text = children[*first_failure].err;
    size_t start = 0;
    while (start < text.size()) {
      const auto end = text.find('\n', start);
      const auto line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (!line.empty()) std::cerr << "rank " << *first_failure << ": " << line << "\n";
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  if (g_launcher_interrupted) return kExitInterrupted;
  if (first_failure) return kExitFailed;
  const int rank0 = *children.front().status;
  return WIFEXITED(rank0) ? WEXITSTATUS(rank0) : kExitFailed;
}

std::optional<int> local_rank_threads() {
  const int64_t ranks = dist::environment_int("LOCAL_WORLD_SIZE", 0, 1, 4096);  // 0: not set
  if (ranks == 0) return std::nullopt;
  const int64_t cores = std::max(1u, std::thread::hardware_concurrency());
  return static_cast<int>(std::max<int64_t>(1, cores / ranks));
}

}  // namespace dpo::cli
