/* SPDX-License-Identifier: MIT */
/*
 * libholdfs-preload.so, its signal third: sigaction() and signal() for
 * SIGBUS and SIGSEGV, so that an unmodified program's own handler does
 * not switch off libholdfs's poison reports or the data path's copy
 * guard (client/sigbus.c).
 *
 * While libholdfs's handler is installed, a program's sigaction(SIGBUS,
 * act, old) (or SIGSEGV's) does not replace it: act becomes the handler
 * libholdfs passes every such signal on to (after reporting poison at a
 * holdfs mapping, or ending a data-path copy's fault), and old is what
 * the program had installed before, so the program sees its own handlers
 * exactly as without the shim.  Before the first lease (for SIGSEGV: the
 * data path's first file), and for every other signal, the calls go to
 * libc unchanged.  libholdfs's own calls reach libc through the pointer
 * given to it at start.
 *
 * Not interposed: sysv_signal, bsd_signal, sigset and the raw
 * rt_sigaction system call; a program that uses them to replace the
 * handler after its first mapping turns the reports off (libholdfs(3)),
 * or for SIGSEGV makes a bad buffer passed to a served call fault in
 * its handler as it would in a copy of its own.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>

#include "client_i.h"

#define EXPORT __attribute__((visibility("default")))

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef void (*handler_fn)(int);
typedef handler_fn (*signal_fn)(int, handler_fn);

static sigaction_fn real_sigaction;
static signal_fn real_signal;

__attribute__((constructor)) static void init(void)
{
	real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	real_signal = (signal_fn)dlsym(RTLD_NEXT, "signal");
	if (real_sigaction)
		hfc_sigbus_set_real(real_sigaction);
}

EXPORT int sigaction(int sig, const struct sigaction *act,
		     struct sigaction *old)
{
	if ((sig == SIGBUS || sig == SIGSEGV) && hfc_sigbus_adopt(sig, act, old))
		return 0;
	if (!real_sigaction)
		init();
	return real_sigaction(sig, act, old);
}

/* signal(): glibc's BSD semantics (SA_RESTART, the signal blocked in its
 * handler), the previous handler as the result. */
EXPORT handler_fn signal(int sig, handler_fn h)
{
	struct sigaction sa, old;

	if ((sig == SIGBUS || sig == SIGSEGV) && h != SIG_ERR) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = h;
		sigemptyset(&sa.sa_mask);
		sigaddset(&sa.sa_mask, sig);
		sa.sa_flags = SA_RESTART;
		if (hfc_sigbus_adopt(sig, &sa, &old))
			return old.sa_handler;
	}
	if (!real_signal)
		init();
	return real_signal(sig, h);
}
