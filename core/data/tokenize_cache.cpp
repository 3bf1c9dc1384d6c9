#include "core/data/tokenize_cache.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "core/data/readers.h"
#include "core/io/atomic_file.h"
#include "core/io/hash.h"

namespace dpo {

namespace {

constexpr char kMagic[8] = {'D', 'P', 'O', 'T', 'O', 'K', '0', '1'};

template <typename T>
void put(std::ostream& out, T v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof v);
}
void put_ids(std::ostream& out, const std::vector<int64_t>& ids) {
  put<uint32_t>(out, static_cast<uint32_t>(ids.size()));
  for (auto id : ids) put<int32_t>(out, static_cast<int32_t>(id));
}
void put_string(std::ostream& out, const std::string& s) {
  put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
}

// Bounds-checked reads over the whole file held in memory.
class Reader {
 public:
  explicit Reader(std::string bytes) : bytes_(std::move(bytes)) {}
  template <typename T>
  T get() {
    T v{};
    need(sizeof v);
    std::memcpy(&v, bytes_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::vector<int64_t> ids() {
    const auto n = get<uint32_t>();
    need(size_t{n} * 4);
    std::vector<int64_t> out(n);
    for (auto& id : out) id = get<int32_t>();
    return out;
  }
  std::string string() {
    const auto n = get<uint32_t>();
    need(n);
    std::string s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  size_t count(size_t min_bytes_each) {
    const auto n = get<uint64_t>();
    if (min_bytes_each > 0 && n > (bytes_.size() - pos_) / min_bytes_each)
      throw std::runtime_error("bad count");
    return static_cast<size_t>(n);
  }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  void need(size_t n) const {
    if (bytes_.size() - pos_ < n) throw std::runtime_error("truncated");
  }
  std::string bytes_;
  size_t pos_ = 0;
};

std::string hex(uint64_t v) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

}  // namespace

uint64_t tokenizer_fingerprint(const Tokenizer& tokenizer) {
  std::string text = std::to_string(tokenizer.vocab_size()) + "|" + hex(tokenizer.source_hash());
  for (auto id : {tokenizer.bos_id(), tokenizer.eos_id(), tokenizer.pad_id()})
    text += "|" + (id ? std::to_string(*id) : std::string("-"));
  Hasher h;
  for (int i = -1; i < tokenizer.vocab_size(); ++i) {
    const std::string piece = i < 0 ? text : tokenizer.piece(i);
    const uint64_t n = piece.size();  // length first, so pieces cannot run into each other
    h.add(&n, sizeof n).add(piece);
  }
  return h.digest();
}

std::string TokenizeCacheKey::text() const {
  return "data=" + hex(data_hash) + " tokenizer=" + hex(tokenizer_hash) + " " + options;
}

std::string cache_options_text(const LayoutOptions& layout, const TokenizeOptions& t) {
  std::ostringstream o;
  o << "format=" << (layout.format ? to_string(*layout.format) : "auto")
    << " layout=" << (layout.layout ? to_string(*layout.layout) : "auto") << " columns=";
  for (const auto& [k, v] : layout.columns) o << k << "=" << v << ";";
  o << " on_bad_row=" << (layout.on_bad_row == BadRowPolicy::kSkip ? "skip" : "error");
  if (layout.renderer) {
    o << " template=" << hex(hash_bytes(layout.renderer->template_source))
      << " bos=" << layout.renderer->bos_token << " eos=" << layout.renderer->eos_token;
  }
  o << " max_length=" << t.max_length << " max_prompt_length=" << t.max_prompt_length
    << " max_completion_length=" << t.max_completion_length << " add_bos=" << t.add_bos
    << " add_eos=" << t.add_eos
    << " truncation=" << (t.prompt_truncation == PromptTruncation::kKeepEnd ? "keep_end" : "keep_start");
  return o.str();
}

std::filesystem::path tokenize_cache_path(const std::filesystem::path& dir, const TokenizeCacheKey& key) {
  return dir / ("tokenized-" + hex(hash_bytes(key.text())) + ".bin");
}

void write_tokenize_cache(const std::filesystem::path& dir, const TokenizeCacheKey& key,
                          const TokenizedDataset& data) {
  std::filesystem::create_directories(dir);
  write_file_atomically(tokenize_cache_path(dir, key), [&](std::ostream& out) {
    out.write(kMagic, sizeof kMagic);
    put_string(out, key.text());
    put<uint64_t>(out, data.pairs.size());
    for (const auto& p : data.pairs) {
      put<uint64_t>(out, p.line);
      put<uint8_t>(out, static_cast<uint8_t>(p.prompt_truncated | (p.completion_truncated << 1)));
      put_ids(out, p.prompt_ids);
      put_ids(out, p.chosen_ids);
      put_ids(out, p.rejected_ids);
    }
    put<uint64_t>(out, data.unpaired.size());
    for (const auto& u : data.unpaired) {
      put<uint64_t>(out, u.line);
      put<uint8_t>(out,
                   static_cast<uint8_t>(u.prompt_truncated | (u.completion_truncated << 1) | (u.label << 2)));
      put_ids(out, u.prompt_ids);
      put_ids(out, u.completion_ids);
    }
    put<uint64_t>(out, data.report.prompt_truncated);
    put<uint64_t>(out, data.report.completion_truncated);
    put<uint64_t>(out, data.report.skipped.size());
    for (const auto& s : data.report.skipped) {
      put<uint64_t>(out, s.line);
      put_string(out, s.message);
    }
  });
}

std::optional<TokenizedDataset> read_tokenize_cache(const std::filesystem::path& dir,
                                                    const TokenizeCacheKey& key) {
  std::ifstream in(tokenize_cache_path(dir, key), std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string bytes = buffer.str();
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return std::nullopt;
  try {
    Reader r(bytes.substr(sizeof kMagic));
    if (r.string() != key.text()) return std::nullopt;
    TokenizedDataset data;
    data.pairs.resize(r.count(21));
    for (auto& p : data.pairs) {
      p.line = r.get<uint64_t>();
      const auto flags = r.get<uint8_t>();
      p.prompt_truncated = flags & 1;
      p.completion_truncated = flags & 2;
      p.prompt_ids = r.ids();
      p.chosen_ids = r.ids();
      p.rejected_ids = r.ids();
    }
    data.unpaired.resize(r.count(17));
    for (auto& u : data.unpaired) {
      u.line = r.get<uint64_t>();
      const auto flags = r.get<uint8_t>();
      u.prompt_truncated = flags & 1;
      u.completion_truncated = flags & 2;
      u.label = flags & 4;
      u.prompt_ids = r.ids();
      u.completion_ids = r.ids();
    }
    data.report.prompt_truncated = r.get<uint64_t>();
    data.report.completion_truncated = r.get<uint64_t>();
    data.report.skipped.resize(r.count(12));
    for (auto& s : data.report.skipped) {
      s.line = r.get<uint64_t>();
      s.message = r.string();
    }
    if (!r.done()) return std::nullopt;
    data.from_cache = true;
    return data;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

TokenizedDataset load_tokenized_dataset(const std::string& path, const LayoutOptions& layout,
                                        const Tokenizer& tokenizer, const TokenizeOptions& options,
                                        const std::filesystem::path& cache_dir) {
  std::optional<TokenizeCacheKey> key;
  if (!cache_dir.empty()) {
    key = TokenizeCacheKey{hash_file(path), tokenizer_fingerprint(tokenizer),
                           cache_options_text(layout, options)};
    if (auto cached = read_tokenize_cache(cache_dir, *key)) return std::move(*cached);
  }
  const auto dataset = load_preference_dataset(path, layout);
  auto tokenized = tokenize_dataset(tokenizer, dataset, options, layout.on_bad_row);
  tokenized.report.skipped.insert(tokenized.report.skipped.begin(), dataset.skipped.begin(),
                                  dataset.skipped.end());
  if (key) write_tokenize_cache(cache_dir, *key, tokenized);
  return tokenized;
}

}  // namespace dpo
