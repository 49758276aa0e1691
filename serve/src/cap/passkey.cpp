// Passkey prompts: instruction, filler, key line at a depth, question.
#include "gearbox/serve/cap/passkey.hpp"

#include <cctype>
#include <cmath>
#include <random>

#include "gearbox/core/error.hpp"

namespace gearbox::serve::cap {
namespace {

constexpr std::string_view kIntro =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize "
    "it. I will quiz you about the important information there.\n";
constexpr std::string_view kFiller =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back "
    "again.\n";
constexpr std::string_view kQuestion = "What is the pass key? The pass key is";

}  // namespace

std::string_view passkey_filler() {
  return kFiller;
}

PasskeyPieces passkey_pieces(const std::string& key) {
  return {kIntro, kFiller, kQuestion,
          "The pass key is " + key + ". Remember it. " + key + " is the pass key.\n"};
}

PasskeyPrompt passkey_prompt(int filler_repeats, double depth, const std::string& key) {
  if (!(depth >= 0.0 && depth <= 1.0))
    throw Error::usage("passkey depth outside [0, 1]").field("depth").found(std::to_string(depth));
  if (filler_repeats < 0) throw Error::usage("negative filler count").field("filler_repeats");
  bool digits = key.size() == 5;
  for (char c : key) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (!digits) throw Error::usage("pass key must be 5 digits").field("key").found(key);
  PasskeyPrompt p;
  p.key = key;
  p.depth = depth;
  p.filler_repeats = filler_repeats;
  p.key_after = static_cast<int>(std::lround(depth * filler_repeats));
  p.text.reserve(kIntro.size() + kFiller.size() * static_cast<std::size_t>(filler_repeats) + 200);
  p.text += kIntro;
  for (int i = 0; i <= filler_repeats; ++i) {
    if (i == p.key_after) p.text += passkey_pieces(key).key_line;
    if (i < filler_repeats) p.text += kFiller;
  }
  p.text += kQuestion;
  return p;
}

std::string passkey_key(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> d(10000, 99999);
  return std::to_string(d(rng));
}

PasskeyPrompt passkey_prompt_for_length(int target_tokens, double depth, const std::string& key,
                                        const std::function<int(std::string_view)>& count) {
  if (count(passkey_prompt(1, depth, key).text) > target_tokens)
    throw Error::usage("passkey length too short for the instruction and question")
        .field("length")
        .found(std::to_string(target_tokens));
  // Grow an upper bound, then bisect on the number of filler blocks.
  int lo = 1, hi = 2;
  while (count(passkey_prompt(hi, depth, key).text) <= target_tokens) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    (count(passkey_prompt(mid, depth, key).text) <= target_tokens ? lo : hi) = mid;
  }
  return passkey_prompt(lo, depth, key);
}

double passkey_depth(int trial, int trials) {
  return trials <= 1 ? 0.5 : static_cast<double>(trial) / (trials - 1);
}

bool passkey_correct(std::string_view answer, std::string_view key) {
  std::size_t i = 0;
  while (i < answer.size() && !std::isdigit(static_cast<unsigned char>(answer[i]))) ++i;
  std::size_t j = i;
  while (j < answer.size() && std::isdigit(static_cast<unsigned char>(answer[j]))) ++j;
  return j > i && answer.substr(i, j - i) == key;
}

}  // namespace gearbox::serve::cap
