/* SPDX-License-Identifier: BSD-3-Clause
 * Control channel server: a unix SOCK_SEQPACKET socket served by the control
 * thread. Each feature registers its message handlers with CTL_HANDLER().
 */
#ifndef VR_CTL_SERVER_H
#define VR_CTL_SERVER_H

#include <stdint.h>

#include <rte_common.h>

#include "vr_ctl.h"

struct ctl_resp;

/* Handles one request body (at least `min_len` bytes, checked before).
 * Returns 0, or a negative errno after ctl_err() described the problem. A
 * failing handler must leave the dataplane state unchanged. */
typedef int (*ctl_handler_t)(const void *req, uint32_t len, struct ctl_resp *resp);

void ctl_register(uint16_t type, uint32_t min_len, ctl_handler_t fn, const char *name);

#define CTL_HANDLER(type, min_len, fn)                                                   \
	RTE_INIT(ctl_register_##fn)                                                      \
	{                                                                                \
		ctl_register(type, min_len, fn, #type);                                  \
	}

/* Reserves `size` bytes of reply body; NULL when the datagram is full. */
void *ctl_resp_put(struct ctl_resp *r, uint32_t size);

/* List replies: a body starting with a uint32_t count. ctl_list_add()
 * reserves one entry, sending full datagrams with VR_F_MORE as needed;
 * NULL only if the entry can never fit or the client is gone.
 * ctl_list_begin() returns the first datagram's header. */
void *ctl_list_begin(struct ctl_resp *r, uint32_t hdr_size);
void *ctl_list_add(struct ctl_resp *r, uint32_t entry_size);

/* Describes why a request failed; returns -err for `return ctl_err(...)`.
 * With r == NULL (no request) the message is logged. */
int ctl_err(struct ctl_resp *r, int err, const char *fmt, ...) __rte_format_printf(3, 4);

int ctl_server_init(const char *path);
/* Serves requests for up to `timeout_ms`, or until the wake fd is written. */
void ctl_server_poll(int timeout_ms);
/* An eventfd that interrupts ctl_server_poll() when written (by workers). */
int ctl_server_wake_fd(void);
void ctl_server_close(void);

#endif
