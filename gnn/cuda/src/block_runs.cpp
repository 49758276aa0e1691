// Runs of equal-size, equally spaced diagonal blocks (one strided-batched GEMM each).
#include "gearbox/gnn/cuda/block_runs.hpp"

#include "gearbox/core/error.hpp"

namespace gearbox::gnn::cuda {

namespace {

void check_sorted(const std::vector<BlockInfo>& blocks) {
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    if (blocks[i].end < blocks[i].begin || blocks[i].begin < 0)
      throw Error::runtime("dense blocks: block with end before begin")
          .found(std::to_string(blocks[i].begin) + ".." + std::to_string(blocks[i].end));
    if (i > 0 && blocks[i].begin < blocks[i - 1].end)
      throw Error::runtime("dense blocks: blocks overlap or are out of order")
          .found(std::to_string(blocks[i].begin) + " < " + std::to_string(blocks[i - 1].end));
  }
}

}  // namespace

std::vector<BlockRun> plan_block_runs(const std::vector<BlockInfo>& blocks) {
  check_sorted(blocks);
  std::vector<BlockRun> runs;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const BlockInfo& b = blocks[i];
    if (b.size() == 0) continue;
    if (!runs.empty()) {
      BlockRun& r = runs.back();
      const index_t last_begin = r.first_begin + static_cast<index_t>(r.count - 1) * r.stride;
      const bool same_size = b.size() == r.size;
      const bool contiguous_index = r.first_block + r.count == i;
      if (same_size && contiguous_index && r.count == 1) {
        r.stride = b.begin - r.first_begin;
        ++r.count;
        continue;
      }
      if (same_size && contiguous_index && b.begin - last_begin == r.stride) {
        ++r.count;
        continue;
      }
    }
    runs.push_back({b.size(), b.begin, b.size(), 1, i});
  }
  return runs;
}

std::vector<std::pair<index_t, index_t>> uncovered_ranges(const std::vector<BlockInfo>& blocks,
                                                          index_t rows) {
  check_sorted(blocks);
  std::vector<std::pair<index_t, index_t>> out;
  index_t at = 0;
  for (const BlockInfo& b : blocks) {
    if (b.size() == 0) continue;
    if (b.begin > at) out.emplace_back(at, std::min(b.begin, rows));
    at = std::max(at, b.end);
  }
  if (at < rows) out.emplace_back(at, rows);
  return out;
}

}  // namespace gearbox::gnn::cuda
