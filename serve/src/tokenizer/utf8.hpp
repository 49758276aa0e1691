// UTF-8 helpers for the tokenizers (internal): splitting text into characters, decoding code
// points, and the coarse Unicode classes the GPT-2 pre-tokenizer needs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gearbox::serve::utf8 {

// Length of the UTF-8 sequence starting at s[i], or 1 when it is not a valid sequence (an
// invalid byte then stands alone).
std::size_t seq_len(std::string_view s, std::size_t i);
// The code point at s[i] (length seq_len(s, i)); invalid bytes give 0xFFFD.
std::uint32_t code_point(std::string_view s, std::size_t i);
// Appends the UTF-8 encoding of `cp` to `out`.
void append(std::string& out, std::uint32_t cp);
// Number of bytes at the end of `s` that start an incomplete UTF-8 sequence (0..3).
std::size_t incomplete_tail(std::string_view s);

// Unicode classes as the GPT-2 pattern uses them (\p{L}, \p{N}, \s). Exact for ASCII and
// Latin-1; other code points are classified by block (punctuation, symbol and space blocks,
// digits and combining marks of common scripts), everything else counts as a letter.
bool is_letter(std::uint32_t cp);
bool is_number(std::uint32_t cp);
bool is_space(std::uint32_t cp);
// \p{P} (Unicode punctuation): exact for ASCII and Latin-1; elsewhere the punctuation of the
// General Punctuation, CJK, fullwidth and common scripts' blocks.
bool is_punctuation(std::uint32_t cp);

}  // namespace gearbox::serve::utf8
