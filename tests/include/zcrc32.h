/* SPDX-License-Identifier: MIT */
/*
 * zlib's CRC-32 (reflected polynomial 0xedb88320) for the test clients
 * (tests/dax/client/dax_client.c, tests/datapath/dp_client.c), so that a
 * Python test compares what a client read with zlib.crc32 of what it
 * wrote.  The bytes are read through a volatile pointer: a client sums a
 * DAX mapping that may be revoked under it (the load must happen, and
 * fault, where the test expects).
 */
#ifndef HOLDFS_TESTS_ZCRC32_H
#define HOLDFS_TESTS_ZCRC32_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t zcrc32(const volatile uint8_t *p, size_t n)
{
	static uint32_t tab[256];
	uint32_t c = 0xffffffffu;

	if (!tab[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;

			for (int k = 0; k < 8; k++)
				v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
			tab[i] = v;
		}
	for (size_t i = 0; i < n; i++)
		c = tab[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

#endif
