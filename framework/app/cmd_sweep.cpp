// `mike sweep status DIR`: each job's state from its status file, and, for
// a Slurm sweep, the tasks Slurm still lists (squeue).
#include <cstdio>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "launch/slurm_launcher.h"
#include "launch/sweep_dir.h"
#include "mike/error.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace mike::cli {

int cmd_sweep(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc("mike sweep status SWEEP_DIR");
  desc.add_options()("help,h", "show help")                       //
      ("action", po::value<std::string>(), "status")               //
      ("dir", po::value<std::string>(), "sweep directory (multirun/<date>/<time>)");
  po::positional_options_description positional;
  positional.add("action", 1).add("dir", 1);
  auto vm = parse_command("sweep", args, desc, positional, common);
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  std::string action = vm.count("action") ? vm["action"].as<std::string>() : "";
  if (action != "status")
    throw UsageError("sweep: unknown action '" + action + "'; use `mike sweep status SWEEP_DIR`");
  if (!vm.count("dir")) throw UsageError("sweep status: which sweep? usage: mike sweep status SWEEP_DIR");
  fs::path dir = vm["dir"].as<std::string>();
  SweepManifest manifest = read_sweep_manifest(dir);
  SweepCounts counts;
  std::string summary = format_sweep_summary(dir, manifest, {}, counts);
  std::fwrite(summary.data(), 1, summary.size(), stdout);
  std::ifstream job_id_file(dir / "slurm" / "job_id");
  std::string job_id;
  if (job_id_file >> job_id) {
    std::string queue = slurm_queue_state(job_id, SlurmOptions{});
    std::printf("Slurm job %s: %s", job_id.c_str(),
                queue.empty() ? "no task queued or running\n" : ("tasks still listed by squeue:\n" + queue).c_str());
  }
  // 0 when all done, non-zero otherwise, so scripts can poll it.
  return sweep_exit_code(counts);
}

}  // namespace mike::cli
