#pragma once
#include <filesystem>
#include <functional>
#include <ostream>
#include <string_view>

namespace dpo {

// Writes `path` by filling a temporary file beside it, fsync-ing it and renaming it over `path`:
// a crash leaves either the old file or the new one, never a torn mix.
void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& fill);
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// Makes a rename inside `dir` durable.
void fsync_directory(const std::filesystem::path& dir);

}  // namespace dpo
