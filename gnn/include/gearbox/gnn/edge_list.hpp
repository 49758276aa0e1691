// SNAP-style edge lists: `#` or `%` comment lines, then one `u v` pair per line (0-based ids,
// whitespace-separated; extra columns such as weights or timestamps are ignored).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn {

// Parses edge-list text into a square COO with n = largest id + 1; `origin` names the source
// in errors (negative or non-numeric id, id above 2^31-2, a line with one field).
Coo parse_edge_list(std::string_view text, const std::string& origin);

// Reads an edge list file (.gz allowed).
Coo read_edge_list(const std::filesystem::path& path);

}  // namespace gearbox::gnn
