#include "pre_tokenizer.hpp"

#include <array>

#include "utf8.hpp"

namespace gearbox::serve {
namespace {

using Pattern = PreTokenizer::Pattern;

// llama.cpp's names for each family (llama-vocab.cpp, pre-type by name).
constexpr std::array kPreTokenizers = {
    PreTokenizer{"default", Pattern::kGpt2, 0, false, true, true},
    PreTokenizer{"gpt2", Pattern::kGpt2, 0, false, false, false},
    PreTokenizer{"smollm,starcoder,refact,command-r,codeshell,exaone", Pattern::kGpt2, 0, true,
                 false, false},
    PreTokenizer{"llama-bpe,llama3,llama-v3", Pattern::kGpt4, 3, false, false, false},
    PreTokenizer{"qwen2,stablelm2", Pattern::kGpt4, 1, false, false, false},
};

// Splits [b, e) of `cp` into the runs of code points for which `in` holds (one piece per code
// point when !runs) and the gaps between them, calling piece(begin, end) in order.
template <class In, class Piece>
void isolate(std::span<const std::uint32_t> cp, std::size_t b, std::size_t e, bool runs, In in,
             Piece piece) {
  std::size_t gap = b;
  for (std::size_t i = b; i < e;) {
    if (!in(cp[i])) {
      ++i;
      continue;
    }
    std::size_t k = i + 1;
    if (runs)
      while (k < e && in(cp[k])) ++k;
    if (gap < i) piece(gap, i);
    piece(i, k);
    gap = i = k;
  }
  if (gap < e) piece(gap, e);
}

bool default_punctuation(std::uint32_t c) {
  return utf8::is_punctuation(c) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' ||
         c == '^' || c == '~' || c == '|';
}

bool ascii_digit(std::uint32_t c) {
  return c >= '0' && c <= '9';
}

struct Classes {
  std::span<const std::uint32_t> cp;
  bool L(std::size_t i) const { return i < cp.size() && utf8::is_letter(cp[i]); }
  bool N(std::size_t i) const { return i < cp.size() && utf8::is_number(cp[i]); }
  bool S(std::size_t i) const { return i < cp.size() && utf8::is_space(cp[i]); }
  bool newline(std::size_t i) const { return i < cp.size() && (cp[i] == '\r' || cp[i] == '\n'); }
  bool other(std::size_t i) const { return i < cp.size() && !L(i) && !N(i) && !S(i); }
  std::uint32_t lower(std::size_t i) const {
    const std::uint32_t c = i < cp.size() ? cp[i] : 0;
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
  }
  // Length of the contraction at i ('s 't 're 've 'm 'll 'd), or 0.
  std::size_t contraction(std::size_t i, bool any_case) const {
    if (i >= cp.size() || cp[i] != '\'') return 0;
    auto at = [&](std::size_t k) { return any_case ? lower(k) : (k < cp.size() ? cp[k] : 0); };
    const std::uint32_t a = at(i + 1), b = at(i + 2);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
  }
  // End of the run of code points from i for which pred holds.
  template <class P>
  std::size_t run(std::size_t i, P pred) const {
    while (pred(i)) ++i;
    return i;
  }
};

// The end of the match at i of the alternatives both patterns end with: \s+(?!\S)|\s+.
std::size_t trailing_space(const Classes& c, std::size_t i) {
  const std::size_t r = c.run(i, [&](std::size_t k) { return c.S(k); });
  if (r == c.cp.size() || r - i < 2) return r;  // at the end, or a lone space: \s+
  return r - 1;                                 // leave the last space to the next word
}

std::size_t gpt2_match(const Classes& c, std::size_t i) {
  if (std::size_t n = c.contraction(i, false)) return i + n;
  const std::size_t j = c.cp[i] == ' ' ? i + 1 : i;  // optional leading space
  if (c.L(j)) return c.run(j, [&](std::size_t k) { return c.L(k); });
  if (c.N(j)) return c.run(j, [&](std::size_t k) { return c.N(k); });
  if (c.other(j)) return c.run(j, [&](std::size_t k) { return c.other(k); });
  return trailing_space(c, i);
}

std::size_t gpt4_match(const Classes& c, std::size_t i, int max_digits) {
  if (std::size_t n = c.contraction(i, true)) return i + n;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  const std::size_t j = (!c.newline(i) && !c.L(i) && !c.N(i)) ? i + 1 : i;
  if (c.L(j)) return c.run(j, [&](std::size_t k) { return c.L(k); });
  if (c.L(i)) return c.run(i, [&](std::size_t k) { return c.L(k); });
  // \p{N}{1,D}
  if (c.N(i)) {
    std::size_t k = i;
    while (c.N(k) && k - i < static_cast<std::size_t>(max_digits)) ++k;
    return k;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  const std::size_t o = c.cp[i] == ' ' ? i + 1 : i;
  if (c.other(o)) {
    const std::size_t k = c.run(o, [&](std::size_t x) { return c.other(x); });
    return c.run(k, [&](std::size_t x) { return c.newline(x); });
  }
  // \s*[\r\n]+: up to the last line break of the whitespace run.
  const std::size_t r = c.run(i, [&](std::size_t k) { return c.S(k); });
  for (std::size_t k = r; k > i; --k)
    if (c.newline(k - 1)) return k;
  return trailing_space(c, i);
}

}  // namespace

const PreTokenizer* find_pre_tokenizer(std::string_view pre) {
  for (const auto& pt : kPreTokenizers) {
    std::string_view names = pt.names;
    while (!names.empty()) {
      const std::size_t comma = names.find(',');
      if (names.substr(0, comma) == pre) return &pt;
      names = comma == std::string_view::npos ? std::string_view() : names.substr(comma + 1);
    }
  }
  return nullptr;
}

std::string pre_tokenizer_names() {
  std::string out;
  for (const auto& pt : kPreTokenizers) out += (out.empty() ? "" : ",") + std::string(pt.names);
  return out;
}

void pre_tokenize(const PreTokenizer& pt, std::span<const std::uint32_t> cp,
                  const std::function<void(std::size_t, std::size_t)>& emit) {
  // After the pattern: number runs, then ASCII digit triples (leftmost first) within them.
  auto after = [&](std::size_t b, std::size_t e) {
    if (!pt.numbers_after) {
      emit(b, e);
      return;
    }
    isolate(cp, b, e, true, utf8::is_number, [&](std::size_t s, std::size_t t) {
      if (!utf8::is_number(cp[s])) {
        emit(s, t);
        return;
      }
      std::size_t gap = s;
      for (std::size_t i = s; i + 3 <= t;) {
        if (ascii_digit(cp[i]) && ascii_digit(cp[i + 1]) && ascii_digit(cp[i + 2])) {
          if (gap < i) emit(gap, i);
          emit(i, i + 3);
          gap = i = i + 3;
        } else {
          ++i;
        }
      }
      if (gap < t) emit(gap, t);
    });
  };
  auto words = [&](std::size_t b, std::size_t e) {
    const Classes c{cp.subspan(b, e - b)};
    for (std::size_t i = 0; i < c.cp.size();) {
      std::size_t k =
          pt.pattern == Pattern::kGpt2 ? gpt2_match(c, i) : gpt4_match(c, i, pt.max_digits);
      if (k <= i) k = i + 1;  // every code point matches some alternative; guard anyway
      after(b + i, b + k);
      i = k;
    }
  };
  if (pt.digits_first) {
    isolate(cp, 0, cp.size(), false, utf8::is_number, [&](std::size_t s, std::size_t t) {
      if (utf8::is_number(cp[s]))
        emit(s, t);
      else
        words(s, t);
    });
  } else if (pt.punctuation_first) {
    isolate(cp, 0, cp.size(), true, default_punctuation, words);
  } else {
    words(0, cp.size());
  }
}

}  // namespace gearbox::serve
