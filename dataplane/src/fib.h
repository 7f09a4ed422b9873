/* SPDX-License-Identifier: BSD-3-Clause
 * VRFs (one rte_fib each), next hops and routes: the control-thread side.
 *
 * Interface addresses install internal routes (local /32, connected subnet,
 * subnet broadcast). They win over a client route for the same prefix, which
 * is kept aside and comes back when the address goes, so the order in which
 * the management plane adds addresses and routes does not matter.
 */
#ifndef VR_FIB_H
#define VR_FIB_H

#include <stdbool.h>
#include <stdint.h>

#include "dp.h"

struct ctl_resp;

int fib_init(uint32_t max_nexthops);
int vrf_create(uint16_t vrf, uint32_t max_routes, uint32_t num_tbl8, struct ctl_resp *r);
void vrf_destroy_all(void);

static inline bool vrf_exists(uint16_t vrf)
{
	return vrf < VR_MAX_VRFS && dp.vrfs[vrf].fib != NULL;
}

int fib_internal_add(uint16_t vrf, uint32_t prefix, uint8_t plen, uint32_t nh_id,
		     struct ctl_resp *r);
void fib_internal_del(uint16_t vrf, uint32_t prefix, uint8_t plen);

/* Neighbour `idx` (or VR_NEIGH_NONE) now serves gateway `ip` on `port`. */
void nh_bind_neigh(uint16_t port, uint32_t ip, uint32_t idx);
/* Client next hops that send through `port`. */
uint32_t nh_port_users(uint16_t port);

#endif
