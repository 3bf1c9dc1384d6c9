#pragma once
// Hostile files for the bad-input tests (issue 19): a scratch folder, a model folder and a run
// made once by the dpo command line (DPO_CLI), and the pieces the cases break them with.
#include <zlib.h>

#include <nlohmann/json.hpp>

#include <unistd.h>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

namespace hostile {

namespace fs = std::filesystem;
using nlohmann::json;

inline const fs::path& root() {
  static const fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("dpo_bad_inputs_" + std::to_string(getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// Every file under dir: its path, and its bytes (a link: its target).
inline std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const auto rel = fs::relative(e.path(), dir).string();
    if (e.is_symlink())
      files[rel] = "link:" + fs::read_symlink(e.path()).string();
    else if (e.is_regular_file())
      files[rel] = slurp(e.path());
    else
      files[rel] = "dir";
  }
  return files;
}

// A model folder, a finished run with checkpoints: made once by the CLI itself.
inline const fs::path& base_run() {
  static const fs::path run = [] {
    const auto r = root() / "base-run";
    const std::string command = std::string(DPO_CLI) +
                                " --threads 1 train --steps 4 --checkpoint-every 2 --cache-dir '" +
                                (root() / "cache").string() + "' --out '" + r.string() + "' >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("cannot make the base run");
    return r;
  }();
  return run;
}

inline fs::path copy_model(const fs::path& d) {
  fs::copy(base_run() / "final", d / "m", fs::copy_options::recursive);
  return d / "m";
}

inline fs::path copy_run(const fs::path& d) {
  fs::copy(base_run(), d / "run", fs::copy_options::recursive);
  return d / "run";
}

inline void edit_json(const fs::path& p, const std::function<void(json&)>& change) {
  auto j = json::parse(slurp(p));
  change(j);
  write(p, j.dump(1));
}

inline void edit_config(const fs::path& d, const std::function<void(json&)>& change) {
  edit_json(copy_model(d) / "config.json", change);
}

inline fs::path newest_checkpoint(const fs::path& run) {
  fs::path newest;
  for (const auto& e : fs::directory_iterator(run / "checkpoints"))
    if (newest.empty() || e.path().filename() > newest.filename()) newest = e.path();
  return newest;
}

// A safetensors file: the 8-byte little-endian header length, the header, the data.
inline std::string safetensors(const std::string& header, std::uint64_t length, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((length >> (8 * i)) & 0xff);
  return out + header + data;
}

inline std::string safetensors(const std::string& header, const std::string& data) {
  return safetensors(header, header.size(), data);
}

inline std::string gzip(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(compressBound(static_cast<uLong>(text.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

inline std::string pairs_jsonl(int n) {
  std::string s;
  for (int i = 0; i < n; ++i)
    s += R"({"prompt": "q)" + std::to_string(i) + R"( ", "chosen": "good answer", "rejected": "bad"})" + "\n";
  return s;
}

inline std::string nested(int depth) {
  return std::string(static_cast<size_t>(depth), '[') + std::string(static_cast<size_t>(depth), ']');
}

}  // namespace hostile
