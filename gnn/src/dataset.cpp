#include "gearbox/gnn/dataset.hpp"

#include <algorithm>
#include <numeric>

#include "gearbox/core/error.hpp"
#include "gearbox/core/memory_guard.hpp"
#include "gearbox/core/paths.hpp"
#include "gearbox/core/stats.hpp"
#include "gearbox/gnn/edge_list.hpp"
#include "gearbox/gnn/generators.hpp"
#include "gearbox/gnn/graph_cache.hpp"
#include "gearbox/gnn/matrix_market.hpp"
#include "gearbox/gnn/text_file.hpp"

namespace gearbox::gnn {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// The adjacency file and the stem its companions share ("dir/cora" for dir/cora.adj.mtx).
struct Resolved {
  fs::path adjacency;
  std::string stem;  // empty: no companion files
};

Resolved resolve(const std::string& spec) {
  std::error_code ec;
  if (fs::is_regular_file(spec, ec)) {
    Resolved r{spec, ""};
    for (const char* suf : {".adj.mtx.gz", ".adj.mtx"})
      if (ends_with(spec, suf)) r.stem = spec.substr(0, spec.size() - std::string(suf).size());
    return r;
  }
  const auto data = data_dir();
  if (data && spec.find('/') == std::string::npos) {
    for (const char* suf : {".adj.mtx", ".adj.mtx.gz"}) {
      const fs::path p = *data / "graphs" / (spec + suf);
      if (fs::is_regular_file(p, ec)) return {p, (*data / "graphs" / spec).string()};
    }
  }
  std::string known;
  if (data) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(*data / "graphs", ec)) {
      const std::string f = e.path().filename().string();
      const auto pos = f.find(".adj.mtx");
      if (pos != std::string::npos) names.push_back(f.substr(0, pos));
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  }
  throw Error::usage("unknown graph '" + spec + "'")
      .field("--graph")
      .expected("a file, a name among [" + (known.empty() ? "no data dir found" : known) +
                "], or sbm:... / rmat:...");
}

// Refuses `nodes` (declared by `field` of `file`) when they cannot fit in memory with
// `bytes_per_node` for the caller beside the graph's own.
void check_nodes(std::uint64_t nodes, std::uint64_t bytes_per_node, const std::string& file,
                 const std::string& field) {
  DeclaredSize d;
  d.file = file;
  d.field = field;
  d.count = nodes;
  d.bytes_per_item = kGraphBytesPerNode + bytes_per_node;
  check_declared_size(d);
}

Csr read_adjacency(const fs::path& p, std::uint64_t bytes_per_node) {
  const std::string s = p.string();
  Coo coo;
  const bool mtx = ends_with(s, ".mtx") || ends_with(s, ".mtx.gz");
  if (mtx) {
    coo = read_matrix_market(p).coo;
    if (coo.rows != coo.cols)
      throw Error::input("adjacency matrix must be square")
          .at(s)
          .found(std::to_string(coo.rows) + " x " + std::to_string(coo.cols));
  } else {
    coo = read_edge_list(p);
  }
  // The header's row count (or the largest node id) decides every per-node allocation from
  // here on, however few edges the file holds.
  check_nodes(static_cast<std::uint64_t>(coo.rows), bytes_per_node, s, mtx ? "rows" : "node id");
  coo.val.assign(coo.row.size(), 1.0f);
  return symmetrize_pattern(coo_to_csr(coo, Duplicates::kKeepOne));
}

std::string file_key(const fs::path& p) {
  std::error_code ec;
  const auto abs = fs::absolute(p, ec);
  const auto size = fs::file_size(p, ec);
  const auto mtime = fs::last_write_time(p, ec).time_since_epoch().count();
  return abs.string() + "|" + std::to_string(size) + "|" + std::to_string(mtime) + "|v1";
}

}  // namespace

std::vector<std::int32_t> read_labels(const fs::path& path, index_t n) {
  const std::string text = read_text_file(path);
  LineReader lines(text);
  std::string_view line, f[2];
  std::vector<std::int32_t> labels;
  labels.reserve(static_cast<std::size_t>(n));
  while (lines.next(line)) {
    const int k = split_fields(line, f, 2);
    if (k == 0) continue;
    std::int64_t v = 0;
    if (k != 1 || !parse_i64(f[0], v))
      throw Error::input("bad label")
          .at(path.string(), lines.line_number())
          .field("label")
          .expected("an integer class >= -1")
          .found(std::string(line.substr(0, 40)));
    // A class id at or above the node count would mean more classes than nodes: every class
    // costs a column of logits per node, so such a label asks for n x id floats.
    if (v < -1 || v >= static_cast<std::int64_t>(n))
      throw Error::input("label out of range")
          .at(path.string(), lines.line_number())
          .field("label")
          .expected("-1 (unknown) or a class id in 0.." + std::to_string(n - 1) +
                    " (fewer classes than the " + std::to_string(n) + " nodes)")
          .found(std::to_string(v));
    if (static_cast<index_t>(labels.size()) == n)
      throw Error::input("more labels than nodes")
          .at(path.string(), lines.line_number())
          .expected(std::to_string(n));
    labels.push_back(static_cast<std::int32_t>(v));
  }
  if (static_cast<index_t>(labels.size()) != n)
    throw Error::input("fewer labels than nodes")
        .at(path.string(), lines.line_number())
        .expected(std::to_string(n))
        .found(std::to_string(labels.size()));
  return labels;
}

std::vector<index_t> read_split(const fs::path& path, index_t n) {
  const std::string text = read_text_file(path);
  LineReader lines(text);
  std::string_view line, f[2];
  std::vector<index_t> ids;
  while (lines.next(line)) {
    const int k = split_fields(line, f, 2);
    if (k == 0) continue;
    std::uint64_t v = 0;
    if (k != 1 || !parse_u64(f[0], v))
      throw Error::input("bad node id")
          .at(path.string(), lines.line_number())
          .expected("a non-negative integer")
          .found(std::string(line.substr(0, 40)));
    if (v >= static_cast<std::uint64_t>(n))
      throw Error::input("node id out of range")
          .at(path.string(), lines.line_number())
          .expected("< " + std::to_string(n))
          .found(std::to_string(v));
    ids.push_back(static_cast<index_t>(v));
  }
  return ids;
}

Dataset load_dataset(const std::string& spec, const LoadOptions& opt) {
  Stopwatch sw;
  Dataset d;
  d.name = spec;
  if (is_generator_spec(spec)) {
    d.source = spec;
    const fs::path cache = csr_cache_path("gen|" + spec + "|v2");
    const bool sbm = spec.rfind("sbm:", 0) == 0;
    const SbmParams sp = sbm ? parse_sbm_spec(spec) : SbmParams{};
    const RmatParams rp = sbm ? RmatParams{} : parse_rmat_spec(spec);
    const std::uint64_t nodes =
        sbm ? static_cast<std::uint64_t>(sp.n) : std::uint64_t{1} << rp.scale;
    check_nodes(nodes, opt.bytes_per_node, "--graph", sbm ? "sbm:n" : "rmat:scale");
    if (auto c = opt.use_cache ? read_csr_cache(cache) : std::nullopt) {
      d.adj = std::move(*c);
      d.from_cache = true;
    } else {
      d.adj = sbm ? generate_sbm(sp) : generate_rmat(rp);
      if (opt.use_cache) write_csr_cache(cache, d.adj);
    }
    if (sbm) {
      // Labels (the planted communities) are cheap to regenerate; the cache holds the graph.
      d.labels = sbm_communities(sp);
      d.num_classes = static_cast<int>((sp.n + sp.block - 1) / sp.block);
    }
    d.load_seconds = sw.seconds();
    return d;
  }
  const Resolved r = resolve(spec);
  d.source = r.adjacency.string();
  const fs::path cache = csr_cache_path(file_key(r.adjacency));
  if (auto c = opt.use_cache ? read_csr_cache(cache) : std::nullopt) {
    d.adj = std::move(*c);
    d.from_cache = true;
    check_nodes(static_cast<std::uint64_t>(d.adj.rows), opt.bytes_per_node, d.source, "rows");
  } else {
    d.adj = read_adjacency(r.adjacency, opt.bytes_per_node);
    if (opt.use_cache) write_csr_cache(cache, d.adj);
  }
  const index_t n = d.adj.rows;
  std::error_code ec;
  if (opt.features && !r.stem.empty()) {
    const fs::path feat = r.stem + ".features.mtx";
    if (fs::is_regular_file(feat, ec)) {
      MatrixMarket mm = read_matrix_market(feat);
      if (mm.coo.rows != n)
        throw Error::input("feature rows do not match the graph's nodes")
            .at(feat.string())
            .expected(std::to_string(n))
            .found(std::to_string(mm.coo.rows));
      d.features = coo_to_csr(mm.coo, Duplicates::kSum);
    }
    const fs::path lab = r.stem + ".labels.txt";
    if (fs::is_regular_file(lab, ec)) {
      d.labels = read_labels(lab, n);
      for (auto l : d.labels) d.num_classes = std::max(d.num_classes, l + 1);
      // Logits, their gradient and the softmax: a few floats per node and class.
      check_memory(saturating_mul(static_cast<std::uint64_t>(n) * 16,
                                  static_cast<std::uint64_t>(d.num_classes)),
                   lab.string(), "label",
                   std::to_string(d.num_classes) + " classes x " + std::to_string(n) + " nodes");
    }
    for (auto [suffix, out] : {std::pair{".train.txt", &d.train}, std::pair{".val.txt", &d.val},
                               std::pair{".test.txt", &d.test}}) {
      const fs::path sp = r.stem + suffix;
      if (fs::is_regular_file(sp, ec)) *out = read_split(sp, n);
    }
  }
  d.load_seconds = sw.seconds();
  return d;
}

void random_split(Dataset& d, double train, double val, std::uint64_t seed) {
  std::vector<index_t> ids;
  for (index_t i = 0; i < static_cast<index_t>(d.labels.size()); ++i)
    if (d.labels[i] >= 0) ids.push_back(i);
  std::uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (std::size_t i = ids.size(); i > 1; --i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    std::swap(ids[i - 1], ids[(s >> 33) % i]);
  }
  const auto nt = static_cast<std::size_t>(train * static_cast<double>(ids.size()));
  const auto nv = static_cast<std::size_t>(val * static_cast<double>(ids.size()));
  d.train.assign(ids.begin(), ids.begin() + nt);
  d.val.assign(ids.begin() + nt, ids.begin() + nt + nv);
  d.test.assign(ids.begin() + nt + nv, ids.end());
  for (auto* v : {&d.train, &d.val, &d.test}) std::sort(v->begin(), v->end());
}

void permute_dataset(Dataset& d, const std::vector<index_t>& new_of_old) {
  d.adj = permute_symmetric(d.adj, new_of_old);
  if (d.features.rows == d.adj.rows) d.features = permute_rows(d.features, new_of_old);
  if (!d.labels.empty()) {
    std::vector<std::int32_t> l(d.labels.size());
    for (std::size_t i = 0; i < l.size(); ++i) l[new_of_old[i]] = d.labels[i];
    d.labels = std::move(l);
  }
  for (auto* v : {&d.train, &d.val, &d.test}) {
    for (auto& x : *v) x = new_of_old[x];
    std::sort(v->begin(), v->end());
  }
}

}  // namespace gearbox::gnn
