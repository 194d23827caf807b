/* SPDX-License-Identifier: MIT */
/*
 * Error reporting for the holdfs libraries.
 *
 * Library functions return 0 or a negative errno.  Where a bare errno
 * would leave an operator guessing (opening a region, formatting, mount
 * checks), they also fill a struct hfs_err with a one-line message that
 * names the object and says what to do.  The library never prints; tools
 * print "holdfs: <msg>".
 */
#ifndef HOLDFS_ERR_H
#define HOLDFS_ERR_H

struct hfs_err {
	int code;       /* negative errno, 0 if no error */
	char msg[512];  /* "PATH: what went wrong; what to do" */
};

/* Record an error (first one wins) and return code, so callers can write
 * "return hfs_err_set(err, -EINVAL, "%s: ...", path);".  err may be NULL. */
int hfs_err_set(struct hfs_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
