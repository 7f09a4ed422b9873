/* SPDX-License-Identifier: BSD-3-Clause
 * IPv4 in the workers: input validation, FIB lookup per VRF, forwarding,
 * local delivery.
 */
#ifndef VR_IP4_H
#define VR_IP4_H

#include <stdbool.h>

#include <rte_mbuf.h>

#include "dp.h"

/* Validates an IPv4 frame (data at Ethernet). On success the Ethernet header
 * is stripped and true is returned; otherwise the packet is dropped and
 * counted. */
bool ip4_input(struct worker *w, struct rte_mbuf *m, uint16_t port);

enum route_mode {
	ROUTE_RX,         /* received: NAT, TTL, ICMP errors */
	ROUTE_HANDED_OFF, /* received by another worker, NAT flows we own */
	ROUTE_ORIGINATED, /* ours: TTL kept, never an ICMP error, no NAT */
};

/* Routes packets (data at IP header, meta->vrf set). */
void ip4_route(struct worker *w, struct rte_mbuf **pkts, uint16_t n, enum route_mode mode);

#endif
