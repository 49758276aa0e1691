#include "gearbox/sched/state_store.hpp"

#include <sqlite3.h>

#include <functional>

#include "gearbox/core/error.hpp"

namespace gearbox::sched {

namespace {
// One prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql, const std::string& path) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, long long v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, int v) { return bind(i, static_cast<long long>(v)); }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Steps once; true while a row is available.
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail("step");
    return false;
  }
  void run() {
    while (step()) {
    }
  }
  long long i64(int c) const { return sqlite3_column_int64(s_, c); }
  double real(int c) const { return sqlite3_column_double(s_, c); }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(s_, c);
    return p ? reinterpret_cast<const char*>(p) : "";
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw Error::runtime(std::string("SQLite ") + what + ": " + sqlite3_errmsg(db_)).at(path_);
  }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  const std::string& path_;
};

JobRow job_of(const Stmt& s) {
  JobRow j;
  j.id = s.i64(0);
  j.model = s.text(1);
  j.batch = static_cast<int>(s.i64(2));
  j.iterations = s.i64(3);
  j.deadline = s.real(4);
  j.request = s.text(5);
  j.state = s.text(6);
  j.submitted = s.real(7);
  j.finished = s.real(8);
  j.failures = static_cast<int>(s.i64(9));
  return j;
}

AttemptRow attempt_of(const Stmt& s) {
  AttemptRow a;
  a.job = s.i64(0);
  a.number = static_cast<int>(s.i64(1));
  a.name = s.text(2);
  a.slurm_id = s.i64(3);
  a.state = s.text(4);
  a.gpu_type = s.text(5);
  a.hosts = static_cast<int>(s.i64(6));
  a.per_host = static_cast<int>(s.i64(7));
  a.nodes = s.text(8);
  a.started = s.real(9);
  a.ended = s.real(10);
  return a;
}

constexpr const char* kJobCols =
    "id, model, batch, iterations, deadline, request, state, submitted, finished, failures";
constexpr const char* kAttemptCols =
    "job, number, name, slurm_id, state, gpu_type, hosts, per_host, nodes, started, ended";
}  // namespace

StateStore::StateStore(const std::filesystem::path& path) : path_(path.string()) {
  if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error::runtime("cannot open the state database: " + msg).at(path_);
  }
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=FULL");
  exec(
      "CREATE TABLE IF NOT EXISTS jobs(id INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT "
      "NULL, batch INTEGER NOT NULL, iterations INTEGER NOT NULL, deadline REAL NOT NULL "
      "DEFAULT 0, request TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, submitted REAL NOT "
      "NULL, finished REAL NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0);"
      "CREATE TABLE IF NOT EXISTS attempts(job INTEGER NOT NULL REFERENCES jobs(id), number "
      "INTEGER NOT NULL, name TEXT NOT NULL UNIQUE, slurm_id INTEGER NOT NULL DEFAULT 0, state "
      "TEXT NOT NULL, gpu_type TEXT NOT NULL, hosts INTEGER NOT NULL, per_host INTEGER NOT "
      "NULL, nodes TEXT NOT NULL, started REAL NOT NULL, ended REAL NOT NULL DEFAULT 0, "
      "PRIMARY KEY(job, number));"
      "CREATE TABLE IF NOT EXISTS rounds(n INTEGER PRIMARY KEY, time REAL NOT NULL, changes "
      "INTEGER NOT NULL, pass_ms REAL NOT NULL);"
      "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS nodes(name TEXT PRIMARY KEY, gpu_type TEXT NOT NULL, gpus "
      "INTEGER NOT NULL, state TEXT NOT NULL, seen REAL NOT NULL);");
}

StateStore::~StateStore() {
  sqlite3_close(db_);
}

void StateStore::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw Error::runtime("SQLite: " + msg).at(path_);
  }
}

std::string StateStore::meta(const std::string& key) const {
  Stmt s(db_, "SELECT value FROM meta WHERE key = ?", path_);
  s.bind(1, key);
  return s.step() ? s.text(0) : "";
}

void StateStore::set_meta(const std::string& key, const std::string& value) {
  Stmt s(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", path_);
  s.bind(1, key).bind(2, value).run();
}

std::vector<std::string> StateStore::attempt_names() const {
  Stmt s(db_, "SELECT name FROM attempts", path_);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::string StateStore::journal_mode() const {
  Stmt s(db_, "PRAGMA journal_mode", path_);
  return s.step() ? s.text(0) : "";
}

long long StateStore::add_job(const JobRow& j) {
  Stmt s(db_,
         "INSERT INTO jobs(model, batch, iterations, deadline, request, state, submitted) "
         "VALUES(?, ?, ?, ?, ?, 'pending', ?)",
         path_);
  s.bind(1, j.model).bind(2, j.batch).bind(3, j.iterations).bind(4, j.deadline);
  s.bind(5, j.request).bind(6, j.submitted).run();
  return sqlite3_last_insert_rowid(db_);
}

std::optional<JobRow> StateStore::job(long long id) const {
  Stmt s(db_, (std::string("SELECT ") + kJobCols + " FROM jobs WHERE id = ?").c_str(), path_);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return job_of(s);
}

std::vector<JobRow> StateStore::jobs() const {
  Stmt s(db_, (std::string("SELECT ") + kJobCols + " FROM jobs ORDER BY id").c_str(), path_);
  std::vector<JobRow> out;
  while (s.step()) out.push_back(job_of(s));
  return out;
}

void StateStore::set_job_state(long long id, const std::string& state, double time) {
  Stmt s(db_, "UPDATE jobs SET state = ?, finished = ? WHERE id = ?", path_);
  s.bind(1, state).bind(2, time).bind(3, id).run();
}

void StateStore::add_failure(long long id) {
  Stmt s(db_, "UPDATE jobs SET failures = failures + 1 WHERE id = ?", path_);
  s.bind(1, id).run();
}

void StateStore::begin_attempt(const AttemptRow& a) {
  Stmt s(db_,
         "INSERT INTO attempts(job, number, name, state, gpu_type, hosts, per_host, nodes, "
         "started) VALUES(?, ?, ?, 'submitting', ?, ?, ?, ?, ?)",
         path_);
  s.bind(1, a.job).bind(2, a.number).bind(3, a.name).bind(4, a.gpu_type).bind(5, a.hosts);
  s.bind(6, a.per_host).bind(7, a.nodes).bind(8, a.started).run();
}

void StateStore::attempt_submitted(long long job, int number, long long slurm_id) {
  Stmt s(db_, "UPDATE attempts SET slurm_id = ?, state = 'running' WHERE job = ? AND number = ?",
         path_);
  s.bind(1, slurm_id).bind(2, job).bind(3, number).run();
}

void StateStore::end_attempt(long long job, int number, const std::string& state, double time) {
  Stmt s(db_, "UPDATE attempts SET state = ?, ended = ? WHERE job = ? AND number = ?", path_);
  s.bind(1, state).bind(2, time).bind(3, job).bind(4, number).run();
}

std::vector<AttemptRow> StateStore::open_attempts() const {
  Stmt s(db_,
         (std::string("SELECT ") + kAttemptCols +
          " FROM attempts WHERE state IN ('submitting', 'running') ORDER BY job, number")
             .c_str(),
         path_);
  std::vector<AttemptRow> out;
  while (s.step()) out.push_back(attempt_of(s));
  return out;
}

std::vector<AttemptRow> StateStore::attempts(long long job) const {
  Stmt s(db_,
         (std::string("SELECT ") + kAttemptCols + " FROM attempts WHERE job = ? ORDER BY number")
             .c_str(),
         path_);
  s.bind(1, job);
  std::vector<AttemptRow> out;
  while (s.step()) out.push_back(attempt_of(s));
  return out;
}

void StateStore::add_round(int round, double time, int changes, double pass_ms) {
  Stmt s(db_, "INSERT OR REPLACE INTO rounds(n, time, changes, pass_ms) VALUES(?, ?, ?, ?)", path_);
  s.bind(1, round).bind(2, time).bind(3, changes).bind(4, pass_ms).run();
}

int StateStore::rounds() const {
  Stmt s(db_, "SELECT COUNT(*) FROM rounds", path_);
  return s.step() ? static_cast<int>(s.i64(0)) : 0;
}

void StateStore::upsert_node(const std::string& name, const std::string& gpu_type, int gpus,
                             const std::string& state, double time) {
  Stmt s(db_,
         "INSERT INTO nodes(name, gpu_type, gpus, state, seen) VALUES(?, ?, ?, ?, ?) ON "
         "CONFLICT(name) DO UPDATE SET gpu_type = excluded.gpu_type, gpus = excluded.gpus, "
         "state = excluded.state, seen = excluded.seen",
         path_);
  s.bind(1, name).bind(2, gpu_type).bind(3, gpus).bind(4, state).bind(5, time).run();
}

}  // namespace gearbox::sched
