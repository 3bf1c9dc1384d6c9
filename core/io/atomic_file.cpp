#include "core/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/runtime/error.h"

namespace dpo {

namespace {
// 0 or the errno of a failed fsync (a full disk can surface only here, with delayed allocation).
int fsync_path(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) return 0;
  const int result = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return result;
}

[[noreturn]] void fail_write(const std::filesystem::path& path, const std::filesystem::path& tmp, int err) {
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
  throw Error(path.string() +
              ": cannot write: " + (err != 0 ? std::strerror(err) : "write failed (disk full?)"));
}
}  // namespace

void fsync_directory(const std::filesystem::path& dir) {
  (void)fsync_path(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
}

void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& fill) {
  auto tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid());
  {
    errno = 0;
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path.string() + ": cannot open for writing: " + std::strerror(errno ? errno : EIO));
    fill(out);
    out.flush();
    if (!out) fail_write(path, tmp, errno);
    out.close();
    if (!out) fail_write(path, tmp, errno);
  }
  if (const int err = fsync_path(tmp, O_RDONLY)) fail_write(path, tmp, err);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw Error(path.string() + ": cannot rename the finished file into place");
  }
  (void)fsync_path(path.parent_path().empty() ? "." : path.parent_path(), O_RDONLY | O_DIRECTORY);
}

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  write_file_atomically(
      path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

}  // namespace dpo
