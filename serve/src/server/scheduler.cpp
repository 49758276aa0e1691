#include "gearbox/serve/server/scheduler.hpp"

#include <algorithm>
#include <limits>
#include <random>

#include "gearbox/core/error.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/serve/server/stop_filter.hpp"

namespace gearbox::serve::server {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
  }
  return "stop";
}

const char* kv_admission_name(KvAdmission a) {
  return a == KvAdmission::kReserve ? "reserve" : "ondemand";
}

// ---- GenerationStream ----

StreamUpdate GenerationStream::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout,
               [&] { return !pending_.empty() || !pending_logprobs_.empty() || finished_; });
  StreamUpdate u;
  u.text.swap(pending_);
  u.logprobs.swap(pending_logprobs_);
  if (finished_ && !delivered_end_) {
    u.finished = true;
    u.reason = end_.reason;
    u.prompt_tokens = end_.prompt_tokens;
    u.completion_tokens = end_.completion_tokens;
    u.cached_tokens = end_.cached_tokens;
    u.error = end_.error;
    u.prompt_logprobs = std::move(end_.prompt_logprobs);
    delivered_end_ = true;
  } else if (finished_) {
    u.finished = true;
    u.reason = end_.reason;
  }
  return u;
}

void GenerationStream::push(const std::string& text, std::vector<TokenLogprob> logprobs) {
  if (text.empty() && logprobs.empty()) return;
  {
    std::lock_guard lock(mu_);
    pending_ += text;
    for (auto& r : logprobs) pending_logprobs_.push_back(std::move(r));
  }
  cv_.notify_all();
}

void GenerationStream::finish(FinishReason reason, std::size_t prompt_tokens,
                              std::size_t completion_tokens, std::size_t cached_tokens,
                              const std::string& error, std::vector<TokenLogprob> prompt_logprobs) {
  {
    std::lock_guard lock(mu_);
    finished_ = true;
    end_.error = error;
    end_.prompt_logprobs = std::move(prompt_logprobs);
    end_.reason = reason;
    end_.prompt_tokens = prompt_tokens;
    end_.completion_tokens = completion_tokens;
    end_.cached_tokens = cached_tokens;
  }
  cv_.notify_all();
}

// ---- BatchScheduler ----

struct BatchScheduler::Sequence {
  SequenceId id = 0;
  GenerationParams params;
  std::size_t max_new = 0;  // generated tokens allowed
  std::shared_ptr<GenerationStream> stream;
  StopStringFilter filter{{}};
  // The prompt then every emitted token: what a preempted sequence is recomputed from.
  std::vector<Token> tokens;
  std::size_t prefilled = 0;  // tokens of `tokens` in the cache (while prefilling)
  std::size_t cached = 0;     // prompt tokens the prefix cache held at first admission
  bool admitted_once = false;
  bool open = false;      // the runner holds the sequence
  bool decoding = false;  // `tokens` all in the cache but the last, which waits to be fed
  std::size_t generated = 0;
  // Prompt logprobs by position (with sampling.prompt_logprobs), and which are filled.
  std::vector<TokenLogprob> prompt_logprobs;
  std::vector<bool> scored;
  Stopwatch since_arrival;
  double first_token_s = -1;
};

namespace {

constexpr std::size_t kUnbounded = std::numeric_limits<std::size_t>::max() / 4;

void check_options(const SchedulerOptions& opt) {
  if (opt.max_running == 0) throw Error::usage("--parallel must be >= 1").field("parallel");
  if (opt.max_queue == 0) throw Error::usage("--max-queue must be >= 1").field("max-queue");
  if (opt.prefill_chunk == 0)
    throw Error::usage("--prefill-chunk must be >= 1").field("prefill-chunk");
}

bool names_ctx(const CapSpec& cap) {
  for (const auto& [k, v] : cap.knobs)
    if (k == "ctx") return true;
  return cap.policy.find("ctx=") != std::string::npos;
}

}  // namespace

BatchScheduler::BatchScheduler(ModelRunner& runner, const SchedulerOptions& options,
                               ServeMetrics& metrics)
    : runner_(runner), opt_(options), metrics_(metrics), seed_base_(std::random_device{}()) {
  check_options(opt_);
  seed_base_ = opt_.seed ? *opt_.seed : (seed_base_ << 32) ^ std::random_device{}();
  kv_budget_ = runner_.kv_usage().budget_bytes;  // kv_usage() is for the scheduler thread
  publish_gauges();
}

BatchScheduler::~BatchScheduler() {
  stop();
}

void BatchScheduler::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { loop(); });
}

void BatchScheduler::stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Whatever is left (queued or running) ends as cancelled; blocks and sequences are freed.
  for (auto& s : running_) finish(*s, FinishReason::kCancelled);
  running_.clear();
  std::deque<std::unique_ptr<Sequence>> left;
  {
    std::lock_guard lock(mu_);
    left.swap(queue_);
    running_count_ = 0;
  }
  for (auto& s : left) finish(*s, FinishReason::kCancelled);
  publish_gauges();
}

std::shared_ptr<GenerationStream> BatchScheduler::submit(GenerationParams params) {
  if (params.prompt.empty()) throw Error::input("empty prompt").field("prompt");
  if (params.score_only && !params.sampling.prompt_logprobs)
    throw Error::usage("scoring a prompt needs its logprobs").field("echo");
  const CapSpec& cap = params.cap;
  const std::string policy_note =
      cap.policy.empty() ? std::string() : " of cap policy " + cap.to_string();
  const std::size_t ctx = runner_.context_limit(cap);  // throws on a bad cap
  const std::size_t model_len =
      opt_.max_model_len > 0 ? opt_.max_model_len : runner_.max_model_len(cap);
  // Evicting policies hold a bounded window of any sequence: no context bounds them.
  const bool evicting = runner_.kv_tokens(cap, kUnbounded) < kUnbounded;
  if (!evicting && ctx > model_len && names_ctx(cap)) {
    throw Error::input("cap.ctx beyond the server's max-model-len")
        .field("cap.ctx")
        .expected("<= " + std::to_string(model_len) + " tokens (--max-model-len)")
        .found(std::to_string(ctx));
  }
  if (params.max_tokens > model_len) {
    throw Error::input("max_tokens beyond the server's max-model-len")
        .field("max_tokens")
        .expected("<= " + std::to_string(model_len) + " (--max-model-len)")
        .found(std::to_string(params.max_tokens));
  }
  const std::size_t limit = evicting ? kUnbounded : std::min(ctx, model_len);
  const std::size_t n = params.prompt.size();
  if (n >= limit) {
    throw Error::input("prompt does not fit the context")
        .field("prompt")
        .expected("< " + std::to_string(limit) + " tokens (the context limit" + policy_note +
                  (limit < ctx ? ", --max-model-len" : "") + ")")
        .found(std::to_string(n) + " tokens");
  }
  if (kv_budget_ > 0 && runner_.kv_bytes(cap, n + 1) > kv_budget_) {
    throw Error::input("prompt does not fit the KV budget")
        .field("prompt")
        .expected("<= " + std::to_string(kv_budget_) + " bytes of KV (--kv-budget)" + policy_note)
        .found(std::to_string(n) + " tokens, " + std::to_string(runner_.kv_bytes(cap, n + 1)) +
               " bytes");
  }
  auto seq = std::make_unique<Sequence>();
  if (params.score_only) {
    seq->max_new = 0;
  } else if (evicting) {
    const std::size_t fallback = opt_.default_max_tokens > 0 ? opt_.default_max_tokens : model_len;
    seq->max_new = params.max_tokens > 0 ? params.max_tokens : fallback;
  } else {
    seq->max_new = params.max_tokens == 0 ? limit - n : std::min(params.max_tokens, limit - n);
  }
  seq->stream = std::make_shared<GenerationStream>();
  seq->filter = StopStringFilter(params.stop);
  seq->tokens = params.prompt;
  if (params.sampling.prompt_logprobs) {
    seq->prompt_logprobs.resize(n);
    seq->scored.assign(n, false);
    seq->prompt_logprobs[0].token = params.prompt[0];  // nothing precedes it: no logprob
    seq->scored[0] = true;
  }
  seq->params = std::move(params);
  auto stream = seq->stream;
  {
    std::lock_guard lock(mu_);
    if (stop_) throw QueueFullError("server is stopping");
    // --max-queue counts requests waiting beyond --parallel: a burst that arrives before the
    // scheduler thread has moved anyone into a free running slot may wait in those slots' stead.
    const std::size_t free_slots = opt_.max_running - std::min(running_count_, opt_.max_running);
    if (queue_.size() >= opt_.max_queue + free_slots) {
      metrics_.rejected_queue_full.inc();
      throw QueueFullError("queue full (" + std::to_string(opt_.max_queue) + " waiting)");
    }
    seq->id = next_id_++;
    // Distinct ids give distinct seeds: multiplying by an odd constant is a bijection.
    if (seq->params.auto_seed)
      seq->params.sampling.seed = seed_base_ + seq->id * 0x9E3779B97F4A7C15ULL;
    queue_.push_back(std::move(seq));
    wake_ = true;
    metrics_.queue_length.set(static_cast<double>(queue_.size()));
  }
  cv_.notify_all();
  return stream;
}

void BatchScheduler::loop() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    if (step()) continue;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(20), [&] { return stop_ || wake_; });
    wake_ = false;
  }
}

BatchScheduler::Sequence* BatchScheduler::newest() {
  Sequence* out = nullptr;
  for (auto& s : running_)
    if (s && s->stream && (!out || s->id > out->id)) out = s.get();
  return out;
}

BatchScheduler::Plan BatchScheduler::plan_step() {
  Plan p;
  std::vector<Sequence*> prefilling;
  for (auto& s : running_) {
    if (!s || !s->stream) continue;
    if (s->decoding) {
      p.decode.push_back(s.get());
      p.kv_bytes += runner_.kv_step_bytes(s->id, 1);
    } else {
      prefilling.push_back(s.get());
    }
  }
  // The prefill budget, shared: each prefilling sequence gets up to an equal share (round-robin
  // start), then what is left goes round again in the same order.
  std::vector<std::size_t> give(prefilling.size(), 0);
  std::size_t budget = opt_.prefill_chunk;
  if (!prefilling.empty()) {
    const std::size_t n = prefilling.size();
    const std::size_t share = std::max<std::size_t>(1, budget / n);
    const std::size_t first = rr_ % n;
    for (int pass = 0; pass < 2 && budget > 0; ++pass) {
      for (std::size_t k = 0; k < n && budget > 0; ++k) {
        const std::size_t i = (first + k) % n;
        const Sequence& s = *prefilling[i];
        const std::size_t left = s.tokens.size() - s.prefilled - give[i];
        const std::size_t g = std::min({left, budget, pass == 0 ? share : budget});
        give[i] += g;
        budget -= g;
      }
    }
  }
  for (std::size_t i = 0; i < prefilling.size(); ++i) {
    if (give[i] == 0) continue;
    p.prefill.emplace_back(prefilling[i], give[i]);
    p.kv_bytes += runner_.kv_step_bytes(prefilling[i]->id, give[i]);
  }
  return p;
}

std::size_t BatchScheduler::admission_bytes(const Sequence& s) const {
  if (opt_.admission == KvAdmission::kReserve) {
    // The prompt and every token the request may still generate (evicting policies: their
    // window's worth, as kv_bytes bounds it).
    return runner_.kv_bytes(s.params.cap, s.tokens.size() + (s.max_new - s.generated));
  }
  return runner_.kv_bytes(s.params.cap, s.tokens.size());
}

void BatchScheduler::preempt(Sequence& s) {
  try {
    runner_.close_sequence(s.id);
  } catch (const std::exception&) {  // closing must not stop the blocks from being freed
  }
  s.open = false;
  s.decoding = false;
  s.prefilled = 0;
  metrics_.preemptions.inc();
  for (auto& r : running_) {
    if (r.get() != &s) continue;
    std::lock_guard lock(mu_);
    ++preemptions_;
    queue_.push_front(std::move(r));  // first in line: it is recomputed before newer requests
    break;
  }
  std::erase(running_, nullptr);
}

bool BatchScheduler::step() {
  bool worked = false;
  // 1. Cancelled sequences: running ones finish now, queued ones leave the queue.
  for (auto& s : running_) {
    if (s->stream->cancelled()) {
      finish(*s, FinishReason::kCancelled);
      s.reset();
      worked = true;
    }
  }
  std::erase(running_, nullptr);
  std::vector<std::unique_ptr<Sequence>> dropped;
  {
    std::lock_guard lock(mu_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      if ((*it)->stream->cancelled()) {
        dropped.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& s : dropped) {
    finish(*s, FinishReason::kCancelled);
    worked = true;
  }

  // 2. Admission, in arrival order, while there is room and the KV memory holds what the
  // running sequences' next steps and each admitted prompt need now.
  KvUsage kv = runner_.kv_usage();
  const bool budgeted = kv.budget_bytes > 0;
  const bool reserve = opt_.admission == KvAdmission::kReserve;
  // On demand: what is held plus the running sequences' next steps. Reserve: the running
  // sequences' whole reservations, whatever they hold yet.
  std::size_t committed = reserve ? 0 : kv.bytes_in_use;
  if (budgeted) {
    for (auto& s : running_) {
      if (reserve)
        committed += admission_bytes(*s);
      else
        committed += s->decoding ? runner_.kv_step_bytes(s->id, 1)
                                 : runner_.kv_step_bytes(s->id, s->tokens.size() - s->prefilled);
    }
  }
  while (running_.size() < opt_.max_running) {
    std::unique_ptr<Sequence> head;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) break;
      if (budgeted) {
        // With nothing running a request is admitted whatever it needs (submit() checked that
        // its prompt fits the whole budget), so the queue always moves.
        const Sequence& q = *queue_.front();
        const std::size_t need = admission_bytes(q);
        if (!running_.empty() && committed + need > kv.budget_bytes) break;
        committed += need;
      }
      head = std::move(queue_.front());
      queue_.pop_front();
      running_count_ = running_.size() + 1;  // submit() counts free running slots
    }
    running_.push_back(std::move(head));
    Sequence& q = *running_.back();
    worked = true;
    std::size_t hit = 0;
    if (guarded(q, [&] {
          hit = runner_.open_sequence(q.id, q.params.cap, q.params.sampling, q.tokens);
        })) {
      q.open = true;
      q.prefilled = std::min(hit, q.tokens.size() - 1);
      metrics_.prefix_queries.inc(static_cast<double>(q.tokens.size()));
      metrics_.prefix_hits.inc(static_cast<double>(q.prefilled));
      if (!q.admitted_once) q.cached = std::min(q.prefilled, q.params.prompt.size());
      q.admitted_once = true;
    }
  }
  std::erase_if(running_, [](const auto& s) { return !s->stream; });

  // 3-4. Plan; while it needs more KV than is free, preempt the newest running sequence.
  Plan plan = plan_step();
  while (budgeted) {
    kv = runner_.kv_usage();
    const std::size_t free =
        kv.budget_bytes > kv.bytes_in_use ? kv.budget_bytes - kv.bytes_in_use : 0;
    if (plan.kv_bytes <= free) break;
    Sequence* victim = newest();
    if (!victim) break;
    if (running_.size() == 1) {
      // Alone and still short: the budget cannot hold this sequence any longer.
      if (victim->decoding) {
        finish(*victim, FinishReason::kLength);
      } else {
        finish(*victim, FinishReason::kError, "the prompt does not fit the KV budget");
      }
      std::erase_if(running_, [](const auto& s) { return !s->stream; });
    } else {
      preempt(*victim);
    }
    worked = true;
    plan = plan_step();
  }
  ++rr_;

  // 5a. One batched decode step for every sequence past its prompt.
  if (!plan.decode.empty()) {
    std::vector<DecodeSlot> slots;
    for (Sequence* d : plan.decode) slots.push_back({d->id, d->tokens.back()});
    std::vector<Token> next;
    try {
      runner_.decode(slots, next);
      for (std::size_t i = 0; i < plan.decode.size(); ++i) emit(*plan.decode[i], next[i]);
    } catch (const KvExhaustedError&) {  // nothing ran: make room and try again next step
      Sequence* victim = newest();
      if (victim && running_.size() > 1) preempt(*victim);
    } catch (const std::exception& e) {  // the whole batch failed: end each of its requests
      for (Sequence* d : plan.decode) finish(*d, FinishReason::kError, e.what());
    }
    worked = true;
  }

  // 5b. The prefill chunks.
  for (auto [s, n] : plan.prefill) {
    if (!s->stream || !s->open) continue;
    const bool last = s->prefilled + n == s->tokens.size();
    worked = true;
    Token t = -1;
    const auto chunk = std::span<const Token>(s->tokens).subspan(s->prefilled, n);
    try {
      t = runner_.prefill(s->id, chunk, last);
    } catch (const KvExhaustedError&) {
      if (running_.size() > 1) {
        preempt(*s);
      } else {
        finish(*s, FinishReason::kError, "the prompt does not fit the KV budget");
      }
      continue;
    } catch (const std::exception& e) {  // the engine refused: end this request, keep serving
      finish(*s, FinishReason::kError, e.what());
      continue;
    }
    s->prefilled += n;
    metrics_.prompt_tokens.inc(static_cast<double>(n));
    if (last && s->max_new == 0) {  // score_only: the prompt's logprobs are all there is
      collect_logprobs(*s, 0);
      finish(*s, FinishReason::kLength);
    } else if (last) {
      s->decoding = true;
      emit(*s, t);
    }
  }

  // Finished sequences were reset by emit()/finish(); drop them.
  std::erase_if(running_, [](const auto& s) { return !s || !s->stream; });
  publish_gauges();
  return worked;
}

void BatchScheduler::emit(Sequence& s, Token t) {
  if (s.first_token_s < 0) {
    s.first_token_s = s.since_arrival.seconds();
    metrics_.ttft.observe(s.first_token_s);
  }
  std::vector<TokenLogprob> scored;
  if (s.params.sampling.top_logprobs >= 0) {
    if (auto r = collect_logprobs(s, s.tokens.size())) scored.push_back(std::move(*r));
  }
  if (!s.params.ignore_eos && s.generated >= s.params.min_tokens &&
      runner_.is_end_of_generation(t)) {
    finish(s, FinishReason::kStop);
    return;
  }
  ++s.generated;
  metrics_.generation_tokens.inc();
  s.stream->push(s.filter.push(runner_.token_text(t)), std::move(scored));
  if (s.filter.stopped()) {
    finish(s, FinishReason::kStop);
    return;
  }
  s.tokens.push_back(t);
  if (s.generated >= s.max_new) finish(s, FinishReason::kLength);
}

std::optional<TokenLogprob> BatchScheduler::collect_logprobs(Sequence& s, std::size_t pos) {
  std::optional<TokenLogprob> out;
  for (auto& r : runner_.take_logprobs(s.id)) {
    if (r.pos < s.scored.size()) {
      if (!s.scored[r.pos]) {
        s.scored[r.pos] = true;
        s.prompt_logprobs[r.pos] = std::move(r);
      }
    } else if (r.pos == pos) {
      out = std::move(r);
    }
  }
  return out;
}

template <class F>
bool BatchScheduler::guarded(Sequence& s, F&& call) {
  try {
    call();
    return true;
  } catch (const std::exception& e) {  // the engine refused: end this request, keep serving
    finish(s, FinishReason::kError, e.what());
    return false;
  }
}

void BatchScheduler::finish(Sequence& s, FinishReason reason, const std::string& error) {
  if (!s.stream) return;
  if (s.open) {
    try {
      runner_.close_sequence(s.id);
    } catch (const std::exception&) {  // closing must not stop the blocks from being freed
    }
    s.open = false;
  }
  if (reason != FinishReason::kCancelled) s.stream->push(s.filter.flush());
  const double e2e = s.since_arrival.seconds();
  metrics_.e2e.observe(e2e);
  if (s.generated > 1 && s.first_token_s >= 0) {
    metrics_.tpot.observe((e2e - s.first_token_s) / static_cast<double>(s.generated - 1));
  }
  switch (reason) {
    case FinishReason::kStop:
      metrics_.requests_stop.inc();
      break;
    case FinishReason::kLength:
      metrics_.requests_length.inc();
      break;
    case FinishReason::kCancelled:
      metrics_.requests_cancelled.inc();
      break;
    case FinishReason::kError:
      metrics_.requests_error.inc();
      break;
  }
  // Prompt logprobs only when every position was scored (a request that failed before its
  // prompt was prefilled has none).
  std::vector<TokenLogprob> prompt_logprobs;
  if (!s.scored.empty() && std::all_of(s.scored.begin(), s.scored.end(), [](bool b) { return b; }))
    prompt_logprobs = std::move(s.prompt_logprobs);
  s.stream->finish(reason, s.params.prompt.size(), s.generated, s.cached, error,
                   std::move(prompt_logprobs));
  s.stream.reset();  // marks the sequence finished for step()
}

void BatchScheduler::publish_gauges() {
  const KvUsage kv = runner_.kv_usage();
  for (auto& [kind, g] : policy_gauges_) g->set(0);
  for (const auto& [kind, bytes] : kv.bytes_by_policy) {
    auto it = policy_gauges_.find(kind);
    if (it == policy_gauges_.end()) {
      it = policy_gauges_
               .emplace(kind, &metrics_.registry.gauge("gearbox_kv_bytes_by_policy",
                                                       "Resident KV bytes by policy kind",
                                                       {{"policy", kind}}))
               .first;
    }
    it->second->set(static_cast<double>(bytes));
  }
  metrics_.kv_bytes_in_use.set(static_cast<double>(kv.bytes_in_use));
  metrics_.kv_blocks_cached.set(static_cast<double>(kv.cached_blocks));
  metrics_.kv_bytes_budget.set(static_cast<double>(kv.budget_bytes));
  metrics_.kv_bytes_peak.set(static_cast<double>(kv.peak_bytes));
  std::size_t free_blocks = 0;
  if (kv.budget_bytes > 0) {
    const std::size_t block = std::max<std::size_t>(1, runner_.kv_bytes(CapSpec{}, 1));
    free_blocks = (kv.budget_bytes - std::min(kv.budget_bytes, kv.bytes_in_use)) / block;
  }
  std::lock_guard lock(mu_);
  running_count_ = running_.size();
  kv_blocks_ = kv.blocks_in_use;
  metrics_.queue_length.set(static_cast<double>(queue_.size()));
  metrics_.running.set(static_cast<double>(running_count_));
  metrics_.kv_blocks_in_use.set(static_cast<double>(kv.blocks_in_use));
  metrics_.kv_blocks_free.set(static_cast<double>(free_blocks));
}

std::size_t BatchScheduler::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::size_t BatchScheduler::running() const {
  std::lock_guard lock(mu_);
  return running_count_;
}

std::size_t BatchScheduler::kv_blocks_in_use() const {
  std::lock_guard lock(mu_);
  return kv_blocks_;
}

std::size_t BatchScheduler::preemptions() const {
  std::lock_guard lock(mu_);
  return preemptions_;
}

}  // namespace gearbox::serve::server
