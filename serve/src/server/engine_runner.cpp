#include "gearbox/serve/server/engine_runner.hpp"

#include <algorithm>
#include <climits>

#include "gearbox/core/error.hpp"
#include "gearbox/core/threads.hpp"
#include "gearbox/serve/model/model_registry.hpp"

namespace gearbox::serve::server {

EngineRunner::EngineRunner(std::shared_ptr<Model> model, EngineRunnerOptions options)
    : model_(std::move(model)), opt_(std::move(options)) {
  name_ = !opt_.name.empty()               ? opt_.name
          : !model_->config().name.empty() ? model_->config().name
                                           : "model";
  try {
    policy(CapSpec{});  // the default must be valid: fail at start-up, not per request
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

EngineRunner::PolicyCache& EngineRunner::policy(const CapSpec& cap) const {
  const std::string spelling = cap.policy.empty() ? opt_.default_cap : cap.to_string();
  std::lock_guard lock(mu_);
  if (auto it = caches_.find(spelling); it != caches_.end()) return *it->second;
  cap::CapPlan plan;
  try {
    plan = cap::plan_cap(spelling);
  } catch (const Error& e) {
    throw Error::input(e.what()).field("cap").found(spelling);
  }
  // Different spellings of one policy share its cache (keyed by the canonical spelling too).
  if (auto it = caches_.find(plan.spelling); it != caches_.end()) return *it->second;
  if (caches_.size() >= opt_.max_policies) {
    throw Error::input("too many distinct cap policies in use")
        .field("cap")
        .expected("one of the " + std::to_string(caches_.size()) + " policies already served")
        .found(spelling);
  }
  cap::CapCacheOptions co;
  co.budget_bytes = opt_.kv_budget_bytes;
  co.block_tokens = opt_.block_tokens;
  auto pc = std::make_unique<PolicyCache>();
  try {
    pc->cc = cap::make_cap_cache(plan, model_->config(), model_->rope(), co);
  } catch (const Error& e) {
    throw Error::input(e.what()).field("cap").found(spelling);
  }
  PolicyCache& out = *pc;
  caches_[plan.spelling] = std::move(pc);
  return out;
}

int EngineRunner::vocab_size() const {
  return model_->config().n_vocab;
}

std::size_t EngineRunner::context_limit(const CapSpec& cap) const {
  const std::int64_t limit = policy(cap).cc.ctx_limit;
  return limit <= 0 ? 0 : static_cast<std::size_t>(limit);
}

std::size_t EngineRunner::kv_bytes_per_token() const {
  return policy(CapSpec{}).cc.cache->bytes_per_token();
}

std::size_t EngineRunner::kv_tokens(const CapSpec& cap, std::size_t tokens) const {
  const cap::KvRecipe& r = policy(cap).cc.recipe;
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

std::vector<Token> EngineRunner::encode(std::string_view text, bool add_bos) const {
  const Tokenizer& tok = model_->tokenizer();
  return add_bos ? tok.encode_prompt(text) : tok.encode(text, false);
}

std::string EngineRunner::token_text(Token t) const {
  return model_->tokenizer().token_bytes(t);
}

std::vector<Token> EngineRunner::encode_chat(std::span<const ChatMessage> messages) const {
  const Tokenizer& tok = model_->tokenizer();
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

void EngineRunner::open_sequence(SequenceId id, const CapSpec& cap,
                                 const SamplingOptions& sampling) {
  use_threads();
  PolicyCache& pc = policy(cap);
  SamplingParams sp;
  sp.temperature = static_cast<float>(sampling.temperature);
  sp.top_k = 0;  // the OpenAI API has no top-k
  sp.top_p = static_cast<float>(sampling.top_p);
  sp.seed = sampling.seed;
  const auto engine_id = static_cast<serve::SeqId>(id % static_cast<SequenceId>(INT32_MAX));
  seqs_.erase(id);
  seqs_.emplace(id, Seq{&pc, Sampler(sp), engine_id});
}

EngineRunner::Seq& EngineRunner::seq(SequenceId id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) throw Error::usage("sequence not open").found(std::to_string(id));
  return it->second;
}

Token EngineRunner::prefill(SequenceId id, std::span<const Token> tokens, bool last) {
  use_threads();
  Seq& s = seq(id);
  const std::size_t V = static_cast<std::size_t>(model_->config().n_vocab);
  logits_.resize(V);
  const std::size_t step =
      s.cache->cc.max_step > 0 ? static_cast<std::size_t>(s.cache->cc.max_step) : tokens.size();
  for (std::size_t at = 0; at < tokens.size(); at += step) {
    const auto part = tokens.subspan(at, std::min(step, tokens.size() - at));
    model_->prefill(s.cache->cc.kv(), s.engine_id, part, logits_, false, s.cache->cc.rope.get());
  }
  return last ? s.sampler.sample(logits_) : -1;
}

void EngineRunner::decode(std::span<const DecodeSlot> slots, std::vector<Token>& next) {
  use_threads();
  next.assign(slots.size(), -1);
  const std::size_t V = static_cast<std::size_t>(model_->config().n_vocab);
  // One batched forward per policy cache among the slots.
  std::map<PolicyCache*, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < slots.size(); ++i) groups[seq(slots[i].seq).cache].push_back(i);
  std::vector<DecodeItem> items;
  for (auto& [pc, idx] : groups) {
    items.clear();
    for (std::size_t i : idx) {
      items.push_back({seq(slots[i].seq).engine_id, slots[i].token, pc->cc.rope.get()});
    }
    logits_.resize(items.size() * V);
    model_->decode(pc->cc.kv(), items, logits_);
    for (std::size_t k = 0; k < idx.size(); ++k) {
      next[idx[k]] =
          seq(slots[idx[k]].seq).sampler.sample(std::span<const float>(logits_).subspan(k * V, V));
    }
  }
}

void EngineRunner::close_sequence(SequenceId id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return;
  it->second.cache->cc.kv().remove(it->second.engine_id);
  seqs_.erase(it);
}

}  // namespace gearbox::serve::server
