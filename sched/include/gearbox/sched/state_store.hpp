// The Slurm daemon's durable state in SQLite (WAL mode): jobs, their attempts, rounds and
// nodes. An attempt's row is written (state "submitting") BEFORE sbatch is called and updated
// with the Slurm job id after, so a daemon killed in between finds the attempt on restart and
// reconciles it with Slurm by its unique name instead of submitting it again.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace gearbox::sched {

struct JobRow {
  long long id = 0;
  std::string model;  // catalog name, e.g. "bert-1.3B"
  int batch = 0;
  long long iterations = 0;
  double deadline = 0;  // seconds after submission; 0 = none
  std::string request;  // the optional request fields (gpus, gpu_type, command) as JSON
  std::string state;    // "pending", "running", "finished", "failed", "cancelled"
  double submitted = 0, finished = 0;
  int failures = 0;
};

struct AttemptRow {
  long long job = 0;
  int number = 0;
  std::string name;        // "crius-<job>-<number>", unique
  long long slurm_id = 0;  // 0 until sbatch answered
  std::string state;       // "submitting", "running", "preempted", "finished", "failed", "lost"
  std::string gpu_type;
  int hosts = 0, per_host = 0;
  std::string nodes;  // comma-separated Slurm node names
  double started = 0, ended = 0;
};

class StateStore {
 public:
  // Opens (creating if absent) the database at `path`; throws Error::runtime naming the file.
  explicit StateStore(const std::filesystem::path& path);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // A new job (state "pending"); returns its id (1, 2, ...).
  long long add_job(const JobRow& job);
  std::optional<JobRow> job(long long id) const;
  std::vector<JobRow> jobs() const;  // by id
  void set_job_state(long long id, const std::string& state, double time);
  void add_failure(long long id);

  // Written before sbatch: state "submitting".
  void begin_attempt(const AttemptRow& attempt);
  // sbatch answered: the Slurm id, state "running".
  void attempt_submitted(long long job, int number, long long slurm_id);
  void end_attempt(long long job, int number, const std::string& state, double time);
  // Attempts in "submitting" or "running" (what a restarted daemon reconciles), by job.
  std::vector<AttemptRow> open_attempts() const;
  std::vector<AttemptRow> attempts(long long job) const;

  void add_round(int round, double time, int changes, double pass_ms);
  int rounds() const;
  void upsert_node(const std::string& name, const std::string& gpu_type, int gpus,
                   const std::string& state, double time);

  // A value of the meta table ("" when absent) and setting one.
  std::string meta(const std::string& key) const;
  void set_meta(const std::string& key, const std::string& value);
  // Every attempt name recorded (open or closed).
  std::vector<std::string> attempt_names() const;

  // The journal mode SQLite reports ("wal").
  std::string journal_mode() const;

 private:
  void exec(const char* sql) const;
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace gearbox::sched
