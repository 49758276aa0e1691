// Graph datasets as the gnn commands take them: `--graph` is a name (`cora` resolves to
// data_dir()/graphs/cora.*), a path to an adjacency (.mtx, .mtx.gz, or an edge list), or a
// generator spec (sbm:..., rmat:...). The adjacency is made an undirected simple graph (A+A^T,
// no self loops, values 1); features, labels and splits come along when files exist.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn {

struct Dataset {
  std::string name;                  // as given by the user
  std::string source;                // resolved path or generator spec
  Csr adj;                           // n x n, symmetric pattern, no self loops
  Csr features;                      // n x f sparse (rows = 0 when none)
  std::vector<std::int32_t> labels;  // n entries, -1 = unknown (empty when none)
  int num_classes = 0;
  std::vector<index_t> train, val, test;  // node ids (empty when no split)
  bool from_cache = false;                // adjacency came from the binary cache
  double load_seconds = 0;
  index_t nodes() const { return adj.rows; }
};

struct LoadOptions {
  bool features = true;   // also read features, labels and splits
  bool use_cache = true;  // read/write the binary CSR cache in cache_dir()/graphs
  // Bytes the caller will allocate per node beyond the graph (features, activations). The
  // node count a file header or generator spec declares is checked against the memory
  // available with it before anything is allocated for the nodes.
  std::uint64_t bytes_per_node = 0;
};

// Bytes per node the loaded and prepared graph itself takes beyond its edges (row pointers of
// the adjacency and its normalised and permuted copies, the ordering, labels).
inline constexpr std::uint64_t kGraphBytesPerNode = 64;

// Loads a dataset by name, path or generator spec; Error::input/usage on bad input. A node
// count that cannot fit in memory (with opt.bytes_per_node) is an Error::input naming the file
// (or --graph) and the field that declared it, raised before allocating for it.
Dataset load_dataset(const std::string& spec, const LoadOptions& opt = {});

// Reads a label file: one integer per line, -1 = unknown, else a class id below `n` (no more
// classes than nodes); `n` lines expected.
std::vector<std::int32_t> read_labels(const std::filesystem::path& path, index_t n);

// Reads a split file: one 0-based node id per line, each < n.
std::vector<index_t> read_split(const std::filesystem::path& path, index_t n);

// A seeded random split (fractions of the labelled nodes) for datasets shipping none.
void random_split(Dataset& d, double train, double val, std::uint64_t seed);

// Applies a node permutation (new_of_old) to everything in the dataset.
void permute_dataset(Dataset& d, const std::vector<index_t>& new_of_old);

}  // namespace gearbox::gnn
