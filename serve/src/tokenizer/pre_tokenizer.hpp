// The BPE pre-tokenizers (internal): how byte-level BPE splits text into words before merging,
// as llama.cpp does for each `tokenizer.ggml.pre` value. Each family is data (a row of
// kPreTokenizers: which pattern, how many digits a number piece holds, which splits run before
// and after it); the two patterns are matched by hand (no regex engine has \p{L}):
//   gpt2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   gpt4: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}|
//         ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// (gpt4 with D = 3 is Llama 3's, with D = 1 Qwen2's). As llama.cpp runs its list of regexes,
// each split re-splits the pieces of the one before, and what a split does not match stays a
// piece too. llama.cpp's "default" (its pre-type DEFAULT, also what a BPE file without
// tokenizer.ggml.pre gets) is: [\p{P}$+<=>^~|]+, then gpt2, then \p{N}+, then [0-9][0-9][0-9].
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace gearbox::serve {

struct PreTokenizer {
  enum class Pattern { kGpt2, kGpt4 };
  std::string_view names;  // the tokenizer.ggml.pre values that select it, comma-separated
  Pattern pattern = Pattern::kGpt2;
  int max_digits = 0;         // gpt4: digits per number piece (\p{N}{1,D})
  bool digits_first = false;  // every digit its own piece before the pattern runs (\p{N})
  // Runs of punctuation and $+<=>^~| their own pieces before the pattern ([\p{P}$+<=>^~|]+).
  bool punctuation_first = false;
  // After the pattern: number runs their own pieces (\p{N}+), then ASCII digits in threes from
  // the left of each run ([0-9][0-9][0-9]; "12345" is "123" "45").
  bool numbers_after = false;
};

// The pre-tokenizer llama.cpp uses for `pre` (a tokenizer.ggml.pre value), or nullptr when
// it is not one implemented here.
const PreTokenizer* find_pre_tokenizer(std::string_view pre);
// Every implemented name, comma-separated (for "expected ..." in errors).
std::string pre_tokenizer_names();

// Splits the code points `cp` into words, calling emit(begin, end) in code point indices, in
// order, covering every code point once.
void pre_tokenize(const PreTokenizer& pt, std::span<const std::uint32_t> cp,
                  const std::function<void(std::size_t, std::size_t)>& emit);

}  // namespace gearbox::serve
