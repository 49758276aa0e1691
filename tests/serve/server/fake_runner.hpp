// FakeModelRunner: a TEST DOUBLE of ModelRunner, not a model. Bytes are tokens (256 = BOS,
// 257 = EOS); every sequence "generates" the characters of a fixed script in order, starting at
// an offset set by its seed when sampling (temperature > 0) and at 0 when greedy, optionally
// ending with EOS after `eos_after` tokens. It records what the scheduler asked of it so tests
// can check batching, chunking, seeds and that every opened sequence is closed. An optional
// sleep per call stands in for compute. KV is modelled as 64 bytes a token in blocks of 16
// tokens under `kv_budget_bytes` (0 = no budget); "streaming" holds at most 68 rows (sink 4 +
// window 64); a step that would exceed the budget throws KvExhaustedError and changes nothing.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/server/model_runner.hpp"

namespace gearbox::serve::server::testing {

inline constexpr Token kFakeBos = 256;
inline constexpr Token kFakeEos = 257;
inline const std::string kFakeScript = "the quick brown fox jumps over the lazy dog. ";

class FakeModelRunner final : public ModelRunner {
 public:
  std::size_t context = 256;  // context_limit for the default / "full" policy
  std::size_t eos_after = 0;  // 0 = never emit EOS
  std::chrono::microseconds call_delay{0};
  Token fail_token = -1;  // prefill throws when a chunk holds this token (engine refusal)
  std::size_t kv_budget_bytes = 0;
  static constexpr std::size_t kBytesPerToken = 64, kBlockTokens = 16, kStreamingRows = 68;

  std::string name() const override { return "fake-test-runner"; }
  int vocab_size() const override { return 258; }
  std::size_t context_limit(const CapSpec& cap) const override {
    if (cap.policy.empty() || cap.policy == "full") {
      for (const auto& [k, v] : cap.knobs)
        if (k == "ctx") return static_cast<std::size_t>(std::stoull(v));  // full:ctx=N
      return context;
    }
    if (cap.policy == "streaming") return std::size_t{1} << 20;
    throw Error::input("unknown cap policy")
        .field("cap.policy")
        .expected("full or streaming")
        .found(cap.policy);
  }
  std::size_t max_model_len(const CapSpec& cap) const override {
    context_limit(cap);  // validates
    return context;
  }
  std::size_t kv_tokens(const CapSpec& cap, std::size_t tokens) const override {
    return cap.policy == "streaming" ? std::min(tokens, kStreamingRows + 1) : tokens;
  }
  std::size_t kv_bytes(const CapSpec& cap, std::size_t tokens) const override {
    return bytes_for(rows_after(cap.policy == "streaming", 0, tokens));
  }
  std::size_t kv_step_bytes(SequenceId id, std::size_t n_new) const override {
    std::lock_guard lock(mu_);
    return step_bytes(open_.at(id), n_new);
  }
  KvUsage kv_usage() const override {
    std::lock_guard lock(mu_);
    KvUsage u;
    u.budget_bytes = kv_budget_bytes;
    for (const auto& [id, s] : open_) {
      u.bytes_in_use += bytes_for(s.rows);
      u.blocks_in_use += blocks_for(s.rows);
      u.bytes_by_policy[s.streaming ? "streaming" : "full"] += bytes_for(s.rows);
    }
    return u;
  }
  std::vector<Token> encode(std::string_view text, bool add_bos) const override {
    std::vector<Token> out;
    if (add_bos) out.push_back(kFakeBos);
    for (unsigned char c : text) out.push_back(c);
    return out;
  }
  std::string token_text(Token t) const override {
    return t >= 0 && t < 256 ? std::string(1, static_cast<char>(t)) : std::string();
  }
  std::vector<Token> encode_chat(std::span<const ChatMessage> messages) const override {
    std::string text;
    for (const auto& m : messages) text += m.role + ": " + m.content + "\n";
    return encode(text + "assistant:", true);
  }
  bool is_end_of_generation(Token t) const override { return t == kFakeEos; }

  std::size_t open_sequence(SequenceId id, const CapSpec& cap, const SamplingOptions& s,
                            std::span<const Token>) override {
    std::lock_guard lock(mu_);
    if (open_.count(id)) throw Error::usage("sequence opened twice");
    Seq q;
    q.offset = s.temperature > 0 ? s.seed % kFakeScript.size() : 0;
    q.streaming = cap.policy == "streaming";
    open_[id] = q;
    seeds_.push_back(s.seed);
    ++opened_;
    return 0;  // no prefix cache
  }
  Token prefill(SequenceId id, std::span<const Token> tokens, bool last) override {
    pause();
    std::lock_guard lock(mu_);
    Seq& s = get(id);
    if (std::find(tokens.begin(), tokens.end(), fail_token) != tokens.end()) {
      throw Error::input("fake refusal").field("token");
    }
    if (kv_budget_bytes > 0 && used_bytes() + step_bytes(s, tokens.size()) > kv_budget_bytes)
      throw KvExhaustedError("fake KV budget exhausted");
    s.cached += tokens.size();
    s.rows = rows_after(s.streaming, s.rows, tokens.size());
    note_peak();
    ++prefill_calls_;
    max_prefill_chunk_ = std::max(max_prefill_chunk_.load(), tokens.size());
    if (!last) return -1;
    // A sequence reopened after preemption (same id) continues its script where its cached
    // tokens say it is, as a model conditioned on them would.
    const std::size_t prompt = prompt_len_.emplace(id, s.cached).first->second;
    s.generated = s.cached - prompt;
    return next(s);
  }
  void decode(std::span<const DecodeSlot> slots, std::vector<Token>& next_tokens) override {
    pause();
    std::lock_guard lock(mu_);
    ++decode_calls_;
    max_batch_ = std::max(max_batch_.load(), slots.size());
    next_tokens.resize(slots.size());
    std::size_t step = 0;
    for (const auto& slot : slots) step += step_bytes(get(slot.seq), 1);
    if (kv_budget_bytes > 0 && used_bytes() + step > kv_budget_bytes)
      throw KvExhaustedError("fake KV budget exhausted");
    for (std::size_t i = 0; i < slots.size(); ++i) {
      Seq& s = get(slots[i].seq);
      s.cached += 1;
      s.rows = rows_after(s.streaming, s.rows, 1);
      next_tokens[i] = next(s);
    }
    note_peak();
  }
  void close_sequence(SequenceId id) override {
    std::lock_guard lock(mu_);
    open_.erase(id);
  }

  std::size_t open_sequences() const {
    std::lock_guard lock(mu_);
    return open_.size();
  }
  std::size_t opened() const { return opened_.load(); }
  std::size_t decode_calls() const { return decode_calls_.load(); }
  std::size_t max_batch() const { return max_batch_.load(); }
  std::size_t max_prefill_chunk() const { return max_prefill_chunk_.load(); }
  std::size_t prefill_calls() const { return prefill_calls_.load(); }
  std::size_t peak_kv_bytes() const { return peak_bytes_.load(); }
  std::vector<std::uint64_t> seeds() const {
    std::lock_guard lock(mu_);
    return seeds_;
  }

 private:
  struct Seq {
    std::size_t offset = 0, generated = 0, cached = 0, rows = 0;
    bool streaming = false;
  };
  static std::size_t blocks_for(std::size_t rows) {
    return (rows + kBlockTokens - 1) / kBlockTokens;
  }
  static std::size_t bytes_for(std::size_t rows) {
    return blocks_for(rows) * kBlockTokens * kBytesPerToken;
  }
  static std::size_t rows_after(bool streaming, std::size_t rows, std::size_t n) {
    return streaming ? std::min(rows + n, kStreamingRows) : rows + n;
  }
  std::size_t step_bytes(const Seq& s, std::size_t n) const {
    return bytes_for(rows_after(s.streaming, s.rows, n)) - bytes_for(s.rows);
  }
  std::size_t used_bytes() const {
    std::size_t b = 0;
    for (const auto& [id, s] : open_) b += bytes_for(s.rows);
    return b;
  }
  void note_peak() { peak_bytes_ = std::max(peak_bytes_.load(), used_bytes()); }
  Seq& get(SequenceId id) {
    auto it = open_.find(id);
    if (it == open_.end()) throw Error::usage("sequence not open").found(std::to_string(id));
    return it->second;
  }
  Token next(Seq& s) {
    ++s.generated;
    if (eos_after > 0 && s.generated > eos_after) return kFakeEos;
    return static_cast<unsigned char>(
        kFakeScript[(s.offset + s.generated - 1) % kFakeScript.size()]);
  }
  void pause() const {
    if (call_delay.count() > 0) std::this_thread::sleep_for(call_delay);
  }

  mutable std::mutex mu_;
  std::map<SequenceId, Seq> open_;
  std::map<SequenceId, std::size_t> prompt_len_;  // at the first end of prefill
  std::vector<std::uint64_t> seeds_;
  std::atomic<std::size_t> opened_{0}, decode_calls_{0}, max_batch_{0}, max_prefill_chunk_{0},
      prefill_calls_{0}, peak_bytes_{0};
};

}  // namespace gearbox::serve::server::testing
