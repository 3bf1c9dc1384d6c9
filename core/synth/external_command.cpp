#include "core/synth/external_command.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "core/runtime/error.h"

namespace dpo {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxStderrBytes = 4096;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { close(); }
  int get() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read, write;
};

Pipe make_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw Error(std::string("cannot make a pipe: ") + std::strerror(errno));
  Pipe p;
  p.read = Fd(fds[0]);
  p.write = Fd(fds[1]);
  return p;
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// A write that returns EPIPE instead of raising SIGPIPE (whose default action ends the process)
// when the child has closed its stdin; the signal mask is this thread's only.
ssize_t write_no_sigpipe(int fd, const char* data, size_t n) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  const ssize_t written = ::write(fd, data, n);
  const int error = errno;
  if (written < 0 && error == EPIPE) {
    const timespec zero{0, 0};
    sigtimedwait(&pipe_set, nullptr, &zero);  // consume the pending SIGPIPE
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = error;
  return written;
}

// The first line of what the program wrote to stderr, printable and short, for the error message.
std::string stderr_hint(const std::string& err) {
  const size_t start = err.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return "";
  std::string line = err.substr(start, err.find_first_of("\r\n", start) - start);
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  for (char& c : line)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return " (stderr: " + line + ")";
}

std::string quoted_snippet(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 60)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += c == '\n' ? "\\n" : "?";
    } else {
      out += c;
    }
  }
  return "\"" + out + (text.size() > 60 ? "...\"" : "\"");
}

std::string seconds(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", s);
  return b;
}

// The running child: its process group is killed and the child reaped whatever way we leave.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      kill_group();
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  void kill_group() const {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);  // in case it had not reached setpgid yet
  }
  // The exit status once the child has exited before `deadline`; nullopt at the deadline.
  std::optional<int> wait_until(Clock::time_point deadline) {
    for (;;) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status;
      }
      if (r < 0 && errno != EINTR) {
        pid_ = -1;
        throw Error(std::string("waitpid failed: ") + std::strerror(errno));
      }
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

 private:
  pid_t pid_;
};

}  // namespace

std::string run_command(const ExternalCommand& command, std::string_view input) {
  if (command.argv.empty() || command.argv.front().empty()) throw ConfigError("no program to run");
  if (!(command.timeout_s > 0) || !std::isfinite(command.timeout_s))
    throw ConfigError("timeout " + seconds(command.timeout_s) + " s: expected a positive number");
  const std::string& program = command.argv.front();
  // Everything the child needs is made before fork: between fork and exec only async-signal-safe
  // calls are allowed (torch's threads may hold the allocator's locks).
  std::vector<char*> argv;
  for (const auto& a : command.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  auto in = make_pipe(), out = make_pipe(), err = make_pipe(), exec_status = make_pipe();

  const pid_t pid = fork();
  if (pid < 0) throw Error("cannot start '" + program + "': " + std::strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    dup2(in.read.get(), 0);
    dup2(out.write.get(), 1);
    dup2(err.write.get(), 2);
    execvp(argv[0], argv.data());
    const int e = errno;
    [[maybe_unused]] const auto w = ::write(exec_status.write.get(), &e, sizeof e);
    _exit(127);
  }
  setpgid(pid, pid);
  Child child(pid);
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(command.timeout_s));
  in.read.close();
  out.write.close();
  err.write.close();
  exec_status.write.close();
  {
    // Closed by a successful exec (O_CLOEXEC), or carries execvp's errno.
    int e = 0;
    ssize_t n = 0;
    while ((n = ::read(exec_status.read.get(), &e, sizeof e)) < 0 && errno == EINTR) {
    }
    if (n == static_cast<ssize_t>(sizeof e)) throw Error("cannot run '" + program + "': " + std::strerror(e));
  }

  set_nonblocking(in.write.get());
  set_nonblocking(out.read.get());
  set_nonblocking(err.read.get());
  std::string stdout_text, stderr_text;
  size_t sent = 0;
  if (input.empty()) in.write.close();
  char buffer[8192];
  while (out.read.open() || err.read.open()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      child.kill_group();
      throw Error("no answer within " + seconds(command.timeout_s) + " s (killed)");
    }
    pollfd fds[3];
    nfds_t n = 0;
    Fd* owners[3];
    for (Fd* fd : {&out.read, &err.read}) {
      if (!fd->open()) continue;
      fds[n] = {fd->get(), POLLIN, 0};
      owners[n++] = fd;
    }
    if (in.write.open()) {
      fds[n] = {in.write.get(), POLLOUT, 0};
      owners[n++] = &in.write;
    }
    const int ready = poll(fds, n, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (ready < 0 && errno != EINTR) throw Error(std::string("poll failed: ") + std::strerror(errno));
    for (nfds_t i = 0; ready > 0 && i < n; ++i) {
      if (fds[i].revents == 0) continue;
      Fd& fd = *owners[i];
      if (&fd == &in.write) {
        const ssize_t w = write_no_sigpipe(fd.get(), input.data() + sent, input.size() - sent);
        if (w > 0) sent += static_cast<size_t>(w);
        // A child that stops reading early (EPIPE) may still answer: only its output counts.
        if (sent == input.size() || (w < 0 && errno != EAGAIN && errno != EINTR)) fd.close();
        continue;
      }
      const ssize_t r = ::read(fd.get(), buffer, sizeof buffer);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        fd.close();
      } else if (r > 0 && &fd == &out.read) {
        if (stdout_text.size() + static_cast<size_t>(r) > command.max_output_bytes) {
          child.kill_group();
          throw Error("printed more than " + std::to_string(command.max_output_bytes) + " bytes (killed)");
        }
        stdout_text.append(buffer, static_cast<size_t>(r));
      } else if (r > 0) {
        stderr_text.append(buffer, std::min(static_cast<size_t>(r),
                                            kMaxStderrBytes - std::min(kMaxStderrBytes, stderr_text.size())));
      }
    }
  }
  const auto status = child.wait_until(deadline);
  if (!status) {
    child.kill_group();
    throw Error("no answer within " + seconds(command.timeout_s) + " s (killed)");
  }
  if (WIFSIGNALED(*status))
    throw Error("killed by signal " + std::to_string(WTERMSIG(*status)) + stderr_hint(stderr_text));
  if (WIFEXITED(*status) && WEXITSTATUS(*status) != 0)
    throw Error("exited with status " + std::to_string(WEXITSTATUS(*status)) + stderr_hint(stderr_text));
  return stdout_text;
}

double parse_score_output(std::string_view output) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const size_t start = output.find_first_not_of(kSpace);
  if (start == std::string_view::npos) throw Error("printed no score (expected one number on stdout)");
  const auto text = output.substr(start, output.find_last_not_of(kSpace) - start + 1);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value))
    throw Error("expected one number on stdout, got " + quoted_snippet(text));
  return value;
}

std::vector<std::string> split_command_line(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < text.size()) {
        word += text[++i];
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0)
    throw ConfigError("command \"" + std::string(text) + "\": unclosed " +
                      (quote == '"' ? "double" : "single") + " quote");
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) throw ConfigError("command is empty");
  return words;
}

}  // namespace dpo
