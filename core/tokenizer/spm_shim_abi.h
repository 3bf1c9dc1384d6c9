// C ABI of the sentencepiece shim (libdpo_spm_shim.so). Only plain C types cross it, because the
// shim lives in its own dlmopen namespace (see shared/pitfalls.md §1: sentencepiece and libtorch
// cannot share one link map). Functions that fill a buffer return the length they needed; callers
// retry with a larger buffer when it exceeds the capacity they passed.
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dpo_spm dpo_spm;

// Returns NULL and writes a message into err on failure.
dpo_spm* dpo_spm_load_bytes(const char* data, size_t size, char* err, size_t err_cap);
void dpo_spm_free(dpo_spm* handle);

// Encodes UTF-8 text to ids; returns the id count (may exceed cap) or -1 with err set.
long dpo_spm_encode(dpo_spm* handle, const char* text, size_t size, int* ids, size_t cap, char* err,
                    size_t err_cap);
// Decodes ids to UTF-8; returns the byte count needed (may exceed cap) or -1 with err set.
long dpo_spm_decode(dpo_spm* handle, const int* ids, size_t count, char* out, size_t cap, char* err,
                    size_t err_cap);
int dpo_spm_piece_size(dpo_spm* handle);
// Returns the piece's byte length (may exceed cap), or -1 for an id out of range.
long dpo_spm_id_to_piece(dpo_spm* handle, int id, char* out, size_t cap);
int dpo_spm_piece_to_id(dpo_spm* handle, const char* piece, size_t size);
// Special ids (-1 when the model has none): 0 unk, 1 bos, 2 eos, 3 pad.
int dpo_spm_special_id(dpo_spm* handle, int which);

// Trains a model from a sentencepiece trainer argument string ("--input=... --model_prefix=...").
// Returns 0 on success, -1 with err set.
int dpo_spm_train(const char* args, char* err, size_t err_cap);

#ifdef __cplusplus
}
#endif
