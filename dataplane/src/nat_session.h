/* SPDX-License-Identifier: BSD-3-Clause
 * NAT sessions and endpoint-independent mappings of one worker.
 */
#ifndef VR_NAT_SESSION_H
#define VR_NAT_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_hash.h>
#include <rte_ip_frag.h>

#include "nat.h"

#define NAT_NONE UINT32_MAX

/* A flow's identity as it appears on the wire. ICMP queries: the
 * identifier is `sport` of a request and `dport` of a reply. */
struct nat_key {
	uint32_t src;
	uint32_t dst;
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
	uint8_t _pad;
	uint16_t vrf;
};

static inline struct nat_key nat_key_reverse(const struct nat_key *k)
{
	return (struct nat_key){.src = k->dst, .dst = k->src, .sport = k->dport, .dport = k->sport,
				.proto = k->proto, .vrf = k->vrf};
}

#define NS_FIN_ORIG 0x1
#define NS_FIN_REPLY 0x2
#define NS_DST_NAT 0x4 /* the translation changes the destination (port forward) */

/* orig: the flow as it first arrived; xlat: the same after translation.
 * Packets of the reverse flow arrive as reverse(xlat), leave as
 * reverse(orig). */
struct nat_session {
	struct nat_key orig;
	struct nat_key xlat;
	uint64_t last_tsc;
	uint64_t packets;
	uint32_t mapping; /* the source's endpoint-independent mapping, or NAT_NONE */
	uint32_t rule;
	uint8_t state;    /* enum vr_nat_state */
	uint8_t flags;
	bool used;
	uint8_t _pad;
	uint32_t version; /* odd while the worker writes (ctl reads a snapshot) */
};

struct nat_mapping {
	uint32_t in_ip;
	uint16_t in_port;
	uint8_t proto;
	bool used;
	uint16_t vrf;
	uint16_t out_port;
	uint32_t out_ip;
	uint32_t refs; /* sessions */
	struct nat_addr *addr;
};

/* Commands from the control thread, run by the worker between bursts. */
enum nat_cmd { NAT_CMD_FLUSH = 1, NAT_CMD_EXPIRE };

struct nat_worker {
	struct rte_hash *sessions; /* nat_key -> session index << 1 | reply */
	struct rte_hash *mappings; /* mapping key -> mapping index */
	struct nat_session *sess;
	struct nat_mapping *maps;
	uint32_t max;           /* sessions (and mappings) */
	uint32_t n_sess, n_maps;
	uint32_t *free_sess, n_free_sess;
	uint32_t *free_maps, n_free_maps;
	uint32_t cursor;        /* expiry scan */
	uint32_t port_cursor[3];
	struct rte_ip_frag_tbl *frags;
	struct rte_ip_frag_death_row death_row;
	/* commands: ctl writes cmd and filter, then bumps cmd_seq; the worker
	 * runs it and sets done_seq */
	uint32_t cmd;
	struct vr_nat_filter filter;
	uint32_t cmd_seq;
	uint32_t done_seq;
};

/* Idle time after which a session in `state` expires. */
static inline uint32_t nat_timeout_s(uint8_t state)
{
	const struct vr_nat_params *p = &dp.nat_params;
	switch (state) {
	case VR_NAT_S_TCP_EST:
		return p->tcp_established;
	case VR_NAT_S_TCP_SYN:
	case VR_NAT_S_TCP_FIN:
	case VR_NAT_S_TCP_CLOSING:
		return p->tcp_transitory;
	case VR_NAT_S_UDP:
		return p->udp;
	case VR_NAT_S_ICMP:
		return p->icmp;
	default:
		return p->other;
	}
}

/* Zero fields of the filter match anything; addresses and ports match any
 * of the session's, before or after translation. */
static inline bool nat_filter_match(const struct vr_nat_filter *f, const struct nat_session *s)
{
	return (f->vrf == VR_NAT_ANY_VRF || s->orig.vrf == f->vrf) &&
	       (!f->proto || s->orig.proto == f->proto) && (!f->rule || s->rule == f->rule) &&
	       (!f->addr || s->orig.src == f->addr || s->orig.dst == f->addr ||
		s->xlat.src == f->addr || s->xlat.dst == f->addr) &&
	       (!f->port || s->orig.sport == f->port || s->orig.dport == f->port ||
		s->xlat.sport == f->port || s->xlat.dport == f->port);
}

#endif
