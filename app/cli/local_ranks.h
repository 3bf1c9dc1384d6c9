#pragma once
// `dpo train --nproc N`: N processes of this same command on this machine, one per rank, found by
// each other through the environment a torchrun-style launcher sets (RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR=127.0.0.1) and a c10d FileStore in a fresh private folder (DPO_RENDEZVOUS_FILE), so
// no port listens. Rank 0 prints and writes; the others' stderr is shown, prefixed with their rank,
// when they fail first.
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

}  // namespace dpo::cli
