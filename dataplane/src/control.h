/* SPDX-License-Identifier: BSD-3-Clause
 * The control thread: serves the control channel, drains what workers hand
 * over (held packets, punted packets, ARP events) and runs the timers.
 */
#ifndef VR_CONTROL_H
#define VR_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "dp.h"

int control_init(const char *sock_path);
void control_loop(void);
void control_fini(void);
/* What workers handed over: ARP events, held and punted packets (one pass
 * of control_loop()'s, bounded; the fuzz harness calls it). True when more
 * is waiting. */
bool control_drain_workers(void);

/* Gives a packet (PKT_TX frame or PKT_ROUTE datagram) to a worker to send. */
void ctl_inject(struct rte_mbuf *m);

/* Sends an ICMP error about `orig` (data at IP) from the control thread,
 * subject to RFC 1812 4.3.2.7 and the rate limit. Does not free `orig`. */
void ctl_icmp_error(struct rte_mbuf *orig, uint8_t type, uint8_t code, uint32_t info);

#endif
