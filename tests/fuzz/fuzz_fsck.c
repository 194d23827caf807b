/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for fsck: a list of patches to the metadata of a
 * small valid image (fuzz_image.h), then
 *   fsck -n   must not crash (ASan/UBSan) and must not write;
 *   fsck -y   must not crash;
 *   fsck -n   must find the result clean unless -y said it could not
 *             repair everything (exit bits 4 or 8);
 * and a clean result must mount, unmount, and still be clean.  Any
 * broken promise aborts, which libFuzzer reports as a crash.
 *
 *   tests/fuzz/run-fuzz.sh [seconds]      (builds with clang and runs it)
 *   build-fuzz/tests/fuzz/fuzz_fsck -max_total_time=60 tests/fuzz/corpus/fsck
 *
 * A crash it finds becomes a regression: copy the crash-* file into
 * tests/fuzz/regressions/fsck/, which the unit suite replays
 * (fuzz_fsck_replay, built with any compiler).  FUZZ_VERBOSE=1 prints
 * the reports.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fsck.h"
#include "fuzz_image.h"
#include "vol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fsck_run(struct hfs_region *rg, enum hfs_fsck_mode mode,
		    bool show)
{
	struct hfs_fsck_opts o = { .mode = mode, .force = true };
	struct hfs_fsck_report rep;
	int code;

	rg->readonly = mode == HFS_FSCK_NO;
	code = hfs_fsck(rg, &o, &rep);
	rg->readonly = false;
	if (show)
		hfs_fsck_report_print(&rep, stderr, false);
	hfs_fsck_report_free(&rep);
	return code;
}

static void broken(struct hfs_region *rg, const char *what, int code)
{
	fprintf(stderr, "fuzz_fsck: %s (exit %d); the report:\n", what, code);
	fsck_run(rg, HFS_FSCK_NO, true);
	abort();
}

/* A clean result mounts, unmounts, and stays clean. */
static void check_mounts(struct hfs_region *rg)
{
	struct hfs_vol *vol;
	struct hfs_err err = { 0 };
	int code;

	if (hfs_vol_open(rg, NULL, &vol, NULL, &err)) {
		fprintf(stderr, "fuzz_fsck: mount: %s\n", err.msg);
		broken(rg, "fsck said clean but the image does not mount", 0);
	}
	if (hfs_vol_close(vol))
		broken(rg, "unmount after fsck failed", 0);
	code = fsck_run(rg, HFS_FSCK_NO, false);
	if (code)
		broken(rg, "not clean after a mount of a clean image", code);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hfs_region *rg = fuzz_image_get();
	bool verbose = getenv("FUZZ_VERBOSE") != NULL;
	int code;

	if (!rg)
		return 0;
	fuzz_apply(data, size);
	code = fsck_run(rg, HFS_FSCK_NO, verbose);
	if (verbose)
		fprintf(stderr, "fuzz_fsck: -n exit %d\n", code);
	code = fsck_run(rg, HFS_FSCK_YES, verbose);
	if (verbose)
		fprintf(stderr, "fuzz_fsck: -y exit %d\n", code);
	if (!(code & (HFS_FSCK_UNCORRECTED | HFS_FSCK_OPERATIONAL))) {
		int again = fsck_run(rg, HFS_FSCK_NO, false);

		if (again)
			broken(rg, "fsck -y left problems behind", again);
		check_mounts(rg);
	}
	fuzz_restore();
	return 0;
}
