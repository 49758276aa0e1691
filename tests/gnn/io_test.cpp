// Graph input: Matrix Market, edge lists, labels/splits, generators and the binary cache,
// including malformed files written here into a temporary folder.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gearbox/core/error.hpp"
#include "gearbox/gnn/dataset.hpp"
#include "gearbox/gnn/edge_list.hpp"
#include "gearbox/gnn/generators.hpp"
#include "gearbox/gnn/graph_cache.hpp"
#include "gearbox/gnn/matrix_market.hpp"
#include "gearbox/testing/data.hpp"
#include "gearbox/testing/temp_dir.hpp"
#include "shared_graphs.hpp"

namespace fs = std::filesystem;
using namespace gearbox::gnn;
using gearbox::Error;

namespace {

class IoTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("GEARBOX_CACHE", (tmp_ / "cache").c_str(), 1); }
  fs::path write(const std::string& name, const std::string& text) {
    return tmp_.write(name, text);
  }
  gearbox::testing::TempDir tmp_;
  const fs::path& dir_ = tmp_.path();
};

// Lowers this process's address-space limit to `headroom` bytes above what it has mapped now,
// for the lifetime of the object: what `ulimit -v` does to a user's shell.
class AddressSpaceLimit {
 public:
  explicit AddressSpaceLimit(std::uint64_t headroom) {
    ::getrlimit(RLIMIT_AS, &old_);
    std::ifstream statm("/proc/self/statm");
    std::uint64_t pages = 0;
    statm >> pages;
    rlimit lowered = old_;
    lowered.rlim_cur = pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) + headroom;
    ok_ = ::setrlimit(RLIMIT_AS, &lowered) == 0;
  }
  ~AddressSpaceLimit() { ::setrlimit(RLIMIT_AS, &old_); }
  bool ok() const { return ok_; }

 private:
  rlimit old_{};
  bool ok_ = false;
};

// The Error `fn` throws (a failure when it throws none or something else).
template <class F>
Error error_of(F fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a gearbox::Error: " << e.what();
    return Error::runtime("other");
  }
  ADD_FAILURE() << "no error";
  return Error::runtime("none");
}

// Runs fn, expecting an Error whose text holds every needle.
template <class F>
void expect_error(F fn, std::initializer_list<const char*> needles) {
  try {
    fn();
    FAIL() << "no error";
  } catch (const Error& e) {
    for (const char* n : needles)
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what() << " lacks " << n;
  }
}

const char* kTriangle =
    "%%MatrixMarket matrix coordinate pattern general\n% c\n3 3 6\n1 2\n2 1\n2 3\n3 2\n1 3\n3 1\n";

}  // namespace

TEST_F(IoTest, ReadsPatternGeneral) {
  const auto mm = read_matrix_market(write("t.mtx", kTriangle));
  EXPECT_TRUE(mm.pattern);
  EXPECT_EQ(mm.coo.rows, 3);
  ASSERT_EQ(mm.coo.row.size(), 6u);
  EXPECT_EQ(mm.coo.row[0], 0);
  EXPECT_EQ(mm.coo.col[0], 1);
}

TEST_F(IoTest, ExpandsSymmetricReal) {
  const auto mm = read_matrix_market(
      write("s.mtx",
            "%%MatrixMarket matrix coordinate real symmetric\n3 3 3\n1 1 2.5\n2 1 -1\n3 2 4e0\n"));
  EXPECT_TRUE(mm.symmetric);
  EXPECT_EQ(mm.coo.row.size(), 5u);  // the diagonal entry once, the others twice
  const Csr a = coo_to_csr(mm.coo);
  EXPECT_EQ(a.nnz(), 5);
  EXPECT_FLOAT_EQ(a.val[0], 2.5f);
}

TEST_F(IoTest, ReadsGzip) {
  const fs::path p = dir_ / "t.mtx.gz";
  gzFile f = gzopen(p.c_str(), "wb");
  gzputs(f, kTriangle);
  gzclose(f);
  EXPECT_EQ(read_matrix_market(p).coo.row.size(), 6u);
}

TEST_F(IoTest, TruncatedGzipIsAnError) {
  const fs::path p = dir_ / "t.mtx.gz";
  gzFile f = gzopen(p.c_str(), "wb");
  std::string big(kTriangle);
  for (int i = 0; i < 2000; ++i) big += "% padding comment line to make the stream longer\n";
  gzputs(f, big.c_str());
  gzclose(f);
  fs::resize_file(p, fs::file_size(p) / 2);
  expect_error([&] { read_matrix_market(p); }, {"gzip"});
}

TEST_F(IoTest, ReadsDenseArray) {
  const auto mm = read_matrix_market(
      write("d.mtx", "%%MatrixMarket matrix array real general\n2 2\n1\n0\n3\n4\n"));
  const Csr a = coo_to_csr(mm.coo);
  ASSERT_EQ(a.nnz(), 3);  // the zero is dropped
  EXPECT_EQ(a.col[0], 0);
  EXPECT_EQ(a.col[1], 1);  // (0,1) = 3 (column-major)
  EXPECT_FLOAT_EQ(a.val[1], 3.f);
}

TEST_F(IoTest, IndexOutOfRangeNamesFileAndLine) {
  const auto p =
      write("bad.mtx", "%%MatrixMarket matrix coordinate pattern general\n3 3 2\n1 2\n4 1\n");
  expect_error([&] { read_matrix_market(p); }, {"bad.mtx:4", "out of range", "row"});
}

TEST_F(IoTest, ZeroIndexIsOutOfRange) {
  const auto p = write("z.mtx", "%%MatrixMarket matrix coordinate pattern general\n3 3 1\n0 2\n");
  expect_error([&] { read_matrix_market(p); }, {"z.mtx:3", "out of range"});
}

TEST_F(IoTest, NegativeAndNonNumericFields) {
  expect_error(
      [&] {
        read_matrix_market(
            write("n.mtx", "%%MatrixMarket matrix coordinate pattern general\n3 3 1\n-1 2\n"));
      },
      {"n.mtx:3", "negative"});
  expect_error(
      [&] {
        read_matrix_market(
            write("x.mtx", "%%MatrixMarket matrix coordinate real general\n3 3 1\n1 2 abc\n"));
      },
      {"x.mtx:3", "value"});
  expect_error(
      [&] {
        read_matrix_market(
            write("y.mtx", "%%MatrixMarket matrix coordinate real general\n3 -3 1\n"));
      },
      {"y.mtx:2", "negative"});
  expect_error(
      [&] {
        read_matrix_market(
            write("w.mtx", "%%MatrixMarket matrix coordinate real general\n3 3 1\n1 2 nan\n"));
      },
      {"w.mtx:3"});
}

TEST_F(IoTest, TruncatedFileAndLyingHeader) {
  // Fewer entries than declared (but enough bytes to pass the size check).
  expect_error(
      [&] {
        read_matrix_market(write("t.mtx",
                                 "%%MatrixMarket matrix coordinate pattern general\n3 3 3\n1 2\n2 "
                                 "3\n%%%%%%%%%%%%%%%%\n"));
      },
      {"t.mtx", "fewer entries", "nnz"});
  // Declares far more entries than the file can hold: refused before reading entries.
  expect_error(
      [&] {
        read_matrix_market(write(
            "l.mtx", "%%MatrixMarket matrix coordinate pattern general\n1000 1000 900000\n1 2\n"));
      },
      {"l.mtx:2", "truncated"});
  // More entries than declared.
  expect_error(
      [&] {
        read_matrix_market(
            write("m.mtx", "%%MatrixMarket matrix coordinate pattern general\n3 3 1\n1 2\n2 3\n"));
      },
      {"m.mtx:4", "more entries"});
  // More entries than cells.
  expect_error(
      [&] {
        read_matrix_market(write(
            "c.mtx",
            "%%MatrixMarket matrix coordinate pattern general\n2 2 5\n1 1\n1 2\n2 1\n2 2\n1 1\n"));
      },
      {"c.mtx:2", "cells"});
}

TEST_F(IoTest, HugeDeclaredSizeRefusedBeforeAllocating) {
  const std::string text =
      "%%MatrixMarket matrix coordinate pattern general\n2000000000 2000000000 4000000000000\n1 "
      "1\n";
  expect_error([&] { parse_matrix_market(text, "huge.mtx", std::uint64_t{1} << 30); },
               {"huge.mtx:2", "memory"});
  expect_error(
      [&] {
        parse_matrix_market("%%MatrixMarket matrix array real general\n100000 100000\n1\n",
                            "arr.mtx", std::uint64_t{1} << 30);
      },
      {"arr.mtx:2", "memory"});
}

TEST_F(IoTest, BadBanner) {
  expect_error([&] { read_matrix_market(write("b.mtx", "hello\n1 1 1\n")); },
               {"b.mtx:1", "banner"});
  expect_error([&] { read_matrix_market(write("e.mtx", "")); }, {"e.mtx:1"});
  expect_error(
      [&] {
        read_matrix_market(
            write("c.mtx", "%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n"));
      },
      {"c.mtx:1", "field"});
}

TEST_F(IoTest, EdgeList) {
  const Coo coo = parse_edge_list("# SNAP\n# Nodes: 4\n0\t1\n1 2 99\n\n3 0\n", "e.txt");
  EXPECT_EQ(coo.rows, 4);
  EXPECT_EQ(coo.row.size(), 3u);
  expect_error([] { parse_edge_list("0 1\n2 -3\n", "e.txt"); }, {"e.txt:2", "negative"});
  expect_error([] { parse_edge_list("0 1\n2 x\n", "e.txt"); }, {"e.txt:2", "integer"});
  expect_error([] { parse_edge_list("0 1\n2\n", "e.txt"); }, {"e.txt:2", "two"});
}

TEST_F(IoTest, DatasetFromPathWithCompanionsAndSymmetrization) {
  // A directed path 1->2->3 becomes an undirected simple graph; the self loop is dropped.
  write("g.adj.mtx", "%%MatrixMarket matrix coordinate pattern general\n3 3 3\n1 2\n2 3\n3 3\n");
  write("g.features.mtx", "%%MatrixMarket matrix coordinate real general\n3 2 2\n1 1 1\n3 2 1\n");
  write("g.labels.txt", "0\n1\n-1\n");
  write("g.train.txt", "0\n");
  write("g.test.txt", "1\n");
  const Dataset d = load_dataset((dir_ / "g.adj.mtx").string());
  EXPECT_EQ(d.adj.nnz(), 4);
  EXPECT_EQ(d.features.rows, 3);
  EXPECT_EQ(d.num_classes, 2);
  EXPECT_EQ(d.train, std::vector<index_t>{0});
  EXPECT_EQ(d.test, std::vector<index_t>{1});
  // Second load hits the cache and gives the same graph.
  const Dataset d2 = load_dataset((dir_ / "g.adj.mtx").string());
  EXPECT_TRUE(d2.from_cache);
  EXPECT_EQ(checksum(d2.adj), checksum(d.adj));
}

TEST_F(IoTest, BadCompanionFiles) {
  write("g.adj.mtx", "%%MatrixMarket matrix coordinate pattern general\n3 3 1\n1 2\n");
  write("g.labels.txt", "0\n1\n");
  expect_error([&] { load_dataset((dir_ / "g.adj.mtx").string()); }, {"g.labels.txt", "fewer"});
  write("g.labels.txt", "0\n1\n2\n");
  write("g.val.txt", "0\n7\n");
  expect_error([&] { load_dataset((dir_ / "g.adj.mtx").string()); }, {"g.val.txt:2", "range"});
}

TEST_F(IoTest, UnknownGraphNameIsUsageError) {
  try {
    load_dataset("no-such-graph-xyz");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
  }
}

TEST_F(IoTest, CacheRejectsCorruptAndTruncatedFiles) {
  const Csr a = generate_rmat({.scale = 8, .edge_factor = 4, .seed = 3});
  const fs::path p = dir_ / "a.csr";
  ASSERT_TRUE(write_csr_cache(p, a));
  auto back = read_csr_cache(p);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(checksum(*back), checksum(a));
  {  // flip one byte in the payload: checksum catches it
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    char c = 0;
    f.read(&c, 1);
    f.seekp(200);
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
  EXPECT_FALSE(read_csr_cache(p).has_value());
  ASSERT_TRUE(write_csr_cache(p, a));
  fs::resize_file(p, fs::file_size(p) - 4);
  EXPECT_FALSE(read_csr_cache(p).has_value());
}

TEST_F(IoTest, SbmIsSymmetricWithShuffledCommunities) {
  std::vector<std::int32_t> comm;
  const Csr a = generate_sbm({.n = 2000, .block = 100, .din = 10, .dout = 2, .seed = 1}, &comm);
  const Csr t = transpose(a);
  EXPECT_EQ(t.col, a.col);
  EXPECT_EQ(t.rowptr, a.rowptr);
  offset_t intra = 0;
  for (index_t r = 0; r < a.rows; ++r)
    for (offset_t k = a.rowptr[r]; k < a.rowptr[r + 1]; ++k) {
      EXPECT_NE(a.col[k], r);
      intra += comm[r] == comm[a.col[k]];
    }
  EXPECT_GT(static_cast<double>(intra) / static_cast<double>(a.nnz()), 0.75);
  EXPECT_NEAR(static_cast<double>(a.nnz()) / 2000, 12.0, 1.5);
  // Shuffled: node ids 0..99 are not all in one community.
  int same = 0;
  for (int i = 1; i < 100; ++i) same += comm[i] == comm[0];
  EXPECT_LT(same, 20);
}

TEST_F(IoTest, GeneratorSpecs) {
  const Dataset d = load_dataset("rmat:scale=10,ef=8,seed=2");
  EXPECT_EQ(d.nodes(), 1024);
  EXPECT_GT(d.adj.nnz(), 8000);
  const Dataset s = load_dataset("sbm:n=500,block=50,din=8,dout=1,seed=4");
  EXPECT_EQ(s.nodes(), 500);
  EXPECT_EQ(s.num_classes, 10);
  expect_error([] { load_dataset("sbm:n=10,bogus=3"); }, {"bogus"});
  expect_error([] { load_dataset("rmat:scale=abc"); }, {"scale"});
  expect_error([] { load_dataset("sbm:n=2000000000,din=100000"); }, {"memory"});
}

TEST_F(IoTest, SharedCoraIfPresent) {
  GEARBOX_REQUIRE_CORA();
  const Dataset d = load_dataset("cora");
  EXPECT_EQ(d.nodes(), 2708);
  EXPECT_EQ(d.adj.nnz(), 10556);
  EXPECT_EQ(d.features.cols, 1433);
  EXPECT_EQ(d.num_classes, 7);
  EXPECT_EQ(d.train.size(), 140u);
  EXPECT_EQ(d.val.size(), 500u);
  EXPECT_EQ(d.test.size(), 1000u);
}

// A 60-byte file whose header declares 50,000,000 nodes and 2 edges: a plan at width 16 needs
// ~16 GB for those nodes. Under a 1 GiB address-space headroom it is refused before anything is
// allocated for them, naming the file and the field.
TEST_F(IoTest, HeaderRowCountBeyondMemoryRefusedBeforeAllocating) {
  const fs::path p =
      write("liar.mtx",
            "%%MatrixMarket matrix coordinate pattern general\n50000000 50000000 2\n1 2\n2 1\n");
  ASSERT_LE(fs::file_size(p), 80u);
  LoadOptions lo;
  lo.use_cache = false;
  lo.bytes_per_node = 16 * 16;
  Error e = Error::runtime("none");
  {
    AddressSpaceLimit limit(std::uint64_t{1} << 30);
    ASSERT_TRUE(limit.ok());
    e = error_of([&] { load_dataset(p.string(), lo); });
  }
  EXPECT_EQ(e.exit_code(), 2) << e.what();
  EXPECT_EQ(e.file(), p.string()) << e.what();
  EXPECT_EQ(e.field_name(), "rows") << e.what();
  EXPECT_NE(std::string(e.what()).find("50000000"), std::string::npos) << e.what();
}

// Generators whose node count alone exceeds memory: no edges asked for, 10^8 and 2^26 nodes.
TEST_F(IoTest, GeneratorNodeCountBeyondMemoryRefusedBeforeAllocating) {
  for (const auto& [spec, field] : {std::pair{"sbm:n=100000000,din=0,dout=0", "sbm:n"},
                                    std::pair{"rmat:scale=26,ef=0", "rmat:scale"}}) {
    Error e = Error::runtime("none");
    {
      AddressSpaceLimit limit(std::uint64_t{1} << 30);
      ASSERT_TRUE(limit.ok());
      e = error_of([&] { load_dataset(spec); });
    }
    EXPECT_EQ(e.exit_code(), 2) << spec << ": " << e.what();
    EXPECT_EQ(e.field_name(), field) << e.what();
    EXPECT_NE(std::string(e.what()).find("memory"), std::string::npos) << e.what();
  }
}

// A label of 999999 on a 3-node graph would make 10^6 classes (a 10^6-wide output layer).
TEST_F(IoTest, LabelBeyondTheNodeCountRefused) {
  write("g.adj.mtx", "%%MatrixMarket matrix coordinate pattern general\n3 3 1\n1 2\n");
  write("g.labels.txt", "0\n999999\n1\n");
  const Error e = error_of([&] { load_dataset((dir_ / "g.adj.mtx").string()); });
  EXPECT_EQ(e.exit_code(), 2) << e.what();
  EXPECT_EQ(e.file(), (dir_ / "g.labels.txt").string());
  EXPECT_EQ(e.line(), 2u);
  EXPECT_EQ(e.field_name(), "label");
  EXPECT_NE(std::string(e.what()).find("999999"), std::string::npos) << e.what();
  write("g.labels.txt", "0\n2\n-1\n");
  EXPECT_EQ(load_dataset((dir_ / "g.adj.mtx").string()).num_classes, 3);
}

TEST_F(IoTest, DevicesAndFifosAreNotGraphFiles) {
  // A name that is not a regular file is looked up as a graph name: a usage error, never a read.
  const Error e = error_of([] { load_dataset("/dev/zero"); });
  EXPECT_EQ(e.exit_code(), 2);
  // read_text_file itself refuses them too.
  const Error r = error_of([] { read_edge_list("/dev/zero"); });
  EXPECT_EQ(r.exit_code(), 2);
  EXPECT_EQ(r.file(), "/dev/zero");
}
