#pragma once
// `dpo train --nproc N`: N processes of this same command on this machine, one per rank, found by
// each other through the environment a torchrun-style launcher sets (RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR=127.0.0.1) and a c10d FileStore in a fresh private folder (DPO_RENDEZVOUS_FILE), so
// no port listens. Rank 0 prints and writes; the others' stderr is shown, prefixed with their rank,
// when they fail first.
#include <optional>
#include <string>
#include <vector>

namespace dpo::cli {

// The command line this process was started with (set by main before parsing).
void set_invocation(int argc, char** argv);
const std::vector<std::string>& invocation();

// Runs the invocation as `nproc` ranks and waits. When a rank fails or is killed, the others get
// `grace_seconds` to stop on their own (their collectives fail at once when a peer's sockets close)
// and are then killed; the first failure is reported as "error: rank R (pid P) …". Returns rank 0's
// exit code when every rank ended alike, else kExitFailed (130 after Ctrl+C).
int launch_local_ranks(int nproc, double timeout_seconds, double grace_seconds = 10);

// The intra-op threads a rank takes when --threads is not given: its share of this machine's cores,
// hardware threads / LOCAL_WORLD_SIZE (set by our launcher and by torchrun), at least 1. Ranks that
// each took every core would spin against each other in OpenMP's barriers, several times slower.
// nullopt when LOCAL_WORLD_SIZE is not set (a single process takes every core); a malformed value
// throws ConfigError (dist::environment_int).
std::optional<int> local_rank_threads();

}  // namespace dpo::cli
