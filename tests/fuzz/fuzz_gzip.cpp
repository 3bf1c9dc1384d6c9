// read_rows on a file (core/data/readers): gzip detected from the magic bytes and inflated by zlib as
// the rows stream, truncated or corrupt streams included. The input is the file's bytes; it goes
// into a memory file (memfd) whose /proc path is what read_rows opens, so nothing touches the disk.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/data/readers.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = [] {
    const int f = memfd_create("fuzz_gzip", 0);
    if (f < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    return f;
  }();
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
  // The format comes from the last byte so the gzip magic stays at the front.
  const auto format = size ? static_cast<dpo::FileFormat>(data[size - 1] & 3) : dpo::FileFormat::kJsonl;
  dpo::fuzz::expect_clean_errors([&] {
    size_t rows = 0;
    dpo::read_rows(path, format, [&](dpo::RawRow&&) { return ++rows < 1000; });
  });
  return 0;
}
