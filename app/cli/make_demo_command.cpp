#include <filesystem>
#include <iostream>

#include "app/cli/commands.h"
#include "core/data/demo_world.h"
#include "core/io/atomic_file.h"
#include "core/runtime/error.h"
#include "core/tokenizer/sentencepiece_tokenizer.h"
#include "resources/demo_assets.h"

namespace dpo::cli {

void add_make_demo_options(CLI::App& cmd, MakeDemoArgs& a) {
  cmd.add_option("--out", a.out_dir, "output folder")->capture_default_str();
}


int run_make_demo(const MakeDemoArgs& args) {
  namespace fs = std::filesystem;
  const fs::path out = args.out_dir;
  fs::create_directories(out);
  const auto world = generate_demo_world(resources::kDemoSeed, resources::kDemoPairs);
  write_file_atomically(out / "corpus.txt", world.corpus);
  write_file_atomically(out / "preferences.jsonl", preference_jsonl(world.pairs));
  // The model proto records the trainer's input and prefix paths: train from inside the output
  // folder with relative names so the bytes do not depend on where the checkout lives.
  const auto previous = fs::current_path();
  fs::current_path(out);
  try {
    train_sentencepiece(demo_tokenizer_train_args("corpus.txt", "tokenizer.tmp"));
  } catch (...) {
    fs::current_path(previous);
    throw;
  }
  fs::current_path(previous);
  fs::rename(out / "tokenizer.tmp.model", out / "tokenizer.model");
  fs::remove(out / "tokenizer.tmp.vocab");
  std::cout << "wrote " << out.string() << "/{corpus.txt,preferences.jsonl,tokenizer.model} ("
            << world.pairs.size() << " pairs)\n";
  return 0;
}

}  // namespace dpo::cli
