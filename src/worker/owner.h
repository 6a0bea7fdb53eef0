// File: src/worker/owner.h
//
// Lease owner names, and telling whether the process behind one is gone.
//
// An owner is "wasmq/<hostname>/<pid>/<nonce>": the nonce is random per process, so a restarted process
// that got the same pid (PID 1 in a container, always) is still a different owner. At start-up a worker
// pool uses OwnerIsDead to take back at once the tasks a crashed process on this host held, instead of
// waiting for their leases to expire. Owners on other hosts are never judged: their leases expire.
#pragma once

#include <string>
#include <string_view>

namespace wasmq::worker {

// This process's owner name (the same for the life of the process).
const std::string& ThisProcessOwner();

// True only when `owner` names a process on this host that no longer exists (or an earlier incarnation of
// this very pid). False for this process, for live processes, other hosts, and names of another shape.
bool OwnerIsDead(std::string_view owner);

}  // namespace wasmq::worker
