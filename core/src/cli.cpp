#include "gearbox/core/cli.hpp"

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <new>
#include <ostream>
#include <sstream>
#include <string_view>

#include "gearbox/core/error.hpp"
#include "gearbox/core/output.hpp"
#include "gearbox/core/threads.hpp"

namespace gearbox {

namespace {

// True when the command line asked for --json (before a "--" that ends the flags).
bool wants_json(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") return false;
    if (a == "--json") return true;
  }
  return false;
}

// Reports a failure: one line "gearbox: error: ..." on `err` and, under --json, one JSON
// document {"error": {...}} on `out` (the only document a failed command prints).
int report(bool json, std::ostream& out, std::ostream& err, const std::string& line, int code,
           const char* kind, const Error* e) {
  const std::string text = printable(line, 2000);
  err << "gearbox: error: " << text << '\n';
  if (json) {
    Json doc = {{"message", text}, {"kind", kind}, {"exit_code", code}};
    if (e != nullptr) {
      if (!e->file().empty()) doc["file"] = printable(e->file());
      if (e->line()) doc["line"] = *e->line();
      if (e->offset()) doc["byte_offset"] = *e->offset();
      if (!e->field_name().empty()) doc["field"] = printable(e->field_name());
    }
    write_json(out, Json{{"error", doc}});
  }
  return code;
}

const char* kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::kUsage:
      return "usage";
    case ErrorKind::kInput:
      return "input";
    case ErrorKind::kRuntime:
      return "runtime";
  }
  return "runtime";
}

}  // namespace

void add_json_flag(CLI::App& app, CommonOptions& opts) {
  app.add_flag("--json", opts.json, "Print one JSON document on stdout (progress on stderr)");
}

void add_threads_flag(CLI::App& app, CommonOptions& opts) {
  app.add_option_function<int>(
         "--threads", [&opts](const int& n) { opts.threads = clamp_threads(n, &std::cerr); },
         "Worker threads (0 = all cores; at most the cores)")
      ->check(CLI::NonNegativeNumber);
}

void add_seed_flag(CLI::App& app, CommonOptions& opts) {
  app.add_option("--seed", opts.seed, "Seed for every random choice");
}

void add_threads_seed_flags(CLI::App& app, CommonOptions& opts) {
  add_threads_flag(app, opts);
  add_seed_flag(app, opts);
}

void add_common_flags(CLI::App& app, CommonOptions& opts) {
  add_json_flag(app, opts);
  add_threads_seed_flags(app, opts);
}

CLI::Validator finite_range(double lo, double hi, bool lo_open) {
  const auto num = [](double v) {
    std::ostringstream o;
    o << v;
    return o.str();
  };
  const std::string range = (lo_open ? "(" : "[") + num(lo) + ", " + num(hi) + "]";
  return CLI::Validator(
      [lo, hi, lo_open, range](std::string& s) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v))
          return "expected a finite number in " + range + ", found '" + s + "'";
        if (v < lo || v > hi || (lo_open && v == lo))
          return "expected a number in " + range + ", found " + s;
        return {};
      },
      "FINITE in " + range);
}

int run_cli(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
            std::ostream& err) {
  const bool json = wants_json(argc, argv);
  try {
    app.parse(argc, argv);
    return kExitOk;
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::Success&) {
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    return report(json, out, err, std::string(e.what()) + " (see --help)", kExitUsage, "usage",
                  nullptr);
  } catch (const Error& e) {
    return report(json, out, err, e.what(), e.exit_code(), kind_name(e.kind()), &e);
  } catch (const std::bad_alloc&) {
    return report(json, out, err, "out of memory", kExitRuntime, "runtime", nullptr);
  } catch (const std::exception& e) {
    return report(json, out, err, e.what(), kExitRuntime, "runtime", nullptr);
  }
}

}  // namespace gearbox
