/* SPDX-License-Identifier: MIT */
/*
 * holdfsctl: administration of a mounted holdfs over its control socket
 * (docs/lease-protocol.md, admin messages; docs/man/holdfsctl.8).
 *
 *   holdfsctl leases [--json] MOUNTPOINT                    (cmd_query.c)
 *   holdfsctl holders --range OFF,LEN [--json] MOUNTPOINT   (cmd_query.c)
 *   holdfsctl status [--json] MOUNTPOINT                    (cmd_query.c)
 *   holdfsctl devices [--json] MOUNTPOINT|PATH              (cmd_query.c)
 *   holdfsctl inject --whole-device | --range OFF,LEN [--media] MOUNTPOINT
 *   holdfsctl inject --device N MOUNTPOINT
 *   holdfsctl inject --range OFF,LEN --simulate-poison MOUNTPOINT
 *   holdfsctl inject --range OFF,LEN --sigbus-ao MOUNTPOINT
 *                                                           (cmd_inject.c)
 *   holdfsctl health [--json] REGION|MOUNTPOINT             (cmd_health.c)
 *   holdfsctl drill [OPTIONS] MOUNTPOINT                    (drill.c)
 *
 * main looks the command up in the table below and hands it its part of
 * the command line (argv[0] = the command).  Each command parses its own
 * options; after a successful one main flushes stdout and checks it, so a
 * full disk or a closed pipe is a failure.
 *
 * Exit status: 0 success, 1 failure (not a holdfs mount, daemon refused,
 * I/O error), 2 usage error.
 */
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "holdfsctl.h"

struct ctl_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;           /* after the name in --help, or NULL */
	const char *help;           /* --help text, lines of at most 50 */
};

static const struct ctl_cmd commands[] = {
	{ "leases", cmd_leases, NULL,
	  "list the DAX leases: id, pid, uid, inode, file\n"
	  "range, protection and extents" },
	{ "holders", cmd_holders, "--range OFF,LEN",
	  "who owns and who holds region bytes\n"
	  "[OFF, OFF+LEN): owning inodes (file offset, kind,\n"
	  "open handles) and the leases mapping them" },
	{ "status", cmd_status, NULL,
	  "failure state (ok, degraded, shutdown), failure\n"
	  "events with time and source, affected paths, bad\n"
	  "extents, revoked leases, killed holders, phase\n"
	  "timings (docs/failure-model.md)" },
	{ "devices", cmd_devices, "[PATH]",
	  "the devices of the volume (several for one made\n"
	  "with mkfs.holdfs REGION DEVICE...): path, state,\n"
	  "which holds the metadata, size and free blocks;\n"
	  "for a PATH inside the mount, also how many of the\n"
	  "file's blocks lie on each" },
	{ "retire", cmd_retire, "--device N",
	  "a lost device of the volume given up for good:\n"
	  "the volume no longer counts it as degraded (what\n"
	  "was lost on it stays lost)" },
	{ "inject", cmd_inject, "--whole-device | --range OFF,LEN [--media] | "
	  "--device N",
	  "feed the failure pipeline as a drill: device loss\n"
	  "(shuts the filesystem down) or a failed region\n"
	  "range; waits for the outcome and prints it.\n"
	  "With --device N (a volume of several): device N is\n"
	  "lost for good, as if it had gone away; for device 0\n"
	  "the volume goes on from its mirror (or, without one,\n"
	  "shuts down).\n"
	  "With --range OFF,LEN --simulate-poison: run nothing,\n"
	  "make the daemon's own accesses of the range fail as\n"
	  "poisoned media from now on (where the kernel cannot\n"
	  "poison memory); a read there, or a client's POISON\n"
	  "report, then finds it.\n"
	  "With --range OFF,LEN --sigbus-ao: the daemon sends\n"
	  "itself the SIGBUS of an action-optional machine\n"
	  "check (BUS_MCEERR_AO) at OFF of its mapping; waits\n"
	  "for that event's outcome" },
	{ "offline", cmd_offline, "[--deadline-ms N]",
	  "planned removal: refuse new opens and leases,\n"
	  "notify the lease holders, revoke what they keep\n"
	  "after N ms (default 5000; holders that do not\n"
	  "ack are killed), drain, unmount, daemon exits 0;\n"
	  "prints a report with per-phase timings" },
	{ "health", cmd_health, "REGION|MOUNTPOINT",
	  "print the persistent health log (read-only; works\n"
	  "on an unmounted region)" },
	{ "drill", cmd_drill, "[--help]",
	  "failure drill with DAX clients and writers, checks\n"
	  "and a report (holdfsctl drill --help)" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))
#define HELP_COL 25

/* "  NAME ARGS" and its help, indented to HELP_COL; a synopsis too long
 * for the column gets a line of its own. */
static void print_command(FILE *f, const struct ctl_cmd *c)
{
	char head[128];
	const char *s = c->help;

	snprintf(head, sizeof(head), "%s%s%s", c->name, c->args ? " " : "",
		 c->args ? c->args : "");
	if (strlen(head) + 3 > HELP_COL)
		fprintf(f, "  %s\n%*s", head, HELP_COL, "");
	else
		fprintf(f, "  %-*s", HELP_COL - 2, head);
	for (;;) {
		size_t n = strcspn(s, "\n");

		fprintf(f, "%.*s\n", (int)n, s);
		if (!s[n])
			break;
		s += n + 1;
		fprintf(f, "%*s", HELP_COL, "");
	}
}

void ctl_usage(FILE *f)
{
	fprintf(f,
"Usage: holdfsctl COMMAND [OPTIONS] MOUNTPOINT\n"
"\n"
"Query a mounted holdfs through its control socket (root only).\n"
"\n"
"Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		print_command(f, &commands[i]);
	fprintf(f,
"\n"
"Options:\n"
"  --json                 print the daemon's JSON document\n"
"  --range OFF,LEN        byte range of the region; numbers may be hex (0x)\n"
"                         and take K, M, G, T suffixes (powers of 1024)\n"
"  -h, --help             show this help\n"
"\n"
"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int ctl_usage_error(const char *msg)
{
	fprintf(stderr, "%s: %s\nTry '%s --help'.\n", CTL_PROG, msg, CTL_PROG);
	return EXIT_USAGE;
}

static const struct ctl_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int unknown_command(const char *name)
{
	char list[256] = "commands:";
	size_t n = strlen(list);

	fprintf(stderr, "%s: unknown command '%s'\n", CTL_PROG, name);
	for (size_t i = 0; i < NCOMMANDS && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s %s",
				      i ? "," : "", commands[i].name);
	return ctl_usage_error(list);
}

int main(int argc, char **argv)
{
	const struct ctl_cmd *cmd;
	int c, r;

	/* only --help before the command */
	while ((c = getopt_long(argc, argv, "+h", ctl_options, NULL)) != -1) {
		if (c != 'h')
			return ctl_usage_error("options go after the command");
		ctl_usage(stdout);
		return fflush(stdout) ? 1 : 0;
	}
	if (optind >= argc)
		return ctl_usage_error("missing COMMAND");
	cmd = find_command(argv[optind]);
	if (!cmd)
		return unknown_command(argv[optind]);
	r = cmd->fn(argc - optind, argv + optind);
	if (r == 0 && (fflush(stdout) || ferror(stdout)))
		r = 1;
	return r;
}
