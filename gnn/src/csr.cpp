#include "gearbox/gnn/csr.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "gearbox/core/error.hpp"

namespace gearbox::gnn {

namespace {
// Sorts each row's columns (carrying values) and merges duplicates in place.
void sort_rows(Csr& a, Duplicates dup) {
  std::vector<offset_t> newptr(a.rows + 1, 0);
  offset_t out = 0;
  std::vector<std::pair<index_t, float>> tmp;
  for (index_t r = 0; r < a.rows; ++r) {
    const offset_t b = a.rowptr[r], e = a.rowptr[r + 1];
    tmp.clear();
    for (offset_t k = b; k < e; ++k) tmp.emplace_back(a.col[k], a.val[k]);
    std::sort(tmp.begin(), tmp.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    newptr[r] = out;
    for (std::size_t k = 0; k < tmp.size(); ++k) {
      if (out > newptr[r] && a.col[out - 1] == tmp[k].first) {
        if (dup == Duplicates::kSum) a.val[out - 1] += tmp[k].second;
        continue;
      }
      a.col[out] = tmp[k].first;
      a.val[out] = tmp[k].second;
      ++out;
    }
  }
  newptr[a.rows] = out;
  a.rowptr = std::move(newptr);
  a.col.resize(out);
  a.val.resize(out);
  a.col.shrink_to_fit();
  a.val.shrink_to_fit();
}
}  // namespace

Csr coo_to_csr(const Coo& coo, Duplicates dup) {
  Csr a;
  a.rows = coo.rows;
  a.cols = coo.cols;
  a.rowptr.assign(static_cast<std::size_t>(coo.rows) + 1, 0);
  for (index_t r : coo.row) ++a.rowptr[r + 1];
  std::partial_sum(a.rowptr.begin(), a.rowptr.end(), a.rowptr.begin());
  a.col.resize(coo.row.size());
  a.val.resize(coo.row.size());
  std::vector<offset_t> next(a.rowptr.begin(), a.rowptr.end() - 1);
  for (std::size_t k = 0; k < coo.row.size(); ++k) {
    const offset_t p = next[coo.row[k]]++;
    a.col[p] = coo.col[k];
    a.val[p] = coo.val.empty() ? 1.0f : coo.val[k];
  }
  sort_rows(a, dup);
  return a;
}

Csr transpose(const Csr& a) {
  Csr t;
  t.rows = a.cols;
  t.cols = a.rows;
  t.rowptr.assign(static_cast<std::size_t>(t.rows) + 1, 0);
  for (index_t c : a.col) ++t.rowptr[c + 1];
  std::partial_sum(t.rowptr.begin(), t.rowptr.end(), t.rowptr.begin());
  t.col.resize(a.col.size());
  t.val.resize(a.col.size());
  std::vector<offset_t> next(t.rowptr.begin(), t.rowptr.end() - 1);
  for (index_t r = 0; r < a.rows; ++r)
    for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) {
      const offset_t p = next[a.col[k]]++;
      t.col[p] = r;
      t.val[p] = a.val[k];
    }
  return t;  // rows visited in order, so columns come out sorted
}

Csr symmetrize_pattern(const Csr& a) {
  if (a.rows != a.cols)
    throw Error::input("adjacency matrix must be square")
        .expected("rows == cols")
        .found(std::to_string(a.rows) + " x " + std::to_string(a.cols));
  std::vector<index_t> src(a.col.size());
  for (index_t r = 0; r < a.rows; ++r)
    std::fill(src.begin() + a.rowptr[r], src.begin() + a.rowptr[r + 1], r);
  return undirected_from_pairs(a.rows, src, a.col);
}

Csr permute_symmetric(const Csr& a, std::span<const index_t> new_of_old) {
  Csr p;
  p.rows = a.rows;
  p.cols = a.cols;
  p.rowptr.assign(static_cast<std::size_t>(a.rows) + 1, 0);
  for (index_t r = 0; r < a.rows; ++r) p.rowptr[new_of_old[r] + 1] = a.degree(r);
  std::partial_sum(p.rowptr.begin(), p.rowptr.end(), p.rowptr.begin());
  p.col.resize(a.col.size());
  p.val.resize(a.col.size());
#pragma omp parallel
  {
    std::vector<std::pair<index_t, float>> tmp;  // one buffer per thread
#pragma omp for schedule(dynamic, 1024)
    for (index_t r = 0; r < a.rows; ++r) {
      const offset_t dst = p.rowptr[new_of_old[r]];
      const offset_t b = a.rowptr[r], n = a.degree(r);
      tmp.resize(static_cast<std::size_t>(n));
      for (offset_t k = 0; k < n; ++k) tmp[k] = {new_of_old[a.col[b + k]], a.val[b + k]};
      std::sort(tmp.begin(), tmp.end(),
                [](const auto& x, const auto& y) { return x.first < y.first; });
      for (offset_t k = 0; k < n; ++k) {
        p.col[dst + k] = tmp[k].first;
        p.val[dst + k] = tmp[k].second;
      }
    }
  }
  return p;
}

Csr permute_rows(const Csr& a, std::span<const index_t> new_of_old) {
  Csr p;
  p.rows = a.rows;
  p.cols = a.cols;
  p.rowptr.assign(static_cast<std::size_t>(a.rows) + 1, 0);
  for (index_t r = 0; r < a.rows; ++r) p.rowptr[new_of_old[r] + 1] = a.degree(r);
  std::partial_sum(p.rowptr.begin(), p.rowptr.end(), p.rowptr.begin());
  p.col.resize(a.col.size());
  p.val.resize(a.col.size());
  for (index_t r = 0; r < a.rows; ++r) {
    std::copy(a.col.begin() + a.rowptr[r], a.col.begin() + a.rowptr[r + 1],
              p.col.begin() + p.rowptr[new_of_old[r]]);
    std::copy(a.val.begin() + a.rowptr[r], a.val.begin() + a.rowptr[r + 1],
              p.val.begin() + p.rowptr[new_of_old[r]]);
  }
  return p;
}

Csr gcn_normalize(const Csr& a) {
  Csr h;
  h.rows = a.rows;
  h.cols = a.cols;
  h.rowptr.assign(static_cast<std::size_t>(a.rows) + 1, 0);
  std::vector<float> dinv(a.rows);
  // Per row: degree of A + I (any stored diagonal replaced by the unit self loop) and the
  // entries it will hold; then the rows are filled in parallel at their offsets.
#pragma omp parallel for schedule(static)
  for (index_t r = 0; r < a.rows; ++r) {
    double d = 1.0;  // the self loop
    offset_t entries = 1;
    for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k)
      if (a.col[k] != r) {
        d += a.val[k];
        ++entries;
      }
    dinv[r] = static_cast<float>(1.0 / std::sqrt(d));
    h.rowptr[r + 1] = entries;
  }
  std::partial_sum(h.rowptr.begin(), h.rowptr.end(), h.rowptr.begin());
  h.col.resize(static_cast<std::size_t>(h.rowptr[a.rows]));
  h.val.resize(h.col.size());
#pragma omp parallel for schedule(static)
  for (index_t r = 0; r < a.rows; ++r) {
    offset_t o = h.rowptr[r];
    bool diag_done = false;
    for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) {
      const index_t c = a.col[k];
      if (c == r) continue;
      if (!diag_done && c > r) {
        h.col[o] = r;
        h.val[o++] = dinv[r] * dinv[r];
        diag_done = true;
      }
      h.col[o] = c;
      h.val[o++] = dinv[r] * a.val[k] * dinv[c];
    }
    if (!diag_done) {
      h.col[o] = r;
      h.val[o] = dinv[r] * dinv[r];
    }
  }
  return h;
}

void normalize_rows(Csr& a) {
  for (index_t r = 0; r < a.rows; ++r) {
    double s = 0;
    for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) s += a.val[k];
    if (s == 0) continue;
    for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k)
      a.val[k] = static_cast<float>(a.val[k] / s);
  }
}

std::vector<index_t> invert_permutation(std::span<const index_t> p) {
  std::vector<index_t> inv(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) inv[p[i]] = static_cast<index_t>(i);
  return inv;
}

std::uint64_t checksum(const Csr& a) {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* data, std::size_t bytes) {  // FNV-1a over 8-byte words
    const auto* p = static_cast<const unsigned char*>(data);
    std::size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      h = (h ^ w) * 1099511628211ull;
    }
    for (; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ull;
  };
  mix(&a.rows, sizeof a.rows);
  mix(&a.cols, sizeof a.cols);
  mix(a.rowptr.data(), a.rowptr.size() * sizeof(offset_t));
  mix(a.col.data(), a.col.size() * sizeof(index_t));
  mix(a.val.data(), a.val.size() * sizeof(float));
  return h;
}

}  // namespace gearbox::gnn
