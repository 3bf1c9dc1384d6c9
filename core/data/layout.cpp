#include "core/data/layout.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <set>

#include "core/runtime/error.h"
#include "core/tokenizer/chat_template.h"

namespace dpo {

namespace {

using Json = nlohmann::ordered_json;

const std::set<std::string>& canonical_fields() {
  static const std::set<std::string> names = {"prompt",   "chosen",       "rejected",       "completion",
                                              "label",    "score_chosen", "score_rejected", "conversations",
                                              "messages", "instruction",  "input",          "system"};
  return names;
}

// Thrown inside one row's conversion; turned into "file:line: what" by the caller.
struct RowError {
  std::string message;
};

[[noreturn]] void bad(const std::string& message) { throw RowError{message}; }

struct Message {
  std::string role;
  std::string content;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

class RowView {
 public:
  RowView(const Json& row, bool from_table, const std::map<std::string, std::string>& columns)
      : row_(row), from_table_(from_table), columns_(columns) {}

  // The name the user knows the field by: the file's column when renamed.
  std::string name(const std::string& field) const {
    auto it = columns_.find(field);
    return "\"" + (it == columns_.end() ? field : it->second) + "\"";
  }
  bool has(const std::string& field) const { return row_.contains(field); }
  const Json& require(const std::string& field) const {
    auto it = row_.find(field);
    if (it == row_.end()) bad("missing field " + name(field));
    return *it;
  }
  std::string string(const std::string& field) const {
    const Json& v = require(field);
    if (!v.is_string()) bad("field " + name(field) + " must be a string, got " + v.type_name());
    return v.get<std::string>();
  }
  std::string optional_string(const std::string& field) const {
    if (!has(field) || row_.at(field).is_null()) return {};
    return string(field);
  }
  bool boolean(const std::string& field) const {
    const Json& v = require(field);
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number_integer() && (v.get<int64_t>() == 0 || v.get<int64_t>() == 1))
      return v.get<int64_t>() == 1;
    if (v.is_string() && from_table_) {
      const auto s = lower(v.get<std::string>());
      if (s == "true" || s == "1" || s == "yes") return true;
      if (s == "false" || s == "0" || s == "no") return false;
      bad("field " + name(field) + " must be true or false, got \"" + v.get<std::string>() + "\"");
    }
    bad("field " + name(field) + " must be a boolean, got " + v.type_name());
  }
  std::optional<double> number(const std::string& field) const {
    if (!has(field)) return std::nullopt;
    const Json& v = row_.at(field);
    if (v.is_null()) return std::nullopt;
    if (v.is_number()) return v.get<double>();
    if (v.is_string() && from_table_) {
      const auto s = v.get<std::string>();
      if (s.empty()) return std::nullopt;
      char* end = nullptr;
      const double d = std::strtod(s.c_str(), &end);
      if (end && *end == '\0') return d;
      bad("field " + name(field) + " must be a number, got \"" + s + "\"");
    }
    bad("field " + name(field) + " must be a number, got " + v.type_name());
  }

  // [{role, content}] (or ShareGPT [{from, value}] when `sharegpt`).
  std::vector<Message> messages(const std::string& field, bool sharegpt = false) const {
    const Json& v = require(field);
    if (!v.is_array()) bad("field " + name(field) + " must be a list of messages, got " + v.type_name());
    std::vector<Message> out;
    for (size_t i = 0; i < v.size(); ++i)
      out.push_back(message(v[i], field + "[" + std::to_string(i) + "]", sharegpt));
    return out;
  }
  // One {from, value} (ShareGPT chosen/rejected) or a bare string taken as the assistant's reply.
  Message turn(const std::string& field) const {
    const Json& v = require(field);
    if (v.is_string()) return {"assistant", v.get<std::string>()};
    return message(v, field, true);
  }

 private:
  Message message(const Json& m, const std::string& where, bool sharegpt) const {
    const std::string shown = "field " + name(where.substr(0, where.find('['))) +
                              (where.find('[') == std::string::npos ? "" : where.substr(where.find('[')));
    if (!m.is_object()) bad(shown + " must be a message object, got " + m.type_name());
    const char* role_key = sharegpt ? "from" : "role";
    const char* content_key = sharegpt ? "value" : "content";
    auto role = m.find(role_key);
    auto content = m.find(content_key);
    if (role == m.end()) bad(shown + ": missing \"" + role_key + "\"");
    if (content == m.end()) bad(shown + ": missing \"" + content_key + "\"");
    if (!role->is_string()) bad(shown + ": \"" + role_key + "\" must be a string, got " + role->type_name());
    if (!content->is_string())
      bad(shown + ": \"" + content_key + "\" must be a string, got " + content->type_name());
    std::string r = role->get<std::string>();
    if (sharegpt) {
      static const std::map<std::string, std::string> roles = {{"human", "user"},
                                                               {"user", "user"},
                                                               {"gpt", "assistant"},
                                                               {"assistant", "assistant"},
                                                               {"system", "system"},
                                                               {"observation", "tool"},
                                                               {"function_call", "assistant"}};
      auto it = roles.find(r);
      if (it == roles.end()) bad(shown + ": unknown ShareGPT role \"" + r + "\"");
      r = it->second;
    }
    return {r, content->get<std::string>()};
  }

  const Json& row_;
  bool from_table_;
  const std::map<std::string, std::string>& columns_;
};

Json to_json(const std::vector<Message>& messages) {
  Json out = Json::array();
  for (const auto& m : messages) {
    Json msg = Json::object();
    msg["role"] = m.role;
    msg["content"] = m.content;
    out.push_back(std::move(msg));
  }
  return out;
}

class Renderer {
 public:
  explicit Renderer(const ChatRenderer* r, const std::string& label) : r_(r), label_(label) {}

  std::string prompt(const std::vector<Message>& messages) const { return render(messages, true); }
  // The text the template adds for `completion` after `prompt` (rendered with add_generation_prompt).
  std::string completion(const std::vector<Message>& prompt_messages, const std::string& prompt_text,
                         const std::vector<Message>& completion_messages, const std::string& field) const {
    auto all = prompt_messages;
    all.insert(all.end(), completion_messages.begin(), completion_messages.end());
    const std::string full = render(all, false);
    if (!full.starts_with(prompt_text))
      bad("field \"" + field + "\": the chat template's text for prompt + " + field +
          " does not start with its text for the prompt alone, so the completion cannot be cut out");
    return full.substr(prompt_text.size());
  }

 private:
  std::string render(const std::vector<Message>& messages, bool add_generation_prompt) const {
    if (!r_ || !r_->chat_template)
      throw DataError(label_ +
                      ": rows hold message lists but no chat template was given (load a model or "
                      "tokenizer that has one, or pass a template)");
    Json context = Json::object();
    context["messages"] = to_json(messages);
    context["add_generation_prompt"] = add_generation_prompt;
    context["bos_token"] = r_->bos_token;
    context["eos_token"] = r_->eos_token;
    try {
      return r_->chat_template->render(context);
    } catch (const TokenizerError& e) {
      bad(std::string("chat template: ") + e.what());
    }
  }
  const ChatRenderer* r_;
  const std::string& label_;
};

void check_completions(const std::string& chosen, const std::string& rejected, const RowView& row) {
  for (const auto& [field, text] :
       {std::pair<const char*, const std::string&>{"chosen", chosen}, {"rejected", rejected}}) {
    if (text.empty()) bad("field " + row.name(field) + " is empty");
    if (blank(text)) bad("field " + row.name(field) + " is only whitespace");
  }
  if (chosen == rejected) bad("\"chosen\" and \"rejected\" are identical");
}

bool is_message_list(const Json& v) { return v.is_array() && (v.empty() || v.front().is_object()); }

// TRL's implicit-prompt rule for text, restricted to word boundaries, and Anthropic HH transcripts
// ("\n\nHuman: ... \n\nAssistant: ...") cut right after the last assistant marker both share.
size_t implicit_prompt_end(const std::string& chosen, const std::string& rejected) {
  size_t common = 0;
  const size_t n = std::min(chosen.size(), rejected.size());
  while (common < n && chosen[common] == rejected[common]) ++common;
  const std::string_view prefix(chosen.data(), common);
  for (const char* marker : {"\n\nAssistant:", "\n\nassistant:"}) {
    if (auto at = prefix.rfind(marker); at != std::string_view::npos) return at + std::strlen(marker);
  }
  // Never split a word: back up to the start of the word the texts diverge in; the completions then
  // start with the whitespace before it, as in TRL's rule.
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  size_t end = common;
  const bool splits_word =
      end > 0 && !space(chosen[end - 1]) &&
      ((end < chosen.size() && !space(chosen[end])) || (end < rejected.size() && !space(rejected[end])));
  if (splits_word) {
    while (end > 0 && !space(chosen[end - 1])) --end;
  }
  if (end > 0 && space(chosen[end - 1])) --end;
  return end;
}

// Number of leading turns both transcripts share, cut back so the prompt ends where an assistant turn starts.
size_t common_messages(const std::vector<Message>& a, const std::vector<Message>& b) {
  size_t k = 0;
  while (k < a.size() && k < b.size() && a[k].role == b[k].role && a[k].content == b[k].content) ++k;
  if (a.empty() || b.empty()) return 0;
  for (size_t j = std::min({k, a.size() - 1, b.size() - 1}) + 1; j-- > 0;) {
    if (a[j].role == "assistant" && b[j].role == "assistant") return j;
  }
  return 0;
}

std::string layout_summary(Layout layout) {
  switch (layout) {
    case Layout::kStandard:
      return "prompt, chosen, rejected are strings";
    case Layout::kConversational:
      return "prompt, chosen, rejected are message lists";
    case Layout::kImplicitPrompt:
      return "chosen and rejected are full transcripts; the prompt is their shared start";
    case Layout::kUnpaired:
      return "prompt, completion and a boolean label (KTO)";
    case Layout::kShareGpt:
      return "LLaMA-Factory ranking: conversations [{from, value}] + chosen/rejected turns";
    case Layout::kAlpaca:
      return "LLaMA-Factory ranking: instruction (+ input) + chosen/rejected strings";
    case Layout::kKtoMessages:
      return "LLaMA-Factory KTO: messages ending on the assistant's turn + label";
  }
  return "";
}

class Converter {
 public:
  Converter(const std::string& label, const LayoutOptions& options, PreferenceDataset& out)
      : label_(label), options_(options), out_(out), render_(options.renderer, label) {}

  void add(RawRow&& raw) {
    try {
      if (!raw.value.is_object()) bad(std::string("expected a JSON object, got ") + raw.value.type_name());
      rename(raw.value, raw.line);
      if (!layout_) decide(raw.value, raw.line);
      RowView row(raw.value, raw.from_text_table, options_.columns);
      convert(row, raw.value, raw.line);
    } catch (const RowError& e) {
      report(raw.line, e.message);
    }
  }

  void report(size_t line, const std::string& message) {
    if (options_.on_bad_row == BadRowPolicy::kError) throw DataError(located(label_, line, message));
    out_.skipped.push_back({line, located(label_, line, message)});
  }

  void finish() {
    if (!layout_) throw DataError(label_ + ": no preference rows found");
    if (out_.rows() == 0)
      throw DataError(label_ + ": no usable rows (" + std::to_string(out_.skipped.size()) + " skipped)");
    out_.layout = *layout_;
    std::string text =
        to_string(out_.format) + ", layout " + to_string(*layout_) + ": " + layout_summary(*layout_);
    if (out_.templated && options_.renderer) text += ", rendered with " + options_.renderer->description;
    if (out_.has_scores) text += "; score_chosen/score_rejected kept as per-pair margins";
    text += options_.layout ? " (layout given)"
                            : " (detected from the keys of line " + std::to_string(first_line_) + ")";
    if (!options_.columns.empty()) text += ", with column mapping";
    out_.explanation = text;
  }

 private:
  void rename(Json& row, size_t line) {
    for (const auto& [canonical, column] : options_.columns) {
      if (canonical == column) continue;
      auto it = row.find(column);
      if (it == row.end()) continue;
      Json value = std::move(*it);
      row.erase(column);
      row[canonical] = std::move(value);
    }
  }

  void decide(const Json& row, size_t line) {
    first_line_ = line;
    if (options_.layout) {
      layout_ = options_.layout;
      return;
    }
    layout_ = detect_layout(row);
    if (!layout_) {
      std::string keys;
      for (auto it = row.begin(); it != row.end(); ++it) keys += (keys.empty() ? "" : ", ") + it.key();
      throw DataError(located(label_, line,
                              "cannot tell the layout from the keys {" + keys +
                                  "}: expected prompt/chosen/rejected, chosen/rejected, "
                                  "prompt/completion/label, conversations/chosen/rejected, "
                                  "instruction/chosen/rejected or messages/label; map columns "
                                  "with --columns prompt=...,chosen=...,rejected=..."));
    }
  }

  void pair_out(std::string prompt, std::string chosen, std::string rejected, const RowView& row,
                size_t line) {
    check_completions(chosen, rejected, row);
    PreferencePair pair{std::move(prompt), std::move(chosen), std::move(rejected), line};
    pair.score_chosen = row.number("score_chosen");
    pair.score_rejected = row.number("score_rejected");
    if (pair.score_chosen || pair.score_rejected) out_.has_scores = true;
    out_.pairs.push_back(std::move(pair));
  }

  void conversational_pair(const std::vector<Message>& prompt, const std::vector<Message>& chosen,
                           const std::vector<Message>& rejected, const RowView& row, size_t line) {
    out_.templated = true;
    if (chosen.empty()) bad("field " + row.name("chosen") + " is an empty message list");
    if (rejected.empty()) bad("field " + row.name("rejected") + " is an empty message list");
    const std::string prompt_text = render_.prompt(prompt);
    auto chosen_text = render_.completion(prompt, prompt_text, chosen, "chosen");
    auto rejected_text = render_.completion(prompt, prompt_text, rejected, "rejected");
    pair_out(prompt_text, std::move(chosen_text), std::move(rejected_text), row, line);
  }

  void unpaired_out(std::string prompt, std::string completion, const RowView& row, size_t line) {
    if (completion.empty()) bad("field " + row.name("completion") + " is empty");
    if (blank(completion)) bad("field " + row.name("completion") + " is only whitespace");
    out_.unpaired.push_back({std::move(prompt), std::move(completion), row.boolean("label"), line});
  }

  void conversational_unpaired(const std::vector<Message>& prompt, const std::vector<Message>& completion,
                               const RowView& row, size_t line) {
    out_.templated = true;
    if (completion.empty()) bad("field " + row.name("completion") + " is an empty message list");
    const std::string prompt_text = render_.prompt(prompt);
    unpaired_out(prompt_text, render_.completion(prompt, prompt_text, completion, "completion"), row, line);
  }

  // Both sides as message lists sharing their first turns.
  void split_transcripts(const std::vector<Message>& chosen, const std::vector<Message>& rejected,
                         const RowView& row, size_t line) {
    const size_t k = common_messages(chosen, rejected);
    if (k == 0)
      bad("fields \"chosen\" and \"rejected\" share no turns before an assistant turn, so there is no "
          "prompt");
    std::vector<Message> prompt(chosen.begin(), chosen.begin() + static_cast<ptrdiff_t>(k));
    conversational_pair(prompt, {chosen.begin() + static_cast<ptrdiff_t>(k), chosen.end()},
                        {rejected.begin() + static_cast<ptrdiff_t>(k), rejected.end()}, row, line);
  }

  void convert(const RowView& row, const Json& value, size_t line) {
    switch (*layout_) {
      case Layout::kStandard: {
        // Named locals: argument evaluation order is unspecified, and errors must follow field order.
        auto prompt = row.string("prompt");
        auto chosen = row.string("chosen");
        auto rejected = row.string("rejected");
        return pair_out(std::move(prompt), std::move(chosen), std::move(rejected), row, line);
      }
      case Layout::kConversational: {
        auto chosen = row.messages("chosen");
        auto rejected = row.messages("rejected");
        // UltraFeedback-binarized keeps the user turn inside chosen/rejected: take the shared turns.
        if (!chosen.empty() && chosen.front().role != "assistant")
          return split_transcripts(chosen, rejected, row, line);
        auto prompt = row.messages("prompt");
        return conversational_pair(prompt, chosen, rejected, row, line);
      }
      case Layout::kImplicitPrompt: {
        const Json& c = row.require("chosen");
        if (is_message_list(c)) {
          auto chosen = row.messages("chosen");
          return split_transcripts(chosen, row.messages("rejected"), row, line);
        }
        const auto chosen = row.string("chosen");
        const auto rejected = row.string("rejected");
        if (chosen == rejected) bad("\"chosen\" and \"rejected\" are identical");
        const size_t end = implicit_prompt_end(chosen, rejected);
        return pair_out(chosen.substr(0, end), chosen.substr(end), rejected.substr(end), row, line);
      }
      case Layout::kUnpaired: {
        if (is_message_list(row.require("completion"))) {
          auto prompt = row.messages("prompt");
          return conversational_unpaired(prompt, row.messages("completion"), row, line);
        }
        auto prompt = row.string("prompt");
        return unpaired_out(std::move(prompt), row.string("completion"), row, line);
      }
      case Layout::kKtoMessages: {
        auto messages = row.messages("messages");
        if (messages.empty() || messages.back().role != "assistant")
          bad("field " + row.name("messages") +
              " must end with an assistant turn (the completion being judged)");
        const std::vector<Message> completion = {messages.back()};
        messages.pop_back();
        return conversational_unpaired(messages, completion, row, line);
      }
      case Layout::kShareGpt: {
        auto history = row.messages("conversations", true);
        const auto system = row.optional_string("system");
        if (!system.empty()) history.insert(history.begin(), {"system", system});
        if (history.empty() || history.back().role == "assistant")
          bad("field " + row.name("conversations") +
              " must end with a human turn (chosen/rejected answer it)");
        auto chosen = row.turn("chosen");
        return conversational_pair(history, {chosen}, {row.turn("rejected")}, row, line);
      }
      case Layout::kAlpaca: {
        std::string user = row.string("instruction");
        const auto input = row.optional_string("input");
        if (!input.empty()) user += "\n" + input;
        const auto system = row.optional_string("system");
        const auto chosen = row.string("chosen");
        const auto rejected = row.string("rejected");
        if (!options_.renderer || !options_.renderer->chat_template)
          return pair_out(user, chosen, rejected, row, line);
        std::vector<Message> prompt;
        if (!system.empty()) prompt.push_back({"system", system});
        prompt.push_back({"user", user});
        return conversational_pair(prompt, {{"assistant", chosen}}, {{"assistant", rejected}}, row, line);
      }
    }
    (void)value;
  }

  const std::string& label_;
  const LayoutOptions& options_;
  PreferenceDataset& out_;
  Renderer render_;
  std::optional<Layout> layout_;
  size_t first_line_ = 0;
};

PreferenceDataset load_with(const std::string& label, FileFormat format, const LayoutOptions& options,
                            const std::function<void(const RowCallback&, const RowErrorCallback&)>& read) {
  PreferenceDataset out;
  out.source = label;
  out.format = format;
  Converter converter(label, options, out);
  RowErrorCallback on_error = nullptr;
  if (options.on_bad_row == BadRowPolicy::kSkip)
    on_error = [&](size_t line, const std::string& message) { converter.report(line, message); };
  read(
      [&](RawRow&& row) {
        converter.add(std::move(row));
        return true;
      },
      on_error);
  converter.finish();
  return out;
}

}  // namespace

std::string to_string(Layout layout) {
  switch (layout) {
    case Layout::kStandard:
      return "standard";
    case Layout::kConversational:
      return "conversational";
    case Layout::kImplicitPrompt:
      return "implicit_prompt";
    case Layout::kUnpaired:
      return "unpaired";
    case Layout::kShareGpt:
      return "sharegpt";
    case Layout::kAlpaca:
      return "alpaca";
    case Layout::kKtoMessages:
      return "kto_messages";
  }
  return "?";
}

Layout parse_layout(std::string_view name) {
  for (auto l : {Layout::kStandard, Layout::kConversational, Layout::kImplicitPrompt, Layout::kUnpaired,
                 Layout::kShareGpt, Layout::kAlpaca, Layout::kKtoMessages}) {
    if (name == to_string(l)) return l;
  }
  if (name == "implicit") return Layout::kImplicitPrompt;
  if (name == "kto") return Layout::kUnpaired;
  throw ConfigError("unknown layout \"" + std::string(name) +
                    "\": expected standard, conversational, implicit_prompt, unpaired, sharegpt, alpaca or "
                    "kto_messages");
}

bool is_unpaired(Layout layout) { return layout == Layout::kUnpaired || layout == Layout::kKtoMessages; }

BadRowPolicy parse_bad_row_policy(std::string_view name) {
  if (name == "error") return BadRowPolicy::kError;
  if (name == "skip") return BadRowPolicy::kSkip;
  throw ConfigError("on_bad_row must be error or skip, got \"" + std::string(name) + "\"");
}

std::map<std::string, std::string> parse_column_mapping(std::string_view text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    const auto item = text.substr(start, end - start);
    start = end + 1;
    if (blank(item)) continue;
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == item.size())
      throw ConfigError("column mapping \"" + std::string(item) +
                        "\": expected field=column, e.g. prompt=question");
    const std::string field(item.substr(0, eq));
    if (!canonical_fields().count(field))
      throw ConfigError("column mapping: unknown field \"" + field +
                        "\" (prompt, chosen, rejected, completion, label, score_chosen, score_rejected, "
                        "conversations, messages, instruction, input, system)");
    out[field] = std::string(item.substr(eq + 1));
  }
  if (out.empty()) throw ConfigError("column mapping is empty");
  return out;
}

std::optional<Layout> detect_layout(const nlohmann::ordered_json& row) {
  if (!row.is_object()) return std::nullopt;
  auto has = [&](const char* k) { return row.contains(k); };
  const bool pair = has("chosen") && has("rejected");
  if (has("conversations") && pair) return Layout::kShareGpt;
  if (has("messages") && has("label")) return Layout::kKtoMessages;
  if (has("instruction") && pair) return Layout::kAlpaca;
  if (has("completion") && has("label") && has("prompt")) return Layout::kUnpaired;
  if (pair) {
    if (!has("prompt")) return Layout::kImplicitPrompt;
    return is_message_list(row.at("chosen")) ? Layout::kConversational : Layout::kStandard;
  }
  return std::nullopt;
}

PreferenceDataset load_preference_dataset(const std::string& path, const LayoutOptions& options) {
  const FileFormat format = options.format.value_or(format_from_path(path));
  return load_with(path, format, options, [&](const RowCallback& on_row, const RowErrorCallback& on_error) {
    read_rows(path, format, on_row, on_error);
  });
}

PreferenceDataset parse_preference_dataset(std::string_view text, const std::string& label, FileFormat format,
                                           const LayoutOptions& options) {
  return load_with(label, format, options, [&](const RowCallback& on_row, const RowErrorCallback& on_error) {
    parse_rows(text, label, format, on_row, on_error);
  });
}

std::string_view chatml_template_source() {
  return "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
         "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
         "{% endif %}";
}

}  // namespace dpo
