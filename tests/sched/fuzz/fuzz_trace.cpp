// libFuzzer target for the trace parsers: the artifact's CSV and Gavel's .trace. The first
// byte picks the parser; the rest is the file's text. A parse either throws gearbox::Error or
// returns jobs that satisfy the parsers' contracts (checked here); anything else (a crash, a
// sanitizer report, another exception, a hang) is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "../test_support.hpp"
#include "gearbox/core/error.hpp"
#include "gearbox/sched/trace.hpp"

namespace {

const gearbox::sched::ModelCatalog& catalog() {
  static const gearbox::sched::ModelCatalog cat = gearbox::sched::test::tiny_catalog();
  return cat;
}

void check(const gearbox::sched::Trace& t) {
  int last_round = 0;
  for (const auto& j : t.jobs) {
    const bool ok = j.model.family >= 0 && j.batch >= 1 && j.iterations >= 1 && j.req_gpus >= 1 &&
                    j.req_gpus <= 16 && (j.req_gpus & (j.req_gpus - 1)) == 0 && j.submit >= 0 &&
                    j.round >= last_round && j.round < gearbox::sched::kMaxTraceRounds &&
                    !j.req_type.empty();
    if (!ok) __builtin_trap();
    last_round = j.round;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] & 1) {
      check(gearbox::sched::parse_gavel_trace(text, "fuzz.trace", catalog()));
    } else {
      check(gearbox::sched::parse_trace_csv(text, "fuzz.csv", catalog()));
    }
  } catch (const gearbox::Error&) {
    // Rejected input with a located message: the expected outcome for bad files.
  }
  return 0;
}
