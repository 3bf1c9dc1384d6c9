#pragma once
#include <cstdint>

namespace dpo {

// Resident memory of this process from /proc/self/status, in bytes (0 where unreadable).
int64_t resident_bytes();       // VmRSS: now
int64_t peak_resident_bytes();  // VmHWM: the high-water mark since start or the last reset
// Starts a new high-water mark at the current resident size (writes 5 to /proc/self/clear_refs);
// false where the kernel refuses.
bool reset_peak_resident();

}  // namespace dpo
