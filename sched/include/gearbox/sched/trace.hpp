// Training jobs and traces. A trace is the artifact's CSV (job_id, submission_time,
// num_iteration, model_name, deadline, batch_size, num_gpu, gpu_type) or a synthetic one;
// jobs are grouped into 300 s submission rounds exactly as the artifact's TraceManager does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gearbox/sched/model_catalog.hpp"

namespace gearbox::sched {

struct Job {
  std::string id;               // job_id
  ModelRef model;               // family and size
  int batch = 0;                // global batch (samples per iteration)
  std::int64_t iterations = 0;  // iterations to run (num_iteration // 5 for artifact traces)
  double submit = 0;            // submission_time, seconds on the trace's clock
  double deadline = 0;          // absolute deadline, as in the file (rescaled on submission)
  int req_gpus = 1;             // num_gpu
  std::string req_type;         // gpu_type as written ("a100")
  int round = 0;                // submission round (300 s chunk), see assign_rounds()
};

struct Trace {
  std::string name;
  std::vector<Job> jobs;  // file order
  double t0 = 0;          // first job's submission time
  int num_rounds() const { return jobs.empty() ? 0 : jobs.back().round + 1; }
};

struct TraceOptions {
  double submit_density = 1.0;  // --job_submit_density: iterations *= d before the // 5
  int iter_scale = 5;           // ITER_NUM_SCALE_FACTOR_SIM
  // A synthetic trace's seed when its spec gives none (`--seed`); a spec's different seed= is
  // an Error::usage. Unset: the spec's seed, else SyntheticSpec's default.
  std::optional<std::uint64_t> synthetic_seed;
};

// Largest trace file read (256 MiB: about 4 million CSV rows; the artifact's largest is 0.2 MB).
// Trace files must be regular files: a device such as /dev/zero or a FIFO is refused.
inline constexpr std::uint64_t kMaxTraceBytes = std::uint64_t{256} << 20;

// Parses an artifact trace CSV. Throws Error::input naming file, row (line) and column for a
// malformed row, and listing the known models for an unknown model_name.
Trace load_trace_csv(const std::filesystem::path& path, const ModelCatalog& models,
                     const TraceOptions& opt = {});
// Parses CSV text (`origin` names it in errors); same rules as load_trace_csv.
Trace parse_trace_csv(std::string_view text, const std::string& origin, const ModelCatalog& models,
                      const TraceOptions& opt = {});

// A Gavel simulator trace (.trace: tab-separated job_type, command, working_directory,
// num_steps_arg, needs_data_dir, total_steps, scale_factor, priority_weight, SLO,
// arrival_time; no header). job_type is "<model> (batch size N)" with one of our models (Gavel's
// own ResNet/Transformer/... types are not in the profile database: an error lists ours);
// iterations = total_steps (no artifact scaling), GPUs = scale_factor (1..16, a power of two),
// submission = arrival_time; the type is not in the format (gpu_type below); priority_weight
// and SLO (a multiple of an isolated duration Gavel computes from its own throughputs) are
// checked but not used: jobs get no deadline (kNoDeadline after arrival).
struct GavelTraceOptions {
  std::string gpu_type = "v100";  // requested type for every job
};
inline constexpr double kNoDeadline = 1e9;  // the artifact's LOOSEN_DEADLINE
Trace parse_gavel_trace(std::string_view text, const std::string& origin,
                        const ModelCatalog& models, const GavelTraceOptions& opt = {});
Trace load_gavel_trace(const std::filesystem::path& path, const ModelCatalog& models,
                       const GavelTraceOptions& opt = {});

// Groups jobs into 300 s rounds in file order: t0 = first job's time; round k holds times in
// (t0+300k, t0+300(k+1)] (round 0 also t0); a row earlier than the open round joins it.
// Throws Error::input when a job falls kMaxTraceRounds or more rounds after t0 (the simulator
// keeps a value per round).
inline constexpr int kMaxTraceRounds = 1'000'000;  // 9.5 years of 300 s rounds
void assign_rounds(Trace& trace, double interval = 300);

inline constexpr int kMaxSyntheticJobs = 10'000'000;

struct SyntheticSpec {
  int jobs = 1000;            // 1..kMaxSyntheticJobs
  double rate_per_hour = 60;  // Poisson arrival rate, > 0
  std::uint64_t seed = 1;
  bool seed_given = false;  // seed= was in the spec (parse_synthetic_spec)
};

// Parses "jobs=N,rate=R,seed=S" (any subset, any order; the rest keep SyntheticSpec's
// defaults): jobs an integer in 1..kMaxSyntheticJobs, rate a number in (0, 1e9] (jobs per
// hour), seed an integer in 0..2^64-1. Throws Error::usage naming the parameter otherwise
// (jobs=0.5, jobs=0, an unknown or repeated key).
SyntheticSpec parse_synthetic_spec(std::string_view params);

// A synthetic trace: Poisson arrivals, a model mix over the profiled (model, batch) pairs,
// GPU counts 1..16 (at least 2^size-index, so larger models fit) and types uniformly,
// iterations log-uniform; deterministic for the seed.
Trace synthetic_trace(const SyntheticSpec& spec, const ModelCatalog& models);

// "philly" | "venus" | "helios" | "pai" | "synthetic:jobs=N,rate=R,seed=S" | a CSV path |
// a Gavel trace path (ending in .trace, or prefixed "gavel:"). A synthetic trace's seed is the
// spec's seed=, else opt.synthetic_seed, else 1.
Trace trace_from_spec(std::string_view spec, const ModelCatalog& models,
                      const TraceOptions& opt = {});

}  // namespace gearbox::sched
