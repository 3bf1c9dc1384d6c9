#include "core/io/hash.h"

#include <xxhash.h>

#include <array>
#include <cstdio>
#include <new>

#include "core/runtime/error.h"

namespace dpo {

uint64_t hash_bytes(std::string_view bytes, uint64_t seed) {
  return XXH3_64bits_withSeed(bytes.data(), bytes.size(), seed);
}

uint64_t hash_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw DataError(path + ": cannot open file");
  Hasher h;
  std::array<char, 1 << 16> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), f)) > 0) h.add(buffer.data(), n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) throw DataError(path + ": read error");
  return h.digest();
}

Hasher::Hasher(uint64_t seed) : state_(XXH3_createState()) {
  if (!state_) throw std::bad_alloc();
  XXH3_64bits_reset_withSeed(state_.get(), seed);
}

Hasher::~Hasher() = default;

Hasher& Hasher::add(const void* data, size_t size) {
  XXH3_64bits_update(state_.get(), data, size);
  return *this;
}

uint64_t Hasher::digest() const { return XXH3_64bits_digest(state_.get()); }

void Hasher::Free::operator()(XXH3_state_s* state) const { XXH3_freeState(state); }

}  // namespace dpo
