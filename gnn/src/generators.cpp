#include "gearbox/gnn/generators.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "gearbox/core/error.hpp"
#include "gearbox/core/memory_guard.hpp"
#include "gearbox/gnn/text_file.hpp"

namespace gearbox::gnn {

namespace {

// splitmix64: small, fast, good enough for graph generation.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  std::uint64_t below(std::uint64_t n) { return n ? next() % n : 0; }
};

std::map<std::string, std::string> spec_fields(const std::string& spec, const std::string& kind) {
  std::map<std::string, std::string> kv;
  std::string rest = spec.substr(kind.size() + 1);
  std::size_t pos = 0;
  while (pos <= rest.size() && !rest.empty()) {
    std::size_t end = rest.find(',', pos);
    if (end == std::string::npos) end = rest.size();
    const std::string item = rest.substr(pos, end - pos);
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error::usage("bad generator parameter").field(kind).expected("key=value").found(item);
    kv[item.substr(0, eq)] = item.substr(eq + 1);
    pos = end + 1;
    if (end == rest.size()) break;
  }
  return kv;
}

double number(const std::map<std::string, std::string>& kv, const std::string& key, double def,
              double lo, double hi) {
  auto it = kv.find(key);
  if (it == kv.end()) return def;
  float v = 0;
  if (!parse_float(it->second, v) || v < lo || v > hi)
    throw Error::usage("bad generator parameter")
        .field(key)
        .expected("a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]")
        .found(it->second);
  // Integers beyond float precision: reparse exactly.
  std::uint64_t u = 0;
  if (parse_u64(it->second, u)) return static_cast<double>(u);
  return v;
}

void check_keys(const std::map<std::string, std::string>& kv,
                std::initializer_list<const char*> known) {
  for (const auto& [k, v] : kv)
    if (std::none_of(known.begin(), known.end(), [&](const char* x) { return k == x; }))
      throw Error::usage("unknown generator parameter").field(k);
}

// Refuses a generator whose graph cannot fit in memory: per node the row counts, the shuffle
// and the CSR row pointers (32 bytes); per edge both directions in COO and CSR (48 bytes).
void check_generator_memory(const char* field, double nodes, double entries) {
  const double need = nodes * 32 + entries * 2 * 12 * 2;
  const double cap = 1.8e19;  // beyond uint64: refused by any budget
  check_memory(static_cast<std::uint64_t>(std::min(need, cap)), "--graph", field,
               std::to_string(static_cast<std::uint64_t>(nodes)) + " nodes and " +
                   std::to_string(static_cast<std::uint64_t>(entries)) + " edges");
}

// The generator of node i's draws in the SBM: a stream of its own, so that nodes can be
// generated in parallel and the graph does not depend on the thread count.
Rng node_rng(std::uint64_t base, std::int64_t i) {
  Rng r{base + 0xd1b54a32d192ed03ull * static_cast<std::uint64_t>(i + 1)};
  r.s = r.next();
  return r;
}

// Shuffled ids: the node with "planted" id i gets id perm[i].
std::vector<index_t> sbm_permutation(const SbmParams& p) {
  Rng rng{p.seed * 0x2545f4914f6cdd1dull + 1};
  std::vector<index_t> perm(static_cast<std::size_t>(p.n));
  std::iota(perm.begin(), perm.end(), 0);
  for (std::int64_t i = p.n - 1; i > 0; --i)
    std::swap(perm[i], perm[rng.below(static_cast<std::uint64_t>(i) + 1)]);
  return perm;
}

}  // namespace

bool is_generator_spec(const std::string& spec) {
  return spec.rfind("sbm:", 0) == 0 || spec.rfind("rmat:", 0) == 0;
}

SbmParams parse_sbm_spec(const std::string& spec) {
  auto kv = spec_fields(spec, "sbm");
  check_keys(kv, {"n", "block", "din", "dout", "seed"});
  SbmParams p;
  p.n = static_cast<std::int64_t>(number(kv, "n", 10000, 1, 2e9));
  p.block = static_cast<std::int64_t>(number(kv, "block", 256, 1, 2e9));
  p.din = number(kv, "din", 16, 0, 1e6);
  p.dout = number(kv, "dout", 4, 0, 1e6);
  p.seed = static_cast<std::uint64_t>(number(kv, "seed", 0, 0, 1.8e19));
  check_generator_memory("sbm:n", static_cast<double>(p.n),
                         static_cast<double>(p.n) * (p.din + p.dout) / 2);
  return p;
}

RmatParams parse_rmat_spec(const std::string& spec) {
  auto kv = spec_fields(spec, "rmat");
  check_keys(kv, {"scale", "ef", "seed", "a", "b", "c"});
  RmatParams p;
  p.scale = static_cast<int>(number(kv, "scale", 16, 1, 30));
  p.edge_factor = number(kv, "ef", 16, 0, 1e4);
  p.a = number(kv, "a", 0.57, 0, 1);
  p.b = number(kv, "b", 0.19, 0, 1);
  p.c = number(kv, "c", 0.19, 0, 1);
  if (p.a + p.b + p.c > 1.0) throw Error::usage("rmat: a + b + c must be <= 1");
  p.seed = static_cast<std::uint64_t>(number(kv, "seed", 0, 0, 1.8e19));
  check_generator_memory("rmat:scale", std::ldexp(1.0, p.scale),
                         std::ldexp(1.0, p.scale) * p.edge_factor);
  return p;
}

Csr generate_sbm(const SbmParams& p, std::vector<std::int32_t>* community) {
  const index_t n = static_cast<index_t>(p.n);
  const std::int64_t block = std::max<std::int64_t>(1, std::min(p.block, p.n));
  const std::uint64_t base = p.seed * 0x2545f4914f6cdd1dull + 1;
  const std::vector<index_t> perm = sbm_permutation(p);
  // Each node draws Poisson-ish (rounded with random remainder) half of its expected degree:
  // the other half arrives from its neighbours' draws. Two passes over the nodes, each node
  // replaying its own random stream: count the draws, then write them at their offsets.
  const auto draws = [](Rng& r, double half) {
    const double fl = std::floor(half);
    return static_cast<std::int64_t>(fl) + (r.uniform() < half - fl ? 1 : 0);
  };
  const auto community_of = [&](std::int64_t i) {
    const std::int64_t c0 = (i / block) * block;
    return std::pair{c0, std::min<std::int64_t>(block, p.n - c0)};
  };
  std::vector<std::int64_t> start(static_cast<std::size_t>(n) + 1, 0);
#pragma omp parallel for schedule(static)
  for (index_t i = 0; i < n; ++i) {
    Rng r = node_rng(base, i);
    const auto [c0, csize] = community_of(i);
    const std::int64_t kin = csize > 1 ? draws(r, p.din / 2) : 0;
    const std::int64_t kout = p.n - csize > 0 ? draws(r, p.dout / 2) : 0;
    start[i + 1] = kin + kout;
  }
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<index_t> src(static_cast<std::size_t>(start[n])), dst(src.size());
#pragma omp parallel for schedule(static)
  for (index_t i = 0; i < n; ++i) {
    Rng r = node_rng(base, i);
    const auto [c0, csize] = community_of(i);
    const std::int64_t outside = p.n - csize;
    const std::int64_t kin = csize > 1 ? draws(r, p.din / 2) : 0;
    const std::int64_t kout = outside > 0 ? draws(r, p.dout / 2) : 0;
    std::int64_t at = start[i];
    for (std::int64_t k = 0; k < kin; ++k, ++at) {
      std::int64_t j = c0 + static_cast<std::int64_t>(r.below(csize - 1));
      if (j >= i) ++j;  // skip self
      src[at] = perm[i];
      dst[at] = perm[j];
    }
    for (std::int64_t k = 0; k < kout; ++k, ++at) {
      std::int64_t j = static_cast<std::int64_t>(r.below(outside));
      if (j >= c0) j += csize;
      src[at] = perm[i];
      dst[at] = perm[j];
    }
  }
  if (community) *community = sbm_communities(p);
  return undirected_from_pairs(n, src, dst);
}

std::vector<std::int32_t> sbm_communities(const SbmParams& p) {
  const std::int64_t block = std::max<std::int64_t>(1, std::min(p.block, p.n));
  const std::vector<index_t> perm = sbm_permutation(p);
  std::vector<std::int32_t> community(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i)
    community[perm[i]] = static_cast<std::int32_t>(static_cast<std::int64_t>(i) / block);
  return community;
}

Csr generate_rmat(const RmatParams& p) {
  const index_t n = static_cast<index_t>(std::int64_t{1} << p.scale);
  const std::int64_t m = static_cast<std::int64_t>(static_cast<double>(n) * p.edge_factor);
  std::vector<index_t> src(static_cast<std::size_t>(m)), dst(static_cast<std::size_t>(m));
  // Quadrant thresholds on a 32-bit uniform: [0, a) top-left, [a, a+b) top-right, [a+b, a+b+c)
  // bottom-left, the rest bottom-right. Each 64-bit draw serves two levels; branch-free.
  const auto at = [](double x) {
    return static_cast<std::uint64_t>(std::min(x, 1.0) * 4294967296.0);
  };
  const std::uint64_t ta = at(p.a), tab = at(p.a + p.b), tabc = at(p.a + p.b + p.c);
#pragma omp parallel for schedule(static)
  for (std::int64_t e = 0; e < m; ++e) {
    Rng rng{p.seed * 0x9e3779b97f4a7c15ull + static_cast<std::uint64_t>(e) * 0xd1b54a32d192ed03ull};
    std::uint64_t u = 0, v = 0, bits = 0;
    for (int level = 0; level < p.scale; ++level) {
      if (level % 2 == 0) bits = rng.next();
      const std::uint64_t x = (level % 2 == 0 ? bits : bits >> 32) & 0xffffffffull;
      const std::uint64_t du = x >= tab, dv = ((x >= ta) & (x < tab)) | (x >= tabc);
      u = (u << 1) | du;
      v = (v << 1) | dv;
    }
    if (u == v) v = (v + 1) % static_cast<std::uint64_t>(n);
    src[e] = static_cast<index_t>(u);
    dst[e] = static_cast<index_t>(v);
  }
  return undirected_from_pairs(n, src, dst);
}

}  // namespace gearbox::gnn
