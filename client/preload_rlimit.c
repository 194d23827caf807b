/* SPDX-License-Identifier: MIT */
/*
 * libholdfs-preload.so, its resource-limit calls: setrlimit() and
 * prlimit() of RLIMIT_FSIZE for this process.  The kernel enforces that
 * limit on every write; a direct write that would end past it goes to
 * the kernel instead, so libholdfs keeps a copy of the limit
 * (hfc_dp_fsize_refresh, client/dp_file.c), read again here after the
 * program changes it.  Everything is libc's call; only the copy is new.
 *
 * Not seen: a raw prlimit64 system call, and prlimit(1) on this process
 * from outside; such a change counts from the next file the process
 * opens (docs/data-path.md "Limits").
 */
#undef _FILE_OFFSET_BITS   /* setrlimit and setrlimit64 as distinct symbols */
#include <dlfcn.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dp_engine.h"

#define EXPORT __attribute__((visibility("default")))

typedef int (*setrlimit_fn)(__rlimit_resource_t, const struct rlimit *);
typedef int (*setrlimit64_fn)(__rlimit_resource_t, const struct rlimit64 *);
typedef int (*prlimit_fn)(pid_t, __rlimit_resource_t, const struct rlimit *,
			  struct rlimit *);
typedef int (*prlimit64_fn)(pid_t, __rlimit_resource_t,
			    const struct rlimit64 *, struct rlimit64 *);

/* libc's function name, looked up once into *slot */
static void *libc_fn(void *_Atomic *slot, const char *name)
{
	void *fn = atomic_load(slot);

	if (!fn) {
		fn = dlsym(RTLD_NEXT, name);
		atomic_store(slot, fn);
	}
	return fn;
}

/* After a successful change of this process's RLIMIT_FSIZE. */
static int changed(int r, pid_t pid, int resource, const void *new_limit)
{
	if (r == 0 && new_limit && resource == RLIMIT_FSIZE &&
	    (pid == 0 || pid == getpid()))
		hfc_dp_fsize_refresh();
	return r;
}

EXPORT int setrlimit(__rlimit_resource_t resource, const struct rlimit *rl)
{
	static void *_Atomic real;
	setrlimit_fn fn = (setrlimit_fn)libc_fn(&real, "setrlimit");

	return changed(fn ? fn(resource, rl) : -1, 0, resource, rl);
}

EXPORT int setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *rl)
{
	static void *_Atomic real;
	setrlimit64_fn fn = (setrlimit64_fn)libc_fn(&real, "setrlimit64");

	return changed(fn ? fn(resource, rl) : -1, 0, resource, rl);
}

EXPORT int prlimit(pid_t pid, __rlimit_resource_t resource,
		   const struct rlimit *new_limit, struct rlimit *old_limit)
{
	static void *_Atomic real;
	prlimit_fn fn = (prlimit_fn)libc_fn(&real, "prlimit");

	return changed(fn ? fn(pid, resource, new_limit, old_limit) : -1,
		       pid, resource, new_limit);
}

EXPORT int prlimit64(pid_t pid, __rlimit_resource_t resource,
		     const struct rlimit64 *new_limit, struct rlimit64 *old_limit)
{
	static void *_Atomic real;
	prlimit64_fn fn = (prlimit64_fn)libc_fn(&real, "prlimit64");

	return changed(fn ? fn(pid, resource, new_limit, old_limit) : -1,
		       pid, resource, new_limit);
}
