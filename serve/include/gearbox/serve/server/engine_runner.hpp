// EngineRunner: the ModelRunner over gearbox's own engine: a Model (forward passes), its
// Tokenizer, one Sampler per sequence, and the CAP caches of make_cap_cache(). Sequences whose
// `cap` spells the same policy share one PagedKvCache, so their decode steps run as one batched
// Model::decode; a step over sequences of several policies makes one call per policy.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "gearbox/serve/cap/cap_cache.hpp"
#include "gearbox/serve/model/model.hpp"
#include "gearbox/serve/sampling/sampler.hpp"
#include "gearbox/serve/server/model_runner.hpp"

namespace gearbox::serve::server {

struct EngineRunnerOptions {
  std::string name;                                    // served name ("" = general.name)
  std::string default_cap;                             // the server's policy ("" = full)
  std::size_t kv_budget_bytes = std::size_t{1} << 30;  // each policy cache's pool budget
  std::size_t block_tokens = 16;
  int threads = 0;               // forward threads (0 = all cores)
  std::size_t max_policies = 8;  // distinct policy spellings served at once
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
  std::size_t kv_bytes_per_token() const override;
  std::size_t kv_tokens(const CapSpec& cap, std::size_t tokens) const override;
  std::vector<Token> encode(std::string_view text, bool add_bos) const override;
  std::string token_text(Token t) const override;
  std::vector<Token> encode_chat(std::span<const ChatMessage> messages) const override;
  bool is_end_of_generation(Token t) const override;
  void open_sequence(SequenceId id, const CapSpec& cap, const SamplingOptions& sampling) override;
  Token prefill(SequenceId id, std::span<const Token> tokens, bool last) override;
  void decode(std::span<const DecodeSlot> slots, std::vector<Token>& next) override;
  void close_sequence(SequenceId id) override;

  const Model& model() const { return *model_; }

 private:
  struct PolicyCache {
    cap::CapCache cc;
  };
  struct Seq {
    PolicyCache* cache = nullptr;
    Sampler sampler;
    serve::SeqId engine_id = 0;
  };
  // The cache for `cap` (the default policy when empty), created on first use. Throws
  // Error::input naming "cap" for a bad spelling or too many distinct policies.
  PolicyCache& policy(const CapSpec& cap) const;
  Seq& seq(SequenceId id);
  void use_threads();

  std::shared_ptr<Model> model_;
  EngineRunnerOptions opt_;
  std::string name_;
  mutable std::mutex mu_;  // guards caches_ (looked up from HTTP threads)
  mutable std::map<std::string, std::unique_ptr<PolicyCache>> caches_;  // by canonical spelling
  std::unordered_map<SequenceId, Seq> seqs_;                            // scheduler thread only
  std::vector<float> logits_;
  bool threads_set_ = false;
};

}  // namespace gearbox::serve::server
