// The passkey retrieval task (Mohtashami & Jaggi 2023, as used by the long-context papers): a
// fixed instruction, repeated filler sentences, one line with a random 5-digit key inserted at
// a chosen depth, and the question "What is the pass key?". Pure text; the caller tokenizes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace gearbox::serve::cap {

struct PasskeyPrompt {
  std::string text;  // instruction + filler (key line inside) + question
  std::string key;   // the 5 digits
  double depth = 0;  // where the key line sits, as a fraction of the filler (0 = first)
  int filler_repeats = 0;
  int key_after = 0;  // filler repetitions before the key line
};

// The filler sentence block repeated to make up length.
std::string_view passkey_filler();

// A prompt with `filler_repeats` filler blocks and the key line after round(depth * repeats)
// of them. Throws Error::usage when depth is outside [0, 1], repeats is negative, or key is
// not 5 digits.
PasskeyPrompt passkey_prompt(int filler_repeats, double depth, const std::string& key);

// A random 5-digit key (10000..99999) from `seed`.
std::string passkey_key(std::uint64_t seed);

// The prompt with the most filler whose length by `count_tokens` is at most `target_tokens`
// (at least 1 filler block). Throws Error::usage when even that exceeds the target.
PasskeyPrompt passkey_prompt_for_length(int target_tokens, double depth, const std::string& key,
                                        const std::function<int(std::string_view)>& count_tokens);

// The pieces passkey_prompt() joins, in its order: intro, filler x k, key line,
// filler x (repeats - k), question.
struct PasskeyPieces {
  std::string_view intro, filler, question;
  std::string key_line;
};
PasskeyPieces passkey_pieces(const std::string& key);

// The depth of trial i of n, spread evenly over [0, 1] (0.5 when n == 1).
double passkey_depth(int trial, int trials);

// True when the first run of digits in `answer` is the key.
bool passkey_correct(std::string_view answer, std::string_view key);

}  // namespace gearbox::serve::cap
