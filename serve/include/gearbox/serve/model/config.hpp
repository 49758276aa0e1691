// The hyper-parameters of a Llama-family model, read from GGUF metadata (`<arch>.*` keys).
#pragma once

#include <cstdint>
#include <string>

namespace gearbox::serve {

class GgufFile;

// How RoPE pairs the dimensions of a head it rotates together.
enum class RopePairing {
  kNormal,  // adjacent pairs (2i, 2i+1): GGML's "normal" mode, Llama GGUFs
  kNeox,    // halves (i, i + n_rot/2): GPT-NeoX mode (Qwen, Gemma, Phi, ...)
};

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
  bool tied_embeddings = false;  // output projection shares token_embd

  int q_dim() const { return n_head * head_dim; }
  int kv_dim() const { return n_head_kv * head_dim; }
  int gqa_group() const { return n_head / n_head_kv; }
};

// Reads the config of a Llama-family model from `file`'s metadata and tensor shapes. Throws
// Error::input naming the key when one is missing or inconsistent (heads not dividing, ...).
ModelConfig read_model_config(const GgufFile& file);

}  // namespace gearbox::serve
