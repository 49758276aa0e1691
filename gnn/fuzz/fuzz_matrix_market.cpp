// libFuzzer target: the Matrix Market and edge-list parsers must turn any input into either a
// valid COO (indices in range) or a gearbox::Error, never a crash, hang or huge allocation.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gearbox/core/error.hpp"
#include "gearbox/gnn/edge_list.hpp"
#include "gearbox/gnn/matrix_market.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto mm = gearbox::gnn::parse_matrix_market(text, "fuzz", std::uint64_t{64} << 20);
    for (std::size_t k = 0; k < mm.coo.row.size(); ++k)
      if (mm.coo.row[k] < 0 || mm.coo.row[k] >= mm.coo.rows || mm.coo.col[k] < 0 ||
          mm.coo.col[k] >= mm.coo.cols)
        std::abort();
  } catch (const gearbox::Error&) {
  }
  try {
    const auto coo = gearbox::gnn::parse_edge_list(text, "fuzz");
    if (coo.row.size() != coo.col.size()) std::abort();
  } catch (const gearbox::Error&) {
  }
  return 0;
}
