#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/io/safetensors.h"
#include "core/runtime/error.h"

namespace fs = std::filesystem;

namespace {
fs::path temp_file(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("dpo_st_" + std::to_string(getpid()));
  fs::create_directories(dir);
  return dir / name;
}

// A file with `header` as its JSON header and `data_bytes` zero bytes of data.
fs::path raw_file(const std::string& name, const std::string& header, size_t data_bytes,
                  int64_t claimed = -1) {
  auto path = temp_file(name);
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = claimed < 0 ? header.size() : static_cast<uint64_t>(claimed);
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << std::string(data_bytes, '\0');
  return path;
}

std::string open_error(const fs::path& path) {
  try {
    dpo::SafetensorsFile::open(path);
  } catch (const dpo::ModelError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(Safetensors, RoundTripIsBitExactForEveryDtype) {
  torch::manual_seed(0);
  std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"a.f32", torch::randn({3, 5})},
      {"b.bf16", torch::randn({4}).to(torch::kBFloat16)},
      {"c.f16", torch::randn({2, 2, 2}).to(torch::kFloat16)},
      {"d.i64", torch::arange(7)},
      {"e.scalar", torch::tensor(3.5f).reshape({})},
  };
  auto path = temp_file("round.safetensors");
  dpo::write_safetensors(path, tensors, {{"note", "test"}});
  auto file = dpo::SafetensorsFile::open(path);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->metadata().at("note"), "test");
  ASSERT_EQ(file->entries().size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    auto back = file->tensor(name);
    EXPECT_EQ(back.scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(back, t)) << name;
  }
  EXPECT_EQ(file->entry("b.bf16").dtype, "BF16");
  // The header is padded so the data area starts 8-byte aligned.
  std::ifstream in(path, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ(n % 8, 0u);
}

TEST(Safetensors, TensorsOutliveTheFileObjectAndAreCopyOnWrite) {
  auto path = temp_file("cow.safetensors");
  dpo::write_safetensors(path, {{"w", torch::ones({4})}});
  torch::Tensor t;
  {
    auto file = dpo::SafetensorsFile::open(path);
    t = file->tensor("w");
  }
  t.mul_(3);  // writes go to private pages, never to the file
  EXPECT_EQ(t.sum().item<float>(), 12.0f);
  EXPECT_EQ(dpo::SafetensorsFile::open(path)->tensor("w").sum().item<float>(), 4.0f);
}

TEST(Safetensors, MalformedFilesNameFileTensorAndProblem) {
  const auto p1 = raw_file("short.safetensors", "", 0);
  fs::resize_file(p1, 5);
  EXPECT_EQ(open_error(p1), p1.string() + ": 5 bytes is too small for a safetensors header");

  const auto p2 = raw_file("len.safetensors", "{}", 0, 1000);
  EXPECT_EQ(open_error(p2), p2.string() + ": header length 1000 exceeds the file size 10");

  const auto p3 = raw_file("json.safetensors", "{oops", 0);
  EXPECT_TRUE(open_error(p3).starts_with(p3.string() + ": header is not valid JSON")) << open_error(p3);

  const auto p4 =
      raw_file("dtype.safetensors", R"({"w":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", 2);
  EXPECT_EQ(open_error(p4), p4.string() +
                                ": tensor \"w\": unknown dtype \"F8\" (expected F32, F16, BF16, F64, I64, "
                                "I32, I16, I8, U8 or BOOL)");

  const auto p5 =
      raw_file("size.safetensors", R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20);
  EXPECT_EQ(open_error(p5),
            p5.string() + ": tensor \"w\": shape [2, 3] of F32 needs 24 bytes but data_offsets span 20");

  const auto p6 =
      raw_file("outside.safetensors", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
  EXPECT_EQ(open_error(p6),
            p6.string() + ": tensor \"w\": data_offsets [0, 16] lie outside the data area of 8 bytes");

  const auto p7 = raw_file(
      "overlap.safetensors",
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      12);
  EXPECT_EQ(open_error(p7), p7.string() + ": tensors \"a\" and \"b\" overlap");

  const auto p8 = raw_file("gap.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8);
  EXPECT_EQ(open_error(p8), p8.string() + ": bytes 0..4 of the data area belong to no tensor");

  const auto p9 =
      raw_file("trail.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8);
  EXPECT_EQ(open_error(p9), p9.string() + ": 4 trailing bytes belong to no tensor");

  const auto p10 =
      raw_file("neg.safetensors", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4);
  EXPECT_EQ(open_error(p10), p10.string() + ": tensor \"a\": shape entries must be non-negative integers");

  EXPECT_TRUE(
      open_error("/nonexistent/x.safetensors").starts_with("/nonexistent/x.safetensors: cannot open"));
}
