#include "gearbox/gnn/reorder.hpp"

#include <metis.h>

#include <algorithm>
#include <array>
#include <numeric>

#include "gearbox/core/error.hpp"
#include "gearbox/core/stats.hpp"

namespace gearbox::gnn {

ReorderMethod parse_reorder(const std::string& s) {
  if (s == "none") return ReorderMethod::kNone;
  if (s == "degree") return ReorderMethod::kDegree;
  if (s == "lp") return ReorderMethod::kLabelProp;
  if (s == "metis") return ReorderMethod::kMetis;
  throw Error::usage("unknown reordering")
      .field("--reorder")
      .expected("metis|lp|degree|none")
      .found(s);
}

const char* reorder_name(ReorderMethod m) {
  switch (m) {
    case ReorderMethod::kNone:
      return "none";
    case ReorderMethod::kDegree:
      return "degree";
    case ReorderMethod::kLabelProp:
      return "lp";
    case ReorderMethod::kMetis:
      return "metis";
  }
  return "?";
}

namespace {

std::uint64_t mix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void fixed_blocks(Ordering& o, index_t n, int max_block) {
  o.block_starts.clear();
  for (index_t s = 0; s < n; s += max_block) o.block_starts.push_back(s);
  o.block_starts.push_back(n);
}

std::vector<index_t> metis_parts(const Csr& adj, int max_block) {
  const index_t n = adj.rows;
  // Parts of about 0.8 max_block, so that METIS's allowed imbalance stays under max_block.
  const idx_t target = std::max<idx_t>(1, max_block * 4 / 5);
  idx_t nparts = std::max<idx_t>(1, (n + target - 1) / target);
  std::vector<index_t> part(static_cast<std::size_t>(n), 0);
  if (nparts == 1 || adj.nnz() == 0) return part;
  std::vector<idx_t> xadj(adj.rowptr.begin(), adj.rowptr.end());
  std::vector<idx_t> adjncy(adj.col.begin(), adj.col.end());
  idx_t nv = n, ncon = 1, objval = 0;
  std::vector<idx_t> where(static_cast<std::size_t>(n));
  idx_t options[METIS_NOPTIONS];
  METIS_SetDefaultOptions(options);
  options[METIS_OPTION_SEED] = 1;
  // METIS asks that parts be reasonably balanced: allow 20% imbalance (ufactor in 1/1000).
  options[METIS_OPTION_UFACTOR] = 200;
  const int rc =
      METIS_PartGraphKway(&nv, &ncon, xadj.data(), adjncy.data(), nullptr, nullptr, nullptr,
                          &nparts, nullptr, nullptr, options, &objval, where.data());
  if (rc != METIS_OK)
    throw Error::runtime("METIS_PartGraphKway failed (code " + std::to_string(rc) + ")");
  for (index_t i = 0; i < n; ++i) part[i] = static_cast<index_t>(where[i]);
  return part;
}

}  // namespace

namespace {
// Label counts of one small row: open addressing with linear probing over 128 slots.
struct LabelTable {
  static constexpr int kSlots = 128;
  struct Slot {
    index_t label = -1;
    std::int32_t count = 0;
  };
  std::array<Slot, kSlots> slot{};
  std::vector<int> used;  // occupied slots, in first-appearance order
  void add(index_t l) {
    int h = static_cast<int>((static_cast<std::uint32_t>(l) * 0x9e3779b1u) >> 25);
    while (slot[h].label != -1 && slot[h].label != l) h = (h + 1) & (kSlots - 1);
    if (slot[h].label == -1) {
      slot[h] = {l, 0};
      used.push_back(h);
    }
    ++slot[h].count;
  }
  void clear() {
    for (int h : used) slot[h].label = -1;
    used.clear();
  }
};

// The label node u takes: the most frequent among its neighbours; its current label when that
// is among the most frequent; else the one with the smallest tie key. Rows of up to 64
// neighbours count in `table`, larger ones in `count` (all zero on entry and on return).
index_t most_frequent_label(const Csr& adj, index_t u, const std::vector<index_t>& label,
                            std::vector<std::int32_t>& count, std::vector<index_t>& buf,
                            LabelTable& table) {
  const offset_t b = adj.rowptr[u], e = adj.rowptr[u + 1];
  const index_t cur = label[u];
  // Ties between other labels go to the smallest hash of (label, u): a fixed, order-free
  // choice that does not favour small label ids (which would merge communities).
  std::uint64_t salt = static_cast<std::uint64_t>(u) * 0x9e3779b97f4a7c15ull;
  const std::uint64_t base = mix(salt);
  const auto key = [base](index_t l) {
    std::uint64_t x = base ^ static_cast<std::uint64_t>(l);
    return mix(x);
  };
  index_t best = cur;
  std::int64_t best_count = 0;
  std::uint64_t best_key = 0;  // key(best) while best != cur
  const auto consider = [&](index_t l, std::int64_t c) {
    if (l == cur) {
      if (c >= best_count) {
        best = cur;
        best_count = c;
      }
    } else if (c > best_count) {
      best = l;
      best_count = c;
      best_key = key(l);
    } else if (c == best_count && best != cur) {
      const std::uint64_t k = key(l);
      if (k < best_key) {
        best = l;
        best_key = k;
      }
    }
  };
  if (e - b <= LabelTable::kSlots / 2) {
    // Small rows count in a table that stays in L1 (no scattered writes to a node-sized array).
    for (offset_t k = b; k < e; ++k) table.add(label[adj.col[k]]);
    for (int h : table.used) consider(table.slot[h].label, table.slot[h].count);
    table.clear();
    return best;
  }
  // Distinct labels into buf (first appearance), their counts in count.
  buf.clear();
  for (offset_t k = b; k < e; ++k) {
    const index_t l = label[adj.col[k]];
    if (count[l]++ == 0) buf.push_back(l);
  }
  for (index_t l : buf) consider(l, count[l]);
  for (index_t l : buf) count[l] = 0;
  return best;
}
}  // namespace

std::vector<index_t> label_propagation(const Csr& adj, int max_iters, std::uint64_t seed) {
  const index_t n = adj.rows;
  std::vector<index_t> label(static_cast<std::size_t>(n));
  std::iota(label.begin(), label.end(), 0);
  // Visiting order: chunks of 256 consecutive ids in random order, ids in order inside a
  // chunk (rows are then read sequentially, which the hardware prefetches).
  constexpr index_t kChunk = 256;
  const index_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<index_t> chunk_order(static_cast<std::size_t>(chunks));
  std::iota(chunk_order.begin(), chunk_order.end(), 0);
  std::uint64_t s = seed + 12345;
  for (index_t i = chunks - 1; i > 0; --i) std::swap(chunk_order[i], chunk_order[mix(s) % (i + 1)]);
  std::vector<index_t> order;
  order.reserve(static_cast<std::size_t>(n));
  for (index_t c : chunk_order)
    for (index_t u = c * kChunk; u < std::min(n, (c + 1) * kChunk); ++u) order.push_back(u);
  std::vector<std::int32_t> count(static_cast<std::size_t>(n), 0);
  std::vector<index_t> buf;
  LabelTable table;
  // A node is re-evaluated only when a neighbour's label changed since its last evaluation:
  // otherwise the rule gives the label it already holds, so the result is that of full
  // sweeps, at the cost of the changes only.
  std::vector<char> active(static_cast<std::size_t>(n), 1);
  // Each visit waits on memory for its neighbours' labels (and, at chunk starts, for the row):
  // prefetch the row pointers, rows and labels of the nodes 16, 8 and 2 visits ahead.
  const auto prefetch = [&](std::size_t i) {
    if (i + 16 < order.size()) __builtin_prefetch(&adj.rowptr[order[i + 16]]);
    if (i + 8 < order.size() && active[order[i + 8]])
      __builtin_prefetch(&adj.col[adj.rowptr[order[i + 8]]]);
    if (i + 2 < order.size() && active[order[i + 2]]) {
      const index_t v = order[i + 2];
      const offset_t b = adj.rowptr[v], e = std::min(adj.rowptr[v + 1], b + 32);
      for (offset_t k = b; k < e; ++k) __builtin_prefetch(&label[adj.col[k]]);
    }
  };
  for (int it = 0; it < max_iters; ++it) {
    std::int64_t changed = 0;
    for (std::size_t i = 0; i < order.size(); ++i) {
      prefetch(i);
      const index_t u = order[i];
      if (!active[u]) continue;
      active[u] = 0;
      const index_t best = most_frequent_label(adj, u, label, count, buf, table);
      if (best != label[u]) {
        label[u] = best;
        ++changed;
        for (offset_t k = adj.rowptr[u]; k < adj.rowptr[u + 1]; ++k) active[adj.col[k]] = 1;
      }
    }
    if (changed * 1000 < n) break;
  }
  return label;
}

Ordering ordering_from_parts(const std::vector<index_t>& part, int max_block) {
  const index_t n = static_cast<index_t>(part.size());
  Ordering o;
  // Parts numbered by first appearance, then a stable counting sort of nodes by part.
  std::vector<index_t> rank(static_cast<std::size_t>(n) + 1, -1);
  index_t parts = 0;
  std::vector<index_t> key(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) {
    const index_t p = part[i];
    if (rank[p] < 0) rank[p] = parts++;
    key[i] = rank[p];
  }
  std::vector<index_t> start(static_cast<std::size_t>(parts) + 1, 0);
  for (index_t i = 0; i < n; ++i) ++start[key[i] + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  o.new_of_old.resize(static_cast<std::size_t>(n));
  std::vector<index_t> next(start.begin(), start.end() - 1);
  for (index_t i = 0; i < n; ++i) o.new_of_old[i] = next[key[i]]++;
  o.communities = parts;
  // Blocks follow the parts: a part of at least kOwnBlock nodes is a block of its own (a part
  // above max_block is cut into near-equal pieces), and runs of smaller parts are merged into
  // blocks of up to min(max_block, kMergeCap) nodes.
  constexpr index_t kOwnBlock = 32, kMergeCap = 256;
  const index_t merge_cap = std::min<index_t>(max_block, kMergeCap);
  o.block_starts.push_back(0);
  const auto cut = [&](index_t at) {
    if (at > o.block_starts.back()) o.block_starts.push_back(at);
  };
  for (index_t p = 0; p < parts; ++p) {
    const index_t b = start[p], e = start[p + 1], size = e - b;
    if (size >= std::min<index_t>(kOwnBlock, max_block)) {
      cut(b);
      const index_t pieces = (size + max_block - 1) / max_block;
      for (index_t i = 1; i <= pieces; ++i)
        cut(b + static_cast<index_t>(static_cast<std::int64_t>(size) * i / pieces));
    } else if (e - o.block_starts.back() > merge_cap) {
      cut(b);  // the open run of small parts is full: this part starts the next one
    }
  }
  cut(n);
  return o;
}

Ordering compute_ordering(const Csr& adj, ReorderMethod method, int max_block, std::uint64_t seed) {
  Stopwatch sw;
  const index_t n = adj.rows;
  max_block = std::max(1, max_block);
  Ordering o;
  switch (method) {
    case ReorderMethod::kNone:
      o.new_of_old.resize(static_cast<std::size_t>(n));
      std::iota(o.new_of_old.begin(), o.new_of_old.end(), 0);
      fixed_blocks(o, n, max_block);
      break;
    case ReorderMethod::kDegree: {
      std::vector<index_t> by(static_cast<std::size_t>(n));
      std::iota(by.begin(), by.end(), 0);
      std::stable_sort(by.begin(), by.end(),
                       [&](index_t a, index_t b) { return adj.degree(a) > adj.degree(b); });
      o.new_of_old = invert_permutation(by);
      fixed_blocks(o, n, max_block);
      break;
    }
    case ReorderMethod::kLabelProp:
      o = ordering_from_parts(label_propagation(adj, 20, seed), max_block);
      break;
    case ReorderMethod::kMetis:
      o = ordering_from_parts(metis_parts(adj, max_block), max_block);
      break;
  }
  o.method = method;
  o.seconds = sw.seconds();
  return o;
}

}  // namespace gearbox::gnn
