#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct XXH3_state_s;

namespace dpo {

// XXH3-64 (xxhash): content identities and cache keys, not cryptographic.
uint64_t hash_bytes(std::string_view bytes, uint64_t seed = 0);
// A file's bytes as stored (compressed files hash their compressed bytes).
uint64_t hash_file(const std::string& path);

// XXH3-64 of several pieces, as if they were one buffer.
class Hasher {
 public:
  explicit Hasher(uint64_t seed = 0);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  Hasher& add(const void* data, size_t size);
  Hasher& add(std::string_view bytes) { return add(bytes.data(), bytes.size()); }
  uint64_t digest() const;

 private:
  struct Free {
    void operator()(XXH3_state_s* state) const;
  };
  std::unique_ptr<XXH3_state_s, Free> state_;
};

}  // namespace dpo
