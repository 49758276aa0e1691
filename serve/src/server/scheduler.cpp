#include "gearbox/serve/server/scheduler.hpp"

#include <algorithm>

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

// ---- GenerationStream ----

StreamUpdate GenerationStream::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !pending_.empty() || finished_; });
  StreamUpdate u;
  u.text.swap(pending_);
  if (finished_ && !delivered_end_) {
    u.finished = true;
    u.reason = end_.reason;
    u.prompt_tokens = end_.prompt_tokens;
    u.completion_tokens = end_.completion_tokens;
    u.error = end_.error;
    delivered_end_ = true;
  } else if (finished_) {
    u.finished = true;
    u.reason = end_.reason;
  }
  return u;
}

void GenerationStream::push(const std::string& text) {
  if (text.empty()) return;
  {
    std::lock_guard lock(mu_);
    pending_ += text;
  }
  cv_.notify_all();
}

void GenerationStream::finish(FinishReason reason, std::size_t prompt_tokens,
                              std::size_t completion_tokens, const std::string& error) {
  {
    std::lock_guard lock(mu_);
    finished_ = true;
    end_.error = error;
    end_.reason = reason;
    end_.prompt_tokens = prompt_tokens;
    end_.completion_tokens = completion_tokens;
  }
  cv_.notify_all();
}

// ---- BatchScheduler ----

struct BatchScheduler::Sequence {
  SequenceId id = 0;
  GenerationParams params;
  std::size_t max_new = 0;    // generated tokens allowed (max_tokens capped by the context)
  std::size_t kv_tokens = 0;  // cache tokens reserved at admission (worst case)
  std::shared_ptr<GenerationStream> stream;
  StopStringFilter filter{{}};
  std::size_t prefilled = 0;  // prompt tokens in the cache
  bool decoding = false;      // prompt done; `last` waits to be fed
  Token last = -1;
  std::size_t generated = 0;
  Stopwatch since_arrival;
  double first_token_s = -1;
};

namespace {

std::size_t budget_blocks(ModelRunner& runner, const SchedulerOptions& opt) {
  if (opt.max_running == 0) throw Error::usage("--parallel must be >= 1").field("parallel");
  if (opt.max_queue == 0) throw Error::usage("--max-queue must be >= 1").field("max-queue");
  if (opt.prefill_chunk == 0) throw Error::usage("prefill chunk must be >= 1");
  if (opt.kv_block_tokens == 0) throw Error::usage("KV block size must be >= 1");
  std::size_t tokens = 0;
  if (opt.kv_budget_bytes == 0) {
    // Room for max_running sequences at the default context (capped for unbounded policies).
    tokens = opt.max_running * std::min<std::size_t>(runner.context_limit(CapSpec{}), 1u << 20);
  } else {
    tokens = opt.kv_budget_bytes / std::max<std::size_t>(1, runner.kv_bytes_per_token());
  }
  const std::size_t blocks = tokens / opt.kv_block_tokens;
  if (blocks == 0) {
    throw Error::usage("the KV budget holds no block")
        .field("kv-budget")
        .expected(">= " + std::to_string(opt.kv_block_tokens * runner.kv_bytes_per_token()) +
                  " bytes")
        .found(std::to_string(opt.kv_budget_bytes));
  }
  return blocks;
}

}  // namespace

BatchScheduler::BatchScheduler(ModelRunner& runner, const SchedulerOptions& options,
                               ServeMetrics& metrics)
    : runner_(runner),
      opt_(options),
      metrics_(metrics),
      kv_total_(budget_blocks(runner, options)),
      ledger_(options.kv_block_tokens, kv_total_) {
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
  for (auto& s : left) {
    metrics_.requests_cancelled.inc();
    s->stream->finish(FinishReason::kCancelled, s->params.prompt.size(), 0);
  }
  publish_gauges();
}

std::shared_ptr<GenerationStream> BatchScheduler::submit(GenerationParams params) {
  if (params.prompt.empty()) throw Error::input("empty prompt").field("prompt");
  const std::size_t ctx = runner_.context_limit(params.cap);  // throws on a bad cap
  const std::size_t n = params.prompt.size();
  if (n >= ctx) {
    throw Error::input("prompt does not fit the context")
        .field("prompt")
        .expected("< " + std::to_string(ctx) + " tokens (the context limit" +
                  (params.cap.policy.empty() ? std::string()
                                             : " of cap policy " + params.cap.to_string()) +
                  ")")
        .found(std::to_string(n) + " tokens");
  }
  auto seq = std::make_unique<Sequence>();
  seq->max_new = params.max_tokens == 0 ? ctx - n : std::min(params.max_tokens, ctx - n);
  if (ledger_.blocks_for(runner_.kv_tokens(params.cap, n + 1)) > kv_total_) {
    throw Error::input("prompt does not fit the KV budget")
        .field("prompt")
        .expected("<= " + std::to_string(kv_total_ * opt_.kv_block_tokens - 1) +
                  " tokens (--kv-budget)")
        .found(std::to_string(n) + " tokens");
  }
  // A worst case beyond the whole budget is trimmed so the request can ever be admitted.
  seq->kv_tokens = runner_.kv_tokens(params.cap, n + seq->max_new);
  if (ledger_.blocks_for(seq->kv_tokens) > kv_total_) {
    seq->kv_tokens = kv_total_ * opt_.kv_block_tokens;
    seq->max_new = seq->kv_tokens - n;
  }
  seq->stream = std::make_shared<GenerationStream>();
  seq->filter = StopStringFilter(params.stop);
  seq->params = std::move(params);
  auto stream = seq->stream;
  {
    std::lock_guard lock(mu_);
    if (stop_) throw QueueFullError("server is stopping");
    if (queue_.size() >= opt_.max_queue) {
      metrics_.rejected_queue_full.inc();
      throw QueueFullError("queue full (" + std::to_string(opt_.max_queue) + " waiting)");
    }
    seq->id = next_id_++;
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
  std::vector<std::unique_ptr<Sequence>> admitted;
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
    std::erase(running_, nullptr);
    running_count_ = running_.size();
    // 2. Admission, in arrival order, while there is room and blocks.
    while (!queue_.empty() && running_count_ + admitted.size() < opt_.max_running) {
      Sequence& head = *queue_.front();
      if (!ledger_.reserve(head.id, head.kv_tokens)) break;
      admitted.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    running_count_ += admitted.size();
  }
  for (auto& s : dropped) {
    metrics_.requests_cancelled.inc();
    s->stream->finish(FinishReason::kCancelled, s->params.prompt.size(), 0);
    worked = true;
  }
  for (auto& s : admitted) {
    running_.push_back(std::move(s));
    Sequence& q = *running_.back();
    guarded(q, [&] { runner_.open_sequence(q.id, q.params.cap, q.params.sampling); });
    worked = true;
  }

  // 3. One batched decode step for every sequence past its prompt.
  std::vector<DecodeSlot> slots;
  std::vector<Sequence*> decoding;
  for (auto& s : running_) {
    if (s->stream && s->decoding) {
      slots.push_back({s->id, s->last});
      decoding.push_back(s.get());
    }
  }
  if (!slots.empty()) {
    std::vector<Token> next;
    try {
      runner_.decode(slots, next);
      for (std::size_t i = 0; i < decoding.size(); ++i) emit(*decoding[i], next[i]);
    } catch (const std::exception& e) {  // the whole batch failed: end each of its requests
      for (Sequence* d : decoding) finish(*d, FinishReason::kError, e.what());
    }
    worked = true;
  }

  // 4. Chunked prefill: at most prefill_chunk prompt tokens this step, oldest first.
  std::size_t budget = opt_.prefill_chunk;
  for (auto& s : running_) {
    if (budget == 0) break;
    if (s->decoding || s->generated > 0 || !s->stream) continue;
    const auto& prompt = s->params.prompt;
    const std::size_t n = std::min(budget, prompt.size() - s->prefilled);
    const bool last = s->prefilled + n == prompt.size();
    budget -= n;
    worked = true;
    Token t = -1;
    const auto chunk = std::span<const Token>(prompt).subspan(s->prefilled, n);
    if (!guarded(*s, [&] { t = runner_.prefill(s->id, chunk, last); })) continue;
    s->prefilled += n;
    metrics_.prompt_tokens.inc(static_cast<double>(n));
    if (last) {
      s->decoding = true;
      emit(*s, t);
    }
  }

  // Finished sequences were reset by emit()/finish(); drop them.
  std::erase_if(running_, [](const auto& s) { return !s || !s->stream; });
  {
    std::lock_guard lock(mu_);
    running_count_ = running_.size();
  }
  publish_gauges();
  return worked;
}

void BatchScheduler::emit(Sequence& s, Token t) {
  if (s.first_token_s < 0) {
    s.first_token_s = s.since_arrival.seconds();
    metrics_.ttft.observe(s.first_token_s);
  }
  if (!s.params.ignore_eos && s.generated >= s.params.min_tokens &&
      runner_.is_end_of_generation(t)) {
    finish(s, FinishReason::kStop);
    return;
  }
  ++s.generated;
  metrics_.generation_tokens.inc();
  s.stream->push(s.filter.push(runner_.token_text(t)));
  if (s.filter.stopped()) {
    finish(s, FinishReason::kStop);
    return;
  }
  s.last = t;
  if (s.generated >= s.max_new) finish(s, FinishReason::kLength);
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
  try {
    runner_.close_sequence(s.id);
  } catch (const std::exception&) {  // closing must not stop the blocks from being freed
  }
  {
    std::lock_guard lock(mu_);
    ledger_.release(s.id);
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
  s.stream->finish(reason, s.params.prompt.size(), s.generated, error);
  s.stream.reset();  // marks the sequence finished for step()
}

void BatchScheduler::publish_gauges() {
  std::lock_guard lock(mu_);
  metrics_.queue_length.set(static_cast<double>(queue_.size()));
  metrics_.running.set(static_cast<double>(running_count_));
  metrics_.kv_blocks_in_use.set(static_cast<double>(ledger_.blocks_in_use()));
  metrics_.kv_blocks_free.set(static_cast<double>(ledger_.blocks_free()));
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
  return ledger_.blocks_in_use();
}

}  // namespace gearbox::serve::server
