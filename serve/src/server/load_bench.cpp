#include "gearbox/serve/server/load_bench.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <ostream>
#include <random>
#include <thread>

#include <httplib.h>

#include "gearbox/core/error.hpp"
#include "gearbox/core/stats.hpp"

namespace gearbox::serve::server {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Target {
  std::string host;
  int port = 80;
};

Target parse_url(const std::string& url) {
  const std::string prefix = "http://";
  auto bad = [&] {
    return Error::usage("bad --url").field("url").expected("http://HOST:PORT").found(url);
  };
  if (url.rfind(prefix, 0) != 0) throw bad();
  std::string rest = url.substr(prefix.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const auto colon = rest.rfind(':');
  Target t;
  t.host = rest.substr(0, colon);
  if (colon != std::string::npos) {
    try {
      std::size_t used = 0;
      t.port = std::stoi(rest.substr(colon + 1), &used);
      if (used != rest.size() - colon - 1 || t.port <= 0 || t.port > 65535) throw bad();
    } catch (const std::logic_error&) {
      throw bad();
    }
  }
  if (t.host.empty() || t.host.find('/') != std::string::npos) throw bad();
  return t;
}

struct Outcome {
  bool ok = false;
  std::string error;
  double ttft_s = 0, e2e_s = 0;
  std::size_t output_tokens = 0;
  std::vector<double> itl_s;
};

// The in-flight bound of concurrency 0: a pool of this many threads, not one per request.
constexpr std::size_t kDefaultWorkers = 256;
// What /v1/models may answer (a list of models: a few KiB).
constexpr std::size_t kMaxListingBytes = 1u << 20;

// Sends one streaming completion and times its chunks; a response over `max_bytes` or
// longer than `timeout_s` is cut and fails.
Outcome send_one(const Target& t, const std::string& body, double timeout_s,
                 std::size_t max_bytes) {
  Outcome o;
  httplib::Client cli(t.host, t.port);
  cli.set_tcp_nodelay(true);
  cli.set_connection_timeout(10, 0);
  cli.set_read_timeout(static_cast<time_t>(timeout_s), 0);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.set_header("Content-Type", "application/json");
  req.body = body;
  std::string buf;
  bool done = false;
  std::size_t chunks = 0, usage_tokens = 0;
  bool have_usage = false;
  Clock::time_point last;
  const auto start = Clock::now();
  std::string parse_error;
  std::size_t received = 0;
  req.content_receiver = [&](const char* d, std::size_t n, std::uint64_t, std::uint64_t) {
    const auto now = Clock::now();
    received += n;
    if (received > max_bytes) {
      parse_error = "response over " + std::to_string(max_bytes) +
                    " bytes (more than --output-len tokens' worth): cut";
      return false;
    }
    if (std::chrono::duration<double>(now - start).count() > timeout_s) {
      parse_error = "response still streaming after " + std::to_string(timeout_s) + " s: cut";
      return false;
    }
    buf.append(d, n);
    std::size_t end;
    while ((end = buf.find("\n\n")) != std::string::npos) {
      const std::string event = buf.substr(0, end);
      buf.erase(0, end + 2);
      if (event.empty() || event[0] == ':') continue;  // an SSE comment (keep-alive ping)
      if (event.rfind("data: ", 0) != 0) {
        parse_error = "event without 'data: '";
        return false;
      }
      const std::string data = event.substr(6);
      if (data == "[DONE]") {
        done = true;
        continue;
      }
      const Json j = Json::parse(data, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        parse_error = "chunk is not JSON";
        return false;
      }
      if (j.contains("usage") && j["usage"].is_object()) {
        usage_tokens = j["usage"].value("completion_tokens", std::size_t{0});
        have_usage = true;
      }
      if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) continue;
      const Json& c = j["choices"][0];
      const std::string text =
          c.contains("text") && c["text"].is_string() ? c["text"].get<std::string>() : "";
      if (text.empty()) continue;
      if (chunks == 0) {
        o.ttft_s = std::chrono::duration<double>(now - start).count();
      } else {
        o.itl_s.push_back(std::chrono::duration<double>(now - last).count());
      }
      last = now;
      ++chunks;
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  const bool sent = cli.send(req, res, err);
  o.e2e_s = std::chrono::duration<double>(Clock::now() - start).count();
  if (!parse_error.empty()) {
    o.error = parse_error;
  } else if (!sent) {
    o.error = "transport: " + httplib::to_string(err);
  } else if (res.status != 200) {
    o.error = "HTTP " + std::to_string(res.status) + ": " + buf.substr(0, 200);
  } else if (!done) {
    o.error = "stream ended without [DONE]";
  } else if (chunks == 0) {
    o.error = "no tokens";
  } else {
    o.ok = true;
    o.output_tokens = have_usage ? usage_tokens : chunks;
  }
  return o;
}

LatencyStats stats_ms(const std::vector<double>& seconds) {
  LatencyStats s;
  if (seconds.empty()) return s;
  const Summary sum = summarize(seconds);
  s.mean = sum.mean * 1e3;
  s.median = sum.median * 1e3;
  s.p99 = sum.p99 * 1e3;
  return s;
}

Json stats_json(const LatencyStats& s) {
  return {{"mean", s.mean}, {"median", s.median}, {"p99", s.p99}};
}

}  // namespace

Json LoadReport::to_json() const {
  return {
      {"completed", completed},         {"failed", failed},
      {"duration_s", duration_s},       {"request_throughput", request_throughput},
      {"output_tok_s", output_tok_s},   {"goodput", goodput < 0 ? Json(nullptr) : Json(goodput)},
      {"ttft_ms", stats_json(ttft_ms)}, {"tpot_ms", stats_json(tpot_ms)},
      {"itl_ms", stats_json(itl_ms)},   {"e2e_ms", stats_json(e2e_ms)}};
}

void parse_slo(const std::string& spec, LoadOptions& opt) {
  std::size_t at = 0;
  while (at <= spec.size()) {
    const std::size_t comma = std::min(spec.find(',', at), spec.size());
    const std::string part = spec.substr(at, comma - at);
    const auto eq = part.find('=');
    auto bad = [&] {
      return Error::usage("bad --slo").field("slo").expected("ttft=MS,tpot=MS").found(spec);
    };
    if (eq == std::string::npos) throw bad();
    double v = 0;
    try {
      std::size_t used = 0;
      v = std::stod(part.substr(eq + 1), &used);
      if (used != part.size() - eq - 1) throw bad();
    } catch (const std::logic_error&) {
      throw bad();
    }
    if (!(v > 0) || !std::isfinite(v)) throw bad();
    const std::string key = part.substr(0, eq);
    if (key == "ttft") {
      opt.slo_ttft_ms = v;
    } else if (key == "tpot") {
      opt.slo_tpot_ms = v;
    } else {
      throw bad();
    }
    at = comma + 1;
  }
}

LoadReport run_load(const LoadOptions& opt, std::ostream* progress) {
  const Target target = parse_url(opt.url);
  if (opt.requests == 0) throw Error::usage("--requests must be >= 1").field("requests");
  if (opt.output_len == 0) throw Error::usage("--output-len must be >= 1").field("output-len");
  if (!(opt.rate > 0)) throw Error::usage("--rate must be > 0 or inf").field("rate");

  // Ask the server what it serves (and its vocabulary, for token-id prompts).
  httplib::Client probe(target.host, target.port);
  probe.set_connection_timeout(5, 0);
  probe.set_read_timeout(30, 0);
  std::string listing_body;
  bool listing_too_big = false;
  auto models = probe.Get("/v1/models", [&](const char* d, std::size_t n) {
    if (listing_body.size() + n > kMaxListingBytes) {
      listing_too_big = true;
      return false;
    }
    listing_body.append(d, n);
    return true;
  });
  if (listing_too_big) {
    throw Error::runtime("/v1/models answer too large")
        .expected("at most " + std::to_string(kMaxListingBytes) + " bytes")
        .found("more");
  }
  if (!models || models->status != 200) {
    throw Error::runtime("cannot reach " + opt.url + "/v1/models")
        .found(models ? "HTTP " + std::to_string(models->status)
                      : httplib::to_string(models.error()));
  }
  const Json listing = Json::parse(listing_body, nullptr, false);
  if (listing.is_discarded() || !listing.contains("data") || !listing["data"].is_array() ||
      listing["data"].empty()) {
    throw Error::runtime("unexpected /v1/models answer").found(listing_body.substr(0, 200));
  }
  LoadReport rep;
  rep.model = listing["data"][0].value("id", "");
  const int vocab = listing["data"][0].value("vocab_size", 0);

  // Fixed-seed prompts and Poisson arrival times.
  std::mt19937_64 rng(opt.seed);
  std::vector<std::string> bodies(opt.requests);
  static const char* kWords[] = {"time",  "little", "girl", "day", "park", "big", "ball",
                                 "happy", "friend", "tree", "sun", "dog",  "cat", "play"};
  for (auto& b : bodies) {
    // min_tokens (vLLM, llama-cpp-python) and ignore_eos (vLLM, llama.cpp): exactly
    // output_len tokens from servers that know either; servers ignore what they do not know.
    Json req = {{"model", rep.model},
                {"max_tokens", opt.output_len},
                {"min_tokens", opt.output_len},
                {"temperature", 0},
                {"stream", true},
                {"ignore_eos", true},
                {"stream_options", {{"include_usage", true}}}};
    if (vocab > 32 && !opt.text_prompts) {
      Json ids = Json::array();
      std::uniform_int_distribution<int> pick(16, vocab - 1);
      for (std::size_t i = 0; i < opt.input_len; ++i) ids.push_back(pick(rng));
      req["prompt"] = ids;
    } else {
      std::string text;
      for (std::size_t i = 0; i < opt.input_len; ++i) {
        text += (i ? " " : "") + std::string(kWords[rng() % std::size(kWords)]);
      }
      req["prompt"] = text;
    }
    b = req.dump();
  }
  std::vector<double> arrival(opt.requests, 0.0);
  if (std::isfinite(opt.rate)) {
    std::exponential_distribution<double> gap(opt.rate);
    double t = 0;
    for (auto& a : arrival) {
      a = t;
      t += gap(rng);
    }
  }

  const std::size_t workers =
      std::min<std::size_t>(opt.concurrency ? opt.concurrency : kDefaultWorkers, opt.requests);
  // An SSE event per token is a few hundred bytes; 16 KiB a token is far beyond any server.
  const std::size_t max_bytes =
      opt.max_response_bytes ? opt.max_response_bytes : (1u << 20) + opt.output_len * (16u << 10);
  std::vector<Outcome> out(opt.requests);
  std::atomic<std::size_t> next{0}, finished{0};
  std::mutex progress_mu;
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (std::size_t w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      for (std::size_t i; (i = next.fetch_add(1)) < opt.requests;) {
        std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                  std::chrono::duration<double>(arrival[i])));
        out[i] = send_one(target, bodies[i], opt.request_timeout_s, max_bytes);
        const std::size_t n = finished.fetch_add(1) + 1;
        if (progress && (n % std::max<std::size_t>(1, opt.requests / 10) == 0)) {
          std::lock_guard lock(progress_mu);
          *progress << "bench: " << n << "/" << opt.requests << " done\n";
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  rep.duration_s = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<double> ttft, tpot, itl, e2e;
  std::size_t tokens = 0, good = 0;
  for (const auto& o : out) {
    if (!o.ok) {
      ++rep.failed;
      if (rep.first_error.empty()) rep.first_error = o.error;
      continue;
    }
    ++rep.completed;
    tokens += o.output_tokens;
    ttft.push_back(o.ttft_s);
    e2e.push_back(o.e2e_s);
    itl.insert(itl.end(), o.itl_s.begin(), o.itl_s.end());
    double request_tpot = 0;
    if (o.output_tokens > 1) {
      request_tpot = (o.e2e_s - o.ttft_s) / static_cast<double>(o.output_tokens - 1);
      tpot.push_back(request_tpot);
    }
    const bool ttft_ok = opt.slo_ttft_ms <= 0 || o.ttft_s * 1e3 <= opt.slo_ttft_ms;
    const bool tpot_ok = opt.slo_tpot_ms <= 0 || request_tpot * 1e3 <= opt.slo_tpot_ms;
    if (ttft_ok && tpot_ok) ++good;
  }
  const double d = std::max(rep.duration_s, 1e-9);
  rep.request_throughput = static_cast<double>(rep.completed) / d;
  rep.output_tok_s = static_cast<double>(tokens) / d;
  if (opt.slo_ttft_ms > 0 || opt.slo_tpot_ms > 0) rep.goodput = static_cast<double>(good) / d;
  rep.ttft_ms = stats_ms(ttft);
  rep.tpot_ms = stats_ms(tpot);
  rep.itl_ms = stats_ms(itl);
  rep.e2e_ms = stats_ms(e2e);
  return rep;
}

}  // namespace gearbox::serve::server
