// Synthetic graphs for scale tests: a planted-partition stochastic block model with shuffled
// node ids (community structure hidden by the numbering, as in real data), and R-MAT
// (power-law degrees). Both return undirected simple graphs (symmetric pattern, no self loops).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gearbox/gnn/csr.hpp"

namespace gearbox::gnn {

struct SbmParams {
  std::int64_t n = 10000;    // nodes
  std::int64_t block = 256;  // community size (the last one may be smaller)
  double din = 16;           // expected neighbours inside the community
  double dout = 4;           // expected neighbours outside it
  std::uint64_t seed = 0;
};

struct RmatParams {
  int scale = 16;           // 2^scale nodes
  double edge_factor = 16;  // undirected edges per node (before removing duplicates)
  double a = 0.57, b = 0.19, c = 0.19;
  std::uint64_t seed = 0;
};

// The SBM graph; `community` (if not null) receives each node's community id.
Csr generate_sbm(const SbmParams& p, std::vector<std::int32_t>* community = nullptr);

// The planted community of each node of generate_sbm(p) (without generating the edges).
std::vector<std::int32_t> sbm_communities(const SbmParams& p);

// The R-MAT graph.
Csr generate_rmat(const RmatParams& p);

// Parses "sbm:n=...,block=...,din=...,dout=...,seed=..." or "rmat:scale=..,ef=..,seed=..";
// unknown keys, bad numbers and sizes beyond memory are Error::usage naming the key.
bool is_generator_spec(const std::string& spec);
SbmParams parse_sbm_spec(const std::string& spec);
RmatParams parse_rmat_spec(const std::string& spec);

}  // namespace gearbox::gnn
