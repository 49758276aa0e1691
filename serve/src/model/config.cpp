#include "gearbox/serve/model/config.hpp"

#include <cmath>
#include <cstring>

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

// Gemma's query scale: 1/sqrt(head size), except the 27B models (Gemma 2: 46 layers, Gemma 3:
// 62), which scale by 1/sqrt(width / heads), as llama.cpp does.
float gemma_attn_scale(const ModelConfig& c) {
  const bool big =
      (c.arch == "gemma2" && c.n_layer == 46) || (c.arch == "gemma3" && c.n_layer == 62);
  return big ? 1.0f / std::sqrt(static_cast<float>(c.n_embd / c.n_head))
             : 1.0f / std::sqrt(static_cast<float>(c.head_dim));
}

// The `rope_freqs` tensor (Llama 3's per-frequency divisors), when the file has one.
std::vector<float> rope_freq_factors(const GgufFile& f, int n_rot) {
  const GgufTensor* t = f.find_tensor("rope_freqs.weight");
  if (!t) return {};
  if (t->type() != TensorType::kF32 || t->n_elements != static_cast<std::uint64_t>(n_rot / 2))
    throw Error::input("RoPE frequency factors malformed")
        .at(f.origin())
        .field(t->name)
        .expected(std::to_string(n_rot / 2) + " F32 values")
        .found(std::to_string(t->n_elements) + " of type " + std::to_string(t->type_id));
  std::vector<float> out(static_cast<std::size_t>(n_rot / 2));
  std::memcpy(out.data(), t->data, out.size() * sizeof(float));
  for (float v : out)
    if (!(v > 0.0f) || !std::isfinite(v))
      throw Error::input("RoPE frequency factor not positive").at(f.origin()).field(t->name);
  return out;
}

bool known_arch(const std::string& a) {
  return a == "llama" || a == "qwen2" || a == "qwen3" || a == "phi3" || a == "gemma2" ||
         a == "gemma3";
}

}  // namespace

ModelConfig read_model_config(const GgufFile& f) {
  ModelConfig c;
  c.arch = f.get_string("general.architecture").value_or("");
  if (!known_arch(c.arch))
    throw Error::input("unsupported model architecture")
        .at(f.origin())
        .field("general.architecture")
        .expected("llama, qwen2, qwen3, phi3, gemma2 or gemma3")
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
  // What the tensors present say (as llama.cpp's loader: optional biases, fused matrices).
  c.qk_norm = f.find_tensor("blk.0.attn_q_norm.weight") != nullptr;
  c.fused_qkv = f.find_tensor("blk.0.attn_qkv.weight") != nullptr;
  c.qkv_bias = f.find_tensor(c.fused_qkv ? "blk.0.attn_qkv.bias" : "blk.0.attn_q.bias") != nullptr;
  c.fused_gate_up = c.arch == "phi3";  // llama.cpp's phi3 has only ffn_up, [gate; up]
  // Tensors llama.cpp would add that this forward pass does not read: refused, never ignored.
  for (const char* name : {"output.bias", "blk.0.attn_output.bias", "blk.0.ffn_gate.bias",
                           "blk.0.ffn_up.bias", "blk.0.ffn_down.bias"})
    if (f.find_tensor(name))
      throw Error::input("unsupported tensor (a bias this engine does not apply)")
          .at(f.origin())
          .field(name);
  c.rope_freq_factors = rope_freq_factors(f, c.n_rot);
  if (f.find_tensor("blk.0.rope_factors_long.weight") || f.find_tensor("rope_factors_long.weight"))
    throw Error::input("LongRoPE models (rope_factors_long) are not supported")
        .at(f.origin())
        .field("rope_factors_long.weight");
  // Llama (also Mistral, whose GGUFs are `llama`: llama.cpp's llama graph reads no sliding
  // window, so neither do we) rotates adjacent pairs; every other family NeoX halves.
  if (c.arch != "llama") c.rope_pairing = RopePairing::kNeox;
  if (c.arch == "gemma2" || c.arch == "gemma3") {
    // As llama.cpp's gemma2/gemma3 graphs: embeddings scaled by sqrt(width), GeGLU, norms
    // after attention and MLP, sliding-window layers: Gemma 2 every other one (window 4096
    // unless the file says, RoPE base as the global layers), Gemma 3 five in six (base 10,000).
    c.embd_scale = std::sqrt(static_cast<float>(c.n_embd));
    c.ffn_act = FfnActivation::kGeluTanh;
    c.post_norms = true;
    c.rms_eps =
        static_cast<float>(f.get_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-6));
    if (c.arch == "gemma2") {
      c.sliding_window = optional_int(f, a + "attention.sliding_window", 4096, 1, 1 << 24);
      c.swa_period = 2;
      c.rope_theta_local =
          static_cast<float>(f.get_float(a + "rope.freq_base_swa").value_or(c.rope_theta));
      c.attn_softcap = static_cast<float>(f.get_float(a + "attn_logit_softcapping").value_or(50.0));
      c.final_softcap =
          static_cast<float>(f.get_float(a + "final_logit_softcapping").value_or(30.0));
      if (!(c.attn_softcap > 0.0f) || !(c.final_softcap > 0.0f))
        throw Error::input("soft-capping must be > 0").at(f.origin()).field(a + "*_softcapping");
    } else {
      c.sliding_window = require_int(f, a + "attention.sliding_window", 1, 1 << 24);
      c.swa_period = 6;
      c.rope_theta_local = 10000.0f;
    }
    c.attn_scale = gemma_attn_scale(c);
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
