// Drives a BatchScheduler step by step (no scheduling thread) until its streams finish.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gearbox/serve/server/scheduler.hpp"

namespace gearbox::serve::server::testing {

// Steps `s` until every stream in `st` has finished (at most 10,000 steps, else a test
// failure); returns their texts and, when `ends` is given, each stream's finishing update.
inline std::vector<std::string> drain(BatchScheduler& s,
                                      std::vector<std::shared_ptr<GenerationStream>>& st,
                                      std::vector<StreamUpdate>* ends = nullptr) {
  std::vector<std::string> text(st.size());
  std::vector<bool> done(st.size(), false);
  if (ends) ends->resize(st.size());
  for (int guard = 0; guard < 10000; ++guard) {
    s.step();
    bool all = true;
    for (std::size_t i = 0; i < st.size(); ++i) {
      if (done[i]) continue;
      auto u = st[i]->next(std::chrono::milliseconds(0));
      text[i] += u.text;
      if (u.finished) {
        done[i] = true;
        if (ends) (*ends)[i] = u;
      } else {
        all = false;
      }
    }
    if (all) return text;
  }
  ADD_FAILURE() << "streams did not finish";
  return text;
}

}  // namespace gearbox::serve::server::testing
