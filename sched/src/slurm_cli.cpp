#include "gearbox/sched/slurm_cli.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "gearbox/core/error.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/stats.hpp"

namespace gearbox::sched {

namespace {
std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string str_field(const Json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return {};
  if (j[key].is_string()) return j[key].get<std::string>();
  return j[key].dump();
}

Json parse_doc(std::string_view text, const std::string& origin, const char* list) {
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    throw Error::input("not a JSON object").at(origin).expected("Slurm --json output");
  // With slurmctld away, squeue/sinfo --json exit 0 with an empty list and an "errors" entry
  // (22.05: {"errors": [{"description": "Failed while looking for jobs", ...}], "jobs": []}):
  // that is a failed call, never an empty cluster.
  if (doc.contains("errors") && doc["errors"].is_array() && !doc["errors"].empty()) {
    const Json& e = doc["errors"][0];
    std::string what = e.is_object() ? str_field(e, "description") : e.dump();
    if (e.is_object() && e.contains("source")) what += " (" + str_field(e, "source") + ")";
    throw Error::runtime("Slurm reported an error: " + what).at(origin).field("errors");
  }
  if (!doc.contains(list) || !doc[list].is_array())
    throw Error::input("missing array").at(origin).field(list);
  return doc;
}

}  // namespace

bool SlurmNode::usable() const {
  return !drained && (state == "idle" || state == "mixed" || state == "allocated");
}

std::vector<SlurmNode> parse_sinfo_json(std::string_view text, const std::string& origin) {
  const Json doc = parse_doc(text, origin, "nodes");
  std::vector<SlurmNode> out;
  for (const auto& n : doc["nodes"]) {
    SlurmNode node;
    node.name = str_field(n, "name");
    if (node.name.empty()) throw Error::input("node without a name").at(origin).field("nodes");
    // 22.05: "state": "idle", "state_flags": ["DRAIN"]; later releases: "state": ["IDLE", ...].
    std::vector<std::string> words;
    if (n.contains("state") && n["state"].is_array()) {
      for (const auto& w : n["state"]) words.push_back(lower(w.get<std::string>()));
    } else {
      words.push_back(lower(str_field(n, "state")));
    }
    if (n.contains("state_flags") && n["state_flags"].is_array())
      for (const auto& w : n["state_flags"]) words.push_back(lower(w.get<std::string>()));
    node.state = words.empty() ? "" : words.front();
    for (const auto& w : words)
      if (w.rfind("drain", 0) == 0) node.drained = true;
    // gres: "gpu:a100:4" or "gpu:a100:4(S:0)"; several entries comma-separated.
    const std::string gres = str_field(n, "gres");
    std::size_t pos = 0;
    while (pos < gres.size()) {
      std::size_t end = gres.find(',', pos);
      if (end == std::string::npos) end = gres.size();
      std::string item = gres.substr(pos, end - pos);
      item = item.substr(0, item.find('('));
      pos = end + 1;
      if (item.rfind("gpu:", 0) != 0) continue;
      const auto c1 = item.find(':', 4);
      if (c1 == std::string::npos) {
        throw Error::input("GPUs without a type")
            .at(origin)
            .field("nodes." + node.name + ".gres")
            .expected("gpu:TYPE:N")
            .found(item);
      }
      node.gpu_type = lower(item.substr(4, c1 - 4));
      try {
        node.gpus = std::stoi(item.substr(c1 + 1));
      } catch (const std::exception&) {
        throw Error::input("bad GPU count")
            .at(origin)
            .field("nodes." + node.name + ".gres")
            .expected("gpu:TYPE:N")
            .found(item);
      }
    }
    if (n.contains("partitions") && n["partitions"].is_array())
      for (const auto& p : n["partitions"]) node.partitions.push_back(p.get<std::string>());
    out.push_back(std::move(node));
  }
  return out;
}

std::vector<SlurmJob> parse_squeue_json(std::string_view text, const std::string& origin) {
  const Json doc = parse_doc(text, origin, "jobs");
  std::vector<SlurmJob> out;
  for (const auto& j : doc["jobs"]) {
    SlurmJob job;
    if (!j.contains("job_id") || !j["job_id"].is_number_integer())
      throw Error::input("job without an integer job_id").at(origin).field("jobs.job_id");
    job.id = j["job_id"].get<long long>();
    job.name = str_field(j, "name");
    job.comment = str_field(j, "comment");
    if (j.contains("job_state") && j["job_state"].is_array()) {
      job.state = j["job_state"].empty() ? "" : j["job_state"][0].get<std::string>();
    } else {
      job.state = str_field(j, "job_state");
    }
    if (j.contains("exit_code") && j["exit_code"].is_number_integer())
      job.exit_code = j["exit_code"].get<int>();
    job.nodes = str_field(j, "nodes");
    out.push_back(std::move(job));
  }
  return out;
}

SlurmCluster cluster_from_nodes(const std::vector<SlurmNode>& nodes) {
  std::vector<SlurmNode> sorted = nodes;
  std::sort(sorted.begin(), sorted.end(),
            [](const SlurmNode& a, const SlurmNode& b) { return a.name < b.name; });
  std::map<std::string, std::vector<const SlurmNode*>> by_type;
  std::vector<std::string> order;
  for (const auto& n : sorted) {
    if (n.gpu_type.empty() || n.gpus <= 0) {
      throw Error::input("node has no typed GPUs")
          .field("node " + n.name)
          .expected("gres gpu:TYPE:N");
    }
    if (!by_type.count(n.gpu_type)) order.push_back(n.gpu_type);
    by_type[n.gpu_type].push_back(&n);
  }
  SlurmCluster out;
  out.cluster.set_name("slurm");
  for (const auto& type : order) {
    const auto& list = by_type[type];
    for (const auto* n : list) {
      if (n->gpus != list.front()->gpus) {
        throw Error::input("nodes of one GPU type differ in GPU count")
            .field("node " + n->name)
            .expected(std::to_string(list.front()->gpus) + " GPUs as " + list.front()->name)
            .found(std::to_string(n->gpus));
      }
    }
    try {
      out.cluster.add_pool(type, static_cast<int>(list.size()), list.front()->gpus);
    } catch (const Error& e) {
      throw Error::input("unknown GPU type " + type + " (" + e.message() + ")")
          .field("node " + list.front()->name);
    }
    std::vector<std::string> names;
    for (const auto* n : list) names.push_back(n->name);
    out.node_names.push_back(std::move(names));
  }
  return out;
}

const char* job_script_text() {
  return "#!/bin/sh\nexec \"$@\"\n";
}

std::vector<std::string> sbatch_argv(const SubmitRequest& r) {
  if (r.nodes.empty() || r.per_host <= 0 || r.gpu_type.empty() || r.command.empty() ||
      r.script.empty()) {
    throw Error::runtime("sbatch: incomplete submission " + r.name);
  }
  std::string nodelist;
  for (const auto& n : r.nodes) nodelist += (nodelist.empty() ? "" : ",") + n;
  std::vector<std::string> a = {"sbatch",
                                "--parsable",
                                "--job-name=" + r.name,
                                "--comment=" + r.comment,
                                "--nodes=" + std::to_string(r.nodes.size()),
                                "--nodelist=" + nodelist,
                                "--gres=gpu:" + r.gpu_type + ":" + std::to_string(r.per_host),
                                "--ntasks-per-node=1",
                                "--no-requeue",
                                "--output=" + (r.output.empty() ? "/dev/null" : r.output)};
  if (!r.partition.empty()) a.push_back("--partition=" + r.partition);
  a.push_back(r.script);
  a.push_back("env");
  for (const auto& [k, v] : r.env) a.push_back(k + "=" + v);
  a.insert(a.end(), r.command.begin(), r.command.end());
  return a;
}

SlurmCli::SlurmCli(CommandRunner& runner, RetryPolicy retry) : runner_(runner), retry_(retry) {}

void SlurmCli::count(long long calls, long long retries, long long failures, double seconds) {
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_.calls += calls;
  stats_.retries += retries;
  stats_.failures += failures;
  stats_.seconds += seconds;
}

CommandResult SlurmCli::call(const std::vector<std::string>& argv,
                             const std::function<void(const std::string&)>& accept) {
  count(1, 0, 0, 0);
  double delay = retry_.first_delay_s;
  CommandResult r;
  for (int t = 0; t < std::max(1, retry_.attempts); ++t) {
    if (t > 0) {
      count(0, 1, 0, 0);
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
      delay *= 2;
    }
    Stopwatch sw;
    r = runner_.run(argv, retry_.timeout_s);
    count(0, 0, 0, sw.seconds());
    if (!r.started || r.exit_code != 0) continue;
    if (!accept) return r;
    try {
      accept(r.out);
      return r;
    } catch (const Error& e) {
      r.err = e.what();  // exit 0 but an error in the output: a failed try
    }
  }
  count(0, 0, 1, 0);
  std::string err = r.err;
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  throw Error::runtime(argv[0] + " failed after " + std::to_string(retry_.attempts) +
                       " tries (exit " + std::to_string(r.exit_code) + "): " + err);
}

std::vector<SlurmNode> SlurmCli::nodes() {
  std::vector<SlurmNode> out;
  call({"sinfo", "--json"},
       [&](const std::string& text) { out = parse_sinfo_json(text, "sinfo --json"); });
  return out;
}

std::vector<SlurmJob> SlurmCli::jobs() {
  std::vector<SlurmJob> out;
  call({"squeue", "--json"},
       [&](const std::string& text) { out = parse_squeue_json(text, "squeue --json"); });
  return out;
}

namespace {
// The job id sbatch --parsable printed ("ID" or "ID;cluster"), or 0.
long long parsable_id(const std::string& out) {
  const std::string first = out.substr(0, out.find_first_of(";\n"));
  try {
    std::size_t used = 0;
    const long long id = std::stoll(first, &used);
    if (used == first.size() && id > 0) return id;
  } catch (const std::exception&) {
  }
  return 0;
}
}  // namespace

long long SlurmCli::submit(const SubmitRequest& r) {
  // Not retried blindly: a try that failed (or timed out) may still have submitted the job,
  // so before each new try look for a job of this unique name.
  const auto argv = sbatch_argv(r);
  count(1, 0, 0, 0);
  double delay = retry_.first_delay_s;
  CommandResult res;
  for (int t = 0; t < std::max(1, retry_.attempts); ++t) {
    if (t > 0) {
      count(0, 1, 0, 0);
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
      delay *= 2;
      try {
        for (const auto& j : jobs())
          if (j.name == r.name) return j.id;
      } catch (const Error&) {
        continue;  // Slurm unreachable: try again later
      }
    }
    Stopwatch sw;
    res = runner_.run(argv, retry_.timeout_s);
    count(0, 0, 0, sw.seconds());
    if (res.started && res.exit_code == 0) {
      if (const long long id = parsable_id(res.out)) return id;
      res.err = "sbatch --parsable printed no job id: " + res.out;
    }
  }
  count(0, 0, 1, 0);
  throw Error::runtime("sbatch failed after " + std::to_string(retry_.attempts) + " tries (exit " +
                       std::to_string(res.exit_code) + "): " + res.err);
}

void SlurmCli::signal(long long id, const std::string& sig) {
  call({"scancel", "--batch", "--signal=" + sig, std::to_string(id)});
}

void SlurmCli::cancel(long long id) {
  call({"scancel", std::to_string(id)});
}

void SlurmCli::drain(const std::string& node, const std::string& reason) {
  call({"scontrol", "update", "nodename=" + node, "state=drain", "reason=" + reason});
}

void SlurmCli::resume(const std::string& node) {
  call({"scontrol", "update", "nodename=" + node, "state=resume"});
}

}  // namespace gearbox::sched
