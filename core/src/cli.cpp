#include "gearbox/core/cli.hpp"

#include <new>
#include <ostream>

#include "gearbox/core/error.hpp"

namespace gearbox {

void add_threads_seed_flags(CLI::App& app, CommonOptions& opts) {
  app.add_option("--threads", opts.threads, "Worker threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", opts.seed, "Seed for every random choice");
}

void add_common_flags(CLI::App& app, CommonOptions& opts) {
  app.add_flag("--json", opts.json, "Print one JSON document on stdout (progress on stderr)");
  add_threads_seed_flags(app, opts);
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
