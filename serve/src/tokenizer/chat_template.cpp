// Chat templates: the GGUF stores a Jinja template; rather than a Jinja interpreter we
// recognise the template families in use and render them natively.
#include <regex>

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

std::string llama3(std::span<const ChatMessage> msgs, bool gen) {
  std::string out = "<|begin_of_text|>";
  for (const auto& m : msgs)
    out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + m.content + "<|eot_id|>";
  if (gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// Jinja's `trim`: whitespace off both ends.
std::string trim(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const std::size_t b = s.find_first_not_of(ws);
  return b == std::string::npos ? std::string() : s.substr(b, s.find_last_not_of(ws) - b + 1);
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

}  // namespace

std::string Tokenizer::apply_chat_template(std::span<const ChatMessage> messages,
                                           bool add_generation_prompt) const {
  for (const auto& m : messages)
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      throw Error::input("unknown chat role")
          .field("role")
          .expected("system, user or assistant")
          .found(m.role);
  const std::string& t = chat_template_;
  if (t.empty())
    throw Error::input("the model has no chat template").field("tokenizer.chat_template");
  if (t.find("<|im_start|>") != std::string::npos)
    return chatml(t, messages, add_generation_prompt);
  if (t.find("<|start_header_id|>") != std::string::npos)
    return llama3(messages, add_generation_prompt);
  if (t.find("<start_of_turn>") != std::string::npos) return gemma(messages, add_generation_prompt);
  if (t.find("[INST]") != std::string::npos) return llama2(messages, add_generation_prompt);
  throw Error::input("chat template of an unknown family")
      .field("tokenizer.chat_template")
      .expected("ChatML, Llama-2, Llama-3 or Gemma")
      .found(t.substr(0, 60));
}

}  // namespace gearbox::serve
