// BatchScheduler: continuous batching over a ModelRunner. Requests wait in a bounded FIFO
// queue; each step (1) drops cancelled sequences and frees their KV blocks, (2) admits queued
// requests while the running set has room and KvBlockLedger grants their worst-case blocks,
// (3) runs one batched decode step for every decoding sequence, then (4) prefills at most
// `prefill_chunk` prompt tokens (chunked prefill, so a long prompt never stalls running
// decodes for more than one chunk). A finished, stopped or cancelled sequence releases its
// blocks in the same step. The scheduler thread is the only caller of the runner.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gearbox/serve/server/kv_ledger.hpp"
#include "gearbox/serve/server/model_runner.hpp"
#include "gearbox/serve/server/serve_metrics.hpp"

namespace gearbox::serve::server {

struct SchedulerOptions {
  std::size_t max_running = 8;      // sequences decoding at once (--parallel)
  std::size_t max_queue = 64;       // requests waiting beyond that (--max-queue)
  std::size_t prefill_chunk = 128;  // prompt tokens prefilled per step, over all sequences
  std::size_t kv_block_tokens = 16;
  std::size_t kv_budget_bytes = 0;  // 0: room for max_running sequences at the default context
};

struct GenerationParams {
  std::vector<Token> prompt;   // non-empty
  std::size_t max_tokens = 0;  // 0: until the context is full
  SamplingOptions sampling;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  std::size_t min_tokens = 0;  // end-of-generation tokens before this many are passed over
  CapSpec cap;
};

enum class FinishReason { kStop, kLength, kCancelled, kError };

// "stop", "length", "cancelled" or "error" (the engine refused the request mid-way).
const char* finish_reason_name(FinishReason r);

// Thrown by submit() when the queue is full (the HTTP layer answers 429).
class QueueFullError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the consumer of one request sees: text as it is generated, then the end.
struct StreamUpdate {
  std::string text;  // new text since the previous update
  bool finished = false;
  FinishReason reason = FinishReason::kStop;
  std::size_t prompt_tokens = 0;
  std::size_t completion_tokens = 0;
  std::string error;  // what the engine said, for FinishReason::kError
};

// The channel between the scheduler (producer) and one request's HTTP handler (consumer).
class GenerationStream {
 public:
  // Waits up to `timeout` for new text or the end and returns it (empty, unfinished on timeout).
  StreamUpdate next(std::chrono::milliseconds timeout);
  // Asks the scheduler to stop this request; its blocks are freed at the next step.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  friend class BatchScheduler;
  void push(const std::string& text);
  void finish(FinishReason reason, std::size_t prompt_tokens, std::size_t completion_tokens,
              const std::string& error = "");

  std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;
  bool finished_ = false;
  bool delivered_end_ = false;
  StreamUpdate end_;
  std::atomic<bool> cancelled_{false};
};

class BatchScheduler {
 public:
  // `runner` and `metrics` must outlive the scheduler. Throws Error::usage on zero sizes.
  BatchScheduler(ModelRunner& runner, const SchedulerOptions& options, ServeMetrics& metrics);
  ~BatchScheduler();

  // Starts the scheduling thread (idempotent).
  void start();
  // Cancels every request, finishes their streams and joins the thread (idempotent).
  void stop();

  // Queues a request and returns its stream. Throws QueueFullError when the queue is full, and
  // Error::input naming the limit when the prompt leaves no room in its context
  // (`cap` policy's) or in the whole KV budget, or when `cap` is invalid.
  std::shared_ptr<GenerationStream> submit(GenerationParams params);

  // One scheduling step (see the file comment); false when there was nothing to do. Called by
  // the thread; tests may call it directly without start().
  bool step();

  std::size_t queued() const;
  std::size_t running() const;
  std::size_t kv_blocks_in_use() const;
  std::size_t kv_blocks_total() const { return kv_total_; }

 private:
  struct Sequence;
  void loop();
  void emit(Sequence& s, Token t);
  void finish(Sequence& s, FinishReason reason, const std::string& error = "");
  // Runs a runner call for `s`; on an exception ends `s` with kError and returns false.
  template <class F>
  bool guarded(Sequence& s, F&& call);
  void publish_gauges();

  ModelRunner& runner_;
  SchedulerOptions opt_;
  ServeMetrics& metrics_;
  std::size_t kv_total_ = 0;

  mutable std::mutex mu_;  // guards queue_, ledger_, running_count_, stop_, wake_
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Sequence>> queue_;
  KvBlockLedger ledger_;
  std::vector<std::unique_ptr<Sequence>> running_;  // scheduler thread only
  std::size_t running_count_ = 0;
  bool stop_ = false;
  bool wake_ = false;
  SequenceId next_id_ = 1;
  std::thread thread_;
};

}  // namespace gearbox::serve::server
