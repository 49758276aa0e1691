// Constants of the Crius artifact (sjtu-epcc/arena, macro/macro_def.py), named as there.
#pragma once

#include <array>

namespace gearbox::sched {

inline constexpr double kSchedulingInterval = 300;      // SCHEDULING_INTERVAL, seconds per round
inline constexpr int kIterNumScaleFactorSim = 5;        // ITER_NUM_SCALE_FACTOR_SIM
inline constexpr double kDeadlineScale = 5.0;           // deadline' = now + (deadline-now)*5
inline constexpr double kLocalityScaleFactor = 0.9;     // LOCALITY_SCALE_FACTOR
inline constexpr double kParamNumScaleFactor = 1.8;     // PARAM_NUM_SCALE_FACTOR
inline constexpr double kReschedWithPrune = 10;         // RESCHED_OVERHEAD_WITH_PRUNE (Crius)
inline constexpr double kMaxReschedWithPrune = 40;      // MAX_RESCHED_OVERHEAD_WITH_PRUNE
inline constexpr double kReschedWithoutPrune = 150;     // RESCHED_OVERHEAD_WITHOUT_PRUNE (others)
inline constexpr double kMaxReschedWithoutPrune = 600;  // MAX_RESCHED_OVERHEAD_WITHOUT_PRUNE
inline constexpr int kDowngradeSearchIters = 2;         // ITER_NUM_OF_DOWNGRADE_SEARCH
inline constexpr int kMaxUpgradeSteps = 10;             // MAX_UPGRADE_STEP_NUM
inline constexpr int kMaxShrinkTimes = 2;               // MAX_SHRINK_TIMES
inline constexpr int kMaxMigrateJobs = 3;               // MAX_MGRT_JOB_NUM (Gavel, Sia)
inline constexpr double kSiaFairness = 0.5;             // p_fairness (Sia)
inline constexpr double kXlaMemFraction = 0.8;          // pre_alloc_memory_fraction_for_xla
inline constexpr double kDpMemMargin = 1.2;             // dp_mem * 1.2 > max_mem * 0.8 => OOM
inline constexpr double kMaxValidIterTime = 300;  // a profile entry is valid if 0 < e2e <= 300

// GPU counts a job may use (SUPPORTED_GPU_NUM_LIST); index i holds 2^i.
inline constexpr std::array<int, 5> kGpuCounts = {1, 2, 4, 8, 16};
inline constexpr int kNumGpuCounts = 5;

// Index of n in kGpuCounts, or -1 when n is not a supported count.
inline int gpu_count_index(int n) {
  for (int i = 0; i < kNumGpuCounts; ++i)
    if (kGpuCounts[i] == n) return i;
  return -1;
}

}  // namespace gearbox::sched
