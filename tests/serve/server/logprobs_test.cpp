// OpenAI logprobs and echo through the server over the real engine (SmolLM2-135M-Instruct,
// skipped when absent): every logprob the HTTP response carries equals the log-softmax of the
// model's own logits at that position (the model run directly, all positions at once, the
// softmax computed here in double), its alternatives are the most likely tokens there, and
// echo with max_tokens 0 scores the prompt without generating (what lm-eval's loglikelihood
// requests send).
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <random>

#include "../model_files.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/serve/model/contiguous_kv_cache.hpp"
#include "gearbox/serve/sampling/logprobs.hpp"
#include "gearbox/serve/server/engine_runner.hpp"
#include "gearbox/serve/server/http_server.hpp"
#include "gearbox/testing/data.hpp"

namespace gearbox::serve::server {
namespace {

using Json = nlohmann::json;

// Batched decode and chunked prefill run other kernels than one whole prefill: their logits
// differ in the last float bits, far below this.
constexpr double kTol = 2e-3;

struct Fixture {
  std::unique_ptr<EngineRunner> runner;
  std::unique_ptr<ApiServer> server;
};

Fixture start_server(const std::filesystem::path& model) {
  Fixture f;
  EngineRunnerOptions opt;
  opt.threads = 1;
  f.runner = EngineRunner::load(model.string(), opt);
  ServerOptions so;
  so.port = 0;
  f.server = std::make_unique<ApiServer>(*f.runner, so);
  f.server->start();
  return f;
}

Fixture start_smollm() {
  return start_server(test::find_model_file(test::kSmolLmFile));
}

Json post(int port, const std::string& path, const Json& body, int want_status = 200) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(120, 0);
  auto r = c.Post(path, body.dump(), "application/json");
  if (!r) {
    ADD_FAILURE() << "transport error";
    return {};
  }
  EXPECT_EQ(r->status, want_status) << r->body;
  return Json::parse(r->body);
}

// The model run directly on one sequence: append() feeds tokens (all positions' logits at
// once) and returns the log_softmax of each new position's logits, computed here in double.
class Reference {
 public:
  Reference(const Model& m, std::size_t max_tokens)
      : m_(const_cast<Model&>(m)), cache_(m.config(), max_tokens) {}
  std::vector<std::vector<double>> append(const std::vector<std::int32_t>& ids) {
    const std::size_t V = static_cast<std::size_t>(m_.config().n_vocab);
    std::vector<float> logits(ids.size() * V);
    m_.prefill(cache_, 0, ids, logits, true);
    std::vector<std::vector<double>> out(ids.size(), std::vector<double>(V));
    for (std::size_t p = 0; p < ids.size(); ++p) {
      const float* row = logits.data() + p * V;
      const double mx = *std::max_element(row, row + V);
      double sum = 0;
      for (std::size_t v = 0; v < V; ++v) sum += std::exp(row[v] - mx);
      for (std::size_t v = 0; v < V; ++v) out[p][v] = row[v] - mx - std::log(sum);
    }
    return out;
  }

 private:
  Model& m_;
  ContiguousKvCache cache_;
};

std::vector<std::vector<double>> reference_logprobs(const Model& m,
                                                    const std::vector<std::int32_t>& ids) {
  return Reference(m, ids.size()).append(ids);
}

// The ids of the `n` most likely tokens of `lp` (lowest id on ties).
std::vector<std::int32_t> top_ids(const std::vector<double>& lp, std::size_t n) {
  std::vector<std::int32_t> ids(lp.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(
      ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(),
      [&](std::int32_t a, std::int32_t b) { return lp[a] > lp[b] || (lp[a] == lp[b] && a < b); });
  ids.resize(n);
  return ids;
}

// The heap-based top-n against a plain full sort, on random logits of awkward sizes with many
// ties (values on a coarse grid), and the log-softmax against a plain double sum.
TEST(Logprobs, LogSoftmaxTopMatchesAPlainSort) {
  std::mt19937 rng(7);
  for (std::size_t n : {1u, 2u, 7u, 1000u, 4099u}) {
    std::vector<float> logits(n);
    std::uniform_int_distribution<int> grid(-40, 40);
    for (auto& x : logits) x = static_cast<float>(grid(rng)) * 0.25f;
    if (n > 2) logits[n / 2] = 80.0f;  // a large logit: the sum must not overflow
    double z = 0;
    for (float x : logits) z += std::exp(static_cast<double>(x) - 80.0);
    const double log_z = 80.0 + std::log(z);
    for (int top_n : {0, 1, 5, 20}) {
      std::vector<std::pair<std::int32_t, float>> top;
      const auto token = static_cast<std::int32_t>(n - 1);
      const float lp = log_softmax_top(logits, token, top_n, top);
      EXPECT_NEAR(lp, logits[n - 1] - log_z, 1e-5) << n;
      std::vector<std::int32_t> ids(n);
      std::iota(ids.begin(), ids.end(), 0);
      std::stable_sort(ids.begin(), ids.end(),
                       [&](std::int32_t a, std::int32_t b) { return logits[a] > logits[b]; });
      ASSERT_EQ(top.size(), std::min<std::size_t>(static_cast<std::size_t>(top_n), n));
      for (std::size_t k = 0; k < top.size(); ++k) {
        EXPECT_EQ(top[k].first, ids[k]) << "n " << n << " rank " << k;
        EXPECT_NEAR(top[k].second, logits[ids[k]] - log_z, 1e-5);
      }
    }
  }
}

#define SKIP_WITHOUT_SMOLLM() GEARBOX_REQUIRE_FILE(test::find_model_file(test::kSmolLmFile))

TEST(Logprobs, CompletionLogprobsAreTheModelsLogSoftmax) {
  SKIP_WITHOUT_SMOLLM();
  Fixture f = start_smollm();
  const Model& m = f.runner->model();
  const std::string prompt = "The capital of France is";
  const Json r = post(f.server->port(), "/v1/completions",
                      {{"prompt", prompt}, {"max_tokens", 6}, {"temperature", 0}, {"logprobs", 3}});
  const Json& lp = r["choices"][0]["logprobs"];
  ASSERT_TRUE(lp.is_object()) << r.dump();
  ASSERT_EQ(lp["tokens"].size(), 6u) << r.dump();
  // Greedy: the generated ids are the argmax of the model's own logits, one after another.
  std::vector<std::int32_t> ids = m.tokenizer().encode_prompt(prompt);
  const std::size_t n_prompt = ids.size();
  std::string text;
  Reference model(m, n_prompt + 8);
  auto ref = model.append(ids);
  for (int i = 0; i < 6; ++i) {
    ids.push_back(top_ids(ref.back(), 1)[0]);
    if (i < 5) ref.push_back(model.append({ids.back()})[0]);
  }
  for (std::size_t i = 0; i < 6; ++i) {
    const std::int32_t tok = ids[n_prompt + i];
    const auto& row = ref[n_prompt - 1 + i];
    EXPECT_EQ(lp["tokens"][i], m.tokenizer().token_bytes(tok)) << i;
    EXPECT_NEAR(lp["token_logprobs"][i].get<double>(), row[tok], kTol) << i;
    EXPECT_EQ(lp["text_offset"][i].get<std::size_t>(), text.size()) << i;
    text += m.tokenizer().token_bytes(tok);
    const Json& top = lp["top_logprobs"][i];
    ASSERT_EQ(top.size(), 3u) << top.dump();
    for (std::int32_t id : top_ids(row, 3)) {
      const std::string t = m.tokenizer().token_bytes(id);
      ASSERT_TRUE(top.contains(t)) << "missing alternative '" << t << "' at " << i << ": " << top;
      EXPECT_NEAR(top[t].get<double>(), row[id], kTol) << i;
    }
  }
  EXPECT_EQ(r["choices"][0]["text"], text);
}

TEST(Logprobs, EchoWithMaxTokensZeroScoresThePromptOnly) {
  SKIP_WITHOUT_SMOLLM();
  Fixture f = start_smollm();
  const Model& m = f.runner->model();
  // A prompt of ids as lm-eval sends it (a batch of one), long enough for several prefill
  // chunks of the server's scoring (32 rows).
  std::vector<std::int32_t> ids = m.tokenizer().encode(
      "Paris is the capital and most populous city of France. With an estimated population of "
      "two million residents, it is the centre of the Ile-de-France region.",
      false);
  ASSERT_GT(ids.size(), 32u);
  const Json r = post(f.server->port(), "/v1/completions",
                      {{"prompt", Json::array({ids})},
                       {"max_tokens", 0},
                       {"echo", true},
                       {"logprobs", 1},
                       {"temperature", 0}});
  const Json& c = r["choices"][0];
  EXPECT_EQ(c["finish_reason"], "length");
  EXPECT_EQ(r["usage"]["completion_tokens"], 0);
  EXPECT_EQ(r["usage"]["prompt_tokens"], ids.size());
  const Json& lp = c["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), ids.size()) << r.dump();
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  EXPECT_TRUE(lp["top_logprobs"][0].is_null());
  const auto ref = reference_logprobs(m, ids);
  std::string text;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(lp["tokens"][i], m.tokenizer().token_bytes(ids[i])) << i;
    EXPECT_EQ(lp["text_offset"][i].get<std::size_t>(), text.size()) << i;
    text += m.tokenizer().token_bytes(ids[i]);
    if (i == 0) continue;
    EXPECT_NEAR(lp["token_logprobs"][i].get<double>(), ref[i - 1][ids[i]], kTol) << i;
    const std::int32_t best = top_ids(ref[i - 1], 1)[0];
    const Json& top = lp["top_logprobs"][i];
    ASSERT_EQ(top.size(), 1u) << i;
    EXPECT_NEAR(top[m.tokenizer().token_bytes(best)].get<double>(), ref[i - 1][best], kTol) << i;
  }
  EXPECT_EQ(c["text"], text);

  // The same prompt again (its blocks now in the prefix cache) scores the same: echo prefills
  // the whole prompt rather than reusing a cached prefix whose logits are gone.
  const Json again =
      post(f.server->port(), "/v1/completions",
           {{"prompt", Json::array({ids})}, {"max_tokens", 0}, {"echo", true}, {"logprobs", 0}});
  const Json& lp2 = again["choices"][0]["logprobs"];
  ASSERT_EQ(lp2["token_logprobs"].size(), ids.size());
  for (std::size_t i = 1; i < ids.size(); ++i) {
    EXPECT_NEAR(lp2["token_logprobs"][i].get<double>(), ref[i - 1][ids[i]], kTol) << i;
    EXPECT_TRUE(lp2["top_logprobs"][i].empty()) << i;
  }

  // Echo with generation: the prompt's tokens, then the generated ones, one text.
  const Json gen = post(f.server->port(), "/v1/completions",
                        {{"prompt", "The capital of France is"},
                         {"max_tokens", 2},
                         {"echo", true},
                         {"logprobs", 0},
                         {"temperature", 0}});
  const auto pids = m.tokenizer().encode_prompt("The capital of France is");
  const Json& g = gen["choices"][0];
  ASSERT_EQ(g["logprobs"]["tokens"].size(), pids.size() + 2) << gen.dump();
  EXPECT_EQ(g["text"].get<std::string>().rfind("The capital of France is", 0), 0u) << gen.dump();
}

// A text prompt's control tokens are parsed as llama.cpp's servers parse them: SmolLM2's BOS
// spelled out in front ("<|im_start|>", its add_bos_token is false) is one token, echoed as
// spelled with a null logprob, and the next tokens are scored after it (what
// bench/serve/lm_eval.sh sends both servers so that llama-cpp-python pairs its logprobs right).
TEST(Logprobs, ControlTokensInATextPromptAreParsedAndEchoedAsSpelled) {
  SKIP_WITHOUT_SMOLLM();
  Fixture f = start_smollm();
  const Model& m = f.runner->model();
  const auto& tok = m.tokenizer();
  const std::int32_t bos = tok.find_piece("<|im_start|>");
  ASSERT_GE(bos, 0);
  ASSERT_TRUE(tok.is_control(bos));
  const std::string text = "The capital of France is";
  const std::string prompt = "<|im_start|>" + text;
  std::vector<std::int32_t> ids{bos};
  for (std::int32_t t : tok.encode(text, false)) ids.push_back(t);
  const Json r = post(f.server->port(), "/v1/completions",
                      {{"prompt", prompt}, {"max_tokens", 0}, {"echo", true}, {"logprobs", 0}});
  const Json& c = r["choices"][0];
  EXPECT_EQ(c["text"], prompt);
  EXPECT_EQ(r["usage"]["prompt_tokens"], ids.size()) << r.dump();
  const Json& lp = c["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), ids.size()) << r.dump();
  EXPECT_EQ(lp["tokens"][0], "<|im_start|>");
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  const auto ref = reference_logprobs(m, ids);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string t = lp["tokens"][i];
    EXPECT_EQ(prompt.substr(lp["text_offset"][i].get<std::size_t>(), t.size()), t) << i;
    if (i > 0) {
      EXPECT_NEAR(lp["token_logprobs"][i].get<double>(), ref[i - 1][ids[i]], kTol) << i;
    }
  }
}

// The JSON objects of a server-sent-event body ("data: {...}" events up to "data: [DONE]").
std::vector<Json> sse_events(const std::string& body) {
  std::vector<Json> out;
  std::size_t at = 0;
  bool done = false;
  while ((at = body.find("data: ", at)) != std::string::npos) {
    const std::size_t end = body.find("\n\n", at);
    const std::string data = body.substr(at + 6, end - at - 6);
    at = end;
    if (data == "[DONE]") {
      done = true;
      break;
    }
    out.push_back(Json::parse(data));
  }
  EXPECT_TRUE(done) << body;
  return out;
}

// A streamed request's text and its chunks' logprobs joined in order (completions: the four
// parallel lists; chat: the content records).
std::pair<std::string, Json> streamed(int port, const std::string& path, Json body) {
  body["stream"] = true;
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(120, 0);
  auto r = c.Post(path, body.dump(), "application/json");
  if (!r || r->status != 200) {
    ADD_FAILURE() << (r ? r->body : "transport error");
    return {};
  }
  const bool chat = path == "/v1/chat/completions";
  std::string text;
  Json joined = chat ? Json{{"content", Json::array()}}
                     : Json{{"tokens", Json::array()},
                            {"token_logprobs", Json::array()},
                            {"top_logprobs", Json::array()},
                            {"text_offset", Json::array()}};
  for (const Json& e : sse_events(r->body)) {
    if (e["choices"].empty()) continue;  // a usage-only chunk
    const Json& ch = e["choices"][0];
    if (chat) {
      if (ch["delta"].contains("content")) text += ch["delta"]["content"].get<std::string>();
    } else {
      text += ch["text"].get<std::string>();
    }
    if (ch["logprobs"].is_null()) continue;
    for (auto& [key, list] : joined.items())
      for (const Json& v : ch["logprobs"][key]) list.push_back(v);
  }
  return {text, joined};
}

// Streamed logprobs (OpenAI sends each chunk's tokens' records with it) are those of the same
// greedy request served whole: completions with and without a stop string (the records
// after the cut left out alike), chat with top alternatives.
TEST(Logprobs, StreamedLogprobsAreThoseOfTheWholeResponse) {
  SKIP_WITHOUT_SMOLLM();
  Fixture f = start_smollm();
  const int port = f.server->port();
  // Equal lists, logprob values within kTol (the second request reuses the first one's cached
  // prompt blocks, so its first logits come from a shorter prefill).
  std::function<void(const Json&, const Json&, const std::string&)> expect_same =
      [&](const Json& a, const Json& b, const std::string& where) {
        if (a.is_number_float() || b.is_number_float()) {
          ASSERT_TRUE(a.is_number() && b.is_number()) << where << ": " << a << " vs " << b;
          EXPECT_NEAR(a.get<double>(), b.get<double>(), kTol) << where;
          return;
        }
        if (a.is_structured()) {
          ASSERT_EQ(a.type(), b.type()) << where;
          ASSERT_EQ(a.size(), b.size()) << where << ": " << a << " vs " << b;
          for (auto it = a.begin(); it != a.end(); ++it) {
            const std::string key =
                a.is_object() ? it.key() : std::to_string(std::distance(a.begin(), it));
            const Json& other = a.is_object() ? b.at(it.key()) : b.at(std::stoul(key));
            expect_same(it.value(), other, where + "/" + key);
          }
          return;
        }
        EXPECT_EQ(a, b) << where;
      };
  for (const Json& stop : {Json(nullptr), Json::array({"\n"})}) {
    Json body = {{"prompt", "The capital of France is"},
                 {"max_tokens", 12},
                 {"temperature", 0},
                 {"logprobs", 2}};
    if (!stop.is_null()) body["stop"] = stop;
    const Json whole = post(port, "/v1/completions", body);
    const auto [text, lp] = streamed(port, "/v1/completions", body);
    EXPECT_EQ(text, whole["choices"][0]["text"]) << stop;
    ASSERT_FALSE(lp["tokens"].empty()) << stop;
    expect_same(whole["choices"][0]["logprobs"], lp, stop.dump());
  }
  const Json chat = {{"messages", {{{"role", "user"}, {"content", "Name a colour."}}}},
                     {"max_tokens", 8},
                     {"temperature", 0},
                     {"logprobs", true},
                     {"top_logprobs", 3}};
  const Json whole = post(port, "/v1/chat/completions", chat);
  const auto [text, lp] = streamed(port, "/v1/chat/completions", chat);
  EXPECT_EQ(text, whole["choices"][0]["message"]["content"]);
  ASSERT_EQ(lp["content"].size(), 8u) << lp.dump();
  expect_same(whole["choices"][0]["logprobs"], lp, "chat");
}

// stories260K is SentencePiece with a BOS and a space prefix: echo returns the prompt as sent,
// lists its tokens without the BOS the server added (the first one's logprob null, the next
// ones conditioned on the BOS), and each offset points at its token's text in the echo.
TEST(Logprobs, EchoOfASentencePiecePromptIsThePromptAsSent) {
  const auto path = models_dir() ? std::optional(*models_dir() / "stories260K.gguf") : std::nullopt;
  GEARBOX_REQUIRE_FILE(path);
  EngineRunnerOptions opt;
  opt.threads = 1;
  auto runner = EngineRunner::load(path->string(), opt);
  ServerOptions so;
  so.port = 0;
  ApiServer server(*runner, so);
  server.start();
  const Model& m = runner->model();
  const std::string prompt = "Lily liked the big dog";
  const Json r = post(server.port(), "/v1/completions",
                      {{"prompt", prompt}, {"max_tokens", 0}, {"echo", true}, {"logprobs", 0}});
  const Json& c = r["choices"][0];
  EXPECT_EQ(c["text"], prompt);
  const auto ids = m.tokenizer().encode_prompt(prompt);  // BOS first
  ASSERT_EQ(ids[0], m.tokenizer().bos());
  const Json& lp = c["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), ids.size() - 1) << r.dump();
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  const auto ref = reference_logprobs(m, ids);
  for (std::size_t i = 1; i + 1 < ids.size(); ++i) {
    EXPECT_NEAR(lp["token_logprobs"][i].get<double>(), ref[i][ids[i + 1]], kTol) << i;
    const std::string tok = lp["tokens"][i];
    EXPECT_EQ(prompt.substr(lp["text_offset"][i].get<std::size_t>(), tok.size()), tok) << i;
  }
}

// The OpenAI contract of an echo's text_offset, checked on each model's tokenizer (SmolLM2:
// byte-level BPE; Gemma 3: SentencePiece without a space prefix; stories260K: SentencePiece
// with one), for prompts with control tokens at the start, middle and end, multibyte text and
// leading/double spaces: `text` is the prompt as sent then the completion, text_offset[i] is
// the byte where token i's text starts in it, and text[text_offset[i]:text_offset[i+1]] is
// token i's bytes (its spelling for a control token written in a text prompt, nothing for one
// sent as an id). The one exception is the space a SentencePiece tokenizer with a space prefix
// puts in front of the text: it is not in the text, so that token's slice is its bytes
// without it. As llama.cpp's tokenizer does, a text prompt gets that space in front of every
// run of text after a control token too; a prompt sent as ids is echoed as its detokenized
// text, where only the first one is dropped.
void expect_echo_offsets_follow_the_text(const std::filesystem::path& model,
                                         const std::vector<std::string>& controls,
                                         bool space_prefix) {
  Fixture f = start_server(model);
  const Tokenizer& tok = f.runner->model().tokenizer();
  ASSERT_EQ(tok.strips_leading_space(), space_prefix);
  for (const std::string& name : controls) {
    const std::int32_t id = tok.find_piece(name);
    ASSERT_TRUE(id >= 0 && tok.is_control(id)) << name << " is not a control token";
  }
  const std::string a = controls.at(0), b = controls.at(1);
  const std::vector<std::string> prompts = {
      a + "Hello world",
      "Hello" + a + "user\nHi there",
      a + "a b" + b + " c",
      "end of text" + b,
      b,
      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e and emoji \xf0\x9f\x99\x82\xf0\x9f\x9a\x80 text",
      "  leading  and double  spaces ",
      " x" + a + "  \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x99\x82" + b + b + " y\n\nz",
  };
  for (const std::string& prompt : prompts) {
    // The prompt as text (twice: scored only, and with 3 tokens generated), then as its ids
    // (echoed as their text: control tokens have none).
    for (int variant : {0, 1, 2}) {
      const bool as_ids = variant == 2;
      const int max_tokens = variant == 1 ? 3 : 0;
      SCOPED_TRACE("prompt '" + prompt + "', max_tokens " + std::to_string(max_tokens) +
                   (as_ids ? ", as ids" : ""));
      // The prompt's ids as the server parses a text prompt (control tokens spelled in it are
      // tokens), less the BOS it adds, which echo does not list.
      std::vector<std::int32_t> ids = f.runner->encode(prompt, true);
      if (!ids.empty() && ids[0] == f.runner->prompt_bos()) ids.erase(ids.begin());
      const std::size_t n_prompt = ids.size();
      const Json r = post(f.server->port(), "/v1/completions",
                          {{"prompt", as_ids ? Json::array({ids}) : Json(prompt)},
                           {"max_tokens", max_tokens},
                           {"echo", true},
                           {"logprobs", 0},
                           {"temperature", 0},
                           {"ignore_eos", true}});
      const std::string text = r["choices"][0]["text"];
      if (!as_ids) {
        ASSERT_EQ(text.substr(0, prompt.size()), prompt) << r.dump();
      }
      const Json& lp = r["choices"][0]["logprobs"];
      const std::size_t n = lp["tokens"].size();
      ASSERT_EQ(lp["text_offset"].size(), n);
      ASSERT_EQ(n, n_prompt + static_cast<std::size_t>(max_tokens)) << r.dump();
      auto offset = [&](std::size_t i) {
        return i < n ? lp["text_offset"][i].get<std::size_t>() : text.size();
      };
      ASSERT_EQ(offset(0), 0u);
      bool first_text = true;
      for (std::size_t i = 0; i < n; ++i) {
        SCOPED_TRACE("token " + std::to_string(i));
        ASSERT_LE(offset(i), offset(i + 1)) << lp["text_offset"].dump();
        const std::string slice = text.substr(offset(i), offset(i + 1) - offset(i));
        const std::string json_token = lp["tokens"][i];
        if (i >= n_prompt) {  // generated: the JSON token is the text unless not whole UTF-8
          if (json_token.find("\xef\xbf\xbd") == std::string::npos) {
            EXPECT_EQ(slice, json_token);
          }
          continue;
        }
        const std::string bytes =
            tok.is_control(ids[i]) && !as_ids ? tok.piece(ids[i]) : tok.token_bytes(ids[i]);
        std::string in_text = bytes;
        if (tok.is_control(ids[i])) {
          if (!as_ids) first_text = true;  // the text after it was encoded as a fresh run
        } else if (!bytes.empty() && first_text) {
          first_text = false;
          if (space_prefix && bytes[0] == ' ') in_text.erase(0, 1);
        }
        EXPECT_EQ(slice, in_text) << "offsets " << lp["text_offset"].dump();
        if (json_token.find("\xef\xbf\xbd") == std::string::npos) {
          EXPECT_EQ(json_token, bytes);
        }
      }
    }
  }
}

TEST(Logprobs, EchoOffsetsFollowTheTextOnGpt2Bpe) {
  SKIP_WITHOUT_SMOLLM();
  expect_echo_offsets_follow_the_text(test::find_model_file(test::kSmolLmFile),
                                      {"<|im_start|>", "<|im_end|>"}, false);
}

TEST(Logprobs, EchoOffsetsFollowTheTextOnSentencePieceWithoutSpacePrefix) {
  const auto path = test::find_model_file("gemma-3-270m-Q4_K_M.gguf");
  GEARBOX_REQUIRE_FILE(path);
  expect_echo_offsets_follow_the_text(path, {"<start_of_turn>", "<end_of_turn>"}, false);
}

TEST(Logprobs, EchoOffsetsFollowTheTextOnSentencePieceWithSpacePrefix) {
  const auto path = models_dir() ? std::optional(*models_dir() / "stories260K.gguf") : std::nullopt;
  GEARBOX_REQUIRE_FILE(path);
  expect_echo_offsets_follow_the_text(*path, {"<s>", "</s>"}, true);
}

TEST(Logprobs, ChatLogprobsCarryBytesAndTopAlternatives) {
  SKIP_WITHOUT_SMOLLM();
  Fixture f = start_smollm();
  const Model& m = f.runner->model();
  const Json messages = Json::array({{{"role", "user"}, {"content", "Say hello."}}});
  const Json r = post(f.server->port(), "/v1/chat/completions",
                      {{"messages", messages},
                       {"max_tokens", 4},
                       {"temperature", 0},
                       {"logprobs", true},
                       {"top_logprobs", 2}});
  const Json& content = r["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 4u) << r.dump();
  std::vector<ChatMessage> msgs = {{"user", "Say hello."}};
  std::vector<std::int32_t> ids = f.runner->encode_chat(msgs);
  const std::size_t n_prompt = ids.size();
  Reference model(m, n_prompt + 8);
  auto ref = model.append(ids);
  for (int i = 0; i < 4; ++i) {
    ids.push_back(top_ids(ref.back(), 1)[0]);
    if (i < 3) ref.push_back(model.append({ids.back()})[0]);
  }
  std::string text;
  for (std::size_t i = 0; i < 4; ++i) {
    const std::int32_t tok = ids[n_prompt + i];
    const std::string bytes = m.tokenizer().token_bytes(tok);
    const Json& e = content[i];
    EXPECT_EQ(e["token"], bytes);
    ASSERT_EQ(e["bytes"].size(), bytes.size());
    for (std::size_t b = 0; b < bytes.size(); ++b)
      EXPECT_EQ(e["bytes"][b].get<int>(), static_cast<unsigned char>(bytes[b]));
    EXPECT_NEAR(e["logprob"].get<double>(), ref[n_prompt - 1 + i][tok], kTol);
    ASSERT_EQ(e["top_logprobs"].size(), 2u);
    const auto best = top_ids(ref[n_prompt - 1 + i], 2);
    for (std::size_t k = 0; k < 2; ++k) {
      EXPECT_EQ(e["top_logprobs"][k]["token"], m.tokenizer().token_bytes(best[k]));
      EXPECT_NEAR(e["top_logprobs"][k]["logprob"].get<double>(), ref[n_prompt - 1 + i][best[k]],
                  kTol);
    }
    text += bytes;
  }
  EXPECT_EQ(r["choices"][0]["message"]["content"], text);
}

TEST(Logprobs, BadValuesAre400NamingTheField) {
  SKIP_WITHOUT_SMOLLM();
  Fixture f = start_smollm();
  const int port = f.server->port();
  auto param = [&](const std::string& path, const Json& body) {
    return post(port, path, body, 400)["error"]["param"];
  };
  EXPECT_EQ(param("/v1/completions", {{"prompt", "a"}, {"logprobs", 21}}), "logprobs");
  EXPECT_EQ(param("/v1/completions", {{"prompt", "a"}, {"logprobs", -1}}), "logprobs");
  EXPECT_EQ(param("/v1/completions", {{"prompt", "a"}, {"logprobs", true}}), "logprobs");
  EXPECT_EQ(param("/v1/completions", {{"prompt", "a"}, {"echo", 1}}), "echo");
  EXPECT_EQ(param("/v1/completions", {{"prompt", "a"}, {"max_tokens", 0}}), "max_tokens");
  EXPECT_EQ(param("/v1/completions", {{"prompt", "a"}, {"echo", true}, {"stream", true}}),
            "stream");
  EXPECT_EQ(
      param("/v1/completions", {{"prompt", Json::array({Json::array({1}), Json::array({2})})}}),
      "prompt");
  const Json msgs = Json::array({{{"role", "user"}, {"content", "hi"}}});
  EXPECT_EQ(param("/v1/chat/completions", {{"messages", msgs}, {"top_logprobs", 2}}),
            "top_logprobs");
  EXPECT_EQ(
      param("/v1/chat/completions", {{"messages", msgs}, {"logprobs", true}, {"top_logprobs", 21}}),
      "top_logprobs");
  EXPECT_EQ(param("/v1/chat/completions", {{"messages", msgs}, {"echo", true}}), "echo");
}

}  // namespace
}  // namespace gearbox::serve::server
