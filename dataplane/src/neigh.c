/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>

#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>

#include "control.h"
#include "ctl.h"
#include "fib.h"
#include "icmp.h"
#include "ip4_util.h"
#include "neigh.h"

#define NEIGH_MAX_HOLD 256

struct neigh_key {
	uint32_t ip;
	uint16_t port;
	uint16_t _pad;
};

/* The control thread's view of an entry; workers see struct neigh. */
struct neigh_ctl {
	bool used;
	uint8_t state;   /* enum vr_neigh_state */
	uint8_t probes;  /* requests sent in this resolution or probe round */
	bool throttled;  /* its next request waits for the port's ARP rate */
	uint64_t confirmed_tsc;
	uint64_t next_tsc; /* next retry or probe */
	uint16_t n_held;
	struct rte_mbuf **held;
};

static struct neigh_ctl *nctl;
static uint32_t n_used;

static uint64_t ms_to_tsc(uint32_t ms)
{
	return dp.tsc_hz / 1000 * ms;
}

int neigh_init(uint32_t size)
{
	struct rte_hash_parameters hp = {
		.name = "neigh",
		.entries = size,
		.key_len = sizeof(struct neigh_key),
		.hash_func = rte_jhash,
		.socket_id = (int)rte_socket_id(),
		/* lock-free readers; the slot index doubles as the entry index
		 * and is only freed after an RCU grace period */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	dp.neigh_table_size = size;
	dp.neigh_hash = rte_hash_create(&hp);
	dp.neighs = rte_zmalloc("neighs", sizeof(struct neigh) * size, RTE_CACHE_LINE_SIZE);
	nctl = rte_zmalloc("neigh_ctl", sizeof(struct neigh_ctl) * size, 0);
	if (dp.neigh_hash == NULL || dp.neighs == NULL || nctl == NULL)
		return -ENOMEM;
	return 0;
}

uint32_t neigh_lookup(uint16_t port, uint32_t ip)
{
	struct neigh_key k = {.ip = ip, .port = port};
	int32_t pos = rte_hash_lookup(dp.neigh_hash, &k);
	return pos < 0 ? VR_NEIGH_NONE : (uint32_t)pos;
}

static uint32_t neigh_create(uint16_t port, uint32_t ip)
{
	if (n_used >= dp.neigh_table_size)
		return VR_NEIGH_NONE;
	struct neigh_key k = {.ip = ip, .port = port};
	int32_t pos = rte_hash_add_key(dp.neigh_hash, &k);
	if (pos < 0)
		return VR_NEIGH_NONE;
	struct neigh_ctl *c = &nctl[pos];
	if (c->held == NULL)
		c->held = rte_zmalloc("neigh_held", sizeof(*c->held) * NEIGH_MAX_HOLD, 0);
	if (c->held == NULL) {
		int32_t del = rte_hash_del_key(dp.neigh_hash, &k);
		rte_hash_free_key_with_position(dp.neigh_hash, del);
		return VR_NEIGH_NONE;
	}
	dp.neighs[pos] = (struct neigh){.mac = 0, .ip = ip, .port = port};
	c->used = true;
	c->state = VR_NEIGH_INCOMPLETE;
	c->probes = 0;
	c->throttled = false;
	c->n_held = 0;
	c->next_tsc = rte_rdtsc();
	n_used++;
	nh_bind_neigh(port, ip, (uint32_t)pos);
	return (uint32_t)pos;
}

static void neigh_drop_held(uint32_t idx, bool icmp)
{
	struct neigh_ctl *c = &nctl[idx];
	uint16_t port = dp.neighs[idx].port;
	for (uint16_t i = 0; i < c->n_held; i++) {
		struct rte_mbuf *m = c->held[i];
		if (icmp && !(pkt_meta(m)->flags & PKT_F_ORIGINATED)) {
			/* quote the datagram as it arrived, before our TTL decrement */
			struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
			uint16_t old = rte_cpu_to_be_16((uint16_t)ip->time_to_live << 8);
			ip->time_to_live++;
			uint16_t new = rte_cpu_to_be_16((uint16_t)ip->time_to_live << 8);
			ip->hdr_checksum = cksum_update16(ip->hdr_checksum, old, new);
			ctl_icmp_error(m, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0);
		}
		counter_inc(dp.ctl_stats, port, VR_CNT_DROP_ARP_FAILED);
		rte_pktmbuf_free(m);
	}
	c->n_held = 0;
}

static void neigh_delete(uint32_t idx)
{
	struct neigh *n = &dp.neighs[idx];
	struct neigh_key k = {.ip = n->ip, .port = n->port};

	int32_t pos = rte_hash_del_key(dp.neigh_hash, &k);
	nh_bind_neigh(n->port, n->ip, VR_NEIGH_NONE);
	__atomic_store_n(&n->mac, 0, __ATOMIC_RELEASE);
	neigh_drop_held(idx, false);
	nctl[idx].used = false;
	n_used--;
	rcu_sync(); /* workers are done with the slot and the hash key */
	if (pos >= 0)
		rte_hash_free_key_with_position(dp.neigh_hash, pos);
}

static void neigh_release(uint32_t idx)
{
	struct neigh_ctl *c = &nctl[idx];
	const struct neigh *n = &dp.neighs[idx];
	struct rte_ether_addr mac;
	neigh_mac_unpack(n->mac, &mac);

	for (uint16_t i = 0; i < c->n_held; i++) {
		struct rte_mbuf *m = c->held[i];
		struct rte_ether_hdr *eth =
			(struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eth));
		if (eth == NULL) {
			counter_inc(dp.ctl_stats, n->port, VR_CNT_DROP_NO_MBUF);
			rte_pktmbuf_free(m);
			continue;
		}
		eth->dst_addr = mac;
		eth->src_addr = dp.ports[n->port].mac;
		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
		pkt_meta(m)->action = PKT_TX;
		pkt_meta(m)->out_port = n->port;
		counter_inc(dp.ctl_stats, n->port, VR_CNT_ARP_RELEASED);
		ctl_inject(m);
	}
	c->n_held = 0;
}

/* A MAC for the entry: from the wire (learned) or configured. */
static void neigh_confirm(uint32_t idx, const uint8_t mac[RTE_ETHER_ADDR_LEN], bool learned)
{
	struct neigh_ctl *c = &nctl[idx];
	bool was_incomplete = c->state == VR_NEIGH_INCOMPLETE;

	__atomic_store_n(&dp.neighs[idx].mac, neigh_mac_pack(mac), __ATOMIC_RELEASE);
	c->state = VR_NEIGH_REACHABLE;
	c->probes = 0;
	c->confirmed_tsc = rte_rdtsc();
	if (was_incomplete && learned)
		counter_inc(dp.ctl_stats, dp.neighs[idx].port, VR_CNT_ARP_LEARNED);
	if (was_incomplete)
		neigh_release(idx);
}

/* The port's ARP rate (RFC 1812 4.3.2.8 asks no less of ICMP errors): a
 * request over it waits for the next timer tick, counted once. */
static bool neigh_request_allowed(uint32_t idx)
{
	struct neigh_ctl *c = &nctl[idx];
	uint16_t port = dp.neighs[idx].port;
	if (token_bucket_take(&dp.ctl_arp_tb[port], dp.params.arp_rate, dp.params.arp_burst)) {
		c->throttled = false;
		return true;
	}
	if (!c->throttled)
		counter_inc(dp.ctl_stats, port, VR_CNT_ARP_REQUESTS_RATELIMITED);
	c->throttled = true;
	return false;
}

static void neigh_send_request(uint32_t idx, bool unicast)
{
	const struct neigh *n = &dp.neighs[idx];
	struct rte_ether_addr mac;
	neigh_mac_unpack(n->mac, &mac);
	uint32_t sip = arp_source_for(n->port, n->ip);
	struct rte_mbuf *m = arp_request_build(n->port, unicast ? &mac : NULL, sip, n->ip);
	if (m == NULL) {
		counter_inc(dp.ctl_stats, n->port, VR_CNT_DROP_NO_MBUF);
		return;
	}
	counter_inc(dp.ctl_stats, n->port, VR_CNT_ARP_REQUESTS_OUT);
	ctl_inject(m);
}

void neigh_hold(struct rte_mbuf *m)
{
	struct pkt_meta *meta = pkt_meta(m);
	uint16_t port = meta->out_port;
	uint32_t idx = neigh_lookup(port, meta->nh_ip);

	if (idx == VR_NEIGH_NONE) {
		idx = neigh_create(port, meta->nh_ip);
		if (idx == VR_NEIGH_NONE) {
			counter_inc(dp.ctl_stats, port, VR_CNT_DROP_ARP_TABLE_FULL);
			rte_pktmbuf_free(m);
			return;
		}
	}
	struct neigh_ctl *c = &nctl[idx];
	if (dp.neighs[idx].mac & NEIGH_MAC_VALID) {
		/* resolved since the worker looked */
		c->held[c->n_held++] = m;
		neigh_release(idx);
		return;
	}
	if (c->n_held >= RTE_MIN(dp.params.arp_queue_len, (uint32_t)NEIGH_MAX_HOLD)) {
		counter_inc(dp.ctl_stats, port, VR_CNT_DROP_ARP_QUEUE_FULL);
		rte_pktmbuf_free(m);
		return;
	}
	counter_inc(dp.ctl_stats, port, VR_CNT_ARP_HELD);
	c->held[c->n_held++] = m;
}

void neigh_event(const struct arp_event *ev)
{
	uint32_t idx = neigh_lookup(ev->port, ev->ip);
	struct neigh_ctl *c = idx == VR_NEIGH_NONE ? NULL : &nctl[idx];

	if (c != NULL && c->state == VR_NEIGH_PERMANENT)
		return; /* static entries are not overridden by the wire */
	switch (ev->type) {
	case ARP_EV_REQUEST_FOR_US:
		/* RFC 826: the asker will talk to us next; learn it. */
		if (idx == VR_NEIGH_NONE) {
			idx = neigh_create(ev->port, ev->ip);
			if (idx == VR_NEIGH_NONE) {
				counter_inc(dp.ctl_stats, ev->port, VR_CNT_DROP_ARP_TABLE_FULL);
				return;
			}
		}
		neigh_confirm(idx, ev->mac, true);
		break;
	case ARP_EV_REPLY:
		if (idx == VR_NEIGH_NONE) {
			counter_inc(dp.ctl_stats, ev->port, VR_CNT_DROP_ARP_UNSOLICITED);
			return;
		}
		neigh_confirm(idx, ev->mac, true);
		break;
	case ARP_EV_GRATUITOUS:
		if (idx != VR_NEIGH_NONE && c->state != VR_NEIGH_INCOMPLETE)
			neigh_confirm(idx, ev->mac, true);
		break;
	}
}

void neigh_timer(void)
{
	uint64_t now = rte_rdtsc();
	const struct vr_params *pr = &dp.params;

	for (uint32_t i = 0; i < dp.neigh_table_size && n_used > 0; i++) {
		struct neigh_ctl *c = &nctl[i];
		if (!c->used)
			continue;
		switch (c->state) {
		case VR_NEIGH_INCOMPLETE:
			if (now < c->next_tsc)
				break;
			if (c->probes >= pr->arp_max_probes) {
				/* RFC 1812 4.3.3.1 via 4.3.2: host unreachable for what waited */
				neigh_drop_held(i, true);
				neigh_delete(i);
				break;
			}
			if (!neigh_request_allowed(i))
				break; /* next tick */
			c->probes++;
			c->next_tsc = now + ms_to_tsc(pr->arp_retrans_ms);
			neigh_send_request(i, false);
			break;
		case VR_NEIGH_REACHABLE:
			if (now - c->confirmed_tsc >= ms_to_tsc(pr->arp_reachable_ms)) {
				c->state = VR_NEIGH_PROBE;
				c->probes = 0;
				c->next_tsc = now;
			}
			break;
		case VR_NEIGH_PROBE:
			if (now < c->next_tsc)
				break;
			if (c->probes >= pr->arp_max_probes) {
				neigh_delete(i); /* aged out: next packet resolves afresh */
				break;
			}
			if (!neigh_request_allowed(i))
				break;
			c->probes++;
			c->next_tsc = now + ms_to_tsc(pr->arp_retrans_ms);
			neigh_send_request(i, true);
			break;
		default:
			break;
		}
	}
}

void neigh_flush_port(uint16_t port, bool only_off_subnet)
{
	const struct addr_list *al = dp.ports[port].addrs;
	for (uint32_t i = 0; i < dp.neigh_table_size; i++) {
		if (!nctl[i].used || dp.neighs[i].port != port)
			continue;
		bool on_subnet = false;
		for (uint32_t a = 0; only_off_subnet && al != NULL && a < al->n; a++)
			on_subnet |= ip_in_subnet(dp.neighs[i].ip, &al->a[a]);
		if (!on_subnet)
			neigh_delete(i);
	}
}

/* ---------------- control messages ---------------- */

static int neigh_check_port(uint16_t port, struct ctl_resp *r)
{
	if (port >= VR_MAX_PORTS || !dp.ports[port].in_use)
		return ctl_err(r, ENOENT, "port %u does not exist", port);
	return 0;
}

static int neigh_add_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_neigh *q = req;
	char b[16];
	(void)len;
	int rc = neigh_check_port(q->port, r);
	if (rc < 0)
		return rc;
	struct rte_ether_addr mac;
	memcpy(mac.addr_bytes, q->mac, sizeof(q->mac));
	if (!rte_is_valid_assigned_ether_addr(&mac))
		return ctl_err(r, EINVAL, "neighbour %s: MAC is zero or multicast",
			       ip4_fmt(q->ip, b));
	if (q->ip == 0 || ip_martian_src(q->ip))
		return ctl_err(r, EINVAL, "neighbour address %s is not a unicast host",
			       ip4_fmt(q->ip, b));
	uint32_t idx = neigh_lookup(q->port, q->ip);
	if (idx == VR_NEIGH_NONE) {
		idx = neigh_create(q->port, q->ip);
		if (idx == VR_NEIGH_NONE)
			return ctl_err(r, ENOSPC, "neighbour table full (%u entries)",
				       dp.neigh_table_size);
	}
	neigh_confirm(idx, q->mac, false);
	nctl[idx].state = VR_NEIGH_PERMANENT;
	return 0;
}
CTL_HANDLER(VR_MSG_NEIGH_ADD, sizeof(struct vr_neigh), neigh_add_handler)

static int neigh_del_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_neigh *q = req;
	char b[16];
	(void)len;
	int rc = neigh_check_port(q->port, r);
	if (rc < 0)
		return rc;
	uint32_t idx = neigh_lookup(q->port, q->ip);
	if (idx == VR_NEIGH_NONE)
		return ctl_err(r, ENOENT, "no neighbour %s on port %u", ip4_fmt(q->ip, b), q->port);
	neigh_delete(idx);
	return 0;
}
CTL_HANDLER(VR_MSG_NEIGH_DEL, sizeof(struct vr_neigh), neigh_del_handler)

static int neigh_list_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	(void)req;
	(void)len;
	uint64_t now = rte_rdtsc();
	const struct vr_neigh_list_resp *list = ctl_list_begin(r, sizeof(*list));
	(void)list; /* entries are counted by ctl_list_add() */
	for (uint32_t i = 0; i < dp.neigh_table_size; i++) {
		const struct neigh_ctl *c = &nctl[i];
		if (!c->used)
			continue;
		struct vr_neigh *e = ctl_list_add(r, sizeof(*e));
		if (e == NULL)
			return -EIO;
		const struct neigh *n = &dp.neighs[i];
		struct rte_ether_addr mac;
		neigh_mac_unpack(n->mac, &mac);
		*e = (struct vr_neigh){.ip = n->ip, .port = n->port, .state = c->state,
				       .probes = c->probes, .held = c->n_held};
		if (n->mac & NEIGH_MAC_VALID)
			memcpy(e->mac, mac.addr_bytes, sizeof(e->mac));
		if (c->state != VR_NEIGH_INCOMPLETE)
			e->age_ms = (uint32_t)((now - c->confirmed_tsc) * 1000 / dp.tsc_hz);
	}
	return 0;
}
CTL_HANDLER(VR_MSG_NEIGH_LIST, 0, neigh_list_handler)
