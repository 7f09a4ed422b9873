/* SPDX-License-Identifier: BSD-3-Clause
 * ARP (RFC 826): the fast-path half. Workers answer requests for our
 * addresses and pass what may be learned to the control thread as events;
 * the neighbour table itself is neigh.c's, written only by the control thread.
 */
#ifndef VR_ARP_H
#define VR_ARP_H

#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dp.h"

enum arp_event_type {
	ARP_EV_REQUEST_FOR_US = 1, /* sender asked for one of our addresses */
	ARP_EV_REPLY,              /* a reply: learn only if we asked */
	ARP_EV_GRATUITOUS,         /* announcement: refresh an existing entry */
};

struct arp_event {
	uint8_t type;
	uint8_t mac[RTE_ETHER_ADDR_LEN];
	uint8_t _pad;
	uint16_t port;
	uint16_t _pad2;
	uint32_t ip;
};

/* Worker: handle an ARP frame (data at the Ethernet header). */
void arp_input(struct worker *w, struct rte_mbuf *m, uint16_t port);

/* Control: an ARP request from `port`. `dst` NULL means broadcast; `sip` is
 * our sender address (== tip for a gratuitous ARP). NULL when out of mbufs. */
struct rte_mbuf *arp_request_build(uint16_t port, const struct rte_ether_addr *dst,
				   uint32_t sip, uint32_t tip);

/* The port's address to use as sender when asking for `tip`, 0 if none. */
uint32_t arp_source_for(uint16_t port, uint32_t tip);

#endif
