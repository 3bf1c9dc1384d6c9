#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

// Third-party test files live in ../shared/data beside the checkout (DPO_SHARED_DATA at build
// time; the environment variable of the same name overrides it).
inline std::string shared_data(const std::string& relative) {
  const char* env = std::getenv("DPO_SHARED_DATA");
  return (std::filesystem::path(env && *env ? env : DPO_SHARED_DATA) / relative).string();
}

// Skips (loudly) where the shared data folder is not beside this checkout.
#define DPO_REQUIRE_SHARED_FILE(path) \
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "shared test data not found: " << (path)
