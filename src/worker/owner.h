// File: src/worker/owner.h
//
// Lease owner names, and telling whether the process behind one is gone.
//
// An owner is "wasmq/<hostname>/<pid>/<nonce>/<boot id>/<pid namespace>". The nonce is random per process
// (128 bits), so a restarted process that got the same pid is still a different owner. At start-up (and at
// each recovery round) a worker pool uses OwnerIsDead to take back at once the tasks a crashed process held,
// instead of waiting for their leases to expire — but only where a pid means something: a process of the
// same boot of the same kernel (/proc/sys/kernel/random/boot_id) in the same pid namespace. Hostnames and
// pids say nothing across containers (two containers with a fixed hostname both run wasmq as PID 1 and see
// each other's leases on a shared store) or machines, so every other owner — another container, machine or
// boot, or a name without these fields — keeps its task until its lease expires.
#pragma once

#include <string>
#include <string_view>

namespace wasmq::worker {

// This process's owner name (the same for the life of the process).
const std::string& ThisProcessOwner();

// True only when `owner` names a process of this boot, in this pid namespace, that no longer exists (or an
// earlier incarnation of this very pid). False for this process, for live processes, for other pid
// namespaces, boots and hosts, and for names of another shape.
bool OwnerIsDead(std::string_view owner);

}  // namespace wasmq::worker
