// gearbox: one binary, three engines. Parses the command line and maps errors to exit codes.
#include <iostream>

#include "commands.hpp"
#include "gearbox/core/blas_kernels.hpp"
#include "gearbox/core/cli.hpp"

int main(int argc, char** argv) {
  gearbox::reexec_for_blas_kernels(argv);  // OpenBLAS kernels for this CPU (blas_kernels.hpp)
  CLI::App app{"gearbox: GNN training (gnn), cluster scheduling (sched), LLM serving (serve)",
               "gearbox"};
  app.set_version_flag("--version", GEARBOX_VERSION);
  app.require_subcommand(1);
  gearbox::apps::register_doctor(app);
  gearbox::apps::register_gnn(app);
  gearbox::apps::register_sched(app);
  gearbox::apps::register_serve(app);
  return gearbox::run_cli(app, argc, argv, std::cout, std::cerr);
}
