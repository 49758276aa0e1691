// What the serve engine is, in one line, for --help and doctor.
#pragma once

namespace gearbox::serve {

// One-line description of the engine.
const char* engine_summary();

}  // namespace gearbox::serve
