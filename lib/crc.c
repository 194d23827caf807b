/* SPDX-License-Identifier: MIT */
/*
 * crc32c for every metadata checksum, from ISA-L (crc32_iscsi is the
 * Castagnoli polynomial with hardware acceleration where the CPU has it).
 */
#include <isa-l/crc.h>
#include <string.h>

#include "media.h"

uint32_t hfs_crc32c(const void *buf, size_t len)
{
	return hfs_crc32c_cont(0, buf, len);
}

uint32_t hfs_crc32c_cont(uint32_t prev, const void *buf, size_t len)
{
	/* ISA-L takes a non-const pointer and an int length; it does not
	 * write through the pointer.  Feed large buffers in pieces. */
	unsigned char *p = (unsigned char *)buf;
	uint32_t crc = ~prev;

	while (len) {
		int n = len > (1u << 30) ? (1 << 30) : (int)len;

		crc = crc32_iscsi(p, n, crc);
		p += n;
		len -= (size_t)n;
	}
	return ~crc;
}

uint32_t hfs_crc_struct(const void *p, size_t len, size_t crc_off)
{
	static const uint32_t zero;
	unsigned char *b = (unsigned char *)p;
	uint32_t crc = 0xffffffffu;

	crc = crc32_iscsi(b, (int)crc_off, crc);
	crc = crc32_iscsi((unsigned char *)&zero, sizeof(zero), crc);
	crc = crc32_iscsi(b + crc_off + 4, (int)(len - crc_off - 4), crc);
	return ~crc;
}
