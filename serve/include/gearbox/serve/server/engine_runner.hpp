// EngineRunner: the ModelRunner over gearbox's own engine: a Model (forward passes), its
// Tokenizer, one Sampler per sequence, and the CAP caches of make_cap_cache(). Sequences whose
// `cap` spells the same policy share one PagedKvCache, so their decode steps run as one batched
// Model::decode; a step over sequences of several policies makes one call per policy. Every
// policy's cache draws its blocks from one KvMemory (`kv_budget_bytes`, resident bytes in each
// policy's own row format), so any number of policies may be in use at once; a policy's cache
// is created when its first sequence opens and released when its last one closes (the
// server's default policy stays; so do up to 16 idle ones that keep prefix-cached blocks,
// until those blocks are reclaimed). Prefix caching (full, quant, rope): each full block of a
// sequence is indexed by a hash chained over its tokens from a salt naming the model and the
// policy; a new sequence starts from the longest cached prefix of its prompt.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "gearbox/serve/cap/cap_cache.hpp"
#include "gearbox/serve/kv/kv_memory.hpp"
#include "gearbox/serve/model/model.hpp"
#include "gearbox/serve/sampling/sampler.hpp"
#include "gearbox/serve/server/model_runner.hpp"

namespace gearbox::serve::server {

struct EngineRunnerOptions {
  std::string name;                                    // served name ("" = general.name)
  std::string default_cap;                             // the server's policy ("" = full)
  std::size_t kv_budget_bytes = std::size_t{1} << 30;  // resident KV of all policies together
  std::size_t block_tokens = 16;
  int threads = 0;  // forward threads (0 = all cores)
  // Resident tokens per sequence of an `offload` policy that names no hot_tokens (the rest
  // spills to host memory or a file and is not charged to the budget).
  std::size_t offload_hot_tokens = 1024;
  // Automatic prefix caching for the policies whose rows are exact functions of the prefix
  // (no eviction, no offload).
  bool prefix_cache = true;
  // The chat template used instead of the file's: a built-in name (chatml, gemma, llama2,
  // llama3) or a Jinja template text of a family we render; "" = the file's.
  std::string chat_template;
};

class EngineRunner final : public ModelRunner {
 public:
  // Throws gearbox::Error (usage) when the default policy is not a valid spelling.
  EngineRunner(std::shared_ptr<Model> model, EngineRunnerOptions options);
  // Resolves `name_or_path` (resolve_model) and loads it.
  static std::unique_ptr<EngineRunner> load(const std::string& name_or_path,
                                            EngineRunnerOptions options);

  std::string name() const override { return name_; }
  int vocab_size() const override;
  std::size_t context_limit(const CapSpec& cap) const override;
  std::size_t max_model_len(const CapSpec& cap) const override;
  std::size_t kv_tokens(const CapSpec& cap, std::size_t tokens) const override;
  std::size_t kv_bytes(const CapSpec& cap, std::size_t tokens) const override;
  std::size_t kv_step_bytes(SequenceId id, std::size_t n_new) const override;
  KvUsage kv_usage() const override;
  std::vector<Token> encode(std::string_view text, bool add_bos) const override;
  std::string prompt_token_text(Token t) const override;
  bool matched_whole(Token t) const override;
  std::string token_text(Token t) const override;
  Token prompt_bos() const override;
  std::string detokenize(std::span<const Token> tokens) const override;
  std::vector<Token> encode_chat(std::span<const ChatMessage> messages) const override;
  bool is_end_of_generation(Token t) const override;
  std::size_t open_sequence(SequenceId id, const CapSpec& cap, const SamplingOptions& sampling,
                            std::span<const Token> prompt) override;
  Token prefill(SequenceId id, std::span<const Token> tokens, bool last) override;
  void decode(std::span<const DecodeSlot> slots, std::vector<Token>& next) override;
  void close_sequence(SequenceId id) override;
  std::vector<TokenLogprob> take_logprobs(SequenceId id) override;

  const Model& model() const { return *model_; }
  // Policy caches alive now (the default's and those with open sequences).
  std::size_t policy_caches() const { return caches_.size(); }

 private:
  struct PolicyCache {
    cap::CapCache cc;
    std::string kind;  // term names, e.g. "streaming+quant"
    std::size_t users = 0;
    bool pinned = false;     // the default policy's: never released
    std::uint64_t salt = 0;  // first link of its block hash chains: model and spelling
    std::uint64_t last_used = 0;
  };
  struct Seq {
    PolicyCache* cache = nullptr;
    Sampler sampler;
    serve::SeqId engine_id = 0;
    // Prefix caching: the tokens in the cache, the chained hashes of its full blocks, and how
    // many of those blocks are indexed.
    std::vector<Token> tokens;
    std::vector<std::uint64_t> hashes;
    std::size_t published = 0;
    // Logprobs: tokens fed so far (the next token's position), the alternatives asked for
    // (< 0: none), the prompt when its tokens are scored, and the records not yet taken.
    std::size_t fed = 0;
    int top_logprobs = -1;
    std::vector<Token> scored_prompt;
    std::vector<TokenLogprob> logprobs;
  };
  // What a valid spelling needs for accounting without building its cache again.
  struct PolicyFacts {
    std::string spelling;  // canonical
    cap::KvRecipe recipe;
    std::size_t bytes_per_token = 0;
  };
  // Plans `cap` (the default policy when empty) and checks once that its cache can be built.
  // Throws Error::input naming "cap" for a bad spelling.
  PolicyFacts facts(const CapSpec& cap) const;
  cap::CapPlan plan(const std::string& spelling) const;
  cap::CapCache build(cap::CapPlan plan) const;
  // The cache for `cap`, created when absent; counts one more user.
  PolicyCache& acquire(const CapSpec& cap);
  Seq& seq(SequenceId id);
  const Seq& seq(SequenceId id) const;
  // Records `tokens` as cached for `s` and indexes its newly full blocks.
  void note_cached(Seq& s, std::span<const Token> tokens);
  // Frees prefix-cached blocks until `bytes` are available (as far as there are any).
  void reclaim(std::size_t bytes);
  // Releases the caches of policies no sequence uses (see the file comment).
  void release_idle();
  void use_threads();
  // Records the logprob of `token` at position `pos` from `logits` (one row) for `s`.
  void record(Seq& s, std::span<const float> logits, Token token, std::size_t pos);

  std::shared_ptr<Model> model_;
  EngineRunnerOptions opt_;
  std::string name_;
  std::shared_ptr<kv::KvMemory> memory_;
  mutable std::mutex mu_;                             // guards facts_ (looked up from HTTP threads)
  mutable std::map<std::string, PolicyFacts> facts_;  // by the spelling asked for
  std::map<std::string, std::unique_ptr<PolicyCache>> caches_;  // scheduler thread only
  std::unordered_map<SequenceId, Seq> seqs_;                    // scheduler thread only
  std::vector<float> logits_;
  bool threads_set_ = false;
  std::uint64_t tick_ = 0;
};

}  // namespace gearbox::serve::server
