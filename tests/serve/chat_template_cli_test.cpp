// `gearbox serve run --chat-template NAME | --chat-template-file PATH` through the built binary
// and HTTP: the named built-in template or the file's template replaces the GGUF's (a chat
// request then runs exactly the prompt that template makes, written out here by hand as
// llama.cpp's template of that name writes it), an unknown name is refused with the list of
// known ones, and a bad file is refused naming it (exit 2, one line).
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gearbox/testing/data.hpp"
#include "gearbox/testing/run_cli.hpp"
#include "gearbox/testing/temp_dir.hpp"
#include "model_files.hpp"
#include "server_process.hpp"

namespace {

using gearbox::testing::CliRun;
using gearbox::testing::run_argv;
using Json = nlohmann::json;

Json post(int port, const std::string& path, const Json& body) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(120, 0);
  auto r = c.Post(path, body.dump(), "application/json");
  if (!r) {
    ADD_FAILURE() << "transport error " << httplib::to_string(r.error());
    return {};
  }
  EXPECT_EQ(r->status, 200) << r->body;
  return Json::parse(r->body);
}

struct Reply {
  std::string text;
  int prompt_tokens = -1;
};

// A greedy chat turn "Name a colour." and, on the same server, a greedy completion of `prompt`.
std::pair<Reply, Reply> chat_and_completion(const std::vector<std::string>& flags,
                                            const std::string& prompt) {
  const auto model = gearbox::test::find_model_file(gearbox::test::kSmolLmFile);
  std::vector<std::string> argv = {GEARBOX_BINARY, "serve", "run",       "--model", model.string(),
                                   "--port",       "0",     "--threads", "1"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  gearbox::test::ServerProcess server(argv);
  if (server.port() <= 0) {
    ADD_FAILURE() << server.err();
    return {};
  }
  const Json chat = post(server.port(), "/v1/chat/completions",
                         {{"messages", {{{"role", "user"}, {"content", "Name a colour."}}}},
                          {"max_tokens", 6},
                          {"temperature", 0}});
  const Json done = post(server.port(), "/v1/completions",
                         {{"prompt", prompt}, {"max_tokens", 6}, {"temperature", 0}});
  server.stop();
  Reply a{chat["choices"][0]["message"]["content"].get<std::string>(),
          chat["usage"]["prompt_tokens"].get<int>()};
  Reply b{done["choices"][0]["text"].get<std::string>(), done["usage"]["prompt_tokens"].get<int>()};
  return {a, b};
}

// Gemma's turn format (llama.cpp's "gemma" template) for one user message, ready for the reply.
const std::string kGemmaPrompt =
    "<start_of_turn>user\nName a colour.<end_of_turn>\n<start_of_turn>model\n";

// SmolLM2's GGUF carries ChatML; `--chat-template gemma` makes a chat request run Gemma's turn
// format instead: the same prompt tokens and greedy reply as a completion of that text.
TEST(ServeChatTemplate, NamedTemplateReplacesTheFilesTemplate) {
  GEARBOX_REQUIRE_FILE(gearbox::test::find_model_file(gearbox::test::kSmolLmFile));
  const auto [chat, completion] = chat_and_completion({"--chat-template", "gemma"}, kGemmaPrompt);
  EXPECT_EQ(chat.prompt_tokens, completion.prompt_tokens);
  EXPECT_EQ(chat.text, completion.text);
  // Without the flag the file's ChatML (with its default system message) is used.
  const auto [own, unused] = chat_and_completion({}, kGemmaPrompt);
  EXPECT_NE(own.prompt_tokens, completion.prompt_tokens);
}

// A Jinja template file of the Gemma family (the start of Gemma 3's own) does the same.
TEST(ServeChatTemplate, TemplateFileReplacesTheFilesTemplate) {
  GEARBOX_REQUIRE_FILE(gearbox::test::find_model_file(gearbox::test::kSmolLmFile));
  gearbox::testing::TempDir dir;
  const auto path = dir.path() / "gemma.jinja";
  std::ofstream(path)
      << "{{ bos_token }}{%- for message in messages -%}"
         "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + "
         "'<end_of_turn>\\n' }}{%- endfor -%}"
         "{%- if add_generation_prompt -%}{{'<start_of_turn>model\\n'}}{%- endif -%}";
  const auto [chat, completion] =
      chat_and_completion({"--chat-template-file", path.string()}, kGemmaPrompt);
  EXPECT_EQ(chat.prompt_tokens, completion.prompt_tokens);
  EXPECT_EQ(chat.text, completion.text);
}

// Exit 2 with one line on stderr holding every needle.
void expect_refused(const CliRun& r, const std::vector<std::string>& needles) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (const auto& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << n << " in " << r.err;
}

TEST(ServeChatTemplate, BadNamesAndFilesAreRefused) {
  gearbox::testing::TempDir dir;
  const std::vector<std::string> run = {GEARBOX_BINARY, "serve",  "run", "--model",
                                        "stories260K",  "--port", "0"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = run;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_argv(argv);
  };
  expect_refused(with({"--chat-template", "vicuna"}),
                 {"--chat-template", "vicuna", "chatml", "gemma", "llama2", "llama3"});
  const auto missing = (dir.path() / "absent.jinja").string();
  expect_refused(with({"--chat-template-file", missing}), {missing});
  const auto unknown = dir.path() / "unknown.jinja";
  std::ofstream(unknown) << "{% for m in messages %}### {{ m.role }}: {{ m.content }}{% endfor %}";
  expect_refused(with({"--chat-template-file", unknown.string()}),
                 {unknown.string(), "unknown family", "chat-template-file"});
  expect_refused(with({"--chat-template-file", "/dev/zero"}), {"/dev/zero"});
  expect_refused(with({"--chat-template", "chatml", "--chat-template-file", unknown.string()}),
                 {"--chat-template"});
}

}  // namespace
