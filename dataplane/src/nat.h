/* SPDX-License-Identifier: BSD-3-Clause
 * NAT44: source NAT (masquerade or pool, endpoint-independent mapping,
 * RFC 4787), port forwards, static 1:1, with connection tracking.
 *
 * Rules are the control thread's, compiled per VRF into an immutable object
 * workers read under RCU. Sessions and mappings are per worker, touched only
 * by their worker (the control thread reads them for listing, guarded by a
 * version number). With several workers, a flow belongs to one worker: the
 * one that owns the inside endpoint (hash of address and port) and the slice
 * of the port space its outside port comes from; packets that arrive on
 * another worker are handed off to the owner through a ring.
 *
 * Where translation happens: at "prerouting" (before the FIB lookup) for
 * packets that find a session whose translation changes the destination,
 * or match a port forward; at "postrouting" (after the TTL check, before the
 * MTU check and output) for the rest: source translation of inside traffic,
 * new source NAT sessions. So routing sees the real destination, and ICMP
 * errors the router itself sends quote the packet as the inside host sent it.
 */
#ifndef VR_NAT_H
#define VR_NAT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "dp.h"
#include "vr_ctl.h"

#define NAT_MAX_RULES_PER_VRF 256
#define NAT_MAX_ADDRS 1024 /* distinct outside pool addresses */

/* One outside address's ports, per protocol (TCP, UDP, ICMP ids). Worker w
 * only uses ports in its slice of the port space, so workers never touch
 * the same bitmap word. */
struct nat_addr {
	uint32_t ip;        /* 0 for a masquerade rule's (its port's address) */
	uint16_t vrf;
	uint16_t masq_port; /* masquerade: the egress port; VR_PORT_NONE otherwise */
	uint32_t refs;      /* ctl: rules using it */
	uint64_t bits[3][1024];
};

/* A rule as workers see it. Persistent: counters survive rule-set changes. */
struct nat_rule {
	struct vr_nat_rule r;
	struct nat_addr *pool[VR_NAT_MAX_POOL];
	uint64_t created[VR_MAX_WORKERS]; /* sessions, written by each worker */
};

/* The compiled rules of a VRF (immutable; replaced as a whole). */
struct nat_vrf {
	uint32_t n_snat, n_dnat, n_static;
	struct nat_rule *snat[NAT_MAX_RULES_PER_VRF];
	struct nat_rule *dnat[NAT_MAX_RULES_PER_VRF];
	struct nat_rule *stat[NAT_MAX_RULES_PER_VRF];
};

/* Where a packet stands after prerouting. */
enum nat_verdict {
	NAT_CONTINUE, /* route it (maybe translated already) */
	NAT_CONSUMED, /* dropped, handed off, or held for reassembly */
};

int nat_init(uint32_t max_sessions);
int nat_worker_init(struct worker *w);

/* Workers: packets (data at IP header) before the FIB lookup. Returns how
 * many remain in pkts[] (some are translated, handed off to their owner
 * worker, held for reassembly, or dropped). `handed_off`: they came from
 * another worker's handoff. */
uint16_t nat_prerouting(struct worker *w, struct rte_mbuf **pkts, uint16_t n, bool handed_off);
/* Returns false if the packet was dropped (and counted). */
bool nat_postrouting(struct worker *w, struct rte_mbuf *m, uint16_t out_port);
/* The worker's own ICMP error `e` about `orig`: its quote as the sender sent it. */
void nat_own_error_quote(struct worker *w, struct rte_mbuf *orig, struct rte_mbuf *e);
/* Per loop: expire a bounded number of sessions, run commands from ctl. */
void nat_worker_housekeeping(struct worker *w);

static inline struct nat_vrf *nat_of_vrf(uint16_t vrf)
{
	return vrf < VR_MAX_VRFS ? __atomic_load_n(&dp.vrfs[vrf].nat, __ATOMIC_ACQUIRE) : NULL;
}

#endif
