#include "gearbox/serve/server/engine_runner.hpp"

#include <algorithm>
#include <climits>

#include "gearbox/serve/cap/policy_spec.hpp"
#include "gearbox/serve/cap/rope_scaling.hpp"
#include "gearbox/serve/kv/prefix_cache.hpp"

#include "gearbox/core/error.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/serve/model/model_registry.hpp"
#include "gearbox/serve/sampling/logprobs.hpp"

namespace gearbox::serve::server {

namespace {

// Accounting of KV memory failures: the cache's "budget exhausted" errors name kv_budget.
bool is_kv_exhausted(const Error& e) {
  return e.field_name() == "kv_budget";
}

std::size_t ceil_div(std::size_t a, std::size_t b) {
  return (a + b - 1) / b;
}

}  // namespace

EngineRunner::EngineRunner(std::shared_ptr<Model> model, EngineRunnerOptions options)
    : model_(std::move(model)), opt_(std::move(options)) {
  name_ = !opt_.name.empty()               ? opt_.name
          : !model_->config().name.empty() ? model_->config().name
                                           : "model";
  if (opt_.block_tokens == 0) throw Error::usage("KV block size must be >= 1").field("block");
  if (!opt_.chat_template.empty() && !is_renderable_chat_template(opt_.chat_template))
    throw Error::usage("chat template of an unknown family")
        .field("chat-template")
        .expected("one of chatml, gemma, llama2, llama3 or a template of those families")
        .found(printable(opt_.chat_template, 60));
  memory_ = std::make_shared<kv::KvMemory>(opt_.kv_budget_bytes);
  try {
    facts(CapSpec{});  // the default must be valid: fail at start-up, not per request
    acquire(CapSpec{}).pinned = true;
  } catch (const Error& e) {
    throw Error::usage("invalid default policy: " + std::string(e.what())).field("cap");
  }
}

std::unique_ptr<EngineRunner> EngineRunner::load(const std::string& name_or_path,
                                                 EngineRunnerOptions options) {
  const auto path = resolve_model(name_or_path);
  if (options.name.empty()) options.name = path.stem().string();
  return std::make_unique<EngineRunner>(Model::load(path), std::move(options));
}

cap::CapPlan EngineRunner::plan(const std::string& spelling) const {
  cap::CapPlan p;
  try {
    p = cap::plan_cap(spelling);
  } catch (const Error& e) {
    throw Error::input(e.what()).field("cap").found(spelling);
  }
  // Offload is charged for its resident tokens only: bound them when the spelling does not.
  if (p.recipe.offload != cap::KvOffload::kNone && p.recipe.hot_tokens <= 0)
    p.recipe.hot_tokens =
        static_cast<std::int64_t>(std::max(opt_.offload_hot_tokens, std::size_t{1}));
  return p;
}

cap::CapCache EngineRunner::build(cap::CapPlan p) const {
  cap::CapCacheOptions co;
  co.budget_bytes = opt_.kv_budget_bytes;
  co.block_tokens = opt_.block_tokens;
  co.memory = memory_;
  co.prefix_cache = opt_.prefix_cache;
  const std::string spelling = p.spelling;
  try {
    return cap::make_cap_cache(p, model_->config(), model_->rope(), co);
  } catch (const Error& e) {
    throw Error::input(e.what()).field("cap").found(spelling);
  }
}

EngineRunner::PolicyFacts EngineRunner::facts(const CapSpec& cap) const {
  const std::string spelling = cap.policy.empty() ? opt_.default_cap : cap.to_string();
  {
    std::lock_guard lock(mu_);
    if (auto it = facts_.find(spelling); it != facts_.end()) return it->second;
  }
  cap::CapPlan p = plan(spelling);
  PolicyFacts f;
  f.spelling = p.spelling;
  f.recipe = p.recipe;
  // Building the cache checks what planning alone does not; it allocates no KV memory.
  f.bytes_per_token = build(std::move(p)).cache->bytes_per_token();
  std::lock_guard lock(mu_);
  if (facts_.size() >= 4096) facts_.clear();  // bounded, whatever clients spell
  facts_.emplace(spelling, f);
  return f;
}

EngineRunner::PolicyCache& EngineRunner::acquire(const CapSpec& cap) {
  const PolicyFacts f = facts(cap);
  auto it = caches_.find(f.spelling);
  if (it == caches_.end()) {
    auto pc = std::make_unique<PolicyCache>();
    pc->cc = build(plan(f.spelling));
    for (const auto& term : cap::parse_policy_spec(f.spelling))
      pc->kind += (pc->kind.empty() ? "" : "+") + term.name;
    pc->salt =
        kv::hash_text(name_ + '\n' + std::to_string(model_->config().n_vocab) + '\n' + f.spelling);
    it = caches_.emplace(f.spelling, std::move(pc)).first;
  }
  ++it->second->users;
  return *it->second;
}

int EngineRunner::vocab_size() const {
  return model_->config().n_vocab;
}

std::size_t EngineRunner::context_limit(const CapSpec& cap) const {
  const std::int64_t limit = cap::context_limit(facts(cap).recipe, model_->config().n_ctx_train);
  return limit <= 0 ? 0 : static_cast<std::size_t>(limit);
}

std::size_t EngineRunner::max_model_len(const CapSpec& cap) const {
  cap::KvRecipe r = facts(cap).recipe;
  r.ctx_limit = 0;
  r.eviction = cap::KvEviction::kNone;
  const std::int64_t limit = cap::context_limit(r, model_->config().n_ctx_train);
  return limit <= 0 ? 0 : static_cast<std::size_t>(limit);
}

std::size_t EngineRunner::kv_tokens(const CapSpec& cap, std::size_t tokens) const {
  const cap::KvRecipe r = facts(cap).recipe;
  switch (r.eviction) {
    case cap::KvEviction::kStreaming:
      return std::min<std::size_t>(tokens, static_cast<std::size_t>(r.sink + r.window) + 1);
    case cap::KvEviction::kH2o:
      return std::min<std::size_t>(tokens, static_cast<std::size_t>(r.budget) + 1);
    case cap::KvEviction::kNone:
      break;
  }
  return tokens;
}

std::size_t EngineRunner::kv_bytes(const CapSpec& cap, std::size_t tokens) const {
  const PolicyFacts f = facts(cap);
  std::size_t rows = tokens;
  if (f.recipe.eviction == cap::KvEviction::kStreaming)
    rows = std::min<std::size_t>(rows, static_cast<std::size_t>(f.recipe.sink + f.recipe.window));
  if (f.recipe.eviction == cap::KvEviction::kH2o)
    rows = std::min<std::size_t>(rows, static_cast<std::size_t>(f.recipe.budget));
  if (f.recipe.offload != cap::KvOffload::kNone)
    rows = std::min<std::size_t>(rows, static_cast<std::size_t>(f.recipe.hot_tokens));
  const std::size_t bt = opt_.block_tokens;
  return ceil_div(rows, bt) * bt * f.bytes_per_token;
}

std::size_t EngineRunner::kv_step_bytes(SequenceId id, std::size_t n_new) const {
  const Seq& s = seq(id);
  const auto& cache = *s.cache->cc.cache;
  return cache.step_blocks(s.engine_id, n_new) * cache.pool().block_bytes();
}

KvUsage EngineRunner::kv_usage() const {
  KvUsage u;
  u.budget_bytes = memory_->budget();
  u.peak_bytes = memory_->peak();
  for (const auto& [spelling, pc] : caches_) {
    const auto& cache = *pc->cc.cache;
    const auto st = cache.pool().stats();
    const std::size_t cached = cache.cached_blocks();
    u.cached_blocks += cached;
    u.cached_bytes += cached * st.block_bytes;
    u.blocks_in_use += st.blocks_in_use - cached;
    u.bytes_by_policy[pc->kind] += st.bytes_in_use - cached * st.block_bytes;
  }
  u.bytes_in_use = memory_->used() - std::min(memory_->used(), u.cached_bytes);
  return u;
}

void EngineRunner::reclaim(std::size_t bytes) {
  bool freed = true;
  while (memory_->available() < bytes && freed) {
    freed = false;
    for (auto& [spelling, pc] : caches_) freed |= pc->cc.cache->drop_cached(1) > 0;
  }
  release_idle();
}

void EngineRunner::release_idle() {
  // Idle caches go, unless they keep prefix-cached blocks (then at most kKeptIdle of them,
  // the most recently used).
  constexpr std::size_t kKeptIdle = 16;
  std::vector<std::pair<std::uint64_t, std::string>> kept;
  for (auto it = caches_.begin(); it != caches_.end();) {
    const PolicyCache& pc = *it->second;
    if (pc.users > 0 || pc.pinned) {
      ++it;
    } else if (pc.cc.cache->cached_blocks() == 0) {
      it = caches_.erase(it);
    } else {
      kept.emplace_back(pc.last_used, it->first);
      ++it;
    }
  }
  if (kept.size() <= kKeptIdle) return;
  std::sort(kept.begin(), kept.end());
  for (std::size_t i = 0; i + kKeptIdle < kept.size(); ++i) caches_.erase(kept[i].second);
}

void EngineRunner::note_cached(Seq& s, std::span<const Token> tokens) {
  auto& cache = *s.cache->cc.cache;
  // Sliding-window layers (Gemma 3) keep their rows in a ring outside the paged blocks: a
  // cached prefix would restore only the global layers, so such a model caches no prefixes.
  if (!cache.caches_prefixes() || s.cache->cc.windowed) return;
  s.tokens.insert(s.tokens.end(), tokens.begin(), tokens.end());
  const std::size_t bt = opt_.block_tokens;
  while ((s.hashes.size() + 1) * bt <= s.tokens.size()) {
    const std::uint64_t parent = s.hashes.empty() ? s.cache->salt : s.hashes.back();
    s.hashes.push_back(kv::chain_block_hash(
        parent, std::span<const Token>(s.tokens).subspan(s.hashes.size() * bt, bt)));
  }
  if (s.published < s.hashes.size()) {
    cache.cache_prefix(s.engine_id, s.published,
                       std::span<const std::uint64_t>(s.hashes).subspan(s.published));
    s.published = s.hashes.size();
  }
}

std::vector<Token> EngineRunner::encode(std::string_view text, bool add_bos) const {
  const Tokenizer& tok = model_->tokenizer();
  return add_bos ? tok.encode_prompt(text, true) : tok.encode(text, false);
}

std::string EngineRunner::prompt_token_text(Token t) const {
  return model_->tokenizer().prompt_spelling(t);
}

bool EngineRunner::matched_whole(Token t) const {
  return model_->tokenizer().is_matched_whole(t);
}

std::string EngineRunner::detokenize(std::span<const Token> tokens) const {
  return model_->tokenizer().decode(tokens);
}

Token EngineRunner::prompt_bos() const {
  const Tokenizer& tok = model_->tokenizer();
  return tok.add_bos() ? tok.bos() : -1;
}

std::string EngineRunner::token_text(Token t) const {
  return model_->tokenizer().token_bytes(t);
}

std::vector<Token> EngineRunner::encode_chat(std::span<const ChatMessage> messages) const {
  const Tokenizer& tok = model_->tokenizer();
  if (!opt_.chat_template.empty())
    return tok.encode(render_chat_template(opt_.chat_template, messages, true), tok.add_bos(),
                      true);
  if (tok.chat_template().empty()) {
    // A base model (stories260K) has no template: the conversation's text is the prompt.
    std::string text;
    for (const auto& m : messages) {
      if (!text.empty() && !m.content.empty()) text += "\n";
      text += m.content;
    }
    return tok.encode_prompt(text);
  }
  return tok.encode(tok.apply_chat_template(messages, true), tok.add_bos(), true);
}

bool EngineRunner::is_end_of_generation(Token t) const {
  return model_->tokenizer().is_end_of_generation(t);
}

void EngineRunner::use_threads() {
  if (threads_set_) return;
  set_threads(opt_.threads);  // the scheduler thread's OpenMP/BLAS team size
  threads_set_ = true;
}

std::size_t EngineRunner::open_sequence(SequenceId id, const CapSpec& cap,
                                        const SamplingOptions& sampling,
                                        std::span<const Token> prompt) {
  use_threads();
  close_sequence(id);
  PolicyCache& pc = acquire(cap);
  SamplingParams sp;
  sp.temperature = static_cast<float>(sampling.temperature);
  sp.top_k = 0;  // the OpenAI API has no top-k
  sp.top_p = static_cast<float>(sampling.top_p);
  sp.seed = sampling.seed;
  const auto engine_id = static_cast<serve::SeqId>(id % static_cast<SequenceId>(INT32_MAX));
  Seq fresh{&pc, Sampler(sp), engine_id, {}, {}, 0, 0, sampling.top_logprobs, {}, {}};
  Seq& s = seqs_.emplace(id, std::move(fresh)).first->second;
  if (sampling.top_logprobs >= 0 && sampling.prompt_logprobs) {
    s.scored_prompt.assign(prompt.begin(), prompt.end());
    return 0;  // every prompt position's logits are needed: no prefix reuse
  }
  auto& cache = *pc.cc.cache;
  if (!cache.caches_prefixes() || prompt.size() < 2) return 0;
  // The prompt's full blocks, leaving at least one token to prefill (its logits are needed).
  const std::size_t bt = opt_.block_tokens;
  std::vector<std::uint64_t> hashes;
  std::uint64_t h = pc.salt;
  for (std::size_t b = 0; (b + 1) * bt <= prompt.size() - 1; ++b) {
    h = kv::chain_block_hash(h, prompt.subspan(b * bt, bt));
    hashes.push_back(h);
  }
  const std::size_t reused = cache.reuse_prefix(engine_id, hashes);
  s.tokens.assign(prompt.begin(), prompt.begin() + static_cast<std::ptrdiff_t>(reused));
  s.hashes.assign(hashes.begin(), hashes.begin() + static_cast<std::ptrdiff_t>(reused / bt));
  s.published = s.hashes.size();
  s.fed = reused;
  return reused;
}

EngineRunner::Seq& EngineRunner::seq(SequenceId id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) throw Error::usage("sequence not open").found(std::to_string(id));
  return it->second;
}

const EngineRunner::Seq& EngineRunner::seq(SequenceId id) const {
  return const_cast<EngineRunner*>(this)->seq(id);
}

Token EngineRunner::prefill(SequenceId id, std::span<const Token> tokens, bool last) {
  use_threads();
  Seq& s = seq(id);
  const std::size_t V = static_cast<std::size_t>(model_->config().n_vocab);
  const std::size_t need = kv_step_bytes(id, tokens.size());
  reclaim(need);
  if (need > memory_->available())
    throw KvExhaustedError("KV budget exhausted: prefill of " + std::to_string(tokens.size()) +
                           " tokens does not fit");
  // Scoring the prompt needs every position's logits: parts of at most 32 rows bound them.
  const bool score = !s.scored_prompt.empty();
  std::size_t step =
      s.cache->cc.max_step > 0 ? static_cast<std::size_t>(s.cache->cc.max_step) : tokens.size();
  if (score) step = std::min<std::size_t>(step, 32);
  try {
    for (std::size_t at = 0; at < tokens.size(); at += step) {
      const auto part = tokens.subspan(at, std::min(step, tokens.size() - at));
      logits_.resize((score ? part.size() : 1) * V);
      model_->prefill(s.cache->cc.kv(), s.engine_id, part, logits_, score, s.cache->cc.rope.get());
      for (std::size_t j = 0; score && j < part.size(); ++j) {
        const std::size_t next = s.fed + at + j + 1;  // the prompt token row j predicts
        if (next < s.scored_prompt.size())
          record(s, std::span<const float>(logits_).subspan(j * V, V), s.scored_prompt[next], next);
      }
    }
  } catch (const Error& e) {
    if (is_kv_exhausted(e)) throw KvExhaustedError(e.what());
    throw;
  }
  note_cached(s, tokens);
  s.fed += tokens.size();
  if (!last) return -1;
  const auto row = std::span<const float>(logits_).subspan(logits_.size() - V, V);
  const Token t = s.sampler.sample(row);
  if (s.top_logprobs >= 0) record(s, row, t, s.fed);
  return t;
}

void EngineRunner::decode(std::span<const DecodeSlot> slots, std::vector<Token>& next) {
  use_threads();
  next.assign(slots.size(), -1);
  const std::size_t V = static_cast<std::size_t>(model_->config().n_vocab);
  // One batched forward per policy cache among the slots.
  std::map<PolicyCache*, std::vector<std::size_t>> groups;
  std::size_t step_bytes = 0;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    groups[seq(slots[i].seq).cache].push_back(i);
    step_bytes += kv_step_bytes(slots[i].seq, 1);
  }
  // All or nothing: a step that cannot hold every slot's row runs none of them.
  reclaim(step_bytes);
  if (step_bytes > memory_->available())
    throw KvExhaustedError("KV budget exhausted: a decode step of " + std::to_string(slots.size()) +
                           " sequences does not fit");
  std::vector<DecodeItem> items;
  for (auto& [pc, idx] : groups) {
    items.clear();
    for (std::size_t i : idx) {
      items.push_back({seq(slots[i].seq).engine_id, slots[i].token, pc->cc.rope.get()});
    }
    logits_.resize(items.size() * V);
    try {
      model_->decode(pc->cc.kv(), items, logits_);
    } catch (const Error& e) {
      if (is_kv_exhausted(e)) throw KvExhaustedError(e.what());
      throw;
    }
    for (std::size_t k = 0; k < idx.size(); ++k) {
      Seq& s = seq(slots[idx[k]].seq);
      note_cached(s, std::span<const Token>(&slots[idx[k]].token, 1));
      const auto row = std::span<const float>(logits_).subspan(k * V, V);
      next[idx[k]] = s.sampler.sample(row);
      s.fed += 1;
      if (s.top_logprobs >= 0) record(s, row, next[idx[k]], s.fed);
    }
  }
}

void EngineRunner::close_sequence(SequenceId id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return;
  PolicyCache* pc = it->second.cache;
  pc->cc.kv().remove(it->second.engine_id);
  seqs_.erase(it);
  pc->last_used = ++tick_;
  if (--pc->users == 0) release_idle();
}

void EngineRunner::record(Seq& s, std::span<const float> logits, Token token, std::size_t pos) {
  TokenLogprob r;
  r.pos = pos;
  r.token = token;
  r.logprob = log_softmax_top(logits, token, std::max(s.top_logprobs, 0), r.top);
  s.logprobs.push_back(std::move(r));
}

std::vector<TokenLogprob> EngineRunner::take_logprobs(SequenceId id) {
  std::vector<TokenLogprob> out;
  out.swap(seq(id).logprobs);
  return out;
}

}  // namespace gearbox::serve::server
