// FakeModelRunner: a TEST DOUBLE of ModelRunner, not a model. Bytes are tokens (256 = BOS,
// 257 = EOS); every sequence "generates" the characters of a fixed script in order, starting at
// an offset set by its seed when sampling (temperature > 0) and at 0 when greedy, optionally
// ending with EOS after `eos_after` tokens. It records what the scheduler asked of it so tests
// can check batching, chunking and that every opened sequence is closed. An optional sleep per
// call stands in for compute.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

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

  std::string name() const override { return "fake-test-runner"; }
  int vocab_size() const override { return 258; }
  std::size_t context_limit(const CapSpec& cap) const override {
    if (cap.policy.empty() || cap.policy == "full") return context;
    if (cap.policy == "streaming") return std::size_t{1} << 20;
    throw Error::input("unknown cap policy")
        .field("cap.policy")
        .expected("full or streaming")
        .found(cap.policy);
  }
  std::size_t kv_bytes_per_token() const override { return 64; }
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

  void open_sequence(SequenceId id, const CapSpec&, const SamplingOptions& s) override {
    std::lock_guard lock(mu_);
    if (open_.count(id)) throw Error::usage("sequence opened twice");
    open_[id] = Seq{s.temperature > 0 ? s.seed % kFakeScript.size() : 0, 0, 0};
    ++opened_;
  }
  Token prefill(SequenceId id, std::span<const Token> tokens, bool last) override {
    pause();
    std::lock_guard lock(mu_);
    Seq& s = get(id);
    if (std::find(tokens.begin(), tokens.end(), fail_token) != tokens.end()) {
      throw Error::input("fake refusal").field("token");
    }
    s.cached += tokens.size();
    max_prefill_chunk_ = std::max(max_prefill_chunk_.load(), tokens.size());
    return last ? next(s) : -1;
  }
  void decode(std::span<const DecodeSlot> slots, std::vector<Token>& next_tokens) override {
    pause();
    std::lock_guard lock(mu_);
    ++decode_calls_;
    max_batch_ = std::max(max_batch_.load(), slots.size());
    next_tokens.resize(slots.size());
    for (std::size_t i = 0; i < slots.size(); ++i) {
      Seq& s = get(slots[i].seq);
      s.cached += 1;
      next_tokens[i] = next(s);
    }
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

 private:
  struct Seq {
    std::size_t offset = 0, generated = 0, cached = 0;
  };
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
  std::atomic<std::size_t> opened_{0}, decode_calls_{0}, max_batch_{0}, max_prefill_chunk_{0};
};

}  // namespace gearbox::serve::server::testing
