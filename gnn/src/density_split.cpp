#include "gearbox/gnn/density_split.hpp"

#include <algorithm>

namespace gearbox::gnn {

const char* density_class_name(DensityClass c) {
  switch (c) {
    case DensityClass::kDense:
      return "dense";
    case DensityClass::kMedium:
      return "medium";
    case DensityClass::kSparse:
      return "sparse";
  }
  return "?";
}

std::vector<BlockInfo> diagonal_blocks(const Csr& a, const std::vector<index_t>& starts) {
  std::vector<BlockInfo> blocks;
  for (std::size_t b = 0; b + 1 < starts.size(); ++b) {
    BlockInfo info{starts[b], starts[b + 1], 0};
    for (index_t r = info.begin; r < info.end; ++r) {
      const auto* c0 = a.col.data() + a.rowptr[r];
      const auto* c1 = a.col.data() + a.rowptr[r + 1];
      info.nnz += std::lower_bound(c0, c1, info.end) - std::lower_bound(c0, c1, info.begin);
    }
    blocks.push_back(info);
  }
  return blocks;
}

DensitySplit split_by_density(const Csr& a, const std::vector<BlockInfo>& blocks,
                              const SplitThresholds& th) {
  DensitySplit s;
  // Class of the block each row belongs to, and the block's range.
  std::vector<int> row_class(static_cast<std::size_t>(a.rows),
                             static_cast<int>(DensityClass::kSparse));
  std::vector<index_t> row_lo(static_cast<std::size_t>(a.rows), 0),
      row_hi(static_cast<std::size_t>(a.rows), 0);
  for (const auto& b : blocks) {
    const DensityClass c = th.classify(b.density());
    s.blocks[static_cast<int>(c)].push_back(b);
    for (index_t r = b.begin; r < b.end; ++r) {
      row_class[r] = static_cast<int>(c);
      row_lo[r] = b.begin;
      row_hi[r] = b.end;
    }
  }
  for (auto& p : s.part) {
    p.rows = a.rows;
    p.cols = a.cols;
    p.rowptr.assign(static_cast<std::size_t>(a.rows) + 1, 0);
  }
  for (index_t r = 0; r < a.rows; ++r) {
    for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) {
      const index_t c = a.col[k];
      const bool inside = c >= row_lo[r] && c < row_hi[r];
      Csr& p = s.part[inside ? row_class[r] : static_cast<int>(DensityClass::kSparse)];
      p.col.push_back(c);
      p.val.push_back(a.val[k]);
    }
    for (auto& p : s.part) p.rowptr[r + 1] = p.nnz();
  }
  return s;
}

double intra_community_share(const Csr& a, const std::vector<BlockInfo>& blocks,
                             const std::vector<std::int32_t>& community) {
  if (static_cast<index_t>(community.size()) != a.rows) return -1;
  std::vector<index_t> lo(static_cast<std::size_t>(a.rows), 0), hi(lo.size(), 0);
  for (const auto& b : blocks)
    for (index_t r = std::max<index_t>(0, b.begin); r < std::min(b.end, a.rows); ++r) {
      lo[r] = b.begin;
      hi[r] = b.end;
    }
  offset_t intra = 0, inside = 0;
  for (index_t r = 0; r < a.rows; ++r)
    for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) {
      const index_t c = a.col[k];
      if (c == r || c >= a.rows || community[r] < 0 || community[r] != community[c]) continue;
      ++intra;
      inside += c >= lo[r] && c < hi[r];
    }
  return intra > 0 ? static_cast<double>(inside) / static_cast<double>(intra) : -1.0;
}

nlohmann::json density_report(const Csr& a, const std::vector<BlockInfo>& blocks,
                              const SplitThresholds& th) {
  const double edges[] = {0.0, 0.01, 0.05, 0.10, 0.25, 0.50, 1.0000001};
  const char* names[] = {"[0,1%)", "[1%,5%)", "[5%,10%)", "[10%,25%)", "[25%,50%)", "[50%,100%]"};
  nlohmann::json hist = nlohmann::json::array();
  offset_t diag = 0;
  std::array<offset_t, kDensityClasses> cls_nnz{};
  std::array<std::int64_t, kDensityClasses> cls_blocks{};
  for (int h = 0; h < 6; ++h) {
    std::int64_t count = 0;
    offset_t nnz = 0;
    for (const auto& b : blocks)
      if (b.density() >= edges[h] && b.density() < edges[h + 1]) {
        ++count;
        nnz += b.nnz;
      }
    hist.push_back({{"density", names[h]}, {"blocks", count}, {"nnz", nnz}});
  }
  std::vector<index_t> sizes;
  for (const auto& b : blocks) {
    diag += b.nnz;
    const int c = static_cast<int>(th.classify(b.density()));
    cls_nnz[c] += b.nnz;
    ++cls_blocks[c];
    sizes.push_back(b.size());
  }
  std::sort(sizes.begin(), sizes.end());
  const double total = std::max<double>(1.0, static_cast<double>(a.nnz()));
  nlohmann::json classes = nlohmann::json::object();
  for (int c = 0; c < kDensityClasses; ++c) {
    const offset_t nnz = c == static_cast<int>(DensityClass::kSparse)
                             ? a.nnz() - cls_nnz[0] - cls_nnz[1]
                             : cls_nnz[c];
    classes[density_class_name(static_cast<DensityClass>(c))] = {
        {"blocks", cls_blocks[c]}, {"nnz", nnz}, {"nnz_share", static_cast<double>(nnz) / total}};
  }
  return {{"nodes", a.rows},
          {"nnz", a.nnz()},
          {"blocks", blocks.size()},
          {"block_size_median", sizes.empty() ? 0 : sizes[sizes.size() / 2]},
          {"block_size_max", sizes.empty() ? 0 : sizes.back()},
          {"nnz_in_diagonal_blocks_share", static_cast<double>(diag) / total},
          {"thresholds", {{"dense_min", th.dense_min}, {"medium_min", th.medium_min}}},
          {"density_histogram", hist},
          {"classes", classes}};
}

}  // namespace gearbox::gnn
