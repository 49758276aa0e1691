// libFuzzer target: any byte string as text for the real tokenizers (stories260K's
// SentencePiece, and SmolLM2's byte-level BPE when present; found as the tests find them,
// e.g. GEARBOX_MODELS=../shared/models from the repository root). The first byte picks the
// tokenizer and whether specials are parsed. Every id must be in range, and without special
// parsing decode(encode(text)) must give the text back byte for byte when every byte of it has a
// token (SmolLM2's vocabulary lacks 21 byte values, e.g. 0xC1 and 0xF5..0xFF, which encode
// drops), and, for SentencePiece, no literal U+2581. A failed check aborts, which
// libFuzzer reports with the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/gguf/gguf_file.hpp"
#include "gearbox/serve/model/model_registry.hpp"
#include "gearbox/serve/tokenizer/tokenizer.hpp"

namespace {

using gearbox::serve::Tokenizer;

struct Loaded {
  std::unique_ptr<Tokenizer> tok;
  bool has_byte[256];  // the byte alone round-trips
};

std::unique_ptr<Tokenizer> load(const char* name) {
  try {
    return Tokenizer::from_gguf(
        *gearbox::serve::GgufFile::open(gearbox::serve::resolve_model(name)));
  } catch (const gearbox::Error& e) {
    std::fprintf(stderr, "fuzz_tokenizer: %s not loaded: %s\n", name, e.what());
    return nullptr;
  }
}

const std::vector<Loaded>& tokenizers() {
  static const auto* all = [] {
    auto* v = new std::vector<Loaded>;
    for (const char* name : {"stories260K", "SmolLM2-135M-Instruct-Q4_1"})
      if (auto t = load(name)) {
        Loaded l{std::move(t), {}};
        for (int b = 0; b < 256; ++b) {
          const std::string one(1, static_cast<char>(b));
          l.has_byte[b] = l.tok->decode(l.tok->encode(one, false)) == one;
        }
        v->push_back(std::move(l));
      }
    if (v->empty()) std::abort();  // nothing to fuzz: say so loudly
    return v;
  }();
  return *all;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_tokenizer: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& toks = tokenizers();
  const Loaded& l = toks[data[0] % toks.size()];
  const Tokenizer& tok = *l.tok;
  const bool special = (data[0] & 0x80) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto ids = tok.encode(text, false, special);
  for (const auto id : ids) check(id >= 0 && id < tok.n_vocab(), "id out of range");
  const std::string back = tok.decode(ids);
  bool representable = true;
  for (const char c : text)
    representable = representable && l.has_byte[static_cast<std::uint8_t>(c)];
  // SentencePiece spells spaces as U+2581 and decodes that character as a space, so a literal
  // one cannot come back (as in SentencePiece and llama.cpp).
  if (tok.strips_leading_space() && text.find("\xE2\x96\x81") != std::string_view::npos)
    representable = false;
  if (!special && representable) {
    // SentencePiece puts a space in front that decode removes; text that itself starts with
    // spaces may lose one of them (as in SentencePiece), so compare without leading spaces.
    std::string_view a = back, b = text;
    if (tok.strips_leading_space()) {
      while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
      while (!b.empty() && b.front() == ' ') b.remove_prefix(1);
    }
    check(a == b, "decode(encode(text)) != text");
  }
  return 0;
}
