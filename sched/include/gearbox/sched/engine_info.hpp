// What the sched engine is, in one line, for --help and doctor.
#pragma once

namespace gearbox::sched {

// One-line description of the engine.
const char* engine_summary();

}  // namespace gearbox::sched
