/* SPDX-License-Identifier: MIT */
/*
 * The unit tests' assertions: CHECK(cond) and CHECK_EQ(a, b) report the
 * file, line and values and count a failure; main() returns non-zero
 * when `failures` is.  Not fatal, so one run reports every broken check.
 */
#ifndef HOLDFS_TESTS_CHECK_H
#define HOLDFS_TESTS_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c)) {                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",      \
				__FILE__, __LINE__, #c);                  \
			failures++;                                       \
		}                                                         \
	} while (0)

#define CHECK_EQ(a, b)                                                    \
	do {                                                              \
		long long _a = (long long)(a), _b = (long long)(b);       \
		if (_a != _b) {                                           \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", \
				__FILE__, __LINE__, #a, _a, _b);          \
			failures++;                                       \
		}                                                         \
	} while (0)

#endif
