#include "gearbox/sched/linear_program.hpp"

#include <glpk.h>

#include <algorithm>
#include <mutex>

namespace gearbox::sched {

namespace {
constexpr double kInf = 1e299;
// Branch-and-bound nodes explored before the search stops with its best integer solution: a
// deterministic bound (a time limit would make results depend on the machine's load).
constexpr int kMaxNodes = 200;

void count_nodes(glp_tree* tree, void* info) {
  int* nodes = static_cast<int*>(info);
  if (glp_ios_reason(tree) == GLP_ISELECT && ++*nodes > kMaxNodes) glp_ios_terminate(tree);
}
int bound_type(double lo, double hi) {
  const bool has_lo = lo > -kInf, has_hi = hi < kInf;
  if (has_lo && has_hi) return lo == hi ? GLP_FX : GLP_DB;
  if (has_lo) return GLP_LO;
  if (has_hi) return GLP_UP;
  return GLP_FR;
}
}  // namespace

int LinearProgram::add_column(double c, double lo, double hi, bool integer) {
  obj_.push_back(c);
  lo_.push_back(lo);
  hi_.push_back(hi);
  int_.push_back(integer);
  return static_cast<int>(obj_.size()) - 1;
}

void LinearProgram::add_row(const std::vector<int>& cols, const std::vector<double>& coefs,
                            double lo, double hi) {
  rows_.push_back({cols, coefs, lo, hi});
}

std::vector<double> LinearProgram::maximize(int time_limit_ms) const {
  if (obj_.empty()) return {};
  // GLPK's environment is process-wide unless the library was built thread-local: one solve
  // at a time (the simulator runs policies in parallel under --threads).
  static std::mutex glpk;
  const std::lock_guard<std::mutex> lock(glpk);
  glp_prob* lp = glp_create_prob();
  glp_set_obj_dir(lp, GLP_MAX);
  const int nc = static_cast<int>(obj_.size());
  glp_add_cols(lp, nc);
  bool mip = false;
  for (int c = 0; c < nc; ++c) {
    const auto uc = static_cast<std::size_t>(c);
    glp_set_col_bnds(lp, c + 1, bound_type(lo_[uc], hi_[uc]), lo_[uc], hi_[uc]);
    glp_set_obj_coef(lp, c + 1, obj_[uc]);
    if (int_[uc]) {
      glp_set_col_kind(lp, c + 1, GLP_IV);
      mip = true;
    }
  }
  if (!rows_.empty()) glp_add_rows(lp, static_cast<int>(rows_.size()));
  std::vector<int> ia{0}, ja{0};
  std::vector<double> ar{0};
  for (std::size_t r = 0; r < rows_.size(); ++r) {
    const Row& row = rows_[r];
    glp_set_row_bnds(lp, static_cast<int>(r) + 1, bound_type(row.lo, row.hi), row.lo, row.hi);
    for (std::size_t k = 0; k < row.cols.size(); ++k) {
      ia.push_back(static_cast<int>(r) + 1);
      ja.push_back(row.cols[k] + 1);
      ar.push_back(row.coefs[k]);
    }
  }
  glp_load_matrix(lp, static_cast<int>(ia.size()) - 1, ia.data(), ja.data(), ar.data());
  glp_smcp sm;
  glp_init_smcp(&sm);
  sm.msg_lev = GLP_MSG_OFF;
  sm.presolve = GLP_OFF;
  std::vector<double> x;
  const int rc = glp_simplex(lp, &sm);
  if (rc == 0 && glp_get_status(lp) == GLP_OPT) {
    if (mip) {
      glp_iocp io;
      glp_init_iocp(&io);
      io.msg_lev = GLP_MSG_OFF;
      io.tm_lim = std::max(1, time_limit_ms);  // a safety net: results depend on it if hit
      io.mip_gap = 0.01;
      int nodes = 0;
      io.cb_func = count_nodes;
      io.cb_info = &nodes;
      const int mrc = glp_intopt(lp, &io);
      const int st = glp_mip_status(lp);
      if ((mrc == 0 || mrc == GLP_ETMLIM || mrc == GLP_EMIPGAP || mrc == GLP_ESTOP) &&
          (st == GLP_OPT || st == GLP_FEAS)) {
        x.resize(static_cast<std::size_t>(nc));
        for (int c = 0; c < nc; ++c) x[static_cast<std::size_t>(c)] = glp_mip_col_val(lp, c + 1);
      }
    } else {
      x.resize(static_cast<std::size_t>(nc));
      for (int c = 0; c < nc; ++c) x[static_cast<std::size_t>(c)] = glp_get_col_prim(lp, c + 1);
    }
  }
  glp_delete_prob(lp);
  return x;
}

}  // namespace gearbox::sched
