#include "gearbox/gnn/train_loop.hpp"

#include <ostream>

#include "gearbox/core/error.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/stats.hpp"

namespace gearbox::gnn {

void check_training_inputs(index_t nodes, const std::vector<std::int32_t>& labels, int classes,
                           const std::vector<index_t>& train) {
  if (static_cast<index_t>(labels.size()) != nodes || classes < 1)
    throw Error::input("training needs a label per node and at least one class");
  if (train.empty()) throw Error::input("training needs a non-empty training split");
}

TrainResult run_epochs(const TrainSteps& steps, const TrainConfig& cfg, std::ostream* progress) {
  TrainResult res;
  std::vector<double> times;
  for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
    Stopwatch sw;
    const auto [loss, train_acc] = steps.train_epoch(epoch);
    const double ms = sw.ms();
    times.push_back(ms);
    EpochStats st{epoch, ms, loss, train_acc, 0};
    if (cfg.evaluate_each_epoch || epoch == cfg.epochs) {
      steps.evaluate();
      st.val_acc = steps.accuracy(Split::kVal);
    }
    res.epochs.push_back(st);
    if (progress)
      *progress << "epoch " << epoch << "  " << fmt_num(ms, 2) << " ms  loss " << fmt_num(loss, 4)
                << "  train " << fmt_num(st.train_acc, 3) << "  val " << fmt_num(st.val_acc, 3)
                << "\n";
  }
  steps.evaluate();
  res.train_acc = steps.accuracy(Split::kTrain);
  res.val_acc = steps.accuracy(Split::kVal);
  res.test_acc = steps.accuracy(Split::kTest);
  res.epoch_ms_median = summarize(times).median;
  return res;
}

}  // namespace gearbox::gnn
