/* SPDX-License-Identifier: BSD-3-Clause
 * Interface addresses. Each brings its internal routes: the address itself
 * (local /32), the connected subnet, and the subnet broadcast.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"
#include "control.h"
#include "ctl.h"
#include "fib.h"
#include "ip4_util.h"
#include "neigh.h"
#include "port.h"

struct internal_route {
	uint32_t prefix;
	uint8_t plen;
	uint32_t nh_id;
};

/* The routes an address brings, in the order they are installed. */
static unsigned int addr_routes(uint16_t port, const struct vr_addr *a,
				struct internal_route out[3])
{
	unsigned int n = 0;
	uint32_t bcast;
	out[n++] = (struct internal_route){a->ip, 32, NH_ID_LOCAL};
	if (a->plen < 32)
		out[n++] = (struct internal_route){a->ip & plen_mask(a->plen), a->plen,
						   NH_ID_CONNECTED(port)};
	if (subnet_broadcast(a, &bcast))
		out[n++] = (struct internal_route){bcast, 32, NH_ID_BROADCAST};
	return n;
}

void addr_announce(uint16_t port)
{
	const struct addr_list *al = dp.ports[port].addrs;
	for (uint32_t i = 0; al != NULL && i < al->n; i++) {
		struct rte_mbuf *m = arp_request_build(port, NULL, al->a[i].ip, al->a[i].ip);
		if (m == NULL) {
			counter_inc(dp.ctl_stats, port, VR_CNT_DROP_NO_MBUF);
			continue;
		}
		counter_inc(dp.ctl_stats, port, VR_CNT_ARP_REQUESTS_OUT);
		ctl_inject(m);
	}
}

static struct addr_list *addr_list_copy(uint16_t port)
{
	struct addr_list *al = calloc(1, sizeof(*al));
	if (al != NULL && dp.ports[port].addrs != NULL)
		*al = *dp.ports[port].addrs;
	return al;
}

static int addr_check(const struct vr_addr_req *q, struct ctl_resp *r)
{
	char b[16];
	const struct vr_addr *a = &q->addr;
	uint32_t bcast;

	if (!port_valid(q->port))
		return ctl_err(r, ENOENT, "port %u does not exist", q->port);
	if (a->plen == 0 || a->plen > 32)
		return ctl_err(r, EINVAL, "address %s/%u: prefix length must be 1..32",
			       ip4_fmt(a->ip, b), a->plen);
	if (ip_martian_src(a->ip) || ip_is_multicast(a->ip))
		return ctl_err(r, EINVAL, "address %s is not a unicast host address",
			       ip4_fmt(a->ip, b));
	if (a->plen <= 30 && ((a->ip & ~plen_mask(a->plen)) == 0 ||
			      (subnet_broadcast(a, &bcast) && a->ip == bcast)))
		return ctl_err(r, EINVAL, "address %s/%u is the subnet's network or broadcast",
			       ip4_fmt(a->ip, b), a->plen);
	uint16_t vrf = dp.ports[q->port].vrf;
	for (uint16_t p = 0; p < VR_MAX_PORTS; p++) {
		const struct addr_list *al = dp.ports[p].addrs;
		if (!dp.ports[p].in_use || dp.ports[p].vrf != vrf || al == NULL)
			continue;
		for (uint32_t i = 0; i < al->n; i++)
			if (al->a[i].ip == a->ip)
				return ctl_err(r, EEXIST, "address %s is already on port %s",
					       ip4_fmt(a->ip, b), dp.ports[p].name);
	}
	return 0;
}

static int addr_add_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_addr_req *q = req;
	struct internal_route rts[3];
	(void)len;
	int rc = addr_check(q, r);
	if (rc < 0)
		return rc;
	struct vr_addr a = {.ip = q->addr.ip, .plen = q->addr.plen};
	struct addr_list *al = addr_list_copy(q->port);
	if (al == NULL)
		return ctl_err(r, ENOMEM, "out of memory");
	if (al->n >= VR_MAX_ADDRS) {
		free(al);
		return ctl_err(r, ENOSPC, "port %s already has %u addresses", dp.ports[q->port].name,
			       VR_MAX_ADDRS);
	}
	uint16_t vrf = dp.ports[q->port].vrf;
	unsigned int n = addr_routes(q->port, &a, rts), i;
	for (i = 0; i < n; i++) {
		rc = fib_internal_add(vrf, rts[i].prefix, rts[i].plen, rts[i].nh_id, r);
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		while (i-- > 0)
			fib_internal_del(vrf, rts[i].prefix, rts[i].plen);
		free(al);
		return rc;
	}
	al->a[al->n++] = a;
	port_addrs_publish(q->port, al);
	struct rte_mbuf *m = arp_request_build(q->port, NULL, a.ip, a.ip);
	if (m != NULL) {
		counter_inc(dp.ctl_stats, q->port, VR_CNT_ARP_REQUESTS_OUT);
		ctl_inject(m);
	}
	return 0;
}
CTL_HANDLER(VR_MSG_ADDR_ADD, sizeof(struct vr_addr_req), addr_add_handler)

static void addr_remove_at(uint16_t port, uint32_t idx)
{
	struct internal_route rts[3];
	struct addr_list *al = addr_list_copy(port);
	RTE_VERIFY(al != NULL);
	struct vr_addr a = al->a[idx];
	unsigned int n = addr_routes(port, &a, rts);

	al->a[idx] = al->a[--al->n];
	port_addrs_publish(port, al);
	for (unsigned int i = 0; i < n; i++)
		fib_internal_del(dp.ports[port].vrf, rts[i].prefix, rts[i].plen);
	neigh_flush_port(port, true);
}

static int addr_del_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_addr_req *q = req;
	char b[16];
	(void)len;
	if (!port_valid(q->port))
		return ctl_err(r, ENOENT, "port %u does not exist", q->port);
	const struct addr_list *al = dp.ports[q->port].addrs;
	for (uint32_t i = 0; al != NULL && i < al->n; i++) {
		if (al->a[i].ip == q->addr.ip && al->a[i].plen == q->addr.plen) {
			addr_remove_at(q->port, i);
			return 0;
		}
	}
	return ctl_err(r, ENOENT, "address %s/%u is not on port %s", ip4_fmt(q->addr.ip, b),
		       q->addr.plen, dp.ports[q->port].name);
}
CTL_HANDLER(VR_MSG_ADDR_DEL, sizeof(struct vr_addr_req), addr_del_handler)

void addr_remove_all(uint16_t port)
{
	while (dp.ports[port].addrs != NULL && dp.ports[port].addrs->n > 0)
		addr_remove_at(port, dp.ports[port].addrs->n - 1);
}
