// UTF-8 checks for request bodies and for text streamed token by token.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace gearbox::serve::server {

// Byte offset of the first ill-formed UTF-8 sequence in `s` (overlongs, surrogates and code
// points above U+10FFFF are ill-formed), or nullopt when `s` is valid.
std::optional<std::size_t> first_invalid_utf8(std::string_view s);

// Length of the longest prefix of `s` that does not end inside a multi-byte character, so
// that streaming it never splits one: trailing bytes of an unfinished but so-far valid
// sequence are held back; any other byte is released as is.
std::size_t utf8_complete_prefix(std::string_view s);

}  // namespace gearbox::serve::server
