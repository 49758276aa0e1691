// Continuous batching, driven step by step over the FakeModelRunner test double.
#include "gearbox/serve/server/scheduler.hpp"

#include <gtest/gtest.h>

#include "fake_runner.hpp"
#include "gearbox/core/error.hpp"

namespace gearbox::serve::server {
namespace {

using testing::FakeModelRunner;
using testing::kFakeScript;

struct Fixture {
  FakeModelRunner runner;
  MetricsRegistry registry;
  ServeMetrics metrics{registry};
};

GenerationParams params(std::size_t prompt_len, std::size_t max_tokens) {
  GenerationParams p;
  p.prompt.assign(prompt_len, 'x');
  p.max_tokens = max_tokens;
  p.sampling.temperature = 0;
  return p;
}

// Steps until every stream has finished (bounded); returns their texts.
std::vector<std::string> drain(BatchScheduler& s,
                               std::vector<std::shared_ptr<GenerationStream>>& st,
                               std::vector<StreamUpdate>* ends = nullptr) {
  std::vector<std::string> text(st.size());
  std::vector<bool> done(st.size(), false);
  for (int guard = 0; guard < 10000; ++guard) {
    s.step();
    bool all = true;
    for (std::size_t i = 0; i < st.size(); ++i) {
      if (done[i]) continue;
      auto u = st[i]->next(std::chrono::milliseconds(0));
      text[i] += u.text;
      if (u.finished) {
        done[i] = true;
        if (ends) (*ends).resize(st.size()), (*ends)[i] = u;
      } else {
        all = false;
      }
    }
    if (all) return text;
  }
  ADD_FAILURE() << "streams did not finish";
  return text;
}

TEST(BatchScheduler, DecodesAllRunningSequencesInOneBatch) {
  Fixture f;
  SchedulerOptions opt;
  opt.max_running = 4;
  BatchScheduler s(f.runner, opt, f.metrics);
  std::vector<std::shared_ptr<GenerationStream>> st;
  for (int i = 0; i < 3; ++i) st.push_back(s.submit(params(5, 9)));
  std::vector<StreamUpdate> ends;
  const auto text = drain(s, st, &ends);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(text[i], kFakeScript.substr(0, 9));
    EXPECT_EQ(ends[i].reason, FinishReason::kLength);
    EXPECT_EQ(ends[i].completion_tokens, 9u);
    EXPECT_EQ(ends[i].prompt_tokens, 5u);
  }
  EXPECT_EQ(f.runner.max_batch(), 3u);
  EXPECT_EQ(f.runner.decode_calls(), 8u);  // first token from prefill, then 8 batched steps
  EXPECT_EQ(f.runner.open_sequences(), 0u);
  EXPECT_EQ(s.kv_blocks_in_use(), 0u);
  EXPECT_EQ(f.metrics.generation_tokens.value(), 27.0);
  EXPECT_EQ(f.metrics.prompt_tokens.value(), 15.0);
  EXPECT_EQ(f.metrics.requests_length.value(), 3.0);
}

TEST(BatchScheduler, ChunkedPrefillDoesNotStallRunningDecodes) {
  Fixture f;
  f.runner.context = 4096;
  SchedulerOptions opt;
  opt.prefill_chunk = 64;
  BatchScheduler s(f.runner, opt, f.metrics);
  auto a = s.submit(params(4, 100));
  s.step();  // a: prefilled, first token out
  auto b = s.submit(params(1000, 1));
  std::string a_text;
  int steps_while_b_prefills = 0;
  for (int i = 0; i < 15; ++i) {
    s.step();
    a_text += a->next(std::chrono::milliseconds(0)).text;
    ++steps_while_b_prefills;
  }
  // b needs 16 chunks of <= 64: during 15 steps a got one token per step.
  EXPECT_EQ(a_text.size(), 1u + 15u);
  EXPECT_LE(f.runner.max_prefill_chunk(), 64u);
  EXPECT_FALSE(b->next(std::chrono::milliseconds(0)).finished);
  std::vector<std::shared_ptr<GenerationStream>> st{a, b};
  drain(s, st);
  EXPECT_EQ(f.runner.open_sequences(), 0u);
}

TEST(BatchScheduler, BoundedQueueRefusesWhenFull) {
  Fixture f;
  SchedulerOptions opt;
  opt.max_queue = 2;
  BatchScheduler s(f.runner, opt, f.metrics);
  auto a = s.submit(params(3, 2));
  auto b = s.submit(params(3, 2));
  EXPECT_THROW(s.submit(params(3, 2)), QueueFullError);
  EXPECT_EQ(f.metrics.rejected_queue_full.value(), 1.0);
  s.step();  // both admitted: the queue has room again
  EXPECT_NO_THROW(s.submit(params(3, 2)));
}

TEST(BatchScheduler, PromptOverTheContextNamesTheLimit) {
  Fixture f;
  f.runner.context = 32;
  BatchScheduler s(f.runner, SchedulerOptions{}, f.metrics);
  try {
    s.submit(params(32, 1));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_EQ(e.field_name(), "prompt");
    EXPECT_NE(std::string(e.what()).find("< 32 tokens"), std::string::npos) << e.what();
  }
  auto p = params(32, 1);
  p.cap.policy = "streaming";  // a policy with a longer context admits it
  EXPECT_NO_THROW(s.submit(p));
  p.cap.policy = "nonsense";
  EXPECT_THROW(s.submit(p), Error);
}

TEST(BatchScheduler, MaxTokensIsCappedByTheContext) {
  Fixture f;
  f.runner.context = 20;
  BatchScheduler s(f.runner, SchedulerOptions{}, f.metrics);
  std::vector<std::shared_ptr<GenerationStream>> st{s.submit(params(15, 100))};
  std::vector<StreamUpdate> ends;
  const auto text = drain(s, st, &ends);
  EXPECT_EQ(text[0].size(), 5u);
  EXPECT_EQ(ends[0].reason, FinishReason::kLength);
}

TEST(BatchScheduler, CancelFreesBlocksAtOnce) {
  Fixture f;
  BatchScheduler s(f.runner, SchedulerOptions{}, f.metrics);
  auto a = s.submit(params(10, 200));
  auto b = s.submit(params(10, 200));
  s.step();
  s.step();
  EXPECT_GT(s.kv_blocks_in_use(), 0u);
  EXPECT_EQ(f.runner.open_sequences(), 2u);
  a->cancel();
  b->cancel();
  s.step();
  EXPECT_EQ(s.kv_blocks_in_use(), 0u);
  EXPECT_EQ(f.metrics.kv_blocks_in_use.value(), 0.0);
  EXPECT_EQ(f.runner.open_sequences(), 0u);
  auto u = a->next(std::chrono::milliseconds(0));
  EXPECT_TRUE(u.finished);
  EXPECT_EQ(u.reason, FinishReason::kCancelled);
  EXPECT_EQ(f.metrics.requests_cancelled.value(), 2.0);
}

TEST(BatchScheduler, AdmitsOnlyWhatTheKvBudgetHolds) {
  Fixture f;
  SchedulerOptions opt;
  opt.max_running = 8;
  opt.kv_block_tokens = 16;
  opt.kv_budget_bytes = 64 * 16 * 4;  // 4 blocks of 16 tokens; each request needs 2
  BatchScheduler s(f.runner, opt, f.metrics);
  std::vector<std::shared_ptr<GenerationStream>> st;
  for (int i = 0; i < 5; ++i) st.push_back(s.submit(params(10, 12)));
  s.step();
  EXPECT_EQ(s.running(), 2u);
  EXPECT_EQ(s.queued(), 3u);
  EXPECT_EQ(s.kv_blocks_in_use(), 4u);
  drain(s, st);
  EXPECT_EQ(f.runner.opened(), 5u);
  EXPECT_EQ(s.kv_blocks_in_use(), 0u);
  // A prompt larger than the whole budget is refused, naming --kv-budget.
  try {
    s.submit(params(100, 1));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("kv-budget"), std::string::npos) << e.what();
  }
}

TEST(BatchScheduler, StopsAtStopStringsAndEos) {
  Fixture f;
  f.runner.eos_after = 30;
  BatchScheduler s(f.runner, SchedulerOptions{}, f.metrics);
  auto p = params(3, 100);
  p.stop = {"fox", "zzz"};
  auto q = params(3, 100);  // runs into EOS
  auto r = params(3, 100);
  r.ignore_eos = true;
  r.max_tokens = 40;
  auto m = params(3, 100);  // EOS (from token 31 on) is passed over until 35 tokens
  m.min_tokens = 35;
  std::vector<std::shared_ptr<GenerationStream>> st{s.submit(p), s.submit(q), s.submit(r),
                                                    s.submit(m)};
  std::vector<StreamUpdate> ends;
  const auto text = drain(s, st, &ends);
  EXPECT_EQ(text[0], "the quick brown ");
  EXPECT_EQ(ends[0].reason, FinishReason::kStop);
  EXPECT_EQ(text[1], kFakeScript.substr(0, 30));
  EXPECT_EQ(ends[1].reason, FinishReason::kStop);
  EXPECT_EQ(ends[1].completion_tokens, 30u);
  EXPECT_EQ(ends[2].reason, FinishReason::kLength);
  EXPECT_EQ(ends[2].completion_tokens, 40u);
  EXPECT_EQ(text[3], kFakeScript.substr(0, 30));  // the fake's EOS has no text
  EXPECT_EQ(ends[3].reason, FinishReason::kStop);
  EXPECT_EQ(ends[3].completion_tokens, 35u);
}

TEST(BatchScheduler, ThreadedRunAndStopCancelsTheRest) {
  Fixture f;
  f.runner.call_delay = std::chrono::microseconds(200);
  SchedulerOptions opt;
  opt.max_running = 2;
  BatchScheduler s(f.runner, opt, f.metrics);
  s.start();
  auto a = s.submit(params(4, 5));
  std::string text;
  for (int i = 0; i < 500; ++i) {
    auto u = a->next(std::chrono::milliseconds(20));
    text += u.text;
    if (u.finished) break;
  }
  EXPECT_EQ(text, kFakeScript.substr(0, 5));
  auto b = s.submit(params(4, 100000));
  auto c = s.submit(params(4, 100000));
  auto d = s.submit(params(4, 100000));  // stays queued
  s.stop();
  for (auto& x : {b, c, d}) {
    auto u = x->next(std::chrono::milliseconds(0));
    EXPECT_TRUE(u.finished);
  }
  EXPECT_EQ(f.runner.open_sequences(), 0u);
  EXPECT_EQ(s.kv_blocks_in_use(), 0u);
}

TEST(BatchScheduler, AnEngineErrorEndsOnlyThatRequest) {
  Fixture f;
  f.runner.fail_token = 'z';
  BatchScheduler s(f.runner, SchedulerOptions{}, f.metrics);
  auto bad = params(5, 4);
  bad.prompt[3] = 'z';
  std::vector<std::shared_ptr<GenerationStream>> st{s.submit(params(5, 4)), s.submit(bad)};
  std::vector<StreamUpdate> ends;
  const auto text = drain(s, st, &ends);
  EXPECT_EQ(text[0], "the ");
  EXPECT_EQ(ends[0].reason, FinishReason::kLength);
  EXPECT_EQ(ends[1].reason, FinishReason::kError);
  EXPECT_NE(ends[1].error.find("fake refusal"), std::string::npos);
  EXPECT_EQ(s.kv_blocks_in_use(), 0u);
  EXPECT_EQ(f.runner.open_sequences(), 0u);
  EXPECT_EQ(f.metrics.requests_error.value(), 1.0);
}

}  // namespace
}  // namespace gearbox::serve::server
