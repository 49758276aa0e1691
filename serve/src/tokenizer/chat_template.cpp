// Chat templates: the GGUF stores a Jinja template; rather than a Jinja interpreter we
// recognise the template families in use and render them natively.
#include <array>
#include <regex>
#include <string_view>
#include <utility>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/tokenizer/tokenizer.hpp"

namespace gearbox::serve {

namespace {

// ChatML: <|im_start|>role\ncontent<|im_end|>\n ... (SmolLM2, Qwen). Some templates (SmolLM2)
// insert a default system message when the conversation has none; we read it from the
// template text.
std::string chatml(const std::string& tmpl, std::span<const ChatMessage> msgs, bool gen) {
  std::string out;
  if ((msgs.empty() || msgs[0].role != "system") &&
      tmpl.find("messages[0]['role'] != 'system'") != std::string::npos) {
    static const std::regex sys(R"(<\|im_start\|>system(?:\\n|\n)(.*?)<\|im_end\|>)");
    std::smatch m;
    if (std::regex_search(tmpl, m, sys))
      out += "<|im_start|>system\n" + m[1].str() + "<|im_end|>\n";
  }
  for (const auto& m : msgs) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (gen) out += "<|im_start|>assistant\n";
  return out;
}

// Jinja's `trim`: whitespace off both ends.
std::string trim(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const std::size_t b = s.find_first_not_of(ws);
  return b == std::string::npos ? std::string() : s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Llama 3, as llama.cpp's built-in template: "<|start_header_id|>role<|end_header_id|>\n\n"
// + content trimmed + "<|eot_id|>". No <|begin_of_text|>: the BOS comes from the vocabulary's
// add_bos_token when the text is encoded (written here too it was a second BOS).
std::string llama3(std::span<const ChatMessage> msgs, bool gen) {
  std::string out;
  for (const auto& m : msgs)
    out +=
        "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) + "<|eot_id|>";
  if (gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// Gemma: a system message becomes the first user turn's prefix (content + blank line);
// turns are "<start_of_turn>user|model\n" + content trimmed + "<end_of_turn>\n".
std::string gemma(std::span<const ChatMessage> msgs, bool gen) {
  std::string out, system;
  for (const auto& m : msgs) {
    if (m.role == "system") {
      system += m.content + "\n\n";
      continue;
    }
    const std::string role = m.role == "assistant" ? "model" : m.role;
    out += "<start_of_turn>" + role + "\n" + system + trim(m.content) + "<end_of_turn>\n";
    system.clear();
  }
  if (gen) out += "<start_of_turn>model\n";
  return out;
}

std::string llama2(std::span<const ChatMessage> msgs, bool /*gen*/) {
  std::string out, system;
  for (const auto& m : msgs) {
    if (m.role == "system")
      system = "<<SYS>>\n" + m.content + "\n<</SYS>>\n\n";
    else if (m.role == "user") {
      out += "[INST] " + system + m.content + " [/INST]";
      system.clear();
    } else
      out += " " + m.content + " </s>";
  }
  return out;
}

enum class Family { kNone, kChatml, kLlama2, kLlama3, kGemma };

// The built-in templates by name, as llama.cpp's llama-server names them.
constexpr std::array<std::pair<std::string_view, Family>, 4> kBuiltin{{
    {"chatml", Family::kChatml},
    {"gemma", Family::kGemma},
    {"llama2", Family::kLlama2},
    {"llama3", Family::kLlama3},
}};

// A built-in name, else the family whose markers a Jinja template's text carries.
Family family_of(std::string_view t) {
  for (const auto& [name, f] : kBuiltin)
    if (t == name) return f;
  if (t.find("<|im_start|>") != std::string_view::npos) return Family::kChatml;
  if (t.find("<|start_header_id|>") != std::string_view::npos) return Family::kLlama3;
  if (t.find("<start_of_turn>") != std::string_view::npos) return Family::kGemma;
  if (t.find("[INST]") != std::string_view::npos) return Family::kLlama2;
  return Family::kNone;
}

}  // namespace

const std::vector<std::string>& builtin_chat_template_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& b : kBuiltin) v.emplace_back(b.first);
    return v;
  }();
  return names;
}

bool is_renderable_chat_template(std::string_view tmpl) {
  return family_of(tmpl) != Family::kNone;
}

std::string render_chat_template(std::string_view tmpl, std::span<const ChatMessage> messages,
                                 bool add_generation_prompt) {
  for (const auto& m : messages)
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      throw Error::input("unknown chat role")
          .field("role")
          .expected("system, user or assistant")
          .found(m.role);
  if (tmpl.empty())
    throw Error::input("the model has no chat template").field("tokenizer.chat_template");
  switch (family_of(tmpl)) {
    case Family::kChatml:
      return chatml(std::string(tmpl), messages, add_generation_prompt);
    case Family::kLlama3:
      return llama3(messages, add_generation_prompt);
    case Family::kGemma:
      return gemma(messages, add_generation_prompt);
    case Family::kLlama2:
      return llama2(messages, add_generation_prompt);
    case Family::kNone:
      break;
  }
  throw Error::input("chat template of an unknown family")
      .field("tokenizer.chat_template")
      .expected("ChatML, Llama-2, Llama-3 or Gemma")
      .found(std::string(tmpl.substr(0, 60)));
}

std::string Tokenizer::apply_chat_template(std::span<const ChatMessage> messages,
                                           bool add_generation_prompt) const {
  return render_chat_template(chat_template_, messages, add_generation_prompt);
}

}  // namespace gearbox::serve
