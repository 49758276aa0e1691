#include "gearbox/serve/server/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <ctime>
#include <iterator>
#include <limits>
#include <memory>
#include <thread>

#include <sys/socket.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/server/api_request.hpp"
#include "gearbox/serve/server/api_response.hpp"
#include "gearbox/serve/server/peer_socket.hpp"
#include "http_front.hpp"

namespace gearbox::serve::server {
namespace {

using Json = nlohmann::json;

void send_error(httplib::Response& res, int status, const std::string& message,
                const std::string& type, const std::string& param = "") {
  res.status = status;
  res.set_content(error_body(message, type, param).dump(), "application/json");
}

}  // namespace

FrontOptions front_options(const ServerOptions& o) {
  FrontOptions f;
  f.workers =
      o.http_threads ? o.http_threads : o.scheduler.max_running + o.scheduler.max_queue + 32;
  f.max_body_bytes = o.max_body_bytes;
  f.read_deadline = o.read_deadline;
  f.max_pending = std::max<std::size_t>(1, o.max_pending_connections);
  f.keep_alive_idle = std::chrono::seconds(2);
  return f;
}

// The scheduler's options with the server's --seed as the base of per-request seeds.
SchedulerOptions with_seed(SchedulerOptions s, std::optional<std::uint64_t> seed) {
  if (seed) s.seed = seed;
  return s;
}

struct ApiServer::Impl {
  Impl(ModelRunner& r, ServerOptions o)
      : runner(r),
        opt(std::move(o)),
        served_name(opt.model_name.empty() ? r.name() : opt.model_name),
        serve_metrics(registry),
        scheduler(r, with_seed(opt.scheduler, opt.seed), serve_metrics),
        http(front_options(opt)) {}

  ModelRunner& runner;
  ServerOptions opt;
  std::string served_name;
  MetricsRegistry registry;
  ServeMetrics serve_metrics;
  BatchScheduler scheduler;
  HttpFront http;
  std::thread listener;
  int bound_port = 0;
  int listen_fd = -1;
  std::atomic<std::uint64_t> request_counter{0};
  bool started = false;
  bool stopped = false;

  void routes();
  void generate(const httplib::Request& req, httplib::Response& res, Endpoint endpoint);
  // The response's logprobs: the echoed prompt's records (the first without a logprob, as
  // OpenAI's and llama.cpp's servers give it; their text `prompt_bytes` long once the first
  // token with text, and in a text prompt the first of every run of text, has `strip` leading
  // bytes dropped: SentencePiece's space prefix) then the generated tokens', when `cut`
  // (stop strings were given) only those that begin within the `text_bytes` returned.
  // text_prompt: the prompt was text, so its control tokens are listed as they were spelled.
  Json logprobs_json(Endpoint endpoint, const std::vector<TokenLogprob>& prompt, bool text_prompt,
                     std::size_t prompt_bytes, std::size_t strip,
                     const std::vector<TokenLogprob>& generated, std::size_t text_bytes,
                     bool cut) const;
  // One token's record: its text, logprob (none when `first` of an echoed prompt) and
  // alternatives; offset left 0.
  LogprobEntry entry_of(const TokenLogprob& r, bool first) const;
};

namespace {

Json entries_json(Endpoint endpoint, const std::vector<LogprobEntry>& entries) {
  return endpoint == Endpoint::kChatCompletions ? chat_logprobs(entries)
                                                : completion_logprobs(entries);
}

// The logprobs of a streamed response, in the order the whole response lists them: each chunk
// carries the records of the tokens whose text begins within the text sent so far (offsets
// counted from the start of the output), the closing chunk the rest (when stop strings were
// given, only those that begin within the text returned, as the whole response does).
struct StreamedLogprobs {
  Endpoint endpoint = Endpoint::kCompletions;
  bool cut = false;
  std::vector<LogprobEntry> pending;
  std::size_t next_offset = 0;  // where the next record's text begins
  std::size_t sent = 0;         // bytes of text sent

  void add(LogprobEntry e) {
    e.offset = next_offset;
    next_offset += e.text.size();
    pending.push_back(std::move(e));
  }
  // The records whose text begins before `limit` bytes, taken out (null when there are none).
  Json take(std::size_t limit) {
    std::size_t n = 0;
    while (n < pending.size() && pending[n].offset < limit) ++n;
    if (n == 0) return nullptr;
    std::vector<LogprobEntry> out(
        std::make_move_iterator(pending.begin()),
        std::make_move_iterator(pending.begin() + static_cast<std::ptrdiff_t>(n)));
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(n));
    return entries_json(endpoint, out);
  }
};

}  // namespace

Json ApiServer::Impl::logprobs_json(Endpoint endpoint, const std::vector<TokenLogprob>& prompt,
                                    bool text_prompt, std::size_t prompt_bytes, std::size_t strip,
                                    const std::vector<TokenLogprob>& generated,
                                    std::size_t text_bytes, bool cut) const {
  std::vector<LogprobEntry> entries;
  auto entry = [&](const TokenLogprob& r, bool first) { return entry_of(r, first); };
  // `at`: where the next token's text begins in the echoed text. The `strip` bytes (a
  // SentencePiece space prefix) are not in the text at the first token that has text: a token
  // prompt's first one (detokenizing drops them there only), and in a text prompt the first
  // one of every run of text (the encoder put them in front of the text and after every token
  // it matched whole from its spelling). Such a token begins at `at`, the ones after it
  // `strip` bytes earlier than their sum says.
  std::size_t at = 0;
  bool fresh = true;
  for (std::size_t i = 0; i < prompt.size(); ++i) {
    entries.push_back(entry(prompt[i], i == 0));
    const bool has_text = !entries.back().text.empty();
    const bool whole = text_prompt && runner.matched_whole(prompt[i].token);
    if (text_prompt) entries.back().text = runner.prompt_token_text(prompt[i].token);
    entries.back().offset = std::min(at, prompt_bytes);
    at += entries.back().text.size();
    if (whole) {
      fresh = true;
    } else if (has_text && fresh) {
      fresh = false;
      at -= std::min(at, strip);
    }
  }
  at = 0;
  for (const auto& r : generated) {
    if (cut && at >= text_bytes) break;
    entries.push_back(entry(r, false));
    entries.back().offset = prompt_bytes + at;
    at += entries.back().text.size();
  }
  return entries_json(endpoint, entries);
}

LogprobEntry ApiServer::Impl::entry_of(const TokenLogprob& r, bool first) const {
  LogprobEntry e;
  e.text = runner.token_text(r.token);
  if (!first) e.logprob = r.logprob;
  for (const auto& [t, lp] : r.top) e.top.emplace_back(runner.token_text(t), lp);
  return e;
}

void ApiServer::Impl::routes() {
  http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry.exposition(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    Json model = {{"id", served_name},
                  {"object", "model"},
                  {"created", 0},
                  {"owned_by", "gearbox"},
                  {"max_model_len", runner.context_limit(CapSpec{})},
                  {"vocab_size", runner.vocab_size()}};
    res.set_content(Json{{"object", "list"}, {"data", Json::array({model})}}.dump(),
                    "application/json");
  });
  http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    generate(req, res, Endpoint::kCompletions);
  });
  http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    generate(req, res, Endpoint::kChatCompletions);
  });
  http.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (HttpFront::current_body_over_limit()) res.status = 413;  // a chunked body cut short
    if (res.status == 413) {
      serve_metrics.rejected_invalid.inc();
      send_error(res, 413, "request body over " + std::to_string(opt.max_body_bytes) + " bytes",
                 "invalid_request_error");
    } else if (res.status == 404) {
      send_error(res, 404, "no such route", "not_found_error");
    } else {
      send_error(res, res.status, "HTTP error " + std::to_string(res.status),
                 "invalid_request_error");
    }
  });
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        send_error(res, 500, what, "server_error");
      });
}

void ApiServer::Impl::generate(const httplib::Request& req, httplib::Response& res,
                               Endpoint endpoint) {
  const std::int64_t created = static_cast<std::int64_t>(std::time(nullptr));
  CompletionRequest cr;
  GenerationParams gp;
  std::vector<Token> prompt_tokens;            // what echo returns
  if (req.body.size() > opt.max_body_bytes) {  // a chunked body under the framing allowance
    serve_metrics.rejected_invalid.inc();
    send_error(res, 413, "request body over " + std::to_string(opt.max_body_bytes) + " bytes",
               "invalid_request_error");
    return;
  }
  try {
    RequestLimits limits;
    limits.vocab_size = runner.vocab_size();
    cr = parse_completion_request(req.body, endpoint, limits);
    if (!cr.model.empty() && cr.model != served_name) {
      serve_metrics.rejected_invalid.inc();
      send_error(
          res, 404,
          "model '" + cr.model + "' is not served here (this server serves '" + served_name + "')",
          "not_found_error", "model");
      return;
    }
    if (endpoint == Endpoint::kChatCompletions) {
      gp.prompt = runner.encode_chat(cr.messages);
    } else if (cr.prompt_is_tokens) {
      gp.prompt = cr.prompt_tokens;
    } else {
      gp.prompt = runner.encode(cr.prompt, true);
    }
    gp.max_tokens = cr.max_tokens                        ? static_cast<std::size_t>(*cr.max_tokens)
                    : endpoint == Endpoint::kCompletions ? opt.default_max_tokens
                                                         : 0;
    gp.sampling.temperature = cr.temperature;
    gp.sampling.top_p = cr.top_p;
    gp.sampling.seed = cr.seed ? *cr.seed : 0;
    gp.auto_seed = !cr.seed;  // the scheduler picks one no concurrent request shares
    gp.stop = cr.stop;
    gp.ignore_eos = cr.ignore_eos;
    gp.min_tokens = cr.min_tokens;
    gp.cap = cr.cap;
    if (cr.logprobs) {
      gp.sampling.top_logprobs = *cr.logprobs;
      gp.sampling.prompt_logprobs = cr.echo;
    }
    gp.score_only = cr.max_tokens && *cr.max_tokens == 0;             // only with echo (parsed so)
    if (gp.score_only && !cr.logprobs) gp.sampling.top_logprobs = 0;  // the prompt still runs
    gp.sampling.prompt_logprobs = gp.sampling.prompt_logprobs || gp.score_only;
  } catch (const Error& e) {
    serve_metrics.rejected_invalid.inc();
    send_error(res, 400, e.what(), "invalid_request_error", e.field_name());
    return;
  }
  if (cr.echo) prompt_tokens = gp.prompt;
  std::shared_ptr<GenerationStream> stream;
  try {
    stream = scheduler.submit(std::move(gp));
  } catch (const QueueFullError& e) {
    res.set_header("Retry-After", "1");
    send_error(res, 429, e.what(), "rate_limit_error");
    return;
  } catch (const Error& e) {
    serve_metrics.rejected_invalid.inc();
    send_error(res, 400, e.what(), "invalid_request_error", e.field_name());
    return;
  }
  const std::uint64_t n = request_counter.fetch_add(1);
  const std::string id =
      (endpoint == Endpoint::kChatCompletions ? "chatcmpl-" : "cmpl-") + std::to_string(n);
  auto fmt = std::make_shared<ResponseFormatter>(endpoint, id, served_name, created);

  if (!cr.stream) {
    // Nothing is written until the end, so the client's socket is polled between waits: a
    // client that hung up has its sequence cancelled (and its blocks freed) at the next step.
    const int fd = HttpFront::current_socket();
    std::string text;
    StreamUpdate u;
    bool hung_up = false;
    std::vector<TokenLogprob> generated;
    do {
      u = stream->next(std::chrono::milliseconds(50));
      text += u.text;
      for (auto& r : u.logprobs) generated.push_back(std::move(r));
      if (!u.finished && !hung_up && fd >= 0 && peer_closed(fd)) {
        hung_up = true;
        serve_metrics.client_disconnects.inc();
        stream->cancel();
      }
    } while (!u.finished);
    if (u.reason == FinishReason::kCancelled) {
      if (hung_up) {  // nobody reads this; httplib's write fails and closes the connection
        send_error(res, 499, "the client closed the connection", "invalid_request_error");
        return;
      }
      send_error(res, 503, "the server stopped before the request finished", "server_error");
      return;
    }
    if (u.reason == FinishReason::kError) {
      send_error(res, 500, "generation failed: " + u.error, "server_error");
      return;
    }
    // Echo returns the prompt the client sent: without the BOS the server put in front of a
    // text prompt (as llama.cpp's server does; OpenAI's models have none).
    const std::size_t skip =
        !cr.prompt_is_tokens && !prompt_tokens.empty() && prompt_tokens[0] == runner.prompt_bos()
            ? 1
            : 0;
    // The echoed text is the prompt as sent (token ids: their text), the tokens' offsets into it
    // less the leading bytes detokenizing drops (SentencePiece's space prefix).
    std::string prompt_text;
    std::size_t strip = 0;
    if (cr.echo) {
      const auto echoed = std::span<const Token>(prompt_tokens).subspan(skip);
      std::size_t joined = 0;
      for (Token t : echoed) joined += runner.token_text(t).size();
      const std::string whole = runner.detokenize(echoed);
      strip = joined - std::min(joined, whole.size());
      prompt_text = cr.prompt_is_tokens ? whole : cr.prompt;
    }
    Json logprobs;
    if (cr.logprobs) {
      std::vector<TokenLogprob> echoed;
      if (cr.echo && u.prompt_logprobs.size() > skip)
        echoed.assign(u.prompt_logprobs.begin() + static_cast<std::ptrdiff_t>(skip),
                      u.prompt_logprobs.end());
      logprobs = logprobs_json(endpoint, echoed, !cr.prompt_is_tokens, prompt_text.size(), strip,
                               generated, text.size(), !cr.stop.empty());
    }
    res.set_content(fmt->complete(prompt_text + text, finish_reason_name(u.reason),
                                  {u.prompt_tokens, u.completion_tokens, u.cached_tokens}, logprobs)
                        .dump(),
                    "application/json");
    return;
  }

  const bool usage_chunk = cr.include_usage;
  auto first = std::make_shared<bool>(true);
  std::shared_ptr<StreamedLogprobs> lps;
  if (cr.logprobs) {
    lps = std::make_shared<StreamedLogprobs>();
    lps->endpoint = endpoint;
    lps->cut = !cr.stop.empty();
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, stream, fmt, first, usage_chunk, lps](std::size_t, httplib::DataSink& sink) {
        const StreamUpdate u = stream->next(std::chrono::milliseconds(50));
        if (lps)
          for (const auto& r : u.logprobs) lps->add(entry_of(r, false));
        if (!u.text.empty() || (*first && u.finished)) {
          Json lp = nullptr;
          if (lps) {
            lps->sent += u.text.size();
            lp = lps->take(lps->sent);
          }
          const std::string event = fmt->chunk(u.text, *first, lp);
          *first = false;
          if (!sink.write(event.data(), event.size())) {
            stream->cancel();
            return false;
          }
        }
        if (u.finished) {
          Json lp = nullptr;
          if (lps) lp = lps->take(lps->cut ? lps->sent : std::numeric_limits<std::size_t>::max());
          const std::string end =
              fmt->finish(finish_reason_name(u.reason),
                          {u.prompt_tokens, u.completion_tokens, u.cached_tokens}, usage_chunk, lp);
          if (!sink.write(end.data(), end.size())) return false;
          sink.done();
        }
        return true;
      },
      [stream, disconnects = &serve_metrics.client_disconnects](bool success) {
        if (!success) {  // the client went away: free its blocks
          disconnects->inc();
          stream->cancel();
        }
      });
}

ApiServer::ApiServer(ModelRunner& runner, ServerOptions options)
    : impl_(std::make_unique<Impl>(runner, std::move(options))) {
  Impl& m = *impl_;
  // Keep the listening socket (SO_REUSEADDR as httplib's default) to raise its backlog later.
  m.http.set_socket_options([&m](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    m.listen_fd = sock;
  });
  m.http.set_keep_alive_timeout(2);  // only the Keep-Alive header: HttpFront closes idle ones
  m.http.set_tcp_nodelay(true);      // headers and body go out in separate writes
  m.routes();
}

ApiServer::~ApiServer() {
  stop();
}

int ApiServer::start() {
  Impl& m = *impl_;
  if (m.started) return m.bound_port;
  std::signal(SIGPIPE, SIG_IGN);
  m.http.start_front("max-queue");  // before binding: a refusal leaves nothing bound
  if (m.opt.port == 0) {
    m.bound_port = m.http.bind_to_any_port(m.opt.host);
  } else {
    m.bound_port = m.http.bind_to_port(m.opt.host, m.opt.port) ? m.opt.port : -1;
  }
  if (m.bound_port <= 0) {
    throw Error::runtime("cannot listen on " + m.opt.host + ":" + std::to_string(m.opt.port))
        .expected("a free address");
  }
  // Debian's compiled httplib listens with a backlog of 5, which resets bursts of connections
  // (64 clients at once); listening again on the bound socket raises it.
  if (m.listen_fd >= 0) ::listen(m.listen_fd, 1024);
  m.scheduler.start();
  m.listener = std::thread([&m] { m.http.listen_after_bind(); });
  m.started = true;
  return m.bound_port;
}

void ApiServer::stop() {
  Impl& m = *impl_;
  if (m.stopped) return;
  m.stopped = true;
  m.scheduler.stop();  // every waiting handler sees its stream end
  m.http.stop();       // stops accepting: listen_after_bind() returns
  if (m.listener.joinable()) m.listener.join();
  m.http.stop_front();  // then the intake and the handler threads
}

int ApiServer::port() const {
  return impl_->bound_port;
}
const std::string& ApiServer::model_name() const {
  return impl_->served_name;
}
MetricsRegistry& ApiServer::metrics() {
  return impl_->registry;
}
const BatchScheduler& ApiServer::scheduler() const {
  return impl_->scheduler;
}

}  // namespace gearbox::serve::server
