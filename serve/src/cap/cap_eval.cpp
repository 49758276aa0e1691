// The CAP evaluation loop: reference full attention per length, then each policy's cache.
#include "gearbox/serve/cap/cap_eval.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <random>

#include "gearbox/core/error.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/serve/cap/cap_cache.hpp"
#include "gearbox/serve/cap/fidelity.hpp"
#include "gearbox/serve/cap/passkey.hpp"

namespace gearbox::serve::cap {
namespace {

constexpr SeqId kSeq = 0;

std::string sentence(std::mt19937_64& rng) {
  static const char* who[] = {"The old farmer", "A small girl",   "The tired doctor", "My brother",
                              "The quiet cat",  "A young pilot",  "The baker",        "Our teacher",
                              "The lost dog",   "A busy student", "The king",         "Her friend"};
  static const char* did[] = {"found",  "painted", "carried", "lost",  "watched", "fixed",
                              "opened", "sold",    "cleaned", "built", "hid",     "remembered"};
  static const char* what[] = {"a red box",          "the broken clock", "an old map",
                               "three green apples", "the heavy door",   "a paper boat",
                               "the silver key",     "a warm coat",      "the long letter",
                               "a wooden chair",     "the yellow kite",  "a jar of honey"};
  static const char* where[] = {
      "near the river", "in the kitchen",   "after the storm",  "before dinner",     "on the hill",
      "at the market",  "under the bridge", "during the night", "behind the school", "by the sea"};
  auto pick = [&](const auto& arr) {
    return arr[std::uniform_int_distribution<std::size_t>(0, std::size(arr) - 1)(rng)];
  };
  return std::string(pick(who)) + " " + pick(did) + " " + pick(what) + " " + pick(where) + ". ";
}

// Chunked prefill of `toks` into cache; collects logits of positions >= keep_from (rows in
// order) into `kept` and returns the logits of the last position.
std::vector<float> prefill_chunked(Model& m, CapCache& cc, SeqId seq,
                                   const std::vector<std::int32_t>& toks, int chunk,
                                   std::size_t keep_from, std::vector<float>* kept) {
  const auto V = static_cast<std::size_t>(m.config().n_vocab);
  const auto step = static_cast<std::size_t>(std::max(1, std::min(chunk, cc.max_step)));
  std::vector<float> buf;
  std::vector<float> last(V);
  for (std::size_t i = 0; i < toks.size(); i += step) {
    const std::size_t n = std::min(step, toks.size() - i);
    const bool all = kept && i + n > keep_from;
    buf.resize((all ? n : 1) * V);
    m.prefill(cc.kv(), seq, std::span<const std::int32_t>(toks.data() + i, n), buf, all,
              cc.rope.get());
    if (all) {
      for (std::size_t j = std::max(i, keep_from); j < i + n; ++j)
        kept->insert(kept->end(), buf.begin() + static_cast<std::ptrdiff_t>((j - i) * V),
                     buf.begin() + static_cast<std::ptrdiff_t>((j - i + 1) * V));
      std::copy(buf.end() - static_cast<std::ptrdiff_t>(V), buf.end(), last.begin());
    } else {
      std::copy(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(V), last.begin());
    }
  }
  return last;
}

struct DecodeTiming {
  std::vector<double> step_ms;  // one per decode() call
  std::vector<std::int32_t> tokens;
};

DecodeTiming decode_greedy(Model& m, CapCache& cc, SeqId seq, std::vector<float> logits, int n) {
  DecodeTiming t;
  for (int i = 0; i < n; ++i) {
    const auto tok = static_cast<std::int32_t>(argmax(logits));
    t.tokens.push_back(tok);
    if (i + 1 == n) break;
    DecodeItem item{seq, tok, cc.rope.get()};
    Stopwatch sw;
    m.decode(cc.kv(), std::span(&item, 1), logits);
    t.step_ms.push_back(sw.ms());
  }
  return t;
}

CapCacheOptions cache_options(const CapEvalOptions& o) {
  CapCacheOptions c;
  c.budget_bytes = o.budget_bytes;
  c.block_tokens = 16;
  return c;
}

void append_times(std::vector<std::int32_t>& out, const std::vector<std::int32_t>& piece, int n) {
  for (int i = 0; i < n; ++i) out.insert(out.end(), piece.begin(), piece.end());
}

// Passkey accuracy of one (policy, length) cell over o.trials trials. A trial's prompt is the
// instruction, R filler repetitions with the key line after the first k (k from the trial's
// depth) and the question, each piece tokenized on its own and joined, R chosen so the prompt
// is about L - 8 tokens. Trials run in order of depth and share the prompt prefix: a base
// sequence reads the instruction and the filler up to each trial's key line once, the trial
// forks it (PagedKvCache::fork), reads its key line, the rest of the filler and the question,
// and decodes the answer. A fork the KV budget cannot hold runs the trial on a fresh cache.
double passkey_accuracy(Model& m, const std::string& spelling, const ModelConfig& cfg,
                        const CapEvalOptions& o, int L) {
  const auto& tok = m.tokenizer();
  const int R =
      passkey_prompt_for_length(L - 8, 0.5, passkey_key(o.seed * 1000003), [&](std::string_view s) {
        return static_cast<int>(tok.encode(s, true).size());
      }).filler_repeats;
  const PasskeyPieces shared = passkey_pieces("00000");
  const auto intro = tok.encode(shared.intro, true), filler = tok.encode(shared.filler, false),
             question = tok.encode(shared.question, false);
  constexpr SeqId kBase = 1, kTrial = 2;
  auto base = make_cap_cache(spelling, cfg, m.rope(), cache_options(o));
  prefill_chunked(m, base, kBase, intro, o.chunk, 0, nullptr);
  int at = 0, correct = 0;  // at: filler repetitions the base has read
  for (int t = 0; t < o.trials; ++t) {
    const auto key = passkey_key(o.seed * 1000003 + static_cast<std::uint64_t>(t));
    const int k = static_cast<int>(std::lround(passkey_depth(t, o.trials) * R));
    if (k > at) {
      std::vector<std::int32_t> more;
      append_times(more, filler, k - at);
      prefill_chunked(m, base, kBase, more, o.chunk, 0, nullptr);
      at = k;
    }
    auto rest = tok.encode(passkey_pieces(key).key_line, false);
    append_times(rest, filler, R - k);
    rest.insert(rest.end(), question.begin(), question.end());
    CapCache fresh;
    CapCache* cc = &base;
    try {
      base.cache->fork(kBase, kTrial);
      if (base.windowed) base.windowed->fork_local(kBase, kTrial);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kInput) throw;
      fresh = make_cap_cache(spelling, cfg, m.rope(), cache_options(o));
      cc = &fresh;
      std::vector<std::int32_t> prefix = intro;
      append_times(prefix, filler, k);
      prefill_chunked(m, fresh, kTrial, prefix, o.chunk, 0, nullptr);
    }
    auto logits = prefill_chunked(m, *cc, kTrial, rest, o.chunk, 0, nullptr);
    const auto answer = decode_greedy(m, *cc, kTrial, std::move(logits), 8);
    correct += passkey_correct(tok.decode(answer.tokens), key);
    cc->kv().remove(kTrial);  // the sliding-window rings too, not only the global layers
  }
  return static_cast<double>(correct) / o.trials;
}

}  // namespace

std::vector<std::int32_t> eval_text_tokens(const Model& model, int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x5eedcafe);
  std::string text;
  std::vector<std::int32_t> toks;
  while (static_cast<int>(toks.size()) < n) {
    for (int i = 0; i < 64; ++i) text += sentence(rng);
    toks = model.tokenizer().encode(text, true);
  }
  toks.resize(static_cast<std::size_t>(n));
  return toks;
}

std::vector<CapEvalRow> run_cap_eval(Model& model, const CapEvalOptions& o,
                                     const CapEvalRowsFn& on_rows) {
  if (o.lengths.empty() || o.policies.empty())
    throw Error::usage("cap-eval needs at least one length and one policy").field("lengths");
  for (int L : o.lengths)
    if (L <= o.decode_tokens + o.fidelity_tokens)
      throw Error::usage("length too short for the fidelity and decode tokens")
          .field("lengths")
          .expected("> " + std::to_string(o.decode_tokens + o.fidelity_tokens))
          .found(std::to_string(L));
  for (const auto& p : o.policies) plan_cap(p);  // fail fast on a bad spelling

  ModelConfig cfg = model.config();
  if (o.trained_ctx > 0) cfg.n_ctx_train = static_cast<int>(o.trained_ctx);
  const auto V = static_cast<std::size_t>(cfg.n_vocab);
  std::vector<CapEvalRow> rows;
  for (int L : o.lengths) {
    const int n_text = L - o.decode_tokens;
    // One token more than is prefilled: the target of the last compared position.
    auto text = eval_text_tokens(model, n_text + 1, o.seed);
    const std::int32_t after_text = text.back();
    text.pop_back();
    const std::size_t keep_from = static_cast<std::size_t>(n_text - o.fidelity_tokens);
    // Full attention with no context limit: the reference every policy is compared with.
    std::vector<float> ref;
    {
      // The reference is the measuring stick, not a contender: its budget fits L tokens.
      CapCacheOptions ref_opt = cache_options(o);
      ref_opt.budget_bytes = static_cast<std::size_t>(L + 2 * ref_opt.block_tokens) * 2 *
                             static_cast<std::size_t>(cfg.n_layer) *
                             static_cast<std::size_t>(cfg.kv_dim()) * sizeof(float);
      auto cc = make_cap_cache("full:ctx=" + std::to_string(L), cfg, model.rope(), ref_opt);
      prefill_chunked(model, cc, kSeq, text, o.chunk, keep_from, &ref);
    }
    for (const auto& spelling : o.policies) {
      CapEvalRow row;
      row.policy = spelling;
      row.length = L;
      try {
        auto cc = make_cap_cache(spelling, cfg, model.rope(), cache_options(o));
        // A length past the policy's context limit is refused before any work (the cache
        // would refuse the same step, after prefilling up to its limit).
        if (L > cc.ctx_limit)
          throw Error::input("sequence exceeds the policy's context limit")
              .field("ctx")
              .expected("<= " + std::to_string(cc.ctx_limit) + " tokens")
              .found(std::to_string(L));
        std::vector<float> got;
        Stopwatch sw;
        auto last = prefill_chunked(model, cc, kSeq, text, o.chunk, keep_from, &got);
        const double prefill_ms = sw.ms();
        const auto dec = decode_greedy(model, cc, kSeq, std::move(last), o.decode_tokens + 1);
        FidelityAccumulator acc;
        for (std::size_t j = keep_from; j < static_cast<std::size_t>(n_text); ++j) {
          const std::size_t r = j - keep_from;
          // Logits at position j predict token j + 1 (the first decoded token for the last).
          const std::int32_t next = j + 1 < text.size() ? text[j + 1] : after_text;
          acc.add(std::span<const float>(ref.data() + r * V, V),
                  std::span<const float>(got.data() + r * V, V), next);
        }
        const auto f = acc.report();
        row.served = true;
        row.ppl = f.ppl;
        row.ppl_full = f.ppl_full;
        row.kl = f.kl;
        row.top1_agreement = f.top1_agreement;
        row.prefill_tok_s = n_text / (prefill_ms / 1e3);
        // The first output token comes from the prefill's logits; each later one costs a
        // decode step.
        row.ttft_ms = prefill_ms;
        if (!dec.step_ms.empty()) {
          const auto s = summarize(dec.step_ms);
          row.tpot_ms = s.mean;
          row.decode_tok_s = 1e3 / s.mean;
        }
        row.kv_bytes = cc.kv().bytes_in_use();
        row.kv_keep_all_bytes = static_cast<std::size_t>(L) *
                                static_cast<std::size_t>(cfg.n_layer) * 2 *
                                static_cast<std::size_t>(cfg.kv_dim()) * sizeof(float);
        if (o.passkey) row.passkey_accuracy = passkey_accuracy(model, spelling, cfg, o, L);
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::kUsage) throw;
        row = CapEvalRow{};
        row.policy = spelling;
        row.length = L;
        row.refusal = e.what();
      }
      if (o.progress)
        o.progress(spelling + " @ " + std::to_string(L) + ": " +
                   (row.served ? "ppl " + fmt_num(*row.ppl, 3) + " (full " +
                                     fmt_num(*row.ppl_full, 3) + "), kl " + fmt_num(*row.kl, 4) +
                                     ", top1 " + fmt_num(*row.top1_agreement, 3) + ", prefill " +
                                     fmt_num(*row.prefill_tok_s, 0) + " tok/s, decode " +
                                     (row.decode_tok_s ? fmt_num(*row.decode_tok_s, 1) : "-") +
                                     " tok/s, kv " + std::to_string(*row.kv_bytes) + " B" +
                                     (row.passkey_accuracy
                                          ? ", passkey " + fmt_num(*row.passkey_accuracy, 2)
                                          : "")
                               : "refused: " + row.refusal));
      rows.push_back(std::move(row));
      if (on_rows) on_rows(rows);
    }
  }
  return rows;
}

Json cap_eval_json(const std::string& model, const std::vector<CapEvalRow>& rows) {
  auto opt = [](const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); };
  Json results = Json::array();
  for (const auto& r : rows)
    results.push_back(
        {{"policy", r.policy},
         {"length", r.length},
         {"passkey_accuracy", opt(r.passkey_accuracy)},
         {"ppl", opt(r.ppl)},
         {"ppl_full", opt(r.ppl_full)},
         {"kl", opt(r.kl)},
         {"top1_agreement", opt(r.top1_agreement)},
         {"prefill_tok_s", opt(r.prefill_tok_s)},
         {"decode_tok_s", opt(r.decode_tok_s)},
         {"ttft_ms", opt(r.ttft_ms)},
         {"tpot_ms", opt(r.tpot_ms)},
         {"kv_bytes", r.kv_bytes ? Json(*r.kv_bytes) : Json(nullptr)},
         {"kv_keep_all_bytes", r.kv_keep_all_bytes ? Json(*r.kv_keep_all_bytes) : Json(nullptr)},
         {"served", r.served}});
  return {{"model", model}, {"results", results}};
}

void print_cap_eval(std::ostream& out, const std::vector<CapEvalRow>& rows) {
  auto num = [](const std::optional<double>& v, int d) { return v ? fmt_num(*v, d) : "-"; };
  TextTable t({"policy", "length", "served", "passkey", "ppl", "ppl_full", "kl", "top1",
               "prefill tok/s", "decode tok/s", "ttft ms", "tpot ms", "kv MiB", "kv B/tok",
               "kv/keep-all"});
  std::map<std::string, std::pair<int, double>> longest;  // policy -> (length, bytes/token)
  std::vector<std::string> order;
  for (const auto& r : rows) {
    if (!longest.count(r.policy)) order.push_back(r.policy);
    auto& best = longest[r.policy];
    const double bpt = r.kv_bytes ? static_cast<double>(*r.kv_bytes) / r.length : 0;
    if (r.served && r.length > best.first) best = {r.length, bpt};
    t.add_row({r.policy, std::to_string(r.length), r.served ? "yes" : "no",
               num(r.passkey_accuracy, 2), num(r.ppl, 3), num(r.ppl_full, 3), num(r.kl, 4),
               num(r.top1_agreement, 3), num(r.prefill_tok_s, 0), num(r.decode_tok_s, 1),
               num(r.ttft_ms, 1), num(r.tpot_ms, 2),
               r.kv_bytes ? fmt_num(static_cast<double>(*r.kv_bytes) / (1 << 20), 2) : "-",
               r.kv_bytes ? fmt_num(bpt, 0) : "-",
               r.kv_bytes && r.kv_keep_all_bytes
                   ? fmt_num(static_cast<double>(*r.kv_bytes) / *r.kv_keep_all_bytes, 3)
                   : "-"});
  }
  t.print(out);
  out << "\nC: longest length served per policy (within the KV budget)\n";
  TextTable c({"policy", "goals", "longest served", "kv B/tok there"});
  for (const auto& p : order) {
    const auto& [len, bpt] = longest[p];
    c.add_row(
        {p, plan_cap(p).goals(), len ? std::to_string(len) : "none", len ? fmt_num(bpt, 0) : "-"});
  }
  c.print(out);
}

}  // namespace gearbox::serve::cap
