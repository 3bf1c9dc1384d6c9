#include "core/tokenizer/sentencepiece_tokenizer.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "core/runtime/error.h"
#include "core/runtime/runtime.h"
#include "core/tokenizer/spm_shim_abi.h"

namespace dpo {

namespace {

struct ShimApi {
  decltype(&dpo_spm_load_bytes) load_bytes;
  decltype(&dpo_spm_free) free;
  decltype(&dpo_spm_encode) encode;
  decltype(&dpo_spm_decode) decode;
  decltype(&dpo_spm_piece_size) piece_size;
  decltype(&dpo_spm_id_to_piece) id_to_piece;
  decltype(&dpo_spm_special_id) special_id;
  decltype(&dpo_spm_train) train;
};

template <typename Fn>
void resolve(void* lib, const char* name, Fn& fn, const std::string& path) {
  fn = reinterpret_cast<Fn>(dlsym(lib, name));
  if (fn == nullptr) throw TokenizerError(path + ": sentencepiece shim lacks symbol " + name);
}

// Loaded once per process: each dlmopen(LM_ID_NEWLM) uses up one of glibc's few namespaces.
const ShimApi& shim() {
  static std::once_flag once;
  static ShimApi api;
  static std::string error;
  std::call_once(once, [] {
    const std::string path = sentencepiece_shim_path();
    void* lib = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* why = dlerror();
      error = "cannot load the sentencepiece shim " + path + ": " + (why ? why : "unknown error") +
              " (set DPO_SPM_SHIM to its path)";
      return;
    }
    try {
      resolve(lib, "dpo_spm_load_bytes", api.load_bytes, path);
      resolve(lib, "dpo_spm_free", api.free, path);
      resolve(lib, "dpo_spm_encode", api.encode, path);
      resolve(lib, "dpo_spm_decode", api.decode, path);
      resolve(lib, "dpo_spm_piece_size", api.piece_size, path);
      resolve(lib, "dpo_spm_id_to_piece", api.id_to_piece, path);
      resolve(lib, "dpo_spm_special_id", api.special_id, path);
      resolve(lib, "dpo_spm_train", api.train, path);
    } catch (const TokenizerError& e) {
      error = e.what();
    }
  });
  if (!error.empty()) throw TokenizerError(error);
  return api;
}

std::optional<int> optional_id(int id) { return id < 0 ? std::nullopt : std::optional<int>(id); }

}  // namespace

std::string sentencepiece_shim_path() {
  if (const char* env = std::getenv("DPO_SPM_SHIM"); env != nullptr && *env != '\0') return env;
  // Beside the binary in a build tree; in the package's library folder once installed.
  const auto beside = std::filesystem::path(executable_dir()) / "libdpo_spm_shim.so";
  std::error_code ec;
  if (std::filesystem::exists(beside, ec)) return beside.string();
  return (std::filesystem::path(installed_library_dir()) / "libdpo_spm_shim.so").string();
}

struct SentencePieceTokenizer::Impl {
  dpo_spm* handle = nullptr;
  std::string label;
  int bos = -1, eos = -1, pad = -1, size = 0;
};

SentencePieceTokenizer::SentencePieceTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SentencePieceTokenizer::~SentencePieceTokenizer() {
  if (impl_ && impl_->handle) shim().free(impl_->handle);
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::from_bytes(std::string_view proto,
                                                                           const std::string& label) {
  const auto& api = shim();
  char err[512] = {0};
  dpo_spm* handle = api.load_bytes(proto.data(), proto.size(), err, sizeof err);
  if (handle == nullptr) throw TokenizerError(label + ": not a sentencepiece model: " + err);
  auto impl = std::make_unique<Impl>();
  impl->handle = handle;
  impl->label = label;
  impl->size = api.piece_size(handle);
  impl->bos = api.special_id(handle, 1);
  impl->eos = api.special_id(handle, 2);
  impl->pad = api.special_id(handle, 3);
  return std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer(std::move(impl)));
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TokenizerError(path + ": cannot open sentencepiece model");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return from_bytes(buffer.str(), path);
}

std::vector<int> SentencePieceTokenizer::encode(std::string_view text) const {
  std::vector<int> ids(text.size() + 8);
  char err[512] = {0};
  for (;;) {
    long n = shim().encode(impl_->handle, text.data(), text.size(), ids.data(), ids.size(), err, sizeof err);
    if (n < 0) throw TokenizerError(impl_->label + ": encode failed: " + err);
    if (static_cast<size_t>(n) <= ids.size()) {
      ids.resize(static_cast<size_t>(n));
      return ids;
    }
    ids.resize(static_cast<size_t>(n));
  }
}

std::string SentencePieceTokenizer::decode(std::span<const int> ids) const {
  for (int id : ids) {
    if (id < 0 || id >= impl_->size)
      throw TokenizerError(impl_->label + ": id " + std::to_string(id) + " outside vocabulary of " +
                           std::to_string(impl_->size));
  }
  std::string text(ids.size() * 8 + 16, '\0');
  char err[512] = {0};
  for (;;) {
    long n = shim().decode(impl_->handle, ids.data(), ids.size(), text.data(), text.size(), err, sizeof err);
    if (n < 0) throw TokenizerError(impl_->label + ": decode failed: " + err);
    const bool fits = static_cast<size_t>(n) <= text.size();
    text.resize(static_cast<size_t>(n));
    if (fits) return text;
  }
}

std::string SentencePieceTokenizer::piece(int id) const {
  std::string out(64, '\0');
  long n = shim().id_to_piece(impl_->handle, id, out.data(), out.size());
  if (n < 0) throw TokenizerError(impl_->label + ": id " + std::to_string(id) + " outside vocabulary");
  if (static_cast<size_t>(n) > out.size()) {
    out.resize(static_cast<size_t>(n));
    shim().id_to_piece(impl_->handle, id, out.data(), out.size());
  }
  out.resize(static_cast<size_t>(n));
  return out;
}

int SentencePieceTokenizer::vocab_size() const { return impl_->size; }
std::optional<int> SentencePieceTokenizer::bos_id() const { return optional_id(impl_->bos); }
std::optional<int> SentencePieceTokenizer::eos_id() const { return optional_id(impl_->eos); }
std::optional<int> SentencePieceTokenizer::pad_id() const { return optional_id(impl_->pad); }

void train_sentencepiece(const std::string& args) {
  char err[1024] = {0};
  if (shim().train(args.c_str(), err, sizeof err) != 0)
    throw TokenizerError(std::string("sentencepiece training failed: ") + err);
}

}  // namespace dpo
