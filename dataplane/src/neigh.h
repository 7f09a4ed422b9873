/* SPDX-License-Identifier: BSD-3-Clause
 * Neighbour (ARP) table: the control-thread half. Entries are created only
 * when we resolve a next hop or a neighbour asks for one of our addresses,
 * never from unsolicited traffic, and the table has a fixed size.
 */
#ifndef VR_NEIGH_H
#define VR_NEIGH_H

#include <stdint.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "arp.h"
#include "dp.h"

int neigh_init(uint32_t size);

/* Index of the entry for (port, ip), or VR_NEIGH_NONE. Safe in workers. */
uint32_t neigh_lookup(uint16_t port, uint32_t ip);

static inline uint64_t neigh_mac_pack(const uint8_t mac[RTE_ETHER_ADDR_LEN])
{
	uint64_t v = 0;
	memcpy(&v, mac, RTE_ETHER_ADDR_LEN);
	return v | NEIGH_MAC_VALID;
}

static inline void neigh_mac_unpack(uint64_t v, struct rte_ether_addr *mac)
{
	memcpy(mac->addr_bytes, &v, RTE_ETHER_ADDR_LEN);
}

/* A packet a worker could not send for lack of a MAC (PKT_HOLD). */
void neigh_hold(struct rte_mbuf *m);
void neigh_event(const struct arp_event *ev);
/* Retries, aging and re-probing; call every few milliseconds. */
void neigh_timer(void);
/* Removes the port's entries: all of them, or those no longer on any of its
 * subnets. */
void neigh_flush_port(uint16_t port, bool only_off_subnet);

#endif
