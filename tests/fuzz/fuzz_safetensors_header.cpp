// A safetensors file's header (core/io/safetensors_header): the 8-byte length, the JSON header with
// its dtypes, shapes and data_offsets, checked against the file size. The input is the whole file.
#include "core/io/safetensors_header.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dpo::fuzz::expect_clean_errors([&] {
    if (size >= 8) (void)dpo::safetensors_header_length(data, size, "model.safetensors");
    const auto header = dpo::parse_safetensors_header(dpo::fuzz::as_text(data, size), "model.safetensors");
    for (const auto& entry : header.entries) {
      (void)dpo::shape_text(entry.shape);
      (void)dpo::safetensors_dtype_size(entry.dtype, entry.name);
    }
  });
  return 0;
}
