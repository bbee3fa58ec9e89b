#pragma once
// What a signal must not leave behind. Temporary outputs are registered here while they exist;
// SIGINT, SIGTERM and SIGHUP remove every registered one (async-signal-safe: unlink, and a
// getdents64 walk for a temporary directory) and then end the process with the same signal.
// SIGKILL cannot be caught: temporary files are unnamed (O_TMPFILE) until their commit where the
// file system allows it, and temporary names left by a killed run (a directory, or a file on a
// file system without O_TMPFILE) are swept by the next run that writes into the same directory
// (sweep_stale_temps). Mapped input files are registered too, so that a SIGBUS from a file
// truncated while it is read becomes one line naming the file and exit code 2.
#include <cstddef>
#include <string>

namespace vigil::signal_cleanup {

// Installs the handlers (SIGINT, SIGTERM, SIGHUP, SIGBUS); `program` prefixes the SIGBUS line
// ("vigil score"). Without it, registration still works and nothing is removed on a signal.
void install(const std::string& program);

// While held (nesting counts), SIGINT/SIGTERM/SIGHUP wait: a set of outputs being renamed into
// place is completed first; release() then delivers a signal that came meanwhile.
void hold();
void release();

// Registers a temporary path (a file, or a directory removed with its contents); returns a
// handle for unregister(), or -1 when the registry is full (the path then relies on the sweep).
int register_temp(const std::string& path, bool is_directory);
void unregister_temp(int handle);

// A read-only mapping of `path` at [begin, begin + size): a SIGBUS inside it is reported as the
// file changing while it was read.
int register_mapping(const void* begin, size_t size, const std::string& path);
void unregister_mapping(int handle);

// Removes, in `directory`, the temporary names of vigil processes that no longer run:
// ".<name>.tmp.<pid>.<n>" (and ".<name>.old.<pid>.<n>" whose <name> exists). Once per directory
// per process; errors are ignored (a sweep is housekeeping).
void sweep_stale_temps(const std::string& directory);

}  // namespace vigil::signal_cleanup
