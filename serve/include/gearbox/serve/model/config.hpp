// The hyper-parameters of a decoder-only transformer read from GGUF metadata (`<arch>.*` keys).
// One forward pass serves every supported architecture; what differs between them (norms
// around attention and MLP, QK-norm, activation, embedding scale, sliding-window layers) is
// data here, not code. Supported: `llama` (Llama 1-3, Mistral), `qwen2`, `qwen3`, `phi3`,
// `gemma2`, `gemma3`; docs/serve-engine.md lists how each is checked against llama.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gearbox::serve {

class GgufFile;

// How RoPE pairs the dimensions of a head it rotates together.
enum class RopePairing {
  kNormal,  // adjacent pairs (2i, 2i+1): GGML's "normal" mode, Llama GGUFs
  kNeox,    // halves (i, i + n_rot/2): GPT-NeoX mode (Qwen, Gemma, Phi, ...)
};

// The gated MLP's activation: SwiGLU (Llama) or GeGLU with tanh-approximated GELU (Gemma).
enum class FfnActivation { kSilu, kGeluTanh };

struct ModelConfig {
  std::string arch;  // general.architecture, e.g. "llama"
  std::string name;  // general.name, may be empty
  int n_vocab = 0;
  int n_embd = 0;  // model width
  int n_layer = 0;
  int n_head = 0;       // query heads
  int n_head_kv = 0;    // key/value heads (GQA when < n_head)
  int head_dim = 0;     // n_embd / n_head unless the file says otherwise
  int n_ff = 0;         // SwiGLU hidden width
  int n_ctx_train = 0;  // context length the model was trained with (file's claim)
  float rms_eps = 1e-5f;
  float rope_theta = 10000.0f;  // RoPE base frequency
  int n_rot = 0;                // rotated dimensions per head (head_dim unless the file says)
  RopePairing rope_pairing = RopePairing::kNormal;
  float rope_freq_scale = 1.0f;  // linear scaling already in the file (1 = none)
  // Per-frequency RoPE divisors (n_rot/2 values; empty = none): the `rope_freqs` tensor in
  // which Llama 3.1+ GGUFs carry Llama 3's scaling rule, as llama.cpp applies it.
  std::vector<float> rope_freq_factors;
  bool tied_embeddings = false;  // output projection shares token_embd
  float embd_scale = 1.0f;       // token embeddings multiplied by this (Gemma: sqrt(n_embd))
  float attn_scale = 0.0f;       // query scale in attention (1/sqrt(head_dim) unless set)
  FfnActivation ffn_act = FfnActivation::kSilu;
  bool qk_norm = false;        // RMS norm of each query and key head before RoPE (Gemma 3, Qwen3)
  bool post_norms = false;     // RMS norm of attention and MLP outputs before the residual add
  bool qkv_bias = false;       // Q, K and V projections add a bias (Qwen2)
  bool fused_qkv = false;      // one attn_qkv matrix holds Q, K, V rows in that order (Phi-3)
  bool fused_gate_up = false;  // ffn_up holds the gate's rows, then the up rows (Phi-3)
  // Soft-capping (0 = none): attention scores s -> c*tanh(s/c) before the softmax, and the
  // output logits likewise (Gemma 2).
  float attn_softcap = 0.0f;
  float final_softcap = 0.0f;
  // Sliding-window layers: when sliding_window > 0, layer l is local (sees the last
  // sliding_window positions, RoPE base rope_theta_local, unscaled) unless
  // (l + 1) % swa_period == 0 (Gemma 3: period 6, five local layers then one global).
  int sliding_window = 0;
  int swa_period = 0;
  float rope_theta_local = 10000.0f;

  bool is_local_layer(int l) const {
    return sliding_window > 0 && (swa_period <= 0 || (l + 1) % swa_period != 0);
  }

  int q_dim() const { return n_head * head_dim; }
  int kv_dim() const { return n_head_kv * head_dim; }
  int gqa_group() const { return n_head / n_head_kv; }
};

// Reads the config of a supported decoder-only model from `file`'s metadata and tensor shapes.
// Throws Error::input naming the key when one is missing or inconsistent (heads not dividing, ...).
ModelConfig read_model_config(const GgufFile& file);

}  // namespace gearbox::serve
