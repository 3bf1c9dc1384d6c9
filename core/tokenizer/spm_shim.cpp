// The only translation unit that includes sentencepiece headers. Built as libdpo_spm_shim.so and
// loaded with dlmopen by sentencepiece_tokenizer.cpp; it must never link libtorch.
#include "spm_shim_abi.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

struct dpo_spm {
  sentencepiece::SentencePieceProcessor processor;
};

namespace {
void set_error(char* err, size_t cap, const std::string& message) {
  if (err == nullptr || cap == 0) return;
  const size_t n = std::min(cap - 1, message.size());
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}
}  // namespace

extern "C" {

dpo_spm* dpo_spm_load_bytes(const char* data, size_t size, char* err, size_t err_cap) {
  auto* handle = new dpo_spm;
  const auto status = handle->processor.LoadFromSerializedProto(std::string_view(data, size));
  if (!status.ok()) {
    set_error(err, err_cap, status.ToString());
    delete handle;
    return nullptr;
  }
  return handle;
}

void dpo_spm_free(dpo_spm* handle) { delete handle; }

long dpo_spm_encode(dpo_spm* handle, const char* text, size_t size, int* ids, size_t cap, char* err,
                    size_t err_cap) {
  std::vector<int> out;
  const auto status = handle->processor.Encode(std::string_view(text, size), &out);
  if (!status.ok()) {
    set_error(err, err_cap, status.ToString());
    return -1;
  }
  if (out.size() <= cap) std::copy(out.begin(), out.end(), ids);
  return static_cast<long>(out.size());
}

long dpo_spm_decode(dpo_spm* handle, const int* ids, size_t count, char* out, size_t cap, char* err,
                    size_t err_cap) {
  std::string text;
  const auto status = handle->processor.Decode(std::vector<int>(ids, ids + count), &text);
  if (!status.ok()) {
    set_error(err, err_cap, status.ToString());
    return -1;
  }
  // The ABI returns the length; the caller never reads a terminator.
  if (text.size() <= cap)
    std::memcpy(out, text.data(), text.size());  // NOLINT(bugprone-not-null-terminated-result)
  return static_cast<long>(text.size());
}

int dpo_spm_piece_size(dpo_spm* handle) { return handle->processor.GetPieceSize(); }

long dpo_spm_id_to_piece(dpo_spm* handle, int id, char* out, size_t cap) {
  if (id < 0 || id >= handle->processor.GetPieceSize()) return -1;
  const std::string& piece = handle->processor.IdToPiece(id);
  if (piece.size() <= cap)
    std::memcpy(out, piece.data(), piece.size());  // NOLINT(bugprone-not-null-terminated-result)
  return static_cast<long>(piece.size());
}

int dpo_spm_piece_to_id(dpo_spm* handle, const char* piece, size_t size) {
  return handle->processor.PieceToId(std::string_view(piece, size));
}

int dpo_spm_special_id(dpo_spm* handle, int which) {
  switch (which) {
    case 0:
      return handle->processor.unk_id();
    case 1:
      return handle->processor.bos_id();
    case 2:
      return handle->processor.eos_id();
    case 3:
      return handle->processor.pad_id();
    default:
      return -1;
  }
}

int dpo_spm_train(const char* args, char* err, size_t err_cap) {
  const auto status = sentencepiece::SentencePieceTrainer::Train(args);
  if (!status.ok()) {
    set_error(err, err_cap, status.ToString());
    return -1;
  }
  return 0;
}

}  // extern "C"
