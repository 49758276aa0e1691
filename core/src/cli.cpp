#include "gearbox/core/cli.hpp"

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <new>
#include <ostream>
#include <sstream>

#include "gearbox/core/error.hpp"
#include "gearbox/core/threads.hpp"

namespace gearbox {

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
    err << "gearbox: error: " << e.what() << " (see --help)\n";
    return kExitUsage;
  } catch (const Error& e) {
    err << "gearbox: error: " << e.what() << '\n';
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    err << "gearbox: error: out of memory\n";
    return kExitRuntime;
  } catch (const std::exception& e) {
    err << "gearbox: error: " << e.what() << '\n';
    return kExitRuntime;
  }
}

}  // namespace gearbox
