// Gavel's simulator trace (.trace): one job per line, tab-separated, no header, as its
// scheduler/utils.py parse_trace reads it: job_type, command, working_directory,
// num_steps_arg, needs_data_dir, total_steps, scale_factor, priority_weight, SLO,
// arrival_time.
#include <algorithm>
#include <cmath>

#include "gearbox/sched/trace.hpp"
#include "trace_fields.hpp"

namespace gearbox::sched {

namespace {

const char* kGavelColumns[] = {
    "job_type",    "command",      "working_directory", "num_steps_arg", "needs_data_dir",
    "total_steps", "scale_factor", "priority_weight",   "SLO",           "arrival_time"};
constexpr int kNumGavelColumns = 10;
constexpr std::string_view kBatchMarker = "(batch size ";

// "bert-1.3B (batch size 256)" -> model and batch (Gavel's job_type convention).
void parse_job_type(const RowContext& ctx, std::string_view type, const ModelCatalog& models,
                    Job& j) {
  const auto at = type.find(kBatchMarker);
  if (at == std::string_view::npos || type.empty() || type.back() != ')') {
    throw bad(ctx, 0, "job type without a batch size", "'<model> (batch size N)'", type);
  }
  const std::string_view name = trim(type.substr(0, at));
  const std::string_view batch =
      type.substr(at + kBatchMarker.size(), type.size() - 1 - at - kBatchMarker.size());
  j.model = models.find(name);
  if (j.model.family < 0) {
    throw bad(ctx, 0, "unknown model (Gavel's own job types are not profiled)",
              "one of " + models.known_models(), name);
  }
  j.batch = static_cast<int>(parse_int(ctx, 0, trim(batch), 1, 1 << 20));
}

}  // namespace

Trace parse_gavel_trace(std::string_view text, const std::string& origin,
                        const ModelCatalog& models, const GavelTraceOptions& opt) {
  Trace trace;
  std::uint64_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    const RowContext ctx{origin, line_no, kGavelColumns};
    const auto cells = split_fields(line, '\t');
    if (cells.size() != kNumGavelColumns) {
      throw Error::input("wrong number of tab-separated columns")
          .at(origin, line_no)
          .expected(std::to_string(kNumGavelColumns))
          .found(std::to_string(cells.size()));
    }
    Job j;
    j.id = "job_" + std::to_string(trace.jobs.size());
    parse_job_type(ctx, trim(cells[0]), models, j);
    parse_int(ctx, 4, trim(cells[4]), 0, 1);  // needs_data_dir: 0 or 1
    j.iterations = parse_int(ctx, 5, trim(cells[5]), 1, 1'000'000'000'000);
    j.req_gpus = static_cast<int>(parse_int(ctx, 6, trim(cells[6]), 1, 16));
    if ((j.req_gpus & (j.req_gpus - 1)) != 0) {
      throw bad(ctx, 6, "unsupported GPU count", "1, 2, 4, 8 or 16", trim(cells[6]));
    }
    parse_double(ctx, 7, trim(cells[7]));  // priority_weight: read, not used by our policies
    const std::string_view slo = trim(cells[8]);
    if (slo != "None" && slo != "-1" && slo != "-1.0") parse_double(ctx, 8, slo);
    j.submit = parse_double(ctx, 9, trim(cells[9]));
    j.deadline = j.submit + kNoDeadline;
    j.req_type = opt.gpu_type;
    trace.jobs.push_back(std::move(j));
  }
  if (trace.jobs.empty()) throw Error::input("trace without jobs").at(origin);
  assign_rounds(trace);
  return trace;
}

Trace load_gavel_trace(const std::filesystem::path& path, const ModelCatalog& models,
                       const GavelTraceOptions& opt) {
  Trace t = parse_gavel_trace(read_trace_file(path), path.string(), models, opt);
  t.name = path.stem().string();
  return t;
}

}  // namespace gearbox::sched
