/* SPDX-License-Identifier: BSD-3-Clause
 * Exception ports: each router port may have one, a TAP living in its VRF's
 * control namespace with the port's name, MAC and addresses. Traffic for the
 * router that the fast path does not answer is punted out of it (ip4_punt);
 * what the namespace's kernel sends into it is injected here and routed by
 * the dataplane like the router's own packets.
 *
 * The kernel resolves every neighbour to one MAC (exception_peer_mac): we
 * answer all its ARP requests with it, and route what it then sends by the
 * FIB, so the dataplane's ARP stays the one source of truth.
 */
#ifndef VR_EXCEPTION_H
#define VR_EXCEPTION_H

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dp.h"

extern const struct rte_ether_addr exception_peer_mac;

/* A frame from exception port `xport`, which serves port `owner`. Returns
 * the packet (data at its IP header, meta set for PKT_ROUTE) to route, or
 * NULL when it was answered, dropped or counted here. */
struct rte_mbuf *exception_input(struct worker *w, struct rte_mbuf *m, uint16_t xport,
				 uint16_t owner);

#endif
