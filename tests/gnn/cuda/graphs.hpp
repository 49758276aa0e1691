// Random sparse matrices of awkward shapes for the CUDA engine's tests: empty rows, dense
// diagonal clumps, scattered entries, optionally one row touching every column.
#pragma once

#include <algorithm>
#include <random>
#include <vector>

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn::test {

inline Csr awkward_graph(index_t rows, index_t cols, double p, bool huge_row, std::mt19937& rng) {
  Coo coo;
  coo.rows = rows;
  coo.cols = cols;
  std::uniform_real_distribution<float> val(-1.f, 1.f);
  std::uniform_real_distribution<double> u(0, 1);
  for (index_t i = 0; i < rows; ++i) {
    if (i % 5 == 3) continue;  // empty rows
    for (index_t j = std::max<index_t>(0, i - 6); j < std::min<index_t>(cols, i + 6); ++j)
      if (u(rng) < 0.7) {
        coo.row.push_back(i);
        coo.col.push_back(j);
        coo.val.push_back(val(rng));
      }
    const int extra = static_cast<int>(p * cols);
    for (int k = 0; k < extra && cols > 0; ++k) {
      coo.row.push_back(i);
      coo.col.push_back(static_cast<index_t>(rng() % cols));
      coo.val.push_back(val(rng));
    }
  }
  if (huge_row && rows > 2)
    for (index_t j = 0; j < cols; ++j) {
      coo.row.push_back(rows / 2);
      coo.col.push_back(j);
      coo.val.push_back(val(rng));
    }
  return coo_to_csr(coo);
}

inline std::vector<float> random_floats(std::size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Random block boundaries 0 = s0 < ... = n, blocks of 1..max_block rows.
inline std::vector<index_t> random_starts(index_t n, int max_block, std::mt19937& rng) {
  std::vector<index_t> s{0};
  while (s.back() < n)
    s.push_back(std::min<index_t>(n, s.back() + 1 + static_cast<index_t>(rng() % max_block)));
  return s;
}

// Y (=|+=) A X in double, the reference every kernel is checked against.
inline void spmm_double(const Csr& a, const std::vector<float>& x, int f, std::vector<double>& y,
                        bool accumulate) {
  for (index_t r = 0; r < a.rows; ++r) {
    double* yr = y.data() + static_cast<std::size_t>(r) * f;
    if (!accumulate) std::fill(yr, yr + f, 0.0);
    for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k)
      for (int j = 0; j < f; ++j)
        yr[j] += static_cast<double>(a.val[k]) * x[static_cast<std::size_t>(a.col[k]) * f + j];
  }
}

}  // namespace gearbox::gnn::test
