/* SPDX-License-Identifier: BSD-3-Clause
 * Shared state of the dataplane process.
 *
 * Threading model: one control thread (the EAL main lcore) is the only
 * writer of every table below; workers only read. Objects a worker may be
 * reading are retired with rte_rcu_qsbr_synchronize() before reuse, and
 * multi-field objects are published by pointer swap. Fields are annotated
 * "ctl" when only the control thread touches them.
 */
#ifndef VR_DP_H
#define VR_DP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_spinlock.h>

#include "counters.h"
#include "vr_ctl.h"

#define VR_BURST 32
#define VR_MAX_WORKERS 16
#define VR_NEIGH_NONE UINT32_MAX

/* Per-packet metadata in the mbuf private area. */
enum pkt_action {
	PKT_TX = 1, /* frame complete: send on out_port */
	PKT_ROUTE,  /* locally originated IPv4 (data at IP header): route it */
	PKT_HOLD,   /* waiting for ARP of nh_ip on out_port (data at IP header) */
	PKT_PUNT,   /* addressed to the router, for the control path */
};

#define PKT_F_L2_MCAST 0x1     /* arrived as link-layer broadcast/multicast */
#define PKT_F_ORIGINATED 0x2   /* built by the router itself */
#define PKT_F_NAT_DONE 0x4     /* NAT already applied (prerouting) */
#define PKT_F_HANDED_OFF 0x8   /* came from another worker's NAT handoff */
#define PKT_F_TRACE 0x10       /* traced: its stages are recorded */
#define PKT_F_FRAG_HEAD 0x20   /* a fragment as received (first segment), held for
				* reassembly: counts drops per fragment */

#define NAT_SESS_NONE UINT32_MAX

struct pkt_meta {
	uint16_t in_port; /* UINT16_MAX when locally originated */
	uint16_t out_port;
	uint16_t vrf;
	uint8_t action;
	uint8_t flags;
	uint32_t nh_ip;
	uint32_t nat_sess; /* session (idx << 1 | reply) to apply at postrouting, or
			    * (PKT_F_NAT_DONE) the one applied at prerouting */
	uint32_t trace;    /* PKT_F_TRACE: the packet's number in its trace */
	uint32_t nat_orig_dst; /* 1:1 NAT at prerouting: the destination it came with */
	uint64_t tsc;      /* capture copies: when it was seen */
};

static inline struct pkt_meta *pkt_meta(struct rte_mbuf *m)
{
	return (struct pkt_meta *)rte_mbuf_to_priv(m);
}


/* An immutable address list, replaced as a whole (RCU). */
struct addr_list {
	uint32_t n;
	struct vr_addr a[VR_MAX_ADDRS];
};

struct port {
	/* read by workers */
	bool in_use;
	bool admin_up;
	uint16_t vrf;
	uint16_t mtu;
	uint16_t n_txq;
	bool tx_shared; /* fewer tx queues than workers: lock */
	bool multiseg_tx;
	rte_spinlock_t tx_lock;
	struct rte_ether_addr mac;
	struct addr_list *addrs;
	uint16_t punt_port;    /* its exception port, VR_PORT_NONE: none */
	uint16_t exception_of; /* it is that port's exception port */
	/* ctl */
	char name[VR_NAME_LEN];
	char devargs[VR_DEVARGS_LEN];
	uint8_t kind;
	uint16_t n_rxq;
	uint16_t rxd, txd;
	bool started;
	struct rte_ring *pg_rx[VR_MAX_WORKERS]; /* ring ports */
	struct rte_ring *pg_tx[VR_MAX_WORKERS];
};

/* A next hop as workers see it. Routes store next-hop ids in the FIB. */
struct nexthop {
	uint8_t type; /* enum vr_nh_type */
	uint8_t n_members;
	uint16_t port;
	uint32_t gw;
	uint32_t neigh; /* GATEWAY: bound neighbour index, or VR_NEIGH_NONE */
	uint32_t refcnt; /* ctl */
	uint32_t members[VR_MAX_ECMP];
};

/* Neighbour (ARP) entry as workers see it: MAC and a valid bit, one word,
 * so a worker never reads a half-written MAC. */
#define NEIGH_MAC_VALID (1ULL << 63)
struct neigh {
	uint64_t mac; /* NEIGH_MAC_VALID | 48-bit MAC, see neigh_mac_pack() */
	uint32_t ip;
	uint16_t port;
};

struct port_rxq {
	uint16_t port;
	uint16_t queue;
};

struct rxq_list {
	uint32_t n;
	struct port_rxq q[];
};

struct tx_buffer {
	uint16_t n;
	struct rte_mbuf *pkts[VR_BURST];
};

/* ICMP error rate limiting (RFC 1812 4.3.2.8), one bucket per thread. */
struct token_bucket {
	uint64_t tokens;
	uint64_t last_tsc;
};

struct worker {
	unsigned int id;
	unsigned int lcore;
	struct rxq_list *rxqs;      /* RCU: replaced by ctl */
	struct rte_ring *to_ctl;    /* mbufs: PKT_HOLD, PKT_PUNT */
	struct rte_ring *events;    /* struct arp_event */
	struct rte_ring *inject;    /* mbufs from ctl: PKT_TX, PKT_ROUTE */
	struct rte_ring *handoff;   /* mbufs from other workers: NAT flows we own */
	struct nat_worker *nat;
	volatile bool stop;
	volatile bool params_changed; /* set by ctl: refill the token buckets */
	uint16_t ip_id;
	struct token_bucket icmp_tb;
	struct token_bucket punt_tb[VR_MAX_PORTS][4]; /* per port, per protocol class */
	/* locally originated packets of this burst, routed after it */
	uint16_t n_orig;
	struct rte_mbuf *orig[VR_BURST * 2];
	uint64_t tx_pending; /* bit per port with frames in txb */
	struct tx_buffer txb[VR_MAX_PORTS];
	struct vr_worker_stats cycles; /* written by the worker only */
	struct port_counters stats[VR_MAX_PORTS];
} __rte_cache_aligned;

struct nat_vrf;
struct nat_worker;

struct vrf {
	struct rte_fib *fib; /* NULL: VRF absent */
	struct nat_vrf *nat; /* RCU: NULL when the VRF has no NAT rules */
	uint32_t n_routes;   /* ctl: client routes */
	uint32_t max_routes;
	uint32_t num_tbl8;
	bool tbl8_maybe_freed; /* ctl: sync readers before the next add */
};

struct dp {
	struct rte_mempool *mp;
	struct rte_rcu_qsbr *qs;
	unsigned int n_workers;
	struct worker *workers[VR_MAX_WORKERS];
	struct port ports[VR_MAX_PORTS];
	struct vrf vrfs[VR_MAX_VRFS];
	struct nexthop *nhs;
	uint32_t max_nexthops; /* ids [1, max_nexthops) are the client's */
	struct neigh *neighs;
	struct rte_hash *neigh_hash; /* (port, ip) -> index into neighs */
	uint32_t neigh_table_size;
	struct vr_params params;
	uint64_t tsc_hz;
	struct port_counters ctl_stats[VR_MAX_PORTS]; /* ctl thread's own */
	struct token_bucket ctl_icmp_tb;
	struct token_bucket ctl_arp_tb[VR_MAX_PORTS]; /* ARP requests we send */
	uint16_t ctl_ip_id;
	int ctl_wake_fd; /* eventfd: workers wake the control thread */
	uint64_t nat_clock_offset; /* tsc added to the NAT clock (tests) */
	uint8_t capture_dirs[VR_MAX_PORTS]; /* per port: VR_DIR_* being captured */
	bool trace_active;
	struct vr_nat_params nat_params;
	volatile bool stop;
};

extern struct dp dp;

/* Internal next-hop ids sit above the client's range. */
#define NH_ID_LOCAL (dp.max_nexthops)
#define NH_ID_BROADCAST (dp.max_nexthops + 1)
#define NH_ID_CONNECTED(port) (dp.max_nexthops + 2 + (port))
#define NH_TABLE_SIZE (dp.max_nexthops + 2 + VR_MAX_PORTS)

static inline bool nh_is_internal(uint32_t id)
{
	return id >= dp.max_nexthops;
}

static inline void counter_inc(struct port_counters *s, uint16_t port, enum vr_counter c)
{
	if (likely(port < VR_MAX_PORTS))
		s[port].c[c]++;
}

static inline void counter_add(struct port_counters *s, uint16_t port, enum vr_counter c,
			       uint64_t v)
{
	if (likely(port < VR_MAX_PORTS))
		s[port].c[c] += v;
}

static inline void rcu_sync(void)
{
	rte_rcu_qsbr_synchronize(dp.qs, RTE_QSBR_THRID_INVALID);
}

#endif
