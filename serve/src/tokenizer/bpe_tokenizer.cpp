#include "bpe_tokenizer.hpp"

#include <functional>
#include <limits>
#include <queue>

#include "gearbox/core/error.hpp"
#include "pre_tokenizer.hpp"
#include "utf8.hpp"

namespace gearbox::serve {

namespace {
constexpr std::int32_t kTypeControl = 3, kTypeUnused = 5;

}  // namespace

BpeTokenizer::BpeTokenizer(std::vector<std::string> pieces, std::vector<std::int32_t> types,
                           const std::vector<std::string>& merges, const PreTokenizer& pre,
                           const std::string& origin)
    : pre_(pre) {
  pieces_ = std::move(pieces);
  token_type_ = std::move(types);
  index_.reserve(pieces_.size());
  for (std::size_t i = 0; i < pieces_.size(); ++i)
    index_.emplace(pieces_[i], static_cast<std::int32_t>(i));
  merge_rank_.reserve(merges.size());
  for (std::size_t r = 0; r < merges.size(); ++r) {
    const auto sp = merges[r].find(' ', 1);
    if (sp == std::string::npos || sp + 1 >= merges[r].size())
      throw Error::input("malformed BPE merge")
          .at(origin)
          .field("tokenizer.ggml.merges[" + std::to_string(r) + "]")
          .expected("\"left right\"")
          .found("\"" + merges[r].substr(0, 40) + "\"");
    merge_rank_.emplace(merges[r], static_cast<int>(r));
  }
  // GPT-2's byte-to-unicode table: printable bytes stand for themselves, the others for 256+.
  std::uint32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable =
        (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    const std::uint32_t cp = printable ? static_cast<std::uint32_t>(b) : next++;
    utf8::append(byte_to_cp_[b], cp);
    cp_to_byte_[cp] = static_cast<std::uint8_t>(b);
  }
  index_pieces();
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<std::int32_t>& out) const {
  // Symbols are the byte-level characters of the word (a linked list); adjacent pairs that
  // are merges wait in a heap by rank (then position), so a word of n bytes takes
  // O(n log n) even when it is megabytes without a space.
  struct Sym {
    int prev, next;
    std::string text;
  };
  std::vector<Sym> sym;
  sym.reserve(word.size());
  std::string whole;
  for (std::size_t i = 0; i < word.size(); ++i) {
    sym.push_back({static_cast<int>(i) - 1, i + 1 < word.size() ? static_cast<int>(i) + 1 : -1,
                   byte_to_cp_[static_cast<unsigned char>(word[i])]});
    whole += sym.back().text;
  }
  if (auto it = index_.find(whole); it != index_.end()) {
    out.push_back(it->second);
    return;
  }
  struct Pair {
    int rank, left, right;
    std::size_t len;  // merged text length when queued, to detect stale entries
    bool operator>(const Pair& o) const {
      return rank > o.rank || (rank == o.rank && left > o.left);
    }
  };
  std::priority_queue<Pair, std::vector<Pair>, std::greater<Pair>> heap;
  std::string key;
  auto try_add = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    const auto& a = sym[static_cast<std::size_t>(l)].text;
    const auto& b = sym[static_cast<std::size_t>(r)].text;
    key.assign(a).append(" ").append(b);
    auto it = merge_rank_.find(key);
    if (it != merge_rank_.end()) heap.push({it->second, l, r, a.size() + b.size()});
  };
  for (std::size_t i = 0; i + 1 < sym.size(); ++i)
    try_add(static_cast<int>(i), static_cast<int>(i) + 1);
  while (!heap.empty()) {
    const Pair p = heap.top();
    heap.pop();
    Sym& l = sym[static_cast<std::size_t>(p.left)];
    Sym& r = sym[static_cast<std::size_t>(p.right)];
    if (l.next != p.right || l.text.empty() || r.text.empty() ||
        l.text.size() + r.text.size() != p.len)
      continue;  // stale: one side merged since
    l.text += r.text;
    r.text.clear();
    l.next = r.next;
    if (r.next >= 0) sym[static_cast<std::size_t>(r.next)].prev = p.left;
    try_add(l.prev, p.left);
    try_add(p.left, l.next);
  }
  for (int i = 0; i >= 0; i = sym[static_cast<std::size_t>(i)].next) {
    const std::string& s = sym[static_cast<std::size_t>(i)].text;
    auto it = index_.find(s);
    if (it != index_.end()) {
      out.push_back(it->second);
      continue;
    }
    // Not in the vocabulary (a vocabulary without the full byte alphabet): per character.
    for (std::size_t k = 0; k < s.size();) {
      const std::size_t n = utf8::seq_len(s, k);
      auto c = index_.find(s.substr(k, n));
      if (c != index_.end()) out.push_back(c->second);
      k += n;
    }
  }
}

void BpeTokenizer::encode_fragment(std::string_view text, std::vector<std::int32_t>& out) const {
  std::vector<std::uint32_t> cp;
  std::vector<std::size_t> at;
  for (std::size_t i = 0; i < text.size();) {
    cp.push_back(utf8::code_point(text, i));
    at.push_back(i);
    i += utf8::seq_len(text, i);
  }
  at.push_back(text.size());
  pre_tokenize(pre_, cp, [&](std::size_t x, std::size_t y) {
    encode_word(text.substr(at[x], at[y] - at[x]), out);
  });
}

std::vector<std::int32_t> BpeTokenizer::encode(std::string_view text, bool add_bos,
                                               bool parse_special) const {
  std::vector<std::int32_t> out;
  if (add_bos && bos_ >= 0) out.push_back(bos_);
  if (!parse_special) {
    encode_fragment(text, out);
    return out;
  }
  for (const auto& [frag, id] : split_special(text)) {
    if (id >= 0)
      out.push_back(id);
    else
      encode_fragment(frag, out);
  }
  return out;
}

std::string BpeTokenizer::token_bytes(std::int32_t id) const {
  const std::string& p = piece(id);
  const auto type = token_type_[static_cast<std::size_t>(id)];
  if (type == kTypeControl || type == kTypeUnused) return "";
  std::string out;
  out.reserve(p.size());
  for (std::size_t i = 0; i < p.size();) {
    const std::uint32_t cp = utf8::code_point(p, i);
    const std::size_t n = utf8::seq_len(p, i);
    auto it = cp_to_byte_.find(cp);
    if (it != cp_to_byte_.end())
      out += static_cast<char>(it->second);
    else
      out.append(p, i, n);  // user-defined tokens may hold plain text
    i += n;
  }
  return out;
}

}  // namespace gearbox::serve
