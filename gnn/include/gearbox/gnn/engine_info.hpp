// What the gnn engine is, in one line, for --help and doctor.
#pragma once

namespace gearbox::gnn {

// One-line description of the engine.
const char* engine_summary();

}  // namespace gearbox::gnn
