#include "gearbox/sched/trace.hpp"

#include <charconv>
#include <cmath>

#include "gearbox/core/error.hpp"
#include "gearbox/core/hardware.hpp"
#include "gearbox/core/paths.hpp"
#include "trace_fields.hpp"

namespace gearbox::sched {

namespace {

const char* kColumns[] = {"job_id",   "submission_time", "num_iteration", "model_name",
                          "deadline", "batch_size",      "num_gpu",       "gpu_type"};
constexpr int kNumColumns = 8;

}  // namespace

Trace parse_trace_csv(std::string_view text, const std::string& origin, const ModelCatalog& models,
                      const TraceOptions& opt) {
  Trace trace;
  std::uint64_t line_no = 0;
  std::size_t pos = 0;
  bool header_seen = false;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    if (line.empty()) continue;
    const auto cells = split_fields(line, ',');
    if (!header_seen) {
      header_seen = true;
      bool ok = cells.size() == kNumColumns;
      for (int c = 0; ok && c < kNumColumns; ++c) ok = trim(cells[c]) == kColumns[c];
      if (!ok) {
        throw Error::input("unexpected header")
            .at(origin, line_no)
            .expected(
                "job_id,submission_time,num_iteration,model_name,deadline,batch_size,"
                "num_gpu,gpu_type")
            .found(std::string(line.substr(0, 120)));
      }
      continue;
    }
    const RowContext ctx{origin, line_no, kColumns};
    if (cells.size() != kNumColumns) {
      throw Error::input("wrong number of columns")
          .at(origin, line_no)
          .expected(std::to_string(kNumColumns))
          .found(std::to_string(cells.size()));
    }
    Job j;
    j.id = std::string(trim(cells[0]));
    if (j.id.empty()) throw bad(ctx, 0, "empty job id", "a job id", "");
    j.submit = parse_double(ctx, 1, trim(cells[1]));
    const std::int64_t raw_iters = parse_int(ctx, 2, trim(cells[2]), 1, 1'000'000'000'000);
    const std::string_view mname = trim(cells[3]);
    j.model = models.find(mname);
    if (j.model.family < 0) {
      throw bad(ctx, 3, "unknown model", "one of " + models.known_models(), mname);
    }
    j.deadline = parse_double(ctx, 4, trim(cells[4]));
    j.batch = static_cast<int>(parse_int(ctx, 5, trim(cells[5]), 1, 1 << 20));
    j.req_gpus = static_cast<int>(parse_int(ctx, 6, trim(cells[6]), 1, 16));
    if ((j.req_gpus & (j.req_gpus - 1)) != 0) {
      throw bad(ctx, 6, "unsupported GPU count", "1, 2, 4, 8 or 16", trim(cells[6]));
    }
    j.req_type = std::string(trim(cells[7]));
    if (!GpuCatalog::builtin().find(j.req_type)) {
      throw bad(ctx, 7, "unknown GPU type", "a type in core's GPU catalog (a100, v100, a40, a10)",
                j.req_type);
    }
    std::int64_t iters = raw_iters;
    if (opt.submit_density != 1.0) {
      iters = std::max<std::int64_t>(1, static_cast<std::int64_t>(iters * opt.submit_density));
    }
    j.iterations = std::max<std::int64_t>(1, iters / std::max(1, opt.iter_scale));
    trace.jobs.push_back(std::move(j));
  }
  if (!header_seen) throw Error::input("empty trace").at(origin).expected("a CSV header");
  if (trace.jobs.empty()) throw Error::input("trace without jobs").at(origin);
  assign_rounds(trace);
  return trace;
}

Trace load_trace_csv(const std::filesystem::path& path, const ModelCatalog& models,
                     const TraceOptions& opt) {
  Trace t = parse_trace_csv(read_trace_file(path), path.string(), models, opt);
  t.name = path.stem().string();
  return t;
}

void assign_rounds(Trace& trace, double interval) {
  if (trace.jobs.empty()) return;
  trace.t0 = trace.jobs.front().submit;
  int open = 0;
  for (auto& j : trace.jobs) {
    const double rel = j.submit - trace.t0;
    const double k_real = rel <= 0 ? 0.0 : std::ceil(rel / interval) - 1;
    if (!(k_real < kMaxTraceRounds)) {
      throw Error::input("trace spans too many scheduling rounds")
          .field("submission_time")
          .expected("submissions within " + std::to_string(kMaxTraceRounds) + " rounds of " +
                    std::to_string(interval) + " s after the first (" + std::to_string(trace.t0) +
                    ")")
          .found("job " + j.id.substr(0, 64) + " at " + std::to_string(j.submit));
    }
    int k = static_cast<int>(k_real);
    if (k < open) k = open;  // out-of-order row joins the open chunk
    open = k;
    j.round = k;
  }
}

namespace {
Error bad_synthetic(std::string_view key, const std::string& expected, std::string_view found) {
  Error e = Error::usage("bad synthetic trace parameter");
  e.field("synthetic:" + printable(key))
      .expected(expected)
      .found(found.empty() ? std::string("nothing") : printable(found));
  return e;
}

std::uint64_t synthetic_uint(std::string_view key, std::string_view val, std::uint64_t lo,
                             std::uint64_t hi) {
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(val.data(), val.data() + val.size(), v);
  if (val.empty() || ec != std::errc() || p != val.data() + val.size() || v < lo || v > hi) {
    throw bad_synthetic(key, "an integer in " + std::to_string(lo) + ".." + std::to_string(hi),
                        val);
  }
  return v;
}
}  // namespace

SyntheticSpec parse_synthetic_spec(std::string_view params) {
  SyntheticSpec s;
  bool seen_jobs = false, seen_rate = false;
  while (!params.empty()) {
    const auto comma = params.find(',');
    const auto kv = params.substr(0, comma);
    params = comma == std::string_view::npos ? std::string_view{} : params.substr(comma + 1);
    const auto eq = kv.find('=');
    const auto key = kv.substr(0, eq);
    const auto val = eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1);
    bool* seen = key == "jobs" ? &seen_jobs : key == "rate" ? &seen_rate : &s.seed_given;
    if (key != "jobs" && key != "rate" && key != "seed") {
      throw Error::usage("unknown synthetic trace parameter")
          .field("synthetic:" + printable(key))
          .expected("jobs, rate or seed");
    }
    if (*seen) throw bad_synthetic(key, "the parameter once", "it twice");
    *seen = true;
    if (key == "jobs") {
      s.jobs = static_cast<int>(synthetic_uint(key, val, 1, kMaxSyntheticJobs));
    } else if (key == "rate") {
      double v = 0;
      const auto [p, ec] = std::from_chars(val.data(), val.data() + val.size(), v);
      if (val.empty() || ec != std::errc() || p != val.data() + val.size() || !(v > 0) || v > 1e9) {
        throw bad_synthetic(key, "jobs per hour, a number in (0, 1e9]", val);
      }
      s.rate_per_hour = v;
    } else {
      s.seed = synthetic_uint(key, val, 0, UINT64_MAX);
    }
  }
  return s;
}

Trace trace_from_spec(std::string_view spec, const ModelCatalog& models, const TraceOptions& opt) {
  if (spec.rfind("synthetic", 0) == 0) {
    std::string_view rest = spec.substr(9);
    if (!rest.empty() && rest.front() == ':') rest.remove_prefix(1);
    SyntheticSpec s = parse_synthetic_spec(rest);
    if (opt.synthetic_seed) {
      if (s.seed_given && s.seed != *opt.synthetic_seed) {
        throw Error::usage("two different seeds for the synthetic trace")
            .field("--seed")
            .expected("the trace's seed=" + std::to_string(s.seed) + " or no seed= in the trace")
            .found(std::to_string(*opt.synthetic_seed));
      }
      s.seed = *opt.synthetic_seed;
    }
    Trace t = synthetic_trace(s, models);
    t.name = std::string(spec);
    return t;
  }
  std::string file;
  if (spec == "philly") file = "simulate_trace_philly.csv";
  if (spec == "venus" || spec == "helios") file = "simulate_trace_venus.csv";
  if (spec == "pai") file = "simulate_trace_pai.csv";
  if (!file.empty()) {
    const auto dir = data_dir();
    if (!dir) throw Error::runtime("shared data folder not found (set GEARBOX_DATA)");
    Trace t = load_trace_csv(*dir / "crius" / "traces" / file, models, opt);
    t.name = spec == "helios" ? "venus" : std::string(spec);
    return t;
  }
  if (spec.rfind("gavel:", 0) == 0)
    return load_gavel_trace(std::filesystem::path(spec.substr(6)), models);
  const std::filesystem::path path(spec);
  if (path.extension() == ".trace") return load_gavel_trace(path, models);
  return load_trace_csv(path, models, opt);
}

}  // namespace gearbox::sched
