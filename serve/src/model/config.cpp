#include "gearbox/serve/model/config.hpp"

#include <cmath>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/gguf/gguf_file.hpp"

namespace gearbox::serve {

namespace {

int require_int(const GgufFile& f, const std::string& key, int lo, int hi) {
  const auto v = f.get_int(key);
  if (!v) throw Error::input("model metadata missing").at(f.origin()).field(key);
  if (*v < lo || *v > hi)
    throw Error::input("model metadata out of range")
        .at(f.origin())
        .field(key)
        .expected(std::to_string(lo) + ".." + std::to_string(hi))
        .found(std::to_string(*v));
  return static_cast<int>(*v);
}

int optional_int(const GgufFile& f, const std::string& key, int fallback, int lo, int hi) {
  if (!f.find(key)) return fallback;
  return require_int(f, key, lo, hi);
}

}  // namespace

ModelConfig read_model_config(const GgufFile& f) {
  ModelConfig c;
  c.arch = f.get_string("general.architecture").value_or("");
  if (c.arch != "llama" && c.arch != "gemma3")
    throw Error::input("unsupported model architecture")
        .at(f.origin())
        .field("general.architecture")
        .expected("llama or gemma3")
        .found(c.arch.empty() ? "(none)" : c.arch);
  c.name = f.get_string("general.name").value_or("");
  const std::string a = c.arch + ".";
  c.n_embd = require_int(f, a + "embedding_length", 1, 1 << 16);
  c.n_layer = require_int(f, a + "block_count", 1, 1024);
  c.n_head = require_int(f, a + "attention.head_count", 1, 1024);
  c.n_head_kv = optional_int(f, a + "attention.head_count_kv", c.n_head, 1, c.n_head);
  c.n_ff = require_int(f, a + "feed_forward_length", 1, 1 << 20);
  c.n_ctx_train = optional_int(f, a + "context_length", 2048, 1, 1 << 24);
  if (c.n_head % c.n_head_kv != 0)
    throw Error::input("query heads not a multiple of key/value heads")
        .at(f.origin())
        .field(a + "attention.head_count_kv")
        .expected("a divisor of " + std::to_string(c.n_head))
        .found(std::to_string(c.n_head_kv));
  if (c.n_embd % c.n_head != 0 && !f.find(a + "attention.key_length"))
    throw Error::input("embedding length not a multiple of the head count")
        .at(f.origin())
        .field(a + "embedding_length")
        .found(std::to_string(c.n_embd));
  c.head_dim = optional_int(f, a + "attention.key_length", c.n_embd / c.n_head, 2, 1024);
  if (c.head_dim % 2 != 0)
    throw Error::input("head size must be even").at(f.origin()).field(a + "attention.key_length");
  c.n_rot = optional_int(f, a + "rope.dimension_count", c.head_dim, 2, c.head_dim);
  if (c.n_rot % 2 != 0)
    throw Error::input("rotated dimensions must be even")
        .at(f.origin())
        .field(a + "rope.dimension_count");
  c.rms_eps =
      static_cast<float>(f.get_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  c.rope_theta = static_cast<float>(f.get_float(a + "rope.freq_base").value_or(10000.0));
  if (!(c.rope_theta > 1.0f))
    throw Error::input("RoPE base must be > 1").at(f.origin()).field(a + "rope.freq_base");
  if (auto s = f.get_float(a + "rope.scale_linear"); s && *s > 0)
    c.rope_freq_scale = static_cast<float>(1.0 / *s);
  if (auto t = f.get_string(a + "rope.scaling.type"); t && *t == "linear")
    if (auto s = f.get_float(a + "rope.scaling.factor"); s && *s > 0)
      c.rope_freq_scale = static_cast<float>(1.0 / *s);
  c.rope_pairing = RopePairing::kNormal;  // Llama GGUFs store Q/K permuted for adjacent pairs
  const auto* tokens = f.get_string_array("tokenizer.ggml.tokens");
  c.n_vocab = tokens ? static_cast<int>(tokens->size()) : 0;
  if (auto v = f.get_int(a + "vocab_size")) c.n_vocab = static_cast<int>(*v);
  if (c.n_vocab <= 0)
    throw Error::input("model has no vocabulary").at(f.origin()).field("tokenizer.ggml.tokens");
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  c.qk_norm = f.find_tensor("blk.0.attn_q_norm.weight") != nullptr;
  if (c.arch == "gemma3") {
    // As llama.cpp's gemma3 graph: NeoX RoPE, embeddings scaled by sqrt(width), GeGLU, norms
    // after attention and MLP, five sliding-window layers (RoPE base 10,000) per global one.
    c.rope_pairing = RopePairing::kNeox;
    c.embd_scale = std::sqrt(static_cast<float>(c.n_embd));
    c.ffn_act = FfnActivation::kGeluTanh;
    c.post_norms = true;
    c.rms_eps =
        static_cast<float>(f.get_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-6));
    c.sliding_window = require_int(f, a + "attention.sliding_window", 1, 1 << 24);
    c.swa_period = 6;
    c.rope_theta_local = 10000.0f;
    // Gemma 3 27B scales queries by 1/sqrt(width / heads), the others by 1/sqrt(head size).
    c.attn_scale = c.n_layer == 62 ? 1.0f / std::sqrt(static_cast<float>(c.n_embd / c.n_head))
                                   : 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    if (optional_int(f, a + "attention.value_length", c.head_dim, 1, 1024) != c.head_dim)
      throw Error::input("value head size differs from key head size")
          .at(f.origin())
          .field(a + "attention.value_length")
          .expected(std::to_string(c.head_dim));
  }
  if (c.attn_scale == 0.0f) c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  return c;
}

}  // namespace gearbox::serve
