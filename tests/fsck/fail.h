/* SPDX-License-Identifier: MIT */
/*
 * The fsck and mirror tests' failure report: FAIL(fmt, ...) prints where
 * and what, and counts it in the including file's `failures`, so that a
 * test goes on to its other checks and main() returns non-zero at the
 * end.
 */
#ifndef HOLDFS_TESTS_FSCK_FAIL_H
#define HOLDFS_TESTS_FSCK_FAIL_H

#include <stdio.h>

#define FAIL(...)                                                  \
	do {                                                       \
		fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                      \
		fputc('\n', stderr);                               \
		failures++;                                        \
	} while (0)

#endif
