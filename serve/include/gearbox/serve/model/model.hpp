// A decoder-only model (llama, qwen2, qwen3, phi3, gemma2, gemma3; config.hpp) loaded from GGUF
// (weights stay memory-mapped, used in their stored quantized format) and its forward pass: batched
// prefill of one sequence, and one-token decode of several sequences at once, both through a
// KvCache (kv_cache.hpp). Forward calls use the OpenMP thread count in effect (gearbox::set_threads
// / ThreadScope). A Model is immutable after load, but its scratch buffers are per object: call
// forward methods of one Model from one thread at a time (a server has one model-runner thread).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "gearbox/serve/model/config.hpp"
#include "gearbox/serve/model/kv_cache.hpp"
#include "gearbox/serve/model/rope.hpp"
#include "gearbox/serve/tokenizer/tokenizer.hpp"

namespace gearbox::serve {

class GgufFile;
struct ModelWeights;
struct ForwardScratch;

// One sequence's token in a decode batch; `rope` overrides the model's RoPE spec for it
// (context-extension policies), nullptr = the model's default.
struct DecodeItem {
  SeqId seq = 0;
  std::int32_t token = 0;
  const RopeSpec* rope = nullptr;
};

class Model {
 public:
  // Loads the model at `path`. Throws Error::input for malformed files, unsupported
  // architectures or tensor types (naming them), Error::runtime when the file cannot be read.
  static std::shared_ptr<Model> load(const std::filesystem::path& path);
  // Builds a model from an already-open file.
  static std::shared_ptr<Model> from_gguf(std::shared_ptr<const GgufFile> file);
  ~Model();

  const ModelConfig& config() const { return cfg_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  // RoPE of the global (full-attention) layers; per-request policies replace this one.
  const RopeSpec& rope() const { return rope_; }
  // RoPE of the sliding-window layers (equal to rope() when the model has none).
  const RopeSpec& rope_local() const { return rope_local_; }
  const GgufFile& file() const { return *file_; }
  // Bytes of weights read per token in decode (all matrices once, embeddings one row).
  std::size_t weight_bytes_per_token() const;

  // Runs `tokens` (appended to `seq` in `cache`) through the model. Writes logits into
  // `logits`: the last token's (n_vocab values) unless all_logits, then every token's
  // (tokens.size() x n_vocab, row-major). Throws Error::input for an out-of-range token or
  // when the cache refuses the tokens (the cache is then unchanged).
  void prefill(KvCache& cache, SeqId seq, std::span<const std::int32_t> tokens,
               std::span<float> logits, bool all_logits = false, const RopeSpec* rope = nullptr);
  // Rounds Q, K, V and the attention weights to fp16 as llama.cpp does by default (its f16
  // KV cache without flash attention), and reads GELU through fp16 as its CPU table does, to
  // reproduce its numbers; off (float) by default.
  void set_f16_attention(bool on) { f16_attention_ = on; }
  bool f16_attention() const { return f16_attention_; }

  // One token for each item (distinct sequences); logits: batch.size() x n_vocab.
  void decode(KvCache& cache, std::span<const DecodeItem> batch, std::span<float> logits);

 private:
  Model() = default;
  struct Step;
  void forward(KvCache& cache, std::span<const Step> steps, std::span<float> logits,
               bool all_logits);
  void run_layers(KvCache& cache, std::span<const Step> steps, std::span<float> logits,
                  bool all_logits, std::size_t n_tokens, std::size_t n_out);

  std::shared_ptr<const GgufFile> file_;
  ModelConfig cfg_;
  RopeSpec rope_, rope_local_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ModelWeights> w_;
  std::unique_ptr<ForwardScratch> scratch_;
  bool f16_attention_ = false;
};

}  // namespace gearbox::serve
