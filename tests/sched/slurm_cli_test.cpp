// Our side of the Slurm backend, with the Slurm tools faked: parsing their JSON, the pinned
// sbatch argument vector, retries with backoff, and no duplicate submission on a retry.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include "gearbox/core/error.hpp"
#include "gearbox/sched/emulated_worker.hpp"
#include "gearbox/sched/reconcile.hpp"
#include "gearbox/sched/slurm_cli.hpp"
#include "gearbox/testing/temp_dir.hpp"

namespace gearbox::sched {
namespace {

// Shaped like Slurm 22.05's `sinfo --json` (fields we read; the real output has many more).
// clang-format off
const char* kSinfo = R"json({"meta": {}, "errors": [], "nodes": [
  {"name": "v100-0", "state": "idle", "state_flags": [], "gres": "gpu:v100:8",
   "partitions": ["gearbox"]},
  {"name": "a100-1", "state": "mixed", "state_flags": ["DRAIN"], "gres": "gpu:a100:4(S:0)",
   "partitions": ["gearbox"]},
  {"name": "a100-0", "state": "idle", "state_flags": [], "gres": "gpu:a100:4",
   "partitions": ["gearbox", "other"]}]})json";
// clang-format on

TEST(SlurmCli, ParsesNodesAndTypedGpus) {
  const auto nodes = parse_sinfo_json(kSinfo, "sinfo");
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[1].name, "a100-1");
  EXPECT_EQ(nodes[1].gpu_type, "a100");
  EXPECT_EQ(nodes[1].gpus, 4);
  EXPECT_TRUE(nodes[1].drained);
  EXPECT_FALSE(nodes[1].usable());
  EXPECT_TRUE(nodes[0].usable());
  EXPECT_EQ(nodes[2].partitions, (std::vector<std::string>{"gearbox", "other"}));
  const auto c = cluster_from_nodes(nodes);
  ASSERT_EQ(c.cluster.num_pools(), 2);
  EXPECT_EQ(c.cluster.pool(0).type, "a100");  // name order: a100-0, a100-1, v100-0
  EXPECT_EQ(c.cluster.pool(0).nodes, 2);
  EXPECT_EQ(c.cluster.pool(0).gpus_per_node, 4);
  EXPECT_EQ(c.cluster.pool(1).gpus_per_node, 8);
  EXPECT_EQ(c.node_names[0], (std::vector<std::string>{"a100-0", "a100-1"}));
}

TEST(SlurmCli, RefusesUnknownGpuTypeNamingTheNode) {
  auto nodes = parse_sinfo_json(kSinfo, "sinfo");
  nodes[0].gpu_type = "zz9000";
  try {
    cluster_from_nodes(nodes);
    FAIL() << "accepted an unknown GPU type";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("v100-0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("zz9000"), std::string::npos) << e.what();
  }
  nodes = parse_sinfo_json(kSinfo, "sinfo");
  nodes[2].gpus = 2;
  EXPECT_THROW(cluster_from_nodes(nodes), Error);  // a100 nodes with 4 and 2 GPUs
  EXPECT_THROW(parse_sinfo_json("{\"nodes\": 3}", "sinfo"), Error);
  EXPECT_THROW(parse_sinfo_json("not json", "sinfo"), Error);
}

TEST(SlurmCli, ParsesJobs) {
  const char* text = R"({"jobs": [{"job_id": 12, "name": "crius-3-2", "comment": "crius:3:2",
    "job_state": "RUNNING", "exit_code": 0, "nodes": "a100-[0-1]"},
    {"job_id": 13, "name": "x", "job_state": ["FAILED"], "exit_code": 137, "nodes": ""}]})";
  const auto jobs = parse_squeue_json(text, "squeue");
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, 12);
  EXPECT_EQ(jobs[0].comment, "crius:3:2");
  EXPECT_EQ(jobs[0].state, "RUNNING");
  EXPECT_EQ(jobs[1].state, "FAILED");
  EXPECT_EQ(jobs[1].exit_code, 137);
  EXPECT_THROW(parse_squeue_json(R"({"jobs": [{"name": "no id"}]})", "squeue"), Error);
}

SubmitRequest request() {
  SubmitRequest r;
  r.name = "crius-3-2";
  r.comment = "crius:3:2";
  r.partition = "gearbox";
  r.nodes = {"a100-0", "a100-1"};
  r.gpu_type = "a100";
  r.per_host = 4;
  r.script = "/spool/crius/job.sh";
  r.env = {{"GEARBOX_JOB_ID", "3"}};
  r.command = {"/bin/gearbox", "sched", "worker", "a b"};
  return r;
}

TEST(SlurmCli, SbatchPinsNodesTypeAndCountWithoutAShell) {
  const auto a = sbatch_argv(request());
  auto has = [&](const std::string& s) { return std::find(a.begin(), a.end(), s) != a.end(); };
  EXPECT_EQ(a[0], "sbatch");
  EXPECT_TRUE(has("--parsable"));
  EXPECT_TRUE(has("--nodelist=a100-0,a100-1"));
  EXPECT_TRUE(has("--nodes=2"));
  EXPECT_TRUE(has("--gres=gpu:a100:4"));
  EXPECT_TRUE(has("--ntasks-per-node=1"));
  EXPECT_TRUE(has("--no-requeue"));
  EXPECT_TRUE(has("--job-name=crius-3-2"));
  EXPECT_TRUE(has("--comment=crius:3:2"));
  // The script, then env and the command as separate words (a space stays inside its word).
  const auto s = std::find(a.begin(), a.end(), "/spool/crius/job.sh");
  ASSERT_NE(s, a.end());
  EXPECT_EQ(std::vector<std::string>(s + 1, a.end()),
            (std::vector<std::string>{"env", "GEARBOX_JOB_ID=3", "/bin/gearbox", "sched", "worker",
                                      "a b"}));
  SubmitRequest bad = request();
  bad.nodes.clear();
  EXPECT_THROW(sbatch_argv(bad), Error);
}

// Answers each call from a script of results, recording the calls.
class FakeRunner : public CommandRunner {
 public:
  std::deque<CommandResult> answers;
  std::vector<std::vector<std::string>> calls;
  CommandResult run(const std::vector<std::string>& argv, double) override {
    calls.push_back(argv);
    if (answers.empty()) return {1, "", "no answer scripted"};
    auto r = answers.front();
    answers.pop_front();
    return r;
  }
};

TEST(SlurmCli, RetriesWithBackoffAndCounts) {
  FakeRunner fake;
  fake.answers = {{1, "", "slurm_load_node error: Unable to contact slurm controller"},
                  {1, "", "again"},
                  {0, kSinfo, ""}};
  SlurmCli cli(fake, {4, 0.001, 5});
  EXPECT_EQ(cli.nodes().size(), 3u);
  EXPECT_EQ(fake.calls.size(), 3u);
  EXPECT_EQ(cli.stats().calls, 1);
  EXPECT_EQ(cli.stats().retries, 2);
  EXPECT_EQ(cli.stats().failures, 0);
  fake.answers = {{1, "", "down"}, {1, "", "down"}, {1, "", "still down"}, {1, "", "down"}};
  try {
    cli.nodes();
    FAIL() << "no error after every try failed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRuntime);
    EXPECT_NE(std::string(e.what()).find("down"), std::string::npos);
  }
  EXPECT_EQ(cli.stats().failures, 1);
}

// squeue/sinfo --json exit 0 with an empty list and an "errors" entry while slurmctld is away
// (Slurm 22.05's output, abridged): a failed try, retried, never an empty cluster.
TEST(SlurmCli, JsonErrorsWithExitZeroAreAFailedTry) {
  const std::string down =
      R"({"meta": {}, "errors": [{"description": "Failed while looking for jobs",
      "error_number": -1, "error": "Unspecified error", "source": "slurm_load_jobs"}], "jobs": []})";
  FakeRunner fake;
  fake.answers = {
      {0, down, ""},
      {0, R"({"jobs": [{"job_id": 7, "name": "crius-1-1", "job_state": "RUNNING"}]})", ""}};
  SlurmCli cli(fake, {4, 0.001, 5});
  const auto jobs = cli.jobs();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, 7);
  EXPECT_EQ(cli.stats().retries, 1);
  fake.answers = {{0, down, ""}, {0, down, ""}, {0, down, ""}, {0, down, ""}};
  try {
    cli.jobs();
    FAIL() << "an empty job list was accepted from a failed squeue";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRuntime);
    EXPECT_NE(std::string(e.what()).find("Failed while looking for jobs"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(cli.stats().failures, 1);
  EXPECT_THROW(parse_squeue_json(down, "squeue"), Error);
}

// sbatch failed as far as we could tell (here: a timeout) but Slurm had taken the job: the
// retry finds it by its unique name and does not submit it again.
TEST(SlurmCli, SubmitRetryDoesNotDuplicate) {
  FakeRunner fake;
  fake.answers = {
      {124, "", "timed out"},
      {0, R"({"jobs": [{"job_id": 41, "name": "crius-3-2", "job_state": "PENDING"}]})", ""}};
  SlurmCli cli(fake, {4, 0.001, 5});
  EXPECT_EQ(cli.submit(request()), 41);
  ASSERT_EQ(fake.calls.size(), 2u);
  EXPECT_EQ(fake.calls[0][0], "sbatch");
  EXPECT_EQ(fake.calls[1][0], "squeue");
  // A plain success parses "ID;cluster".
  fake.answers = {{0, "57;gearbox\n", ""}};
  EXPECT_EQ(cli.submit(request()), 57);
}

AttemptRow open_attempt(long long job, int number, long long slurm_id, const char* state) {
  AttemptRow a;
  a.job = job;
  a.number = number;
  a.name = "crius-" + std::to_string(job) + "-" + std::to_string(number);
  a.slurm_id = slurm_id;
  a.state = state;
  return a;
}

SlurmJob slurm_job(long long id, const std::string& name, const char* state) {
  SlurmJob j;
  j.id = id;
  j.name = name;
  j.state = state;
  return j;
}

// A restarted daemon: attempt 1-1 still runs (adopt), 2-1 failed while it was away (settle),
// 3-1 was recorded but its sbatch never reached Slurm (lost: reschedule), 4-1's sbatch answered
// after the daemon died (its row has no id: adopt by name, never submit again); crius-9-1 has
// no record at all (cancel); a user's own job is left alone.
TEST(Reconcile, AdoptsSettlesLosesAndCancelsByName) {
  const std::vector<AttemptRow> open = {
      open_attempt(1, 1, 11, "running"), open_attempt(2, 1, 12, "running"),
      open_attempt(3, 1, 0, "submitting"), open_attempt(4, 1, 0, "submitting")};
  const std::vector<std::string> known = {"crius-1-1", "crius-2-1", "crius-3-1", "crius-4-1",
                                          "crius-1-0"};
  const std::vector<SlurmJob> slurm = {
      slurm_job(11, "crius-1-1", "RUNNING"),    slurm_job(12, "crius-2-1", "FAILED"),
      slurm_job(14, "crius-4-1", "PENDING"),    slurm_job(19, "crius-9-1", "RUNNING"),
      slurm_job(20, "someone-else", "RUNNING"), slurm_job(10, "crius-1-0", "COMPLETED")};
  const auto plan = reconcile(open, known, slurm);
  ASSERT_EQ(plan.adopt.size(), 2u);
  EXPECT_EQ(plan.adopt[0].first.name, "crius-1-1");
  EXPECT_EQ(plan.adopt[1].first.name, "crius-4-1");
  EXPECT_EQ(plan.adopt[1].second.id, 14);
  ASSERT_EQ(plan.ended.size(), 1u);
  EXPECT_EQ(plan.ended[0].second.state, "FAILED");
  ASSERT_EQ(plan.lost.size(), 1u);
  EXPECT_EQ(plan.lost[0].name, "crius-3-1");
  EXPECT_EQ(plan.cancel, std::vector<long long>{19});
}

TEST(EmulatedWorker, RunsAndResumesFromItsCheckpoint) {
  const gearbox::testing::TempDir dir;
  WorkerSpec spec;
  spec.iterations = 25;
  spec.iter_seconds = 0;
  spec.checkpoint = dir.path() / "ckpt";
  spec.progress = dir.path() / "progress";
  write_iterations_file(spec.checkpoint, 20);  // an earlier attempt got this far
  EXPECT_EQ(run_emulated_worker(spec), 25);
  EXPECT_EQ(read_iterations_file(spec.progress), 25);
  EXPECT_EQ(read_iterations_file(spec.checkpoint), 25);
  EXPECT_EQ(read_iterations_file(dir.path() / "absent"), 0);
  const auto bad = dir.write("bad", "12 13\n");
  EXPECT_THROW(read_iterations_file(bad), Error);
}

}  // namespace
}  // namespace gearbox::sched
