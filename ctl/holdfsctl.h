/* SPDX-License-Identifier: MIT */
/* holdfsctl internals shared between its command files. */
#ifndef HOLDFSCTL_H
#define HOLDFSCTL_H

/* holdfsctl drill (ctl/drill.c): argv[0] is "drill". */
int hfsctl_drill(int argc, char **argv);

#endif
