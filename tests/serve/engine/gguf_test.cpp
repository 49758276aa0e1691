// GGUF loader: a valid image parses to the right metadata and tensors; every malformed file
// of the regression folder, and every truncation and single-byte corruption of a valid
// image, is refused with gearbox::Error (kind input) naming a field, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/gguf/gguf_file.hpp"
#include "gguf_writer.hpp"

namespace gearbox::serve {
namespace {

namespace fs = std::filesystem;

std::vector<std::uint8_t> valid_image() {
  testing::GgufWriter w;
  w.kv_string("general.architecture", "llama");
  w.kv_u32("llama.block_count", 5);
  w.kv_f32("llama.rope.freq_base", 10000.0f);
  w.kv_bool("flag", true);
  w.kv_strings("tokenizer.ggml.tokens", {"a", "bc", ""});
  w.kv_f32s("scores", {0.5f, -1.0f});
  w.tensor_f32("t.f32", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  std::vector<std::uint8_t> q8(34, 0);
  q8[0] = 0x00;
  q8[1] = 0x3C;  // f16 1.0
  q8[2] = 5;
  w.tensor("t.q8", {32}, 8, q8);
  return w.bytes();
}

TEST(Gguf, ParsesValidImage) {
  const auto img = valid_image();
  const auto f = GgufFile::parse(img, "valid");
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("llama.block_count"), 5);
  EXPECT_FLOAT_EQ(static_cast<float>(*f->get_float("llama.rope.freq_base")), 10000.0f);
  EXPECT_EQ(f->get_bool("flag"), true);
  ASSERT_NE(f->get_string_array("tokenizer.ggml.tokens"), nullptr);
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens")->at(1), "bc");
  EXPECT_EQ(f->get_number_array("scores")->at(1), -1.0);
  ASSERT_EQ(f->tensors().size(), 2u);
  const auto& t = f->tensor("t.f32");
  EXPECT_EQ(t.row_len(), 4u);
  EXPECT_EQ(t.n_rows(), 2u);
  EXPECT_EQ(t.n_bytes, 32u);
  float v7;
  std::memcpy(&v7, t.data + 7 * 4, 4);
  EXPECT_EQ(v7, 8.0f);
  const auto& q = f->tensor("t.q8");
  EXPECT_EQ(q.type(), TensorType::kQ8_0);
  EXPECT_EQ(q.data[2], 5);
  EXPECT_EQ(q.offset % f->alignment(), 0u);
  EXPECT_EQ(q.data - t.data, static_cast<std::ptrdiff_t>(q.offset - t.offset));
  EXPECT_EQ(f->find_tensor("missing"), nullptr);
  EXPECT_THROW(f->tensor("missing"), Error);
  // Typed getters refuse a wrong type, naming the key.
  try {
    (void)f->get_int("general.architecture");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.field_name(), "general.architecture");
  }
}

TEST(Gguf, OpensTheSharedModelFile) {
  const fs::path p =
      fs::path(GEARBOX_SOURCE_DIR).parent_path() / "shared" / "models" / "stories260K.gguf";
  if (!fs::exists(p)) GTEST_SKIP() << "skipped: " << p << " absent";
  const auto f = GgufFile::open(p);
  EXPECT_EQ(f->tensors().size(), 48u);
  EXPECT_EQ(f->get_int("llama.embedding_length"), 64);
}

TEST(Gguf, EveryTruncationIsRefusedWithAnError) {
  const auto img = valid_image();
  for (std::size_t n = 0; n < img.size(); ++n) {
    std::vector<std::uint8_t> cut(img.begin(), img.begin() + static_cast<std::ptrdiff_t>(n));
    try {
      GgufFile::parse(cut, "cut");
      // A cut inside the data section's padding can still be a complete file only when no
      // tensor data is lost: that never happens here since the last tensor ends the image.
      ADD_FAILURE() << "truncation at " << n << " parsed";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
      EXPECT_FALSE(e.field_name().empty()) << e.what();
    }
  }
}

TEST(Gguf, SingleByteCorruptionsNeverCrash) {
  const auto img = valid_image();
  int refused = 0;
  for (std::size_t i = 0; i < img.size(); ++i)
    for (const std::uint8_t v :
         {std::uint8_t{0x00}, std::uint8_t{0xFF}, std::uint8_t{0x80}, std::uint8_t{0x7F}}) {
      auto bad = img;
      bad[i] = v;
      try {
        const auto f = GgufFile::parse(bad, "corrupt");
        unsigned sum = 0;  // touch every tensor byte (an ASan build catches any overrun)
        for (const auto& t : f->tensors())
          for (std::uint64_t b = 0; b < t.n_bytes; ++b) sum += t.data[b];
        (void)sum;
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
        ++refused;
      }
    }
  EXPECT_GT(refused, 0);
}

TEST(Gguf, RegressionFolderOfMalformedFiles) {
  const fs::path dir = fs::path(GEARBOX_SOURCE_DIR) / "tests" / "serve" / "engine" / "malformed";
  std::ifstream tsv(dir / "expected.tsv");
  ASSERT_TRUE(tsv) << "missing " << dir / "expected.tsv";
  std::string line;
  int n = 0;
  while (std::getline(tsv, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    const std::string file = line.substr(0, tab), want = line.substr(tab + 1);
    SCOPED_TRACE(file);
    try {
      GgufFile::open(dir / file);
      ADD_FAILURE() << file << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos)
          << e.what() << " lacks " << want;
      EXPECT_NE(std::string(e.what()).find(file), std::string::npos)
          << "error does not name the file";
    }
    ++n;
  }
  EXPECT_GE(n, 25);
}

TEST(Gguf, MissingFileIsARuntimeError) {
  try {
    GgufFile::open("/nonexistent/model.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRuntime);
  }
}

}  // namespace
}  // namespace gearbox::serve
