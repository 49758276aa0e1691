// The seam between the server's scheduler and an inference engine. The scheduler decides which
// tokens run; a ModelRunner only executes them (prefill a chunk of one sequence, one batched
// decode step), samples each sequence's next token with that sequence's own sampler, and owns
// the model's vocabulary. The const methods may be called from any thread at any time (HTTP
// handlers tokenize); the sequence methods (open/prefill/decode/close) only from the
// scheduler's one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gearbox/serve/tokenizer/tokenizer.hpp"

namespace gearbox::serve::server {

using Token = std::int32_t;
using SequenceId = std::uint64_t;

// One chat message as the OpenAI API gives it (the tokenizer's own type).
using ChatMessage = gearbox::serve::ChatMessage;

// How one sequence picks its tokens.
struct SamplingOptions {
  double temperature = 1.0;  // 0 = greedy
  double top_p = 1.0;        // nucleus cut, (0, 1]
  std::uint64_t seed = 0;
  // Log-probabilities (the OpenAI `logprobs`): < 0 none; else every sampled token's with this
  // many most likely alternatives at its position (take_logprobs()).
  int top_logprobs = -1;
  // Also every prompt token's after the first (completions `echo`); needs top_logprobs >= 0.
  // The prompt is then prefilled whole (no prefix-cache reuse: its logits are needed).
  bool prompt_logprobs = false;
};

// One token's log-probability under the model: the log-softmax of the raw logits (before
// temperature or top-p) at the position before it, with the most likely tokens there.
struct TokenLogprob {
  std::size_t pos = 0;  // the token's position in its sequence (prompt first, then generated)
  Token token = 0;
  float logprob = 0;
  std::vector<std::pair<Token, float>> top;  // most likely first (lowest id on ties)
};

// The per-request `cap` extension: a long-context policy and its knobs, spelled as on the CLI
// (`streaming:sink=4,window=1024`; `policy` may itself be a whole spelling such as
// `streaming:window=512+quant:int4`, the other keys then being knobs of its last term).
// An empty policy means the server's default.
struct CapSpec {
  std::string policy;
  std::vector<std::pair<std::string, std::string>> knobs;  // in request order
  // "NAME[:K=V,...]", or "" when no policy was chosen.
  std::string to_string() const;
};

// One slot of a batched decode step: feed `token` to sequence `seq`.
struct DecodeSlot {
  SequenceId seq = 0;
  Token token = 0;
};

// What the runner's KV memory holds now, for scheduling and /metrics.
struct KvUsage {
  std::size_t budget_bytes = 0;   // 0: the runner keeps no KV budget (nothing to schedule by)
  std::size_t bytes_in_use = 0;   // resident KV bytes held by open sequences
  std::size_t blocks_in_use = 0;  // resident blocks (of each policy's own size) they hold
  std::size_t cached_bytes = 0;   // blocks only the prefix cache keeps (freed when needed)
  std::size_t cached_blocks = 0;
  std::size_t peak_bytes = 0;  // most KV bytes held at once since start (resident + cached)
  std::map<std::string, std::size_t> bytes_by_policy;  // by policy kind, e.g. "streaming+quant"
};

// Thrown by prefill/decode when the KV memory cannot hold the step; nothing of the step is
// kept. The scheduler answers by preempting a sequence, never by failing the request.
class KvExhaustedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;

  // The model's name as /v1/models lists it.
  virtual std::string name() const = 0;
  // Vocabulary size: token ids are in [0, vocab_size()).
  virtual int vocab_size() const = 0;
  // Tokens (prompt plus generated) one sequence may hold under `cap`. Throws gearbox::Error
  // (kind input, field "cap...") when the policy or a knob is unknown or invalid.
  virtual std::size_t context_limit(const CapSpec& cap) const = 0;
  // The longest sequence the model serves well under `cap`: its trained context times the
  // policy's RoPE factor, whatever `ctx` override or eviction the policy adds (the server's
  // default --max-model-len).
  virtual std::size_t max_model_len(const CapSpec& cap) const { return context_limit(cap); }
  // Tokens of cache a sequence of `tokens` tokens holds at most under `cap` (fewer than
  // `tokens` for policies that evict, e.g. sink + window for StreamingLLM).
  virtual std::size_t kv_tokens(const CapSpec& cap, std::size_t tokens) const {
    (void)cap;
    return tokens;
  }
  // Resident KV bytes a new sequence of `tokens` tokens holds under `cap`, in the policy's own
  // row format and blocks.
  virtual std::size_t kv_bytes(const CapSpec& cap, std::size_t tokens) const = 0;
  // Resident KV bytes appending `n_new` tokens to open sequence `id` would take beyond what it
  // holds now.
  virtual std::size_t kv_step_bytes(SequenceId id, std::size_t n_new) const = 0;
  // The KV memory now (scheduler thread only, like the sequence methods; its budget_bytes is
  // fixed).
  virtual KvUsage kv_usage() const = 0;

  // Tokenizes `text`; add_bos: as a prompt, with BOS (and EOS) where the model's file asks
  // for them (a model whose add_bos_token is false gets none), and the text of control tokens
  // (`<|im_start|>`, `<bos>`) turned into those tokens, as llama.cpp's servers do.
  virtual std::vector<Token> encode(std::string_view text, bool add_bos) const = 0;
  // The BOS that encode(text, true) puts in front of a prompt, or -1 when it puts none.
  virtual Token prompt_bos() const { return -1; }
  // The bytes token `t` stands for (may be part of a UTF-8 character).
  virtual std::string token_text(Token t) const = 0;
  // How token `t` is spelled in a text prompt: a control token its spelling there (the text
  // encode(text, true) turned into it), any other its token_text().
  virtual std::string prompt_token_text(Token t) const { return token_text(t); }
  // True when a text prompt's `t` was matched whole from its spelling (control, unknown and
  // user-defined tokens), so the text after it was encoded as a fresh run (with a SentencePiece
  // space prefix in front where the model has one).
  virtual bool matched_whole(Token t) const {
    (void)t;
    return false;
  }
  // The text of `tokens` as a whole (a SentencePiece model drops the space its encoder put in
  // front of the text); by default their token_text() joined.
  virtual std::string detokenize(std::span<const Token> tokens) const {
    std::string out;
    for (Token t : tokens) out += token_text(t);
    return out;
  }
  // The prompt tokens the model's chat template makes of `messages` (BOS and special tokens
  // included as the template wants), ending where the assistant's reply begins.
  virtual std::vector<Token> encode_chat(std::span<const ChatMessage> messages) const = 0;
  // True for tokens that end generation (EOS, end-of-turn).
  virtual bool is_end_of_generation(Token t) const = 0;

  // Starts sequence `id` under `cap` (already validated by context_limit), sampling with
  // `sampling`, for a prompt of `prompt` tokens. Returns how many of the prompt's first tokens
  // its cache already holds (a prefix cache hit, always < prompt.size()): prefill the rest.
  virtual std::size_t open_sequence(SequenceId id, const CapSpec& cap,
                                    const SamplingOptions& sampling,
                                    std::span<const Token> prompt) = 0;
  // Appends `tokens` (non-empty) to sequence `id`'s cache. When `last` (the prompt's final
  // chunk) returns the sampled next token; otherwise returns -1 and samples nothing. Throws
  // KvExhaustedError when the KV memory cannot hold the tokens (the sequence must then be
  // closed: part of the chunk may be cached).
  virtual Token prefill(SequenceId id, std::span<const Token> tokens, bool last) = 0;
  // One decode step for every slot at once (distinct sequences): appends each slot's token and
  // writes each sequence's sampled next token into next[i] (resized to slots.size()). Throws
  // KvExhaustedError, keeping nothing of the step, when the KV memory cannot hold it.
  virtual void decode(std::span<const DecodeSlot> slots, std::vector<Token>& next) = 0;
  // Forgets sequence `id` and frees its cache. Unknown ids are ignored.
  virtual void close_sequence(SequenceId id) = 0;
  // The log-probabilities recorded for open sequence `id` since the last call, in position
  // order: with sampling.prompt_logprobs the prompt tokens' (from position 1) as their chunks
  // are prefilled, and with top_logprobs >= 0 each sampled token's (its position is the
  // sequence's length when it was sampled). A runner that keeps none returns nothing.
  virtual std::vector<TokenLogprob> take_logprobs(SequenceId id) {
    (void)id;
    return {};
  }
};

}  // namespace gearbox::serve::server
