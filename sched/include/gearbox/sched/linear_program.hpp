// A small linear / mixed-integer program solved with GLPK (Debian's libglpk): maximise c.x
// subject to row bounds on sparse rows and column bounds. Used by the Gavel (LP) and Sia (ILP)
// policies.
#pragma once

#include <vector>

namespace gearbox::sched {

class LinearProgram {
 public:
  // Adds a column lo <= x <= hi with objective coefficient c; returns its index.
  int add_column(double c, double lo, double hi, bool integer = false);
  // Adds a row lo <= sum(coef[k] * x[col[k]]) <= hi (use +-1e300 for a free side).
  void add_row(const std::vector<int>& cols, const std::vector<double>& coefs, double lo,
               double hi);
  // Solves (MIP when any column is integer: branch and bound to a 1% gap or 200 nodes, with
  // `time_limit_ms` as a safety net); returns the column values, or an empty vector when no
  // feasible solution was found.
  std::vector<double> maximize(int time_limit_ms = 1000) const;
  int columns() const { return static_cast<int>(obj_.size()); }

 private:
  struct Row {
    std::vector<int> cols;
    std::vector<double> coefs;
    double lo, hi;
  };
  std::vector<double> obj_, lo_, hi_;
  std::vector<bool> int_;
  std::vector<Row> rows_;
};

}  // namespace gearbox::sched
