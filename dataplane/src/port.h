/* SPDX-License-Identifier: BSD-3-Clause
 * Ports: DPDK devices (PCI or vdev devargs) and in-process ring ports, their
 * configuration, and which worker polls which rx queue.
 */
#ifndef VR_PORT_H
#define VR_PORT_H

#include <stdint.h>

#include "dp.h"

struct ctl_resp;

/* Recomputes every worker's rx queue list from the ports' state and waits
 * until no worker uses the old lists. */
void ports_publish_rxqs(void);

/* Replaces the port's address list (RCU); takes ownership of `al`. */
void port_addrs_publish(uint16_t port, struct addr_list *al);

void ports_close_all(void);

static inline bool port_valid(uint16_t port)
{
	return port < VR_MAX_PORTS && dp.ports[port].in_use;
}

/* Ring ports (pg.c): rx and tx rings of rxd and txd entries (0: 4096). */
int pg_port_create(const char *name, uint16_t rxd, uint16_t txd, uint16_t *port_id,
		   struct ctl_resp *r);
/* Stops the port's traffic generator, if any, and frees its rings. */
void pg_port_free_rings(uint16_t port);

/* Interface addresses (addr.c). */
void addr_remove_all(uint16_t port);
/* Announces the port's addresses (gratuitous ARP, RFC 5227 2.3). */
void addr_announce(uint16_t port);

#endif
