/* SPDX-License-Identifier: MIT */
/*
 * Replay fuzz inputs through a harness built without libFuzzer: the seed
 * corpus and every regression (a crash the fuzzer once found) run in the
 * normal test suite, with any compiler, under ASan in the sanitizer build.
 *
 *   fuzz_fsck_replay FILE|DIR...
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int replay(const char *path, int *count)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char p[4096];

	if (!d) {
		(*count)++;
		return replay_file(path);
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (replay(p, count)) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	int count = 0;

	for (int i = 1; i < argc; i++)
		if (replay(argv[i], &count)) {
			fprintf(stderr, "fuzz replay: cannot read %s\n", argv[i]);
			return 1;
		}
	printf("replayed %d inputs\n", count);
	return 0;
}
