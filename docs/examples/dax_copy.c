/* SPDX-License-Identifier: MIT */
/*
 * dax_copy: copy a file into a holdfs file through a DAX mapping.
 *
 *   cc -o dax_copy dax_copy.c $(pkg-config --cflags --libs libholdfs)
 *   dax_copy SOURCE DEST-ON-HOLDFS
 *
 * DEST is created (or truncated), sized, leased for writing, filled with
 * plain loads and stores, made durable with holdfs_persist() and released.
 * A SIGBUS while copying means the daemon revoked the mapping (the file
 * was truncated by someone else, the device failed, the daemon died):
 * the handler asks libholdfs which file and offset was lost and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <holdfs/holdfs.h>

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct holdfs_fault f;
	char msg[512];
	int n;

	(void)sig;
	(void)uc;
	if (holdfs_fault_info(si->si_addr, &f) == 0)
		n = snprintf(msg, sizeof(msg),
			     "dax_copy: lost access to %s at offset %llu (%s)\n",
			     f.path, (unsigned long long)f.file_offset,
			     f.revoked ? "revoked by the daemon" : "not revoked?");
	else
		n = snprintf(msg, sizeof(msg), "dax_copy: SIGBUS at %p\n",
			     si->si_addr);
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)n);
	_exit(3);
}

static int copy(int src, int dst, uint64_t size)
{
	struct holdfs_mapping *m;
	long au = holdfs_alloc_unit(dst);
	uint64_t done = 0, mapped;
	uint8_t *p;
	int r;

	if (au < 0)
		return (int)au;
	/* leases cover whole allocation units */
	mapped = size ? (size + (uint64_t)au - 1) / (uint64_t)au * (uint64_t)au : (uint64_t)au;
	if (ftruncate(dst, (off_t)mapped) < 0)
		return -errno;
	r = holdfs_map(dst, 0, mapped, PROT_READ | PROT_WRITE, 0, &m);
	if (r)
		return r;
	p = holdfs_addr(m);
	while (done < size) {
		ssize_t n = read(src, p + done, size - done);

		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		done += (uint64_t)n;
	}
	if (!r && size)
		r = holdfs_persist(m, p, size);
	if (!r)
		r = holdfs_unmap(m);
	else
		holdfs_unmap(m);
	if (!r && ftruncate(dst, (off_t)size) < 0)
		r = -errno;
	return r;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };
	struct stat st;
	int src, dst, r;

	if (argc != 3) {
		fprintf(stderr, "usage: dax_copy SOURCE DEST-ON-HOLDFS\n");
		return 2;
	}
	sigaction(SIGBUS, &sa, NULL);
	src = open(argv[1], O_RDONLY);
	if (src < 0 || fstat(src, &st) < 0) {
		perror(argv[1]);
		return 1;
	}
	dst = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (dst < 0) {
		perror(argv[2]);
		return 1;
	}
	r = copy(src, dst, (uint64_t)st.st_size);
	if (r) {
		fprintf(stderr, "dax_copy: %s: %s\n", argv[2], strerror(-r));
		return 1;
	}
	if (close(dst) < 0) {
		perror(argv[2]);
		return 1;
	}
	close(src);
	return 0;
}
