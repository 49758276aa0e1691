// Continuous batching, driven step by step over the FakeModelRunner test double.
#include "gearbox/serve/server/scheduler.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "fake_runner.hpp"
#include "gearbox/core/error.hpp"
#include "scheduler_drain.hpp"

namespace gearbox::serve::server {
namespace {

using testing::drain;
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
  opt.max_running = 2;
  opt.max_queue = 2;
  BatchScheduler s(f.runner, opt, f.metrics);
  // --max-queue counts requests waiting beyond --parallel: before any step, the two free running
  // slots take two more (a burst arriving before the scheduler thread runs is not refused).
  std::vector<std::shared_ptr<GenerationStream>> st;
  for (int i = 0; i < 4; ++i) st.push_back(s.submit(params(3, 2)));
  EXPECT_THROW(s.submit(params(3, 2)), QueueFullError);
  EXPECT_EQ(f.metrics.rejected_queue_full.value(), 1.0);
  s.step();  // two admitted, two still waiting: running + waiting is at its bound
  EXPECT_EQ(s.running(), 2u);
  EXPECT_EQ(s.queued(), 2u);
  EXPECT_THROW(s.submit(params(3, 2)), QueueFullError);
  EXPECT_EQ(f.metrics.rejected_queue_full.value(), 2.0);
  drain(s, st);  // all finish: room again
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
  std::vector<std::shared_ptr<GenerationStream>> st{s.submit(params(15, 20))};
  std::vector<StreamUpdate> ends;
  const auto text = drain(s, st, &ends);
  EXPECT_EQ(text[0].size(), 5u);
  EXPECT_EQ(ends[0].reason, FinishReason::kLength);
}

// Error field of submit(p), or "" when it is accepted.
std::string refusal(BatchScheduler& s, GenerationParams p) {
  try {
    s.submit(std::move(p));
    return "";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    return e.field_name() + ": " + e.what();
  }
}

TEST(BatchScheduler, LimitsNoClientCanRaise) {
  Fixture f;
  f.runner.context = 256;  // the model's max-model-len
  BatchScheduler s(f.runner, SchedulerOptions{}, f.metrics);
  // max_tokens beyond max-model-len: refused naming the field (not silently trimmed).
  EXPECT_EQ(refusal(s, params(4, 256)), "");
  EXPECT_EQ(refusal(s, params(4, 257)).rfind("max_tokens: ", 0), 0u) << refusal(s, params(4, 257));
  // A client raising full:ctx past max-model-len: refused naming cap.ctx.
  auto big = params(4, 8);
  big.cap = CapSpec{"full", {{"ctx", "16777216"}}};
  EXPECT_EQ(refusal(s, big).rfind("cap.ctx: ", 0), 0u) << refusal(s, big);
  big.cap = CapSpec{"full", {{"ctx", "128"}}};  // lowering it is fine
  EXPECT_EQ(refusal(s, big), "");
  // An explicit --max-model-len below the model's bounds prompts and max_tokens alike.
  SchedulerOptions opt;
  opt.max_model_len = 64;
  BatchScheduler t(f.runner, opt, f.metrics);
  EXPECT_EQ(refusal(t, params(64, 1)).rfind("prompt: ", 0), 0u);
  EXPECT_EQ(refusal(t, params(60, 65)).rfind("max_tokens: ", 0), 0u);
  std::vector<std::shared_ptr<GenerationStream>> st{t.submit(params(60, 64))};
  std::vector<StreamUpdate> ends;
  EXPECT_EQ(drain(t, st, &ends)[0].size(), 4u);  // what the 64 leave after the prompt
}

TEST(BatchScheduler, EvictingPolicyWithoutMaxTokensEndsAtTheServerDefault) {
  // A streaming policy has no context limit: without max_tokens, with ignore_eos, a request
  // used to generate until its client hung up. It ends at --max-tokens, else max-model-len.
  Fixture f;
  f.runner.context = 300;
  f.runner.eos_after = 3;   // passed over: ignore_eos
  auto p = params(500, 0);  // longer than the context: fine for an evicting policy
  p.cap.policy = "streaming";
  p.ignore_eos = true;
  {
    BatchScheduler s(f.runner, SchedulerOptions{}, f.metrics);
    std::vector<std::shared_ptr<GenerationStream>> st{s.submit(p)};
    std::vector<StreamUpdate> ends;
    drain(s, st, &ends);
    EXPECT_EQ(ends[0].reason, FinishReason::kLength);
    EXPECT_EQ(ends[0].completion_tokens, 300u);
  }
  SchedulerOptions opt;
  opt.default_max_tokens = 40;
  BatchScheduler s(f.runner, opt, f.metrics);
  std::vector<std::shared_ptr<GenerationStream>> st{s.submit(p)};
  std::vector<StreamUpdate> ends;
  drain(s, st, &ends);
  EXPECT_EQ(ends[0].completion_tokens, 40u);
}

TEST(BatchScheduler, ShortRequestsFirstTokenIsNotHeldBackByALongPrefill) {
  // Counted in scheduler steps, not time: a short request's first token takes at most 10x the
  // steps it takes on an idle server, while a 300k-token prompt is prefilling.
  auto steps_to_first_token = [](BatchScheduler& s, std::shared_ptr<GenerationStream> st) {
    for (int n = 1; n <= 100000; ++n) {
      s.step();
      auto u = st->next(std::chrono::milliseconds(0));
      if (!u.text.empty() || u.finished) return n;
    }
    return 1 << 30;
  };
  Fixture f;
  SchedulerOptions opt;
  opt.prefill_chunk = 128;
  int idle = 0;
  {
    BatchScheduler s(f.runner, opt, f.metrics);
    idle = steps_to_first_token(s, s.submit(params(8, 4)));
  }
  ASSERT_GE(idle, 1);
  BatchScheduler s(f.runner, opt, f.metrics);
  auto long_prompt = params(300000, 1);
  long_prompt.cap.policy = "streaming";
  auto big = s.submit(long_prompt);
  for (int i = 0; i < 3; ++i) s.step();
  const double before = f.metrics.prompt_tokens.value();
  const int loaded = steps_to_first_token(s, s.submit(params(8, 4)));
  EXPECT_LE(loaded, 10 * idle) << "idle " << idle;
  // ... and the long prompt kept most of the prefill budget meanwhile.
  EXPECT_GE(f.metrics.prompt_tokens.value() - before, 8.0 + 64.0 * loaded);
  EXPECT_FALSE(big->next(std::chrono::milliseconds(0)).finished);
  EXPECT_LE(f.runner.max_prefill_chunk(), 128u);
  big->cancel();
  s.step();
}

TEST(BatchScheduler, RequestsWithoutSeedGetDistinctSeeds) {
  Fixture f;
  SchedulerOptions opt;
  opt.max_running = 16;
  BatchScheduler s(f.runner, opt, f.metrics);
  for (int i = 0; i < 16; ++i) {
    auto p = params(3, 1);
    p.sampling.temperature = 1;
    p.auto_seed = true;
    s.submit(p);
  }
  auto named = params(3, 1);
  named.sampling.seed = 77;  // a seed the client chose is kept
  s.submit(named);
  for (int i = 0; i < 4; ++i) s.step();
  auto seeds = f.runner.seeds();  // in admission (= arrival) order
  ASSERT_EQ(seeds.size(), 17u);
  EXPECT_EQ(seeds.back(), 77u);
  seeds.pop_back();
  std::sort(seeds.begin(), seeds.end());
  EXPECT_EQ(std::adjacent_find(seeds.begin(), seeds.end()), seeds.end());
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

TEST(BatchScheduler, AdmitsOnCurrentNeedAndPreemptsInsteadOfFailing) {
  Fixture f;
  f.runner.kv_budget_bytes = 64 * 16 * 6;  // 6 blocks of 16 tokens
  SchedulerOptions opt;
  opt.max_running = 8;
  BatchScheduler s(f.runner, opt, f.metrics);
  // Each needs 1 block now (10 prompt tokens) and 2 at worst (10 + 12): six start at once,
  // where a worst-case reservation would have started three.
  std::vector<std::shared_ptr<GenerationStream>> st;
  for (int i = 0; i < 7; ++i) st.push_back(s.submit(params(10, 12)));
  s.step();
  EXPECT_EQ(s.running(), 6u);
  EXPECT_EQ(s.queued(), 1u);
  EXPECT_EQ(s.kv_blocks_in_use(), 6u);
  std::vector<StreamUpdate> ends;
  const auto text = drain(s, st, &ends);
  // Growing past 16 tokens, the newest were preempted and recomputed: every request still
  // completes with the whole of its text, none fails, and the budget was never exceeded.
  for (std::size_t i = 0; i < st.size(); ++i) {
    EXPECT_EQ(text[i], kFakeScript.substr(0, 12)) << i;
    EXPECT_EQ(ends[i].reason, FinishReason::kLength) << i;
    EXPECT_EQ(ends[i].completion_tokens, 12u) << i;
  }
  EXPECT_GT(s.preemptions(), 0u);
  EXPECT_EQ(f.metrics.preemptions.value(), static_cast<double>(s.preemptions()));
  EXPECT_EQ(f.metrics.requests_error.value(), 0.0);
  EXPECT_LE(f.runner.peak_kv_bytes(), f.runner.kv_budget_bytes);
  EXPECT_EQ(s.kv_blocks_in_use(), 0u);
  EXPECT_EQ(f.runner.open_sequences(), 0u);
  // A prompt larger than the whole budget is refused, naming --kv-budget.
  const std::string why = refusal(s, params(100, 1));
  EXPECT_NE(why.find("kv-budget"), std::string::npos) << why;
  // An evicting policy holds a bounded window (68 rows, 5 blocks): a prompt far past the
  // budget is fine.
  auto p = params(1000, 3);
  p.cap.policy = "streaming";
  std::vector<std::shared_ptr<GenerationStream>> one{s.submit(p)};
  EXPECT_EQ(drain(s, one)[0], kFakeScript.substr(0, 3));
}

TEST(BatchScheduler, ReserveAdmissionChargesWorstCasesAndNeverPreempts) {
  Fixture f;
  f.runner.kv_budget_bytes = 64 * 16 * 6;  // 6 blocks of 16 tokens
  SchedulerOptions opt;
  opt.max_running = 8;
  opt.admission = KvAdmission::kReserve;
  BatchScheduler s(f.runner, opt, f.metrics);
  // The same seven requests as above: each reserves its worst case, 10 + 12 tokens = 2 blocks,
  // so three run at once (on demand, six did), and the reservation leaves no room to run out.
  std::vector<std::shared_ptr<GenerationStream>> st;
  for (int i = 0; i < 7; ++i) st.push_back(s.submit(params(10, 12)));
  std::size_t peak_running = 0;
  s.step();
  EXPECT_EQ(s.running(), 3u);
  EXPECT_EQ(s.queued(), 4u);
  std::vector<std::string> text(st.size());
  std::vector<bool> done(st.size(), false);
  for (int guard = 0; guard < 10000; ++guard) {
    peak_running = std::max(peak_running, s.running());
    bool all = true;
    for (std::size_t i = 0; i < st.size(); ++i) {
      if (done[i]) continue;
      auto u = st[i]->next(std::chrono::milliseconds(0));
      text[i] += u.text;
      done[i] = u.finished;
      all = all && done[i];
    }
    if (all) break;
    s.step();
  }
  for (std::size_t i = 0; i < st.size(); ++i) {
    EXPECT_TRUE(done[i]) << i;
    EXPECT_EQ(text[i], kFakeScript.substr(0, 12)) << i;
  }
  EXPECT_EQ(peak_running, 3u);
  EXPECT_EQ(s.preemptions(), 0u);
  EXPECT_EQ(f.metrics.requests_error.value(), 0.0);
  EXPECT_LE(f.runner.peak_kv_bytes(), f.runner.kv_budget_bytes);
  EXPECT_EQ(f.runner.open_sequences(), 0u);
  EXPECT_STREQ(kv_admission_name(KvAdmission::kReserve), "reserve");
}

TEST(BatchScheduler, GaugesReportResidentKvByPolicy) {
  Fixture f;
  f.runner.kv_budget_bytes = 64 * 16 * 100;
  BatchScheduler s(f.runner, SchedulerOptions{}, f.metrics);
  auto a = s.submit(params(20, 100));  // full: 2 blocks after the prompt
  auto b = params(200, 100);
  b.cap.policy = "streaming";  // 68 rows at most: 5 blocks
  auto bs = s.submit(b);
  for (int i = 0; i < 4; ++i) s.step();
  const std::string text = f.registry.exposition();
  EXPECT_NE(text.find("gearbox_kv_bytes_by_policy{policy=\"full\"} 2048\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("gearbox_kv_bytes_by_policy{policy=\"streaming\"} 5120\n"), std::string::npos)
      << text;
  EXPECT_EQ(f.metrics.kv_bytes_in_use.value(), 7168.0);
  EXPECT_EQ(f.metrics.kv_bytes_budget.value(), 102400.0);
  EXPECT_EQ(f.metrics.kv_blocks_in_use.value(), 7.0);
  EXPECT_EQ(f.metrics.kv_blocks_free.value(), 93.0);
  a->cancel();
  bs->cancel();
  s.step();
  EXPECT_EQ(f.metrics.kv_bytes_in_use.value(), 0.0);
  EXPECT_NE(f.registry.exposition().find("gearbox_kv_bytes_by_policy{policy=\"streaming\"} 0\n"),
            std::string::npos);
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
  f.runner.context = 1 << 20;
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
