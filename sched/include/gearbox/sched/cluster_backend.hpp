// The seam between the scheduler core (policies, node allocation, metrics) and what runs the
// jobs: the simulator (SimBackend) or a real cluster. The core decides placements each pass and
// enacts only the difference through start() and preempt(); the backend reports where attempts
// run, how far each job got, and events (a job finished, failed or lost) through poll().
#pragma once

#include <string>
#include <vector>

#include "gearbox/sched/cluster.hpp"
#include "gearbox/sched/placement.hpp"
#include "gearbox/sched/policy.hpp"

namespace gearbox::sched {

// One attempt of a job: a placement on given nodes (node indices within the placement's pool,
// one per host, as the NodeAllocator numbers them).
struct Attempt {
  int job = -1;
  int number = 0;  // 1 for a job's first attempt, then 2, 3, ...
  Placement placement;
  std::vector<int> nodes;
};

struct BackendEvent {
  enum class Kind {
    kFinished,  // the job's last iteration ended
    kFailed,    // the attempt ended without finishing (its process failed)
    kLost,      // the attempt vanished (node lost, backend restarted)
  };
  Kind kind = Kind::kFinished;
  int job = -1;
  double time = 0;  // when it happened, on the backend's clock
};

class ClusterBackend {
 public:
  virtual ~ClusterBackend() = default;
  // The nodes and their GPU types, as pools of identical nodes.
  virtual const Cluster& cluster() const = 0;
  // The attempts running now, in ascending job order.
  virtual std::vector<Attempt> running() const = 0;
  // Starts a new attempt of `job` on `placement` at `nodes` (one per host); an attempt of the
  // job still running is stopped first (a resize or a move restarts from the last checkpoint).
  virtual void start(const ActiveJob& job, const Placement& placement,
                     const std::vector<int>& nodes, double now) = 0;
  // Stops the job's running attempt (checkpoint first where the backend can); the job keeps its
  // progress and waits for its next placement.
  virtual void preempt(int job, double now) = 0;
  // Iterations of `job` still to run, as far as the backend knows.
  virtual double remaining_iters(int job) const = 0;
  // Events since the last poll up to the backend's clock `until`, in ascending job order for
  // events at the same call.
  virtual std::vector<BackendEvent> poll(double until) = 0;
};

}  // namespace gearbox::sched
