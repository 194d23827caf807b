/* SPDX-License-Identifier: MIT */
/*
 * The dispatch half of the message table (msg_table.h): a message that
 * passed validation meets its row's HELLO rule and root rule, then its
 * handler.  Ring thread.
 */
#include "ctl_i.h"
#include "msg_table.h"

#include <errno.h>
#include <unistd.h>

#include "ctl_send.h"

struct route {
	const char *before_hello;
	bool admin;
	void (*handler)(struct hfsd_ctl *c, struct hfsd_client *cl,
			const void *msg, int fd);
};

#define ROUTE(type, fds, hello, adm, check, fn)                           \
	[type] = { .before_hello = hello, .admin = adm, .handler = fn },
static const struct route routes[] = { HFSD_CLIENT_MSGS(ROUTE) };
#undef ROUTE

void hfsd_msg_dispatch(struct hfsd_ctl *c, struct hfsd_client *cl,
		       const void *msg, int fd)
{
	const struct hfs_msg_hdr *h = msg;
	const struct route *r = NULL;

	if (h->type < sizeof(routes) / sizeof(routes[0]) &&
	    routes[h->type].handler)
		r = &routes[h->type];
	if (!r || (!cl->hello && r->before_hello)) {
		if (fd >= 0)
			close(fd);
		hfsd_ctl_drop(c, cl, r ? r->before_hello : "unexpected message");
		return;
	}
	if (r->admin && cl->uid != 0) {
		/* administration is root's: ERROR, the connection stays */
		if (fd >= 0)
			close(fd);
		hfsd_ctl_send_error(c, cl, h->id, EACCES,
				    "administration needs root");
		return;
	}
	r->handler(c, cl, msg, fd);
}
