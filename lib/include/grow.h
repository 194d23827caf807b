/* SPDX-License-Identifier: MIT */
/*
 * Growing an array by doubling: the one copy of the "if (n == cap) {
 * cap *= 2; realloc }" step every append-only array in holdfs takes.
 *
 * Header-only (static inline) on purpose: lib/include/ is on every
 * target's include path, and libholdfs (client/), a shared library that
 * does not link lib/'s static core, uses it too without pulling the core
 * in.  Nothing here depends on the rest of lib/.
 *
 * Use:
 *	if (a->n == a->cap &&
 *	    hfs_grow(&a->v, &a->cap, a->n + 1, sizeof(*a->v)))
 *		return -ENOMEM;
 *	a->v[a->n++] = x;
 */
#ifndef HOLDFS_GROW_H
#define HOLDFS_GROW_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* First capacity of an empty array, in elements. */
#define HFS_GROW_FIRST 4u

/*
 * Make room for need elements of elem bytes in the array whose pointer is
 * at pv (the address of any object pointer: &a->v) and whose capacity, in
 * elements, is *cap.  If need > *cap, the array is reallocated to the
 * first of *cap (or HFS_GROW_FIRST when empty) doubled, doubled again, ...
 * that holds need elements, and *cap is updated.  Returns 0, or -ENOMEM
 * if realloc fails or the size overflows; the array and *cap are then as
 * they were.
 *
 * The pointer is read and written through memcpy: pv points at a
 * `struct x *', not a `void *', and this keeps the access legal C (every
 * object pointer has the representation of void * on the platforms
 * holdfs runs on).
 */
static inline int hfs_grow(void *pv, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : HFS_GROW_FIRST;
	void *v, *nv;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	if (elem && ncap > SIZE_MAX / elem)
		return -ENOMEM;
	memcpy(&v, pv, sizeof(v));
	nv = realloc(v, ncap * elem);
	if (!nv)
		return -ENOMEM;
	memcpy(pv, &nv, sizeof(nv));
	*cap = ncap;
	return 0;
}

#endif
