// The Slurm daemon's SQLite state: WAL mode, jobs and attempts that survive a reopen, and an
// attempt recorded before its sbatch so a restart can find it.
#include <gtest/gtest.h>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/state_store.hpp"
#include "gearbox/testing/temp_dir.hpp"

namespace gearbox::sched {
namespace {

TEST(StateStore, AttemptRowPrecedesSubmissionAndSurvivesReopen) {
  const gearbox::testing::TempDir dir;
  const auto path = dir.path() / "state.sqlite";
  long long id = 0;
  {
    StateStore s(path);
    EXPECT_EQ(s.journal_mode(), "wal");
    JobRow j;
    j.model = "bert-1.3B";
    j.batch = 256;
    j.iterations = 500;
    j.submitted = 10;
    id = s.add_job(j);
    EXPECT_EQ(id, 1);
    EXPECT_EQ(s.add_job(j), 2);
    AttemptRow a;
    a.job = id;
    a.number = 1;
    a.name = "crius-1-1";
    a.gpu_type = "a100";
    a.hosts = 2;
    a.per_host = 4;
    a.nodes = "a100-0,a100-1";
    a.started = 11;
    s.begin_attempt(a);
    // Killed here, before sbatch answered: the row is there, without a Slurm id.
  }
  {
    StateStore s(path);
    auto open = s.open_attempts();
    ASSERT_EQ(open.size(), 1u);
    EXPECT_EQ(open[0].state, "submitting");
    EXPECT_EQ(open[0].slurm_id, 0);
    EXPECT_EQ(open[0].name, "crius-1-1");
    EXPECT_EQ(open[0].nodes, "a100-0,a100-1");
    s.attempt_submitted(id, 1, 77);
    open = s.open_attempts();
    ASSERT_EQ(open.size(), 1u);
    EXPECT_EQ(open[0].state, "running");
    EXPECT_EQ(open[0].slurm_id, 77);
    s.end_attempt(id, 1, "finished", 20);
    s.set_job_state(id, "finished", 20);
    s.add_round(0, 11, 1, 0.5);
    s.upsert_node("a100-0", "a100", 4, "idle", 11);
    s.upsert_node("a100-0", "a100", 4, "drain", 12);
  }
  StateStore s(path);
  EXPECT_TRUE(s.open_attempts().empty());
  ASSERT_EQ(s.attempts(id).size(), 1u);
  EXPECT_EQ(s.attempts(id)[0].state, "finished");
  const auto j = s.job(id);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->state, "finished");
  EXPECT_EQ(j->model, "bert-1.3B");
  EXPECT_EQ(j->iterations, 500);
  EXPECT_EQ(s.jobs().size(), 2u);
  EXPECT_EQ(s.rounds(), 1);
  EXPECT_FALSE(s.job(99).has_value());
}

TEST(StateStore, AttemptNamesAreUnique) {
  const gearbox::testing::TempDir dir;
  StateStore s(dir.path() / "state.sqlite");
  JobRow j;
  j.model = "bert-760M";
  j.batch = 128;
  j.iterations = 5;
  const long long id = s.add_job(j);
  AttemptRow a;
  a.job = id;
  a.number = 1;
  a.name = "crius-1-1";
  a.gpu_type = "a100";
  s.begin_attempt(a);
  EXPECT_THROW(s.begin_attempt(a), Error);  // the same attempt twice is refused
}

TEST(StateStore, UnopenablePathIsARuntimeErrorNamingIt) {
  const gearbox::testing::TempDir dir;
  try {
    StateStore s(dir.path() / "missing-dir" / "state.sqlite");
    FAIL() << "opened a database in a missing folder";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRuntime);
    EXPECT_NE(std::string(e.what()).find("missing-dir"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gearbox::sched
