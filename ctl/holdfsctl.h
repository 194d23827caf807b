/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl internals shared by its files:
 *
 *   holdfsctl.c     main: the command table, --help, dispatch, stdout check
 *   args.c          the options of every command but drill
 *   conn.[ch]       talking to a mounted holdfs (control socket, mountinfo)
 *   json_print.[ch] JSON getters, the human printers, the JSON it builds
 *   cmd_query.c     leases, holders, status
 *   cmd_inject.c    inject
 *   cmd_offline.c   offline
 *   cmd_health.c    health (the one file that uses lib/)
 *   drill*.c        drill (drill.h)
 */
#ifndef HOLDFSCTL_H
#define HOLDFSCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define EXIT_USAGE 2

/* The commands.  argv[0] is the command's name, argv[1..] its options and
 * operands; the return value is the exit status (0, 1 failure, 2 usage).
 * main checks stdout after a command that returns 0. */
int cmd_leases(int argc, char **argv);
int cmd_holders(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_retire(int argc, char **argv);
int cmd_inject(int argc, char **argv);
int cmd_health(int argc, char **argv);
int cmd_offline(int argc, char **argv);      /* ctl/cmd_offline.c */
int cmd_drill(int argc, char **argv);       /* ctl/drill.c */

/* holdfsctl --help. */
void ctl_usage(FILE *f);
/* "holdfsctl: MSG" and a pointer to --help on stderr; returns EXIT_USAGE. */
int ctl_usage_error(const char *msg);

/* The options holdfsctl knows (drill has its own): --json, --range,
 * --whole-device, --media, --simulate-poison, --help.  main rejects them
 * before a command. */
extern const struct option ctl_options[];

/* Which of them a command takes besides --json and --help. */
enum {
	CTL_OPT_RANGE  = 1u << 0,   /* --range OFF,LEN */
	CTL_OPT_INJECT = 1u << 1,   /* --whole-device, --media,
				       --simulate-poison, --sigbus-ao */
	CTL_OPT_OFFLINE = 1u << 2,  /* --deadline-ms N */
	CTL_OPT_DEVICE = 1u << 3,   /* --device N */
};

struct ctl_args {
	bool json, have_range, whole, media, simulate, sigbus_ao;
	uint64_t off, len;          /* --range */
	uint32_t deadline_ms;       /* --deadline-ms, 0: not given */
	int device;                 /* --device N, -1: not given */
	const char *target;         /* the operand: MOUNTPOINT (or REGION) */
};

/* Options, then exactly one operand.  An option holdfsctl knows but the
 * command does not take is a usage error naming the commands it is for.
 * 0: run; -1: --help printed; EXIT_USAGE: usage error printed. */
int ctl_parse_args(int argc, char **argv, unsigned takes, struct ctl_args *a);

#endif
