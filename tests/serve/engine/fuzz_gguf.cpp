// libFuzzer target: any byte string given to the GGUF parser, then (when it parses) to the
// model config and tokenizer readers, must either load or throw gearbox::Error; ASan/UBSan
// catch out-of-bounds reads and undefined behaviour. Corpus seeds: tests/serve/engine/malformed.
#include <cstddef>
#include <cstdint>
#include <span>

#include "gearbox/core/error.hpp"
#include "gearbox/serve/gguf/gguf_file.hpp"
#include "gearbox/serve/model/config.hpp"
#include "gearbox/serve/tokenizer/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gearbox::serve;
  try {
    const auto f = GgufFile::parse(std::span<const std::uint8_t>(data, size), "fuzz");
    std::uint64_t sum = 0;
    for (const auto& t : f->tensors())
      for (std::uint64_t i = 0; i < t.n_bytes; i += 61) sum += t.data[i];
    if (sum == 0xFFFFFFFFFFFFull) return 1;
    try {
      (void)read_model_config(*f);
    } catch (const gearbox::Error&) {
    }
    const auto tok = Tokenizer::from_gguf(*f);
    const auto ids = tok->encode("Hello world 123 <|im_start|> é", true, true);
    (void)tok->decode(ids);
  } catch (const gearbox::Error&) {
  }
  return 0;
}
