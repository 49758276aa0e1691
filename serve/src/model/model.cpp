#include "gearbox/serve/model/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/gguf/gguf_file.hpp"
#include "gearbox/serve/kernels/attention.hpp"
#include "gearbox/serve/kernels/fp16.hpp"
#include "gearbox/serve/kernels/matmul.hpp"
#include "gearbox/serve/kernels/ops.hpp"

namespace gearbox::serve {

struct LayerWeights {
  std::vector<float> attn_norm, ffn_norm;
  std::vector<float> q_norm, k_norm;                 // per head (qk_norm models)
  std::vector<float> post_attn_norm, post_ffn_norm;  // post_norms models
  std::vector<float> bq, bk, bv;                     // qkv_bias models
  bool local = false;                                // sliding-window layer
  WeightMatrix wq, wk, wv, wo, w_gate, w_up, w_down;
};

struct ModelWeights {
  const GgufTensor* token_embd = nullptr;
  std::size_t embd_row_bytes = 0;
  std::vector<float> output_norm;
  WeightMatrix output;
  std::vector<LayerWeights> layers;
};

struct ForwardScratch {
  std::vector<float> x, xn, q, k, v, att, tmp, gate, up, logits_in;
  std::vector<std::int32_t> pos;
  std::vector<std::int32_t> pos_local;  // sliding-window layers: each token's index in its sequence
  std::vector<float> row_weights;
  std::vector<KvView> views;        // a decode batch's views, read together
  std::vector<AttentionTask> attn;  // and their attention tasks
};

// Elementwise loops over fewer rows than this run on one thread: a fork/join of the OpenMP
// team costs more than they do (and, with passive waits on a loaded machine, a wake-up).
constexpr std::size_t kParallelRows = 32;

struct Model::Step {
  SeqId seq;
  std::span<const std::int32_t> tokens;
  const RopeSpec* rope;
};

namespace {

std::vector<float> norm_vector(const GgufFile& f, const std::string& name, int n) {
  const GgufTensor& t = f.tensor(name);
  if (t.n_elements != static_cast<std::uint64_t>(n))
    throw Error::input("weight vector has the wrong size")
        .at(f.origin())
        .field(name)
        .expected(std::to_string(n))
        .found(std::to_string(t.n_elements));
  std::vector<float> out(static_cast<std::size_t>(n));
  dequantize_row(t.type(), t.data, out.data(), n);
  return out;
}

WeightMatrix matrix(const GgufFile& f, const std::string& name, int rows, int cols) {
  const GgufTensor& t = f.tensor(name);
  if (t.dims.size() != 2 || t.dims[0] != static_cast<std::uint64_t>(cols) ||
      t.dims[1] != static_cast<std::uint64_t>(rows))
    throw Error::input("weight has the wrong shape")
        .at(f.origin())
        .field(name)
        .expected("[" + std::to_string(cols) + ", " + std::to_string(rows) + "]")
        .found(t.dims.size() == 2
                   ? "[" + std::to_string(t.dims[0]) + ", " + std::to_string(t.dims[1]) + "]"
                   : std::to_string(t.dims.size()) + " dims");
  try {
    return weight_matrix(t);
  } catch (Error& e) {
    e.at(f.origin());
    throw;
  }
}

// Rows [first, first + n) of `m`: one part of a fused matrix (Q/K/V, gate/up), no copy.
WeightMatrix row_block(const WeightMatrix& m, int first, int n) {
  WeightMatrix b = m;
  b.data = m.data + static_cast<std::size_t>(first) * m.row_bytes;
  b.rows = n;
  return b;
}

// Adds `bias` (cols values) to each of n_rows rows of `cols` values at x.
void add_bias_rows(float* x, std::size_t n_rows, const std::vector<float>& bias) {
  const std::size_t cols = bias.size();
  for (std::size_t i = 0; i < n_rows; ++i)
    for (std::size_t c = 0; c < cols; ++c) x[i * cols + c] += bias[c];
}

// Each value rounded to the nearest fp16.
void round_to_f16(float* p, std::size_t n) {
  std::uint16_t h[256];
  for (std::size_t i = 0; i < n; i += 256) {
    const std::size_t m = std::min<std::size_t>(256, n - i);
    floats_to_fp16(p + i, m, h);
    fp16_to_floats(h, m, p + i);
  }
}

// x += y, elementwise.
void add_into(std::vector<float>& x, const std::vector<float>& y) {
  const std::size_t n = x.size();
  float* __restrict xp = x.data();
  const float* __restrict yp = y.data();
#pragma omp parallel for if (n > 65536) schedule(static)
  for (std::size_t i = 0; i < n; ++i) xp[i] += yp[i];
}

// RMS norm of each of n_rows rows of `width` values in place (weights w).
void rmsnorm_rows(float* x, std::size_t n_rows, int width, const std::vector<float>& w, float eps) {
#pragma omp parallel for if (n_rows >= 2 * kParallelRows) schedule(static)
  for (std::size_t i = 0; i < n_rows; ++i)
    rmsnorm(x + i * static_cast<std::size_t>(width), w.data(), width, eps,
            x + i * static_cast<std::size_t>(width));
}

}  // namespace

Model::~Model() = default;

std::shared_ptr<Model> Model::load(const std::filesystem::path& path) {
  return from_gguf(GgufFile::open(path));
}

std::shared_ptr<Model> Model::from_gguf(std::shared_ptr<const GgufFile> file) {
  std::shared_ptr<Model> m(new Model());
  const GgufFile& f = *file;
  m->file_ = std::move(file);
  m->cfg_ = read_model_config(f);
  const ModelConfig& c = m->cfg_;
  m->rope_ = default_rope(c);
  {
    ModelConfig local = c;  // sliding-window layers: their own base, never scaled
    local.rope_theta = c.rope_theta_local;
    local.rope_freq_scale = 1.0f;
    m->rope_local_ = default_rope(local);
  }
  m->tokenizer_ = Tokenizer::from_gguf(f);
  if (m->tokenizer_->n_vocab() != c.n_vocab)
    throw Error::input("vocabulary size differs from the model's")
        .at(f.origin())
        .field("llama.vocab_size")
        .expected(std::to_string(m->tokenizer_->n_vocab()))
        .found(std::to_string(c.n_vocab));
  auto w = std::make_unique<ModelWeights>();
  w->token_embd = &f.tensor("token_embd.weight");
  {
    const auto& t = *w->token_embd;
    if (t.dims.size() != 2 || t.dims[0] != static_cast<std::uint64_t>(c.n_embd) ||
        t.dims[1] != static_cast<std::uint64_t>(c.n_vocab))
      throw Error::input("token embedding has the wrong shape").at(f.origin()).field(t.name);
    (void)weight_matrix(t);  // type check
    w->embd_row_bytes = tensor_bytes(t.type(), static_cast<std::size_t>(c.n_embd));
  }
  w->output_norm = norm_vector(f, "output_norm.weight", c.n_embd);
  w->output = c.tied_embeddings ? matrix(f, "token_embd.weight", c.n_vocab, c.n_embd)
                                : matrix(f, "output.weight", c.n_vocab, c.n_embd);
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights L;
    L.attn_norm = norm_vector(f, p + "attn_norm.weight", c.n_embd);
    L.ffn_norm = norm_vector(f, p + "ffn_norm.weight", c.n_embd);
    if (c.qk_norm) {
      L.q_norm = norm_vector(f, p + "attn_q_norm.weight", c.head_dim);
      L.k_norm = norm_vector(f, p + "attn_k_norm.weight", c.head_dim);
    }
    if (c.post_norms) {
      L.post_attn_norm = norm_vector(f, p + "post_attention_norm.weight", c.n_embd);
      L.post_ffn_norm = norm_vector(f, p + "post_ffw_norm.weight", c.n_embd);
    }
    L.local = c.is_local_layer(l);
    if (c.fused_qkv) {  // Q, K, V rows in one matrix (and one bias)
      const WeightMatrix qkv =
          matrix(f, p + "attn_qkv.weight", c.q_dim() + 2 * c.kv_dim(), c.n_embd);
      L.wq = row_block(qkv, 0, c.q_dim());
      L.wk = row_block(qkv, c.q_dim(), c.kv_dim());
      L.wv = row_block(qkv, c.q_dim() + c.kv_dim(), c.kv_dim());
      if (c.qkv_bias) {
        const auto b = norm_vector(f, p + "attn_qkv.bias", c.q_dim() + 2 * c.kv_dim());
        L.bq.assign(b.begin(), b.begin() + c.q_dim());
        L.bk.assign(b.begin() + c.q_dim(), b.begin() + c.q_dim() + c.kv_dim());
        L.bv.assign(b.begin() + c.q_dim() + c.kv_dim(), b.end());
      }
    } else {
      L.wq = matrix(f, p + "attn_q.weight", c.q_dim(), c.n_embd);
      L.wk = matrix(f, p + "attn_k.weight", c.kv_dim(), c.n_embd);
      L.wv = matrix(f, p + "attn_v.weight", c.kv_dim(), c.n_embd);
      if (c.qkv_bias) {
        L.bq = norm_vector(f, p + "attn_q.bias", c.q_dim());
        L.bk = norm_vector(f, p + "attn_k.bias", c.kv_dim());
        L.bv = norm_vector(f, p + "attn_v.bias", c.kv_dim());
      }
    }
    L.wo = matrix(f, p + "attn_output.weight", c.n_embd, c.q_dim());
    if (c.fused_gate_up) {  // ffn_up holds the gate's rows, then the up rows
      const WeightMatrix gate_up = matrix(f, p + "ffn_up.weight", 2 * c.n_ff, c.n_embd);
      L.w_gate = row_block(gate_up, 0, c.n_ff);
      L.w_up = row_block(gate_up, c.n_ff, c.n_ff);
    } else {
      L.w_gate = matrix(f, p + "ffn_gate.weight", c.n_ff, c.n_embd);
      L.w_up = matrix(f, p + "ffn_up.weight", c.n_ff, c.n_embd);
    }
    L.w_down = matrix(f, p + "ffn_down.weight", c.n_embd, c.n_ff);
    for (const WeightMatrix* wm : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down})
      if (wm->type != TensorType::kF32 && wm->type != TensorType::kF16 &&
          wm->type != TensorType::kBF16 && wm->cols % 32 != 0)
        throw Error::input("quantized weight width not a multiple of 32").at(f.origin()).field(p);
    w->layers.push_back(std::move(L));
  }
  m->w_ = std::move(w);
  m->scratch_ = std::make_unique<ForwardScratch>();
  return m;
}

std::size_t Model::weight_bytes_per_token() const {
  std::size_t b =
      w_->embd_row_bytes + static_cast<std::size_t>(w_->output.rows) * w_->output.row_bytes;
  for (const auto& L : w_->layers)
    for (const WeightMatrix* wm : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down})
      b += static_cast<std::size_t>(wm->rows) * wm->row_bytes;
  return b;
}

void Model::prefill(KvCache& cache, SeqId seq, std::span<const std::int32_t> tokens,
                    std::span<float> logits, bool all_logits, const RopeSpec* rope) {
  if (tokens.empty()) throw Error::usage("prefill: no tokens");
  const Step step{seq, tokens, rope};
  forward(cache, std::span<const Step>(&step, 1), logits, all_logits);
}

void Model::decode(KvCache& cache, std::span<const DecodeItem> batch, std::span<float> logits) {
  std::vector<Step> steps;
  steps.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j)
      if (batch[j].seq == batch[i].seq)
        throw Error::usage("decode: a sequence appears twice in the batch");
    steps.push_back(
        Step{batch[i].seq, std::span<const std::int32_t>(&batch[i].token, 1), batch[i].rope});
  }
  forward(cache, steps, logits, false);
}

void Model::forward(KvCache& cache, std::span<const Step> steps, std::span<float> logits,
                    bool all_logits) {
  const ModelConfig& c = cfg_;
  ForwardScratch& s = *scratch_;
  std::size_t T = 0;
  for (const auto& st : steps) {
    for (const auto t : st.tokens)
      if (t < 0 || t >= c.n_vocab)
        throw Error::input("token id out of range")
            .field("token")
            .expected("0.." + std::to_string(c.n_vocab - 1))
            .found(std::to_string(t));
    T += st.tokens.size();
  }
  if (T == 0) return;
  const std::size_t n_out = all_logits ? T : steps.size();
  if (logits.size() < n_out * static_cast<std::size_t>(c.n_vocab))
    throw Error::usage("logits buffer too small")
        .expected(std::to_string(n_out * c.n_vocab))
        .found(std::to_string(logits.size()));

  // Sliding-window layers never evict inside their window, so they rotate at each token's
  // index in its sequence, whatever positions the policy gives the global layers (StreamingLLM
  // renumbers those to cache slots: used on local layers, every recent key would sit at the
  // same slot position and the window would lose its order).
  s.pos_local.resize(T);
  {
    std::size_t off = 0;
    for (const auto& st : steps) {
      const std::int64_t past = cache.n_past(st.seq);
      for (std::size_t i = 0; i < st.tokens.size(); ++i)
        s.pos_local[off + i] = static_cast<std::int32_t>(past + static_cast<std::int64_t>(i));
      off += st.tokens.size();
    }
  }
  // Positions from the cache (each begin() is undone if a later one refuses).
  s.pos.resize(T);
  {
    std::size_t off = 0, begun = 0;
    try {
      for (const auto& st : steps) {
        cache.begin(st.seq, static_cast<int>(st.tokens.size()),
                    std::span<std::int32_t>(s.pos.data() + off, st.tokens.size()));
        off += st.tokens.size();
        ++begun;
      }
    } catch (...) {
      for (std::size_t i = 0; i < begun; ++i)
        cache.abort(steps[i].seq, static_cast<int>(steps[i].tokens.size()));
      throw;
    }
  }

  try {
    run_layers(cache, steps, logits, all_logits, T, n_out);
  } catch (...) {
    for (const auto& st : steps) cache.abort(st.seq, static_cast<int>(st.tokens.size()));
    throw;
  }
  for (const auto& st : steps) cache.commit(st.seq, static_cast<int>(st.tokens.size()));
}

void Model::run_layers(KvCache& cache, std::span<const Step> steps, std::span<float> logits,
                       bool all_logits, std::size_t T, std::size_t n_out) {
  const ModelConfig& c = cfg_;
  ForwardScratch& s = *scratch_;
  const std::size_t E = static_cast<std::size_t>(c.n_embd),
                    QD = static_cast<std::size_t>(c.q_dim()),
                    KD = static_cast<std::size_t>(c.kv_dim()), F = static_cast<std::size_t>(c.n_ff);
  s.x.resize(T * E);
  s.xn.resize(T * E);
  s.q.resize(T * QD);
  s.k.resize(T * KD);
  s.v.resize(T * KD);
  s.att.resize(T * QD);
  s.tmp.resize(T * E);
  s.gate.resize(T * F);
  s.up.resize(T * F);

  {
    std::size_t i = 0;
    for (const auto& st : steps)
      for (const auto t : st.tokens)
        dequantize_row(w_->token_embd->type(),
                       w_->token_embd->data + static_cast<std::size_t>(t) * w_->embd_row_bytes,
                       s.x.data() + (i++) * E, c.n_embd);
    if (c.embd_scale != 1.0f)
      for (float& v : s.x) v *= c.embd_scale;
  }
  AttentionShape global_shape{c.n_head, c.n_head_kv, c.head_dim, c.attn_scale, f16_attention_};
  AttentionShape local_shape = global_shape;
  global_shape.softcap = local_shape.softcap = c.attn_softcap;
  local_shape.window = c.sliding_window;
  const bool want_w = cache.wants_attention();

  for (int l = 0; l < c.n_layer; ++l) {
    const LayerWeights& L = w_->layers[static_cast<std::size_t>(l)];
#pragma omp parallel for if (T >= kParallelRows) schedule(static)
    for (std::size_t i = 0; i < T; ++i)
      rmsnorm(s.x.data() + i * E, L.attn_norm.data(), c.n_embd, c.rms_eps, s.xn.data() + i * E);
    {
      Activations a(s.xn.data(), static_cast<int>(T), c.n_embd);
      const MatmulJob qkv[] = {{&L.wq, s.q.data()}, {&L.wk, s.k.data()}, {&L.wv, s.v.data()}};
      matmul_many(qkv, a);
    }
    if (c.qkv_bias) {
      add_bias_rows(s.q.data(), T, L.bq);
      add_bias_rows(s.k.data(), T, L.bk);
      add_bias_rows(s.v.data(), T, L.bv);
    }
    if (c.qk_norm) {
      rmsnorm_rows(s.q.data(), T * static_cast<std::size_t>(c.n_head), c.head_dim, L.q_norm,
                   c.rms_eps);
      rmsnorm_rows(s.k.data(), T * static_cast<std::size_t>(c.n_head_kv), c.head_dim, L.k_norm,
                   c.rms_eps);
    }
    const AttentionShape& shape = L.local ? local_shape : global_shape;
    // Several sequences (a decode batch): write them all, then read their views and run their
    // attention in one parallel region, when the cache's views survive each other's reads.
    const bool together = steps.size() > 1 && !want_w && cache.stable_reads();
    std::size_t off = 0;
    for (const auto& st : steps) {
      const RopeSpec& rope = L.local ? rope_local_ : st.rope ? *st.rope : rope_;
      const std::vector<std::int32_t>& pos = L.local ? s.pos_local : s.pos;
      const std::size_t n = st.tokens.size();
#pragma omp parallel for if (n >= kParallelRows) schedule(static)
      for (std::size_t i = off; i < off + n; ++i) {
        apply_rope(rope, s.q.data() + i * QD, c.n_head, pos[i]);
        apply_rope(rope, s.k.data() + i * KD, c.n_head_kv, pos[i]);
        if (f16_attention_) {
          round_to_f16(s.q.data() + i * QD, QD);
          round_to_f16(s.k.data() + i * KD, KD);
          round_to_f16(s.v.data() + i * KD, KD);
        }
      }
      cache.write(l, st.seq, static_cast<int>(n), s.k.data() + off * KD, s.v.data() + off * KD);
      if (together) {
        off += n;
        continue;
      }
      const KvView view = cache.read(l, st.seq);
      float* rw = nullptr;
      if (want_w) {
        s.row_weights.assign(static_cast<std::size_t>(view.n_rows()), 0.0f);
        rw = s.row_weights.data();
      }
      attention(shape, s.q.data() + off * QD, static_cast<int>(n), view, s.att.data() + off * QD,
                rw);
      if (want_w) cache.observe_attention(l, st.seq, s.row_weights);
      off += n;
    }
    if (together) {
      s.views.resize(steps.size());
      s.attn.resize(steps.size());
      off = 0;
      for (std::size_t k = 0; k < steps.size(); ++k) {
        const auto n = steps[k].tokens.size();
        s.views[k] = cache.read(l, steps[k].seq);
        s.attn[k] = AttentionTask{s.q.data() + off * QD, static_cast<int>(n), &s.views[k],
                                  s.att.data() + off * QD};
        off += n;
      }
      attention_many(shape, s.attn);
    }
    {
      Activations a(s.att.data(), static_cast<int>(T), c.q_dim());
      matmul(L.wo, a, s.tmp.data());
    }
    if (c.post_norms) rmsnorm_rows(s.tmp.data(), T, c.n_embd, L.post_attn_norm, c.rms_eps);
    add_into(s.x, s.tmp);
#pragma omp parallel for if (T >= kParallelRows) schedule(static)
    for (std::size_t i = 0; i < T; ++i)
      rmsnorm(s.x.data() + i * E, L.ffn_norm.data(), c.n_embd, c.rms_eps, s.xn.data() + i * E);
    {
      Activations a(s.xn.data(), static_cast<int>(T), c.n_embd);
      const MatmulJob gate_up[] = {{&L.w_gate, s.gate.data()}, {&L.w_up, s.up.data()}};
      matmul_many(gate_up, a);
    }
#pragma omp parallel for if (T >= kParallelRows) schedule(static)
    for (std::size_t i = 0; i < T; ++i) {
      if (c.ffn_act == FfnActivation::kGeluTanh && f16_attention_)
        geglu_f16(s.gate.data() + i * F, s.up.data() + i * F, F);
      else if (c.ffn_act == FfnActivation::kGeluTanh)
        geglu(s.gate.data() + i * F, s.up.data() + i * F, F);
      else
        swiglu(s.gate.data() + i * F, s.up.data() + i * F, F);
    }
    {
      Activations a(s.gate.data(), static_cast<int>(T), c.n_ff);
      matmul(L.w_down, a, s.tmp.data());
    }
    if (c.post_norms) rmsnorm_rows(s.tmp.data(), T, c.n_embd, L.post_ffn_norm, c.rms_eps);
    add_into(s.x, s.tmp);
  }

  // Final norm on the rows whose logits are wanted, then the output projection.
  s.logits_in.resize(n_out * E);
  if (all_logits) {
    for (std::size_t i = 0; i < T; ++i)
      rmsnorm(s.x.data() + i * E, w_->output_norm.data(), c.n_embd, c.rms_eps,
              s.logits_in.data() + i * E);
  } else {
    std::size_t off = 0;
    for (std::size_t k = 0; k < steps.size(); ++k) {
      off += steps[k].tokens.size();
      rmsnorm(s.x.data() + (off - 1) * E, w_->output_norm.data(), c.n_embd, c.rms_eps,
              s.logits_in.data() + k * E);
    }
  }
  Activations a(s.logits_in.data(), static_cast<int>(n_out), c.n_embd);
  matmul(w_->output, a, logits.data());
  if (c.final_softcap > 0) {
    const float cap = c.final_softcap;
    for (std::size_t i = 0; i < n_out * static_cast<std::size_t>(c.n_vocab); ++i)
      logits[i] = cap * std::tanh(logits[i] / cap);
  }
}

}  // namespace gearbox::serve
