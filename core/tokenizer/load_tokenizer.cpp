#include "core/tokenizer/load_tokenizer.h"

#include "core/io/hash.h"
#include "core/runtime/error.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"

namespace dpo {

namespace fs = std::filesystem;

LoadedTokenizer load_tokenizer(const fs::path& path) {
  LoadedTokenizer out;
  fs::path file = path;
  if (fs::is_directory(path)) {
    if (fs::exists(path / "tokenizer.json")) {
      file = path / "tokenizer.json";
    } else if (fs::exists(path / "tokenizer.model")) {
      file = path / "tokenizer.model";
    } else {
      throw TokenizerError(path.string() + ": no tokenizer.json or tokenizer.model in this folder");
    }
  } else if (!fs::exists(path)) {
    throw TokenizerError(path.string() + ": no such tokenizer file");
  }
  const auto config_path = file.parent_path() / "tokenizer_config.json";
  const bool has_config = fs::exists(config_path);
  if (has_config) out.config = read_tokenizer_config(config_path.string());
  if (file.extension() == ".json") {
    auto bpe = BpeTokenizer::from_file(file.string());
    out.kind = "tokenizer.json (BPE)";
    out.add_bos = has_config ? out.config.add_bos_token : false;
    out.tokenizer = std::move(bpe);
  } else {
    out.tokenizer = SentencePieceTokenizer::from_file(file.string());
    out.kind = "sentencepiece";
    // Llama-style sentencepiece tokenizers add BOS unless the config says otherwise.
    out.add_bos = (has_config ? out.config.add_bos_token || !out.config.bos_token.has_value() : true) &&
                  out.tokenizer->bos_id().has_value();
  }
  // Every byte that shapes encoding, for cache keys.
  Hasher source(0x70c3);
  for (const auto& part : {file, config_path}) {
    if (part == config_path && !has_config) continue;
    const uint64_t h = hash_file(part.string());
    source.add(&h, sizeof h);
  }
  out.tokenizer->set_source_hash(source.digest());
  return out;
}

std::vector<int> encode_with_special(const LoadedTokenizer& t, std::string_view text) {
  if (auto* bpe = dynamic_cast<const BpeTokenizer*>(t.tokenizer.get())) {
    auto ids = bpe->encode_with_special(text);
    // A post-processor that already adds BOS decides; otherwise the config's add_bos_token does.
    if (t.add_bos && t.tokenizer->bos_id() && (ids.empty() || ids.front() != *t.tokenizer->bos_id()))
      ids.insert(ids.begin(), *t.tokenizer->bos_id());
    return ids;
  }
  auto ids = t.tokenizer->encode(text);
  if (t.add_bos) ids.insert(ids.begin(), *t.tokenizer->bos_id());
  return ids;
}

}  // namespace dpo
