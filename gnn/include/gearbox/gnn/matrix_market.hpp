// Matrix Market reader: `coordinate` (pattern, real or integer; general or symmetric) and
// dense `array` (real or integer, general), from .mtx or .mtx.gz. Indices are 1-based in the
// file and 0-based in the result. Every malformed input becomes a gearbox::Error naming the
// file and line: bad banner, non-numeric or negative field, index out of range, more or fewer
// entries than the size line declares, a declared size that cannot fit in memory.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn {

struct MatrixMarket {
  Coo coo;               // symmetric files are expanded (both triangles)
  bool pattern = false;  // no values in the file (val holds 1.0)
  bool symmetric = false;
};

// Parses Matrix Market text; `origin` names the source in errors. `memory_limit` bounds the
// bytes the declared sizes may ask for (default: memory_budget_bytes()).
MatrixMarket parse_matrix_market(std::string_view text, const std::string& origin,
                                 std::uint64_t memory_limit = 0);

// Reads and parses a .mtx or .mtx.gz file.
MatrixMarket read_matrix_market(const std::filesystem::path& path);

}  // namespace gearbox::gnn
