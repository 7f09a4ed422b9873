/* SPDX-License-Identifier: BSD-3-Clause
 * NAT in the workers: session lookup (in bulk), translation with incremental
 * checksum updates (RFC 1624), new sessions, ICMP errors (RFC 5508),
 * fragments (reassembled), expiry in small steps.
 */
#include <string.h>

#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_jhash.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "icmp.h"
#include "ip4_util.h"
#include "nat.h"
#include "nat_session.h"
#include "worker.h"

#define EXPIRE_PER_LOOP 64
#define EXPIRE_SWEEP_S 1 /* a session outlives its timeout by at most this */
#define FRAG_BUCKETS 1024
#define FRAG_BUCKET_ENTRIES 8
#define FRAG_TIMEOUT_S 2
#define PORT_MIN_DEFAULT 1024

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* Expiry pacing, per worker (each its own line). */
struct sweep {
	uint64_t tsc;
	double credit;
} __rte_cache_aligned;
static struct sweep sweeps[VR_MAX_WORKERS];

struct map_key {
	uint32_t in_ip;
	uint16_t in_port;
	uint8_t proto;
	uint8_t _pad;
	uint16_t vrf;
	uint16_t _pad2;
};

static inline uint64_t nat_now(void)
{
	return rte_rdtsc() + __atomic_load_n(&dp.nat_clock_offset, __ATOMIC_RELAXED);
}

static int proto_index(uint8_t proto)
{
	return proto == IPPROTO_TCP ? 0 : proto == IPPROTO_UDP ? 1 : 2;
}

/* ---------------- setup ---------------- */

int nat_worker_init(struct worker *w)
{
	char name[RTE_HASH_NAMESIZE];
	uint32_t max = dp.nat_params.max_sessions / dp.n_workers;
	struct nat_worker *n = rte_zmalloc("nat_worker", sizeof(*n), RTE_CACHE_LINE_SIZE);
	if (n == NULL)
		return -1;
	n->max = max;
	snprintf(name, sizeof(name), "nat_s%u", w->id);
	/* rte_hash wants at least a bucket's worth of entries */
	struct rte_hash_parameters hp = {.name = name, .entries = RTE_MAX(max * 2, 8u),
					 .key_len = sizeof(struct nat_key), .hash_func = rte_jhash,
					 .socket_id = (int)rte_socket_id(),
					 .extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE};
	n->sessions = rte_hash_create(&hp);
	snprintf(name, sizeof(name), "nat_m%u", w->id);
	hp.name = name;
	hp.entries = RTE_MAX(max, 8u);
	hp.key_len = sizeof(struct map_key);
	n->mappings = rte_hash_create(&hp);
	n->sess = rte_zmalloc("nat_sess", sizeof(*n->sess) * max, RTE_CACHE_LINE_SIZE);
	n->maps = rte_zmalloc("nat_maps", sizeof(*n->maps) * max, RTE_CACHE_LINE_SIZE);
	n->free_sess = rte_malloc("nat_fs", sizeof(uint32_t) * max, 0);
	n->free_maps = rte_malloc("nat_fm", sizeof(uint32_t) * max, 0);
	n->frags = rte_ip_frag_table_create(FRAG_BUCKETS, FRAG_BUCKET_ENTRIES,
					    FRAG_BUCKETS * FRAG_BUCKET_ENTRIES,
					    dp.tsc_hz * FRAG_TIMEOUT_S, (int)rte_socket_id());
	if (n->sessions == NULL || n->mappings == NULL || n->sess == NULL || n->maps == NULL ||
	    n->free_sess == NULL || n->free_maps == NULL || n->frags == NULL)
		return -1;
	for (uint32_t i = 0; i < max; i++) {
		n->free_sess[i] = max - 1 - i;
		n->free_maps[i] = max - 1 - i;
	}
	n->n_free_sess = n->n_free_maps = max;
	w->nat = n;
	return 0;
}

/* ---------------- checksums ---------------- */

static inline uint16_t csum_update32(uint16_t cksum, uint32_t old, uint32_t new)
{
	cksum = cksum_update16(cksum, (uint16_t)(old >> 16), (uint16_t)(new >> 16));
	return cksum_update16(cksum, (uint16_t)old, (uint16_t)new);
}

/* Where a packet's ports (or ICMP query id) and L4 checksum are. */
struct l4_view {
	uint16_t *sport, *dport; /* NULL for ICMP: see id */
	uint16_t *id;            /* ICMP query identifier */
	uint16_t *cksum;         /* NULL when absent (truncated quote) */
	bool pseudo;             /* checksum covers the addresses (TCP, UDP) */
	bool udp;
	bool echo_reply;
};

static bool l4_view(uint8_t proto, uint8_t *l4, uint32_t len, struct l4_view *v)
{
	*v = (struct l4_view){0};
	switch (proto) {
	case IPPROTO_TCP:
		if (len < 4)
			return false;
		v->sport = (uint16_t *)l4;
		v->dport = (uint16_t *)(l4 + 2);
		v->cksum = len >= 18 ? (uint16_t *)(l4 + 16) : NULL;
		v->pseudo = true;
		return true;
	case IPPROTO_UDP:
		if (len < 4)
			return false;
		v->sport = (uint16_t *)l4;
		v->dport = (uint16_t *)(l4 + 2);
		v->cksum = len >= 8 ? (uint16_t *)(l4 + 6) : NULL;
		v->pseudo = v->udp = true;
		return true;
	case IPPROTO_ICMP:
		if (len < 8 || (l4[0] != ICMP_ECHO_REQUEST && l4[0] != ICMP_ECHO_REPLY))
			return false;
		v->id = (uint16_t *)(l4 + 4);
		v->cksum = (uint16_t *)(l4 + 2);
		v->echo_reply = l4[0] == ICMP_ECHO_REPLY;
		return true;
	}
	return false;
}

static inline void l4_csum32(struct l4_view *v, uint32_t old, uint32_t new)
{
	if (v->cksum == NULL || !v->pseudo || (v->udp && *v->cksum == 0))
		return; /* RFC 768: a UDP checksum of 0 means none, and stays 0 */
	*v->cksum = csum_update32(*v->cksum, old, new);
	if (v->udp && *v->cksum == 0)
		*v->cksum = 0xffff;
}

static inline void l4_csum16(struct l4_view *v, uint16_t old, uint16_t new)
{
	if (v->cksum == NULL || (v->udp && *v->cksum == 0))
		return;
	*v->cksum = cksum_update16(*v->cksum, old, new);
	if (v->udp && *v->cksum == 0)
		*v->cksum = 0xffff;
}

/* Rewrites an IPv4 header and its L4 header from tuple `from` to `to`
 * (network byte order inside the packet, host order in the keys). */
static void rewrite(struct rte_ipv4_hdr *ip, struct l4_view *v, const struct nat_key *to,
		    bool fix_ip_csum)
{
	uint32_t os = ip->src_addr, od = ip->dst_addr;
	uint32_t ns = rte_cpu_to_be_32(to->src), nd = rte_cpu_to_be_32(to->dst);

	if (os != ns) {
		ip->src_addr = ns;
		if (fix_ip_csum)
			ip->hdr_checksum = csum_update32(ip->hdr_checksum, os, ns);
		l4_csum32(v, os, ns);
	}
	if (od != nd) {
		ip->dst_addr = nd;
		if (fix_ip_csum)
			ip->hdr_checksum = csum_update32(ip->hdr_checksum, od, nd);
		l4_csum32(v, od, nd);
	}
	if (v->id != NULL) {
		uint16_t nid = rte_cpu_to_be_16(v->echo_reply ? to->dport : to->sport);
		if (*v->id != nid) {
			l4_csum16(v, *v->id, nid);
			*v->id = nid;
		}
		return;
	}
	uint16_t nsp = rte_cpu_to_be_16(to->sport), ndp = rte_cpu_to_be_16(to->dport);
	if (*v->sport != nsp) {
		l4_csum16(v, *v->sport, nsp);
		*v->sport = nsp;
	}
	if (*v->dport != ndp) {
		l4_csum16(v, *v->dport, ndp);
		*v->dport = ndp;
	}
}

/* ---------------- keys ---------------- */

enum key_kind { KEY_FLOW, KEY_ICMP_ERROR, KEY_OTHER, KEY_TRUNCATED };

static bool icmp_is_error(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* The flow key of a (non-fragment) packet, data at its IP header. */
static enum key_kind key_of(struct rte_mbuf *m, uint16_t vrf, struct nat_key *k,
			    uint8_t *tcp_flags)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint16_t hlen = ip4_hdr_len(ip);
	uint32_t avail = rte_pktmbuf_data_len(m) - hlen;
	const uint8_t *l4 = (const uint8_t *)ip + hlen;

	*k = (struct nat_key){.src = rte_be_to_cpu_32(ip->src_addr),
			      .dst = rte_be_to_cpu_32(ip->dst_addr), .proto = ip->next_proto_id,
			      .vrf = vrf};
	*tcp_flags = 0;
	switch (ip->next_proto_id) {
	case IPPROTO_TCP:
		if (avail < sizeof(struct rte_tcp_hdr)) /* else translated with a stale checksum */
			return KEY_TRUNCATED;
		*tcp_flags = l4[13];
		/* fall through */
	case IPPROTO_UDP:
		if (avail < 8)
			return KEY_TRUNCATED;
		k->sport = rte_be_to_cpu_16(*(const uint16_t *)l4);
		k->dport = rte_be_to_cpu_16(*(const uint16_t *)(l4 + 2));
		return KEY_FLOW;
	case IPPROTO_ICMP:
		if (avail < 8)
			return KEY_TRUNCATED;
		if (icmp_is_error(l4[0]))
			return KEY_ICMP_ERROR;
		if (l4[0] == ICMP_ECHO_REQUEST)
			k->sport = rte_be_to_cpu_16(*(const uint16_t *)(l4 + 4));
		else if (l4[0] == ICMP_ECHO_REPLY)
			k->dport = rte_be_to_cpu_16(*(const uint16_t *)(l4 + 4));
		else
			return KEY_OTHER;
		return KEY_FLOW;
	default:
		return KEY_OTHER;
	}
}

/* ---------------- sessions ---------------- */

/* A seqlock with one writer (the worker): plain stores, no locked
 * read-modify-write on the packet path (it waited for the session's line
 * and serialised the pipeline). The odd version is stored before the
 * data, the data before the even version. */
static void sess_write_begin(struct nat_session *s)
{
	__atomic_store_n(&s->version, s->version + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void sess_write_end(struct nat_session *s)
{
	__atomic_store_n(&s->version, s->version + 1, __ATOMIC_RELEASE);
}

/* RFC 5382-style tracking: enough to tell open, established and closing. */
static void tcp_track(struct nat_session *s, bool reply, uint8_t flags)
{
	if (flags & TCP_RST) {
		s->state = VR_NAT_S_TCP_CLOSING;
		return;
	}
	if ((flags & TCP_SYN) && !reply && s->state == VR_NAT_S_TCP_CLOSING) {
		s->state = VR_NAT_S_TCP_SYN; /* the ports are reused by a new connection */
		s->flags &= (uint8_t)~(NS_FIN_ORIG | NS_FIN_REPLY);
		return;
	}
	if (flags & TCP_FIN) {
		s->flags |= reply ? NS_FIN_REPLY : NS_FIN_ORIG;
		s->state = (s->flags & NS_FIN_ORIG) && (s->flags & NS_FIN_REPLY)
				   ? VR_NAT_S_TCP_CLOSING
				   : VR_NAT_S_TCP_FIN;
		return;
	}
	if (s->state == VR_NAT_S_TCP_SYN && reply)
		s->state = VR_NAT_S_TCP_EST; /* both directions seen */
}

static void sess_touch(struct nat_session *s, bool reply, uint8_t tcp_flags, uint64_t now)
{
	sess_write_begin(s);
	s->last_tsc = now;
	s->packets++;
	if (s->orig.proto == IPPROTO_TCP)
		tcp_track(s, reply, tcp_flags);
	sess_write_end(s);
}

static void port_release(struct nat_mapping *mp)
{
	int pi = proto_index(mp->proto);
	mp->addr->bits[pi][mp->out_port >> 6] &= ~(1ULL << (mp->out_port & 63));
}

static void mapping_unref(struct nat_worker *n, uint32_t idx)
{
	struct nat_mapping *mp = &n->maps[idx];
	if (--mp->refs > 0)
		return;
	struct map_key mk = {.in_ip = mp->in_ip, .in_port = mp->in_port, .proto = mp->proto,
			     .vrf = mp->vrf};
	rte_hash_del_key(n->mappings, &mk);
	port_release(mp);
	mp->used = false;
	n->free_maps[n->n_free_maps++] = idx;
	n->n_maps--;
}

static void sess_delete(struct nat_worker *n, uint32_t idx)
{
	struct nat_session *s = &n->sess[idx];
	struct nat_key rk = nat_key_reverse(&s->xlat);
	rte_hash_del_key(n->sessions, &s->orig);
	rte_hash_del_key(n->sessions, &rk);
	if (s->mapping != NAT_NONE)
		mapping_unref(n, s->mapping);
	sess_write_begin(s);
	s->used = false;
	sess_write_end(s);
	n->free_sess[n->n_free_sess++] = idx;
	n->n_sess--;
}

/* After a failed session creation: free a mapping made just for it. */
static void mapping_drop_if_unused(struct nat_worker *n, uint32_t idx)
{
	if (idx != NAT_NONE && n->maps[idx].refs == 0) {
		n->maps[idx].refs = 1;
		mapping_unref(n, idx);
	}
}

/* A new session; NAT_NONE when the table is full (or the reverse key is
 * taken, which a correct allocation never causes). Takes a mapping ref. */
static uint32_t sess_create(struct worker *w, const struct nat_key *orig,
			    const struct nat_key *xlat, uint32_t mapping, const struct nat_rule *rule,
			    uint8_t flags, uint8_t tcp_flags, uint64_t now)
{
	struct nat_worker *n = w->nat;
	if (n->n_free_sess == 0)
		return NAT_NONE;
	uint32_t idx = n->free_sess[n->n_free_sess - 1];
	struct nat_key rk = nat_key_reverse(xlat);
	if (rte_hash_add_key_data(n->sessions, orig, (void *)(uintptr_t)(idx << 1)) < 0)
		return NAT_NONE;
	if (rte_hash_add_key_data(n->sessions, &rk, (void *)(uintptr_t)(idx << 1 | 1)) < 0) {
		rte_hash_del_key(n->sessions, orig);
		return NAT_NONE;
	}
	n->n_free_sess--;
	n->n_sess++;
	struct nat_session *s = &n->sess[idx];
	uint8_t state = orig->proto == IPPROTO_UDP    ? VR_NAT_S_UDP
			: orig->proto == IPPROTO_ICMP ? VR_NAT_S_ICMP
			: orig->proto != IPPROTO_TCP  ? VR_NAT_S_OTHER
			: (tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN ? VR_NAT_S_TCP_SYN
							    : VR_NAT_S_TCP_EST;
	sess_write_begin(s);
	s->orig = *orig;
	s->xlat = *xlat;
	s->last_tsc = now;
	s->packets = 1;
	s->mapping = mapping;
	s->rule = rule->r.id;
	s->state = state;
	s->flags = flags;
	s->used = true;
	sess_write_end(s);
	if (mapping != NAT_NONE)
		n->maps[mapping].refs++;
	((struct nat_rule *)rule)->created[w->id]++;
	return idx;
}

/* ---------------- endpoint-independent mappings and ports ---------------- */

/* This worker's slice of the port space: workers never share a port word. */
static void port_slice(const struct worker *w, uint16_t lo, uint16_t hi, uint32_t *plo,
		       uint32_t *phi)
{
	uint32_t s_lo = 65536u * w->id / dp.n_workers;
	uint32_t s_hi = 65536u * (w->id + 1) / dp.n_workers - 1;
	*plo = RTE_MAX((uint32_t)lo, s_lo);
	*phi = RTE_MIN((uint32_t)hi, s_hi);
}

static int port_take(struct nat_addr *a, int pi, uint32_t port)
{
	uint64_t bit = 1ULL << (port & 63);
	if (a->bits[pi][port >> 6] & bit)
		return -1;
	a->bits[pi][port >> 6] |= bit;
	return (int)port;
}

/* A free port in [lo, hi], preferring `want` (RFC 4787: keep the source
 * port when possible), else the next free one after the last given. */
static int port_alloc(struct worker *w, struct nat_addr *a, int pi, uint16_t lo, uint16_t hi,
		      uint16_t want)
{
	uint32_t plo, phi;
	port_slice(w, lo, hi, &plo, &phi);
	if (plo > phi)
		return -1;
	if (want >= plo && want <= phi && port_take(a, pi, want) >= 0)
		return want;
	uint32_t span = phi - plo + 1;
	uint32_t start = plo + w->nat->port_cursor[pi] % span;
	for (uint32_t i = 0; i < span;) {
		uint32_t p = plo + (start - plo + i) % span;
		uint64_t word = a->bits[pi][p >> 6];
		if (word == UINT64_MAX && (p & 63) == 0 && p + 63 <= phi) {
			i += 64; /* a full word */
			continue;
		}
		if (port_take(a, pi, p) >= 0) {
			w->nat->port_cursor[pi] = p - plo + 1;
			return (int)p;
		}
		i++;
	}
	return -1;
}

static struct nat_addr *snat_addr(const struct nat_rule *r, uint32_t in_ip)
{
	/* RFC 4787 REQ-2: one inside address always gets the same pool address */
	if (r->r.n_pool == 0)
		return r->pool[0];
	return r->pool[rte_jhash_1word(in_ip, 0) % r->r.n_pool];
}

/* The mapping of an inside endpoint (existing or new); NAT_NONE with *why
 * set when none can be had. */
static uint32_t mapping_get(struct worker *w, const struct nat_rule *r, uint16_t vrf,
			    uint8_t proto, uint32_t in_ip, uint16_t in_port, uint32_t masq_ip,
			    enum vr_counter *why)
{
	struct nat_worker *n = w->nat;
	struct map_key mk = {.in_ip = in_ip, .in_port = in_port, .proto = proto, .vrf = vrf};
	void *data;
	if (rte_hash_lookup_data(n->mappings, &mk, &data) >= 0)
		return (uint32_t)(uintptr_t)data;
	if (n->n_free_maps == 0) {
		*why = VR_CNT_DROP_NAT_TABLE_FULL;
		return NAT_NONE;
	}
	struct nat_addr *a = snat_addr(r, in_ip);
	if (a == NULL || (r->r.masquerade && masq_ip == 0)) {
		*why = VR_CNT_DROP_NAT_UNSUPPORTED;
		return NAT_NONE;
	}
	int pi = proto_index(proto);
	/* the configured range is for ports; ICMP identifiers use them all */
	uint16_t lo = proto == IPPROTO_ICMP ? 1 : r->r.port_lo ? r->r.port_lo : PORT_MIN_DEFAULT;
	uint16_t hi = proto == IPPROTO_ICMP ? 65535 : r->r.port_hi ? r->r.port_hi : 65535;
	int port = port_alloc(w, a, pi, lo, hi, in_port);
	if (port < 0) {
		*why = VR_CNT_DROP_NAT_PORTS_EXHAUSTED;
		return NAT_NONE;
	}
	uint32_t idx = n->free_maps[n->n_free_maps - 1];
	if (rte_hash_add_key_data(n->mappings, &mk, (void *)(uintptr_t)idx) < 0) {
		a->bits[pi][port >> 6] &= ~(1ULL << (port & 63));
		*why = VR_CNT_DROP_NAT_TABLE_FULL;
		return NAT_NONE;
	}
	n->n_free_maps--;
	n->n_maps++;
	n->maps[idx] = (struct nat_mapping){.in_ip = in_ip, .in_port = in_port, .proto = proto,
					    .used = true, .vrf = vrf, .out_port = (uint16_t)port,
					    .out_ip = r->r.masquerade ? masq_ip : a->ip, .refs = 0,
					    .addr = a};
	return idx;
}

/* ---------------- rules ---------------- */

static const struct nat_rule *dnat_match(const struct nat_vrf *nv, const struct nat_key *k)
{
	for (uint32_t i = 0; i < nv->n_dnat; i++) {
		const struct vr_nat_rule *r = &nv->dnat[i]->r;
		if (r->ext_ip == k->dst && r->ext_port == k->dport && r->proto == k->proto)
			return nv->dnat[i];
	}
	return NULL;
}

static const struct nat_rule *static_by_ext(const struct nat_vrf *nv, uint32_t ip)
{
	for (uint32_t i = 0; i < nv->n_static; i++)
		if (nv->stat[i]->r.ext_ip == ip)
			return nv->stat[i];
	return NULL;
}

static const struct nat_rule *static_by_int(const struct nat_vrf *nv, uint32_t ip)
{
	for (uint32_t i = 0; i < nv->n_static; i++)
		if (nv->stat[i]->r.int_ip == ip)
			return nv->stat[i];
	return NULL;
}

static bool snat_covers(const struct vr_nat_rule *r, uint32_t src)
{
	return ((src ^ r->match) & plen_mask(r->match_plen)) == 0;
}

static const struct nat_rule *snat_match(const struct nat_vrf *nv, uint32_t src, uint16_t port)
{
	for (uint32_t i = 0; i < nv->n_snat; i++) {
		const struct vr_nat_rule *r = &nv->snat[i]->r;
		if ((port == VR_PORT_NONE || r->out_port == port) && snat_covers(r, src))
			return nv->snat[i];
	}
	return NULL;
}

static uint32_t masq_addr(uint16_t port)
{
	const struct addr_list *al = port < VR_MAX_PORTS ? dp.ports[port].addrs : NULL;
	return al != NULL && al->n > 0 ? al->a[0].ip : 0;
}

/* ---------------- ownership (several workers) ---------------- */

static bool is_snat_outside(const struct nat_vrf *nv, uint32_t ip)
{
	for (uint32_t i = 0; i < nv->n_snat; i++) {
		const struct nat_rule *r = nv->snat[i];
		if (r->r.masquerade ? masq_addr(r->r.out_port) == ip : false)
			return true;
		for (uint8_t a = 0; a < r->r.n_pool; a++)
			if (r->pool[a]->ip == ip)
				return true;
	}
	return false;
}

static unsigned int owner_of_endpoint(uint32_t ip, uint16_t port)
{
	return rte_jhash_2words(ip, port, 0) % dp.n_workers;
}

/* The worker that owns a flow: the one its outside port belongs to, or
 * the one its inside endpoint hashes to (see nat.h). */
static unsigned int flow_owner(const struct nat_vrf *nv, const struct nat_key *k)
{
	const struct nat_rule *d = dnat_match(nv, k);
	if (d != NULL)
		return owner_of_endpoint(d->r.int_ip, d->r.int_port);
	if (is_snat_outside(nv, k->dst)) {
		return (uint32_t)k->dport * dp.n_workers / 65536; /* its port slice */
	}
	return owner_of_endpoint(k->src, k->sport);
}

static bool handoff(struct worker *w, struct rte_mbuf *m, unsigned int owner)
{
	struct pkt_meta *meta = pkt_meta(m);
	meta->flags |= PKT_F_HANDED_OFF;
	if (rte_ring_enqueue(dp.workers[owner]->handoff, m) != 0) {
		worker_drop(w, m, meta->in_port, VR_CNT_DROP_NAT_HANDOFF_FULL);
		return false;
	}
	counter_inc(w->stats, meta->in_port, VR_CNT_NAT_HANDOFFS);
	return true;
}

/* ---------------- translation of a packet with its session ---------------- */

/* Packets of direction `reply` arrive as `from`, leave as `to`. */
static void sess_dir(const struct nat_session *s, bool reply, struct nat_key *from,
		     struct nat_key *to)
{
	if (reply) {
		*from = nat_key_reverse(&s->xlat);
		*to = nat_key_reverse(&s->orig);
	} else {
		*from = s->orig;
		*to = s->xlat;
	}
}

static void xlat_packet(struct rte_mbuf *m, const struct nat_session *s, bool reply)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint16_t hlen = ip4_hdr_len(ip);
	struct l4_view v;
	struct nat_key from, to;
	sess_dir(s, reply, &from, &to);
	if (!l4_view(ip->next_proto_id, (uint8_t *)ip + hlen, rte_pktmbuf_data_len(m) - hlen, &v))
		v = (struct l4_view){0};
	rewrite(ip, &v, &to, true);
}

/* 1:1 NAT: one address, no state, every protocol. */
static void xlat_static(struct rte_mbuf *m, bool dst, uint32_t new_ip)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint16_t hlen = ip4_hdr_len(ip);
	struct l4_view v;
	uint32_t old = dst ? ip->dst_addr : ip->src_addr, nw = rte_cpu_to_be_32(new_ip);
	if (dst)
		ip->dst_addr = nw;
	else
		ip->src_addr = nw;
	ip->hdr_checksum = csum_update32(ip->hdr_checksum, old, nw);
	if (!ip4_is_later_fragment(ip) &&
	    l4_view(ip->next_proto_id, (uint8_t *)ip + hlen, rte_pktmbuf_data_len(m) - hlen, &v))
		l4_csum32(&v, old, nw);
}

/* ---------------- ICMP errors (RFC 5508) ---------------- */

/* An ICMP error about a NATed flow: find the session from the quoted packet
 * and translate both the outer header and the quote. */
/* The packet an ICMP error quotes (its header and L4 view) and the key of
 * the flow the error travels in: the reverse of the quoted packet's. */
static bool icmp_error_quote(struct rte_mbuf *m, uint16_t vrf, struct rte_ipv4_hdr **inp,
			     struct l4_view *iv, struct nat_key *rk)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint16_t hlen = ip4_hdr_len(ip);
	uint32_t len = rte_pktmbuf_data_len(m);
	if (len < hlen + 8u + sizeof(struct rte_ipv4_hdr))
		return false;
	uint8_t *icmp = (uint8_t *)ip + hlen;
	struct rte_ipv4_hdr *in = (struct rte_ipv4_hdr *)(icmp + 8);
	uint16_t ihlen = ip4_hdr_len(in);
	if (ihlen < sizeof(*in) || hlen + 8u + ihlen > len || ip4_is_later_fragment(in))
		return false;
	uint8_t *il4 = (uint8_t *)in + ihlen;
	if (!l4_view(in->next_proto_id, il4, len - hlen - 8 - ihlen, iv))
		return false;
	struct nat_key ik = {.src = rte_be_to_cpu_32(in->src_addr),
			     .dst = rte_be_to_cpu_32(in->dst_addr), .proto = in->next_proto_id,
			     .vrf = vrf};
	if (iv->id != NULL) {
		uint16_t id = rte_be_to_cpu_16(*iv->id);
		ik.sport = iv->echo_reply ? 0 : id;
		ik.dport = iv->echo_reply ? id : 0;
	} else {
		ik.sport = rte_be_to_cpu_16(*iv->sport);
		ik.dport = rte_be_to_cpu_16(*iv->dport);
	}
	*inp = in;
	*rk = nat_key_reverse(&ik);
	return true;
}

/* The source or destination (`dst`) address of a header changed to `nw`
 * (network order), the IP checksum (when asked) and the L4 one (`v`, may be
 * empty) updated with it. */
static void addr_set(struct rte_ipv4_hdr *ip, bool dst, rte_be32_t nw, struct l4_view *v,
		     bool fix_ip_csum)
{
	uint32_t old = dst ? ip->dst_addr : ip->src_addr;
	if (old == nw)
		return;
	if (dst)
		ip->dst_addr = nw;
	else
		ip->src_addr = nw;
	if (fix_ip_csum)
		ip->hdr_checksum = csum_update32(ip->hdr_checksum, old, nw);
	l4_csum32(v, old, nw);
}

/* The ICMP checksum of an error computed again over all of it (a
 * reassembled error is a chain). */
static void icmp_error_csum(struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint16_t hlen = ip4_hdr_len(ip);
	uint8_t *icmp = (uint8_t *)ip + hlen;
	icmp[2] = icmp[3] = 0;
	uint16_t sum = 0;
	rte_raw_cksum_mbuf(m, hlen, rte_be_to_cpu_16(ip->total_length) - hlen, &sum);
	uint16_t ck = (uint16_t)~sum;
	memcpy(icmp + 2, &ck, 2);
}

/* An ICMP error about a 1:1 flow (no session): from outside about what an
 * inside host sent (the quote's source is the external address), or from
 * the inside host about what it was sent (the quote's destination is the
 * internal address). Both the quote and the outer header are translated
 * (RFC 5508 REQ-3; RFC 3022 4.3). `rk`: the reverse of the quote's key. */
static bool xlat_static_error(struct worker *w, struct rte_mbuf *m, uint16_t vrf,
			      struct rte_ipv4_hdr *in, struct l4_view *iv, const struct nat_key *rk)
{
	const struct nat_vrf *nv = nat_of_vrf(vrf);
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	struct l4_view none = {0};
	const struct nat_rule *st;
	if ((st = static_by_ext(nv, rk->dst)) != NULL) {
		rte_be32_t ext = rte_cpu_to_be_32(st->r.ext_ip), in_ip = rte_cpu_to_be_32(st->r.int_ip);
		addr_set(in, false, in_ip, iv, false);
		if (ip->dst_addr == ext)
			addr_set(ip, true, in_ip, &none, true);
	} else if ((st = static_by_int(nv, rk->src)) != NULL) {
		rte_be32_t ext = rte_cpu_to_be_32(st->r.ext_ip), in_ip = rte_cpu_to_be_32(st->r.int_ip);
		addr_set(in, true, ext, iv, false);
		if (ip->src_addr == in_ip)
			addr_set(ip, false, ext, &none, true);
	} else {
		return false;
	}
	in->hdr_checksum = 0;
	in->hdr_checksum = rte_ipv4_cksum(in);
	icmp_error_csum(m);
	pkt_meta(m)->flags |= PKT_F_NAT_DONE;
	counter_inc(w->stats, pkt_meta(m)->in_port, VR_CNT_NAT_ICMP_ERRORS_TRANSLATED);
	return true;
}

static bool xlat_icmp_error(struct worker *w, struct rte_mbuf *m, uint16_t vrf)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	struct rte_ipv4_hdr *in;
	struct l4_view iv;
	struct nat_key rk;
	if (!icmp_error_quote(m, vrf, &in, &iv, &rk))
		return false;
	void *data;
	if (rte_hash_lookup_data(w->nat->sessions, &rk, &data) < 0)
		return xlat_static_error(w, m, vrf, in, &iv, &rk);
	uint32_t sd = (uint32_t)(uintptr_t)data;
	const struct nat_session *s = &w->nat->sess[sd >> 1];
	bool err_reply = sd & 1;
	struct nat_key from, to, qfrom, qto;
	sess_dir(s, err_reply, &from, &to);   /* how the error itself maps */
	sess_dir(s, !err_reply, &qfrom, &qto); /* how the quoted packet was mapped */

	/* the quote left us translated: put back every field as it came in,
	 * then its own IP checksum from scratch */
	rewrite(in, &iv, &qfrom, false);
	in->hdr_checksum = 0;
	in->hdr_checksum = rte_ipv4_cksum(in);
	/* the outer header: the addresses that belong to the flow; and where
	 * this direction hides the source, an error from a router on the way
	 * (not the flow's endpoint) leaves from the public address too
	 * (RFC 5508 REQ-4 c) */
	struct nat_key outer = {.src = rte_be_to_cpu_32(ip->src_addr),
				.dst = rte_be_to_cpu_32(ip->dst_addr)};
	if (outer.src == from.src || from.src != to.src)
		outer.src = to.src;
	if (outer.dst == from.dst)
		outer.dst = to.dst;
	struct l4_view none = {0};
	uint16_t ports[2];
	none.sport = &ports[0];
	none.dport = &ports[1];
	ports[0] = ports[1] = 0;
	rewrite(ip, &none, &outer, true);
	icmp_error_csum(m); /* it covers the quote */
	pkt_meta(m)->flags |= PKT_F_NAT_DONE;
	counter_inc(w->stats, pkt_meta(m)->in_port, VR_CNT_NAT_ICMP_ERRORS_TRANSLATED);
	return true;
}

/* The router's own ICMP error `e` about `orig`, a packet NAT translated at
 * prerouting (a reply, a port forward, 1:1 inbound): its quote holds the
 * packet as translated. Put it back as the sender sent it (RFC 5508 REQ-3),
 * or the inside address leaks and the sender cannot match the error. */
void nat_own_error_quote(struct worker *w, struct rte_mbuf *orig, struct rte_mbuf *e)
{
	const struct pkt_meta *om = pkt_meta(orig);
	if (!(om->flags & PKT_F_NAT_DONE))
		return;
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(e, struct rte_ipv4_hdr *);
	uint16_t hlen = ip4_hdr_len(ip);
	uint8_t *icmp = (uint8_t *)ip + hlen;
	struct rte_ipv4_hdr *in;
	struct l4_view iv;
	struct nat_key rk;
	if (om->nat_sess != NAT_SESS_NONE) {
		if (!icmp_error_quote(e, om->vrf, &in, &iv, &rk))
			return;
		const struct nat_session *s = &w->nat->sess[om->nat_sess >> 1];
		struct nat_key from, to, quoted = nat_key_reverse(&rk);
		sess_dir(s, om->nat_sess & 1, &from, &to);
		if (!s->used || quoted.src != to.src || quoted.dst != to.dst ||
		    quoted.sport != to.sport || quoted.dport != to.dport || quoted.proto != to.proto)
			return; /* not the session that translated it (anymore) */
		rewrite(in, &iv, &from, false);
	} else {
		in = (struct rte_ipv4_hdr *)(icmp + 8);
		uint32_t len = rte_pktmbuf_data_len(e);
		uint16_t ihlen = ip4_hdr_len(in);
		if (len < hlen + 8u + sizeof(*in) || hlen + 8u + ihlen > len)
			return;
		if (ip4_is_later_fragment(in) ||
		    !l4_view(in->next_proto_id, (uint8_t *)in + ihlen, len - hlen - 8 - ihlen, &iv))
			iv = (struct l4_view){0};
		addr_set(in, true, rte_cpu_to_be_32(om->nat_orig_dst), &iv, false);
	}
	in->hdr_checksum = 0;
	in->hdr_checksum = rte_ipv4_cksum(in);
	icmp_error_csum(e);
}

/* ---------------- prerouting ---------------- */

/* Fragments given up by the reassembly library (what it put on the death
 * row from `from` on), counted per fragment: an entry is one fragment, or
 * several the library chained before it found the set inconsistent. */
static void frags_given_up(struct worker *w, uint32_t from)
{
	struct rte_ip_frag_death_row *dr = &w->nat->death_row;
	for (uint32_t i = from; i < dr->cnt; i++)
		for (struct rte_mbuf *seg = dr->row[i]; seg != NULL; seg = seg->next)
			if (pkt_meta(seg)->flags & PKT_F_FRAG_HEAD)
				counter_inc(w->stats, pkt_meta(seg)->in_port,
					    VR_CNT_DROP_NAT_REASSEMBLY);
}

/* Fragments in a NAT VRF are reassembled: only the first carries ports. */
static struct rte_mbuf *reassemble(struct worker *w, struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	struct nat_worker *n = w->nat;
	struct pkt_meta meta = *pkt_meta(m);
	uint16_t hlen = ip4_hdr_len(ip);
	uint32_t payload = rte_be_to_cpu_16(ip->total_length) - hlen;
	uint32_t ofs = (rte_be_to_cpu_16(ip->fragment_offset) & RTE_IPV4_HDR_OFFSET_MASK) *
		       RTE_IPV4_HDR_OFFSET_UNITS;

	/* RFC 791: no datagram is longer than 65535 bytes. A fragment reaching
	 * past that ("ping of death") or carrying nothing is part of none; the
	 * library would reassemble the former with its total length wrapped. */
	if (payload == 0 || ofs + payload + hlen > UINT16_MAX) {
		worker_drop(w, m, meta.in_port, VR_CNT_DROP_NAT_REASSEMBLY);
		return NULL;
	}
	/* mark the fragment so that a drop counts it once, whatever the
	 * library chained it to (later segments' private areas are not ours) */
	pkt_meta(m)->flags |= PKT_F_FRAG_HEAD;
	for (struct rte_mbuf *seg = m->next; seg != NULL; seg = seg->next)
		pkt_meta(seg)->flags = 0;
	/* the library adds to the death row unchecked, up to an entry's every
	 * fragment and this one: it is emptied once a loop, after the bursts
	 * of all our rx queues, so make room here */
	if (n->death_row.cnt > RTE_IP_FRAG_DEATH_ROW_MBUF_LEN - (RTE_LIBRTE_IP_FRAG_MAX_FRAG + 1))
		rte_ip_frag_free_death_row(&n->death_row, 0);
	uint32_t before = n->death_row.cnt;
	m->l2_len = 0;
	m->l3_len = hlen;
	struct rte_mbuf *r = rte_ipv4_frag_reassemble_packet(n->frags, &n->death_row, m,
							     rte_rdtsc(), ip);
	frags_given_up(w, before);
	if (r == NULL)
		return NULL;
	meta.flags &= (uint8_t)~PKT_F_FRAG_HEAD;
	*pkt_meta(r) = meta;
	ip = rte_pktmbuf_mtod(r, struct rte_ipv4_hdr *);
	/* the first fragment's header may be longer than the one that
	 * bounded the size above: the total length must still hold it all */
	if (rte_be_to_cpu_16(ip->total_length) != r->pkt_len) {
		worker_drop(w, r, meta.in_port, VR_CNT_DROP_NAT_REASSEMBLY);
		return NULL;
	}
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	counter_inc(w->stats, meta.in_port, VR_CNT_NAT_REASSEMBLED);
	return r;
}

/* New flow arriving at a port forward: create its session (and, for an
 * inside client reaching the forward through the outside address, map the
 * client too: RFC 4787 REQ-9 hairpinning). */
static uint32_t dnat_create(struct worker *w, const struct nat_vrf *nv, const struct nat_rule *d,
			    const struct nat_key *k, uint16_t in_port, uint8_t tcp_flags,
			    uint64_t now, enum vr_counter *why)
{
	struct nat_key x = *k;
	x.dst = d->r.int_ip;
	x.dport = d->r.int_port;
	uint32_t mapping = NAT_NONE;
	/* a client that came in through the rule's outside port is outside,
	 * even when its address is inside the rule's match */
	const struct nat_rule *h = snat_match(nv, k->src, VR_PORT_NONE);
	if (h != NULL && h->r.out_port != in_port) {
		uint32_t masq = h->r.masquerade ? masq_addr(h->r.out_port) : 0;
		mapping = mapping_get(w, h, k->vrf, k->proto, k->src, k->sport, masq, why);
		if (mapping == NAT_NONE)
			return NAT_NONE;
		x.src = w->nat->maps[mapping].out_ip;
		x.sport = w->nat->maps[mapping].out_port;
	}
	uint32_t idx = sess_create(w, k, &x, mapping, d, NS_DST_NAT, tcp_flags, now);
	if (idx == NAT_NONE) {
		mapping_drop_if_unused(w->nat, mapping);
		*why = VR_CNT_DROP_NAT_TABLE_FULL;
	}
	return idx;
}

static enum nat_verdict prerouting_one(struct worker *w, struct rte_mbuf **mp,
				       const struct nat_vrf *nv, const struct nat_key *k,
				       enum key_kind kind, uint8_t tcp_flags, int32_t found,
				       void *data, uint64_t now)
{
	struct rte_mbuf *m = *mp;
	struct pkt_meta *meta = pkt_meta(m);
	enum vr_counter why = VR_CNT_DROP_NAT_TABLE_FULL;

	if (kind == KEY_ICMP_ERROR) {
		xlat_icmp_error(w, m, k->vrf);
		return NAT_CONTINUE;
	}
	if (kind == KEY_TRUNCATED) {
		worker_drop(w, m, meta->in_port, VR_CNT_DROP_NAT_TRUNCATED);
		return NAT_CONSUMED;
	}
	if (kind == KEY_FLOW && found >= 0) {
		uint32_t sd = (uint32_t)(uintptr_t)data;
		struct nat_session *s = &w->nat->sess[sd >> 1];
		bool reply = sd & 1;
		sess_touch(s, reply, tcp_flags, now);
		counter_inc(w->stats, meta->in_port, VR_CNT_NAT_TRANSLATED);
		trace(m, VR_TRACE_NAT_PRE, s->rule, sd);
		meta->nat_sess = sd;
		if (reply || (s->flags & NS_DST_NAT)) {
			xlat_packet(m, s, reply); /* the destination changes: before routing */
			meta->flags |= PKT_F_NAT_DONE;
		} /* else source only: after the TTL check */
		return NAT_CONTINUE;
	}
	if (kind == KEY_FLOW) {
		const struct nat_rule *d = dnat_match(nv, k);
		if (d != NULL) {
			uint32_t idx = dnat_create(w, nv, d, k, meta->in_port, tcp_flags, now, &why);
			if (idx == NAT_NONE) {
				worker_drop(w, m, meta->in_port, why);
				return NAT_CONSUMED;
			}
			counter_inc(w->stats, meta->in_port, VR_CNT_NAT_SESSIONS_CREATED);
			counter_inc(w->stats, meta->in_port, VR_CNT_NAT_TRANSLATED);
			trace(m, VR_TRACE_NAT_PRE, d->r.id | VR_TRACE_NAT_NEW, idx << 1);
			xlat_packet(m, &w->nat->sess[idx], false);
			meta->nat_sess = idx << 1;
			meta->flags |= PKT_F_NAT_DONE;
			return NAT_CONTINUE;
		}
	}
	const struct nat_rule *st = static_by_ext(nv, k->dst);
	if (st != NULL) {
		trace(m, VR_TRACE_NAT_PRE, st->r.id, VR_TRACE_NAT_STATELESS);
		xlat_static(m, true, st->r.int_ip);
		meta->nat_orig_dst = k->dst;
		meta->flags |= PKT_F_NAT_DONE;
		counter_inc(w->stats, meta->in_port, VR_CNT_NAT_TRANSLATED);
	}
	return NAT_CONTINUE;
}

uint16_t nat_prerouting(struct worker *w, struct rte_mbuf **pkts, uint16_t n, bool handed_off)
{
	struct nat_key keys[VR_BURST * 2];
	const void *kptr[VR_BURST * 2];
	void *data[VR_BURST * 2];
	enum key_kind kind[VR_BURST * 2];
	uint8_t tcp_flags[VR_BURST * 2];
	const struct nat_vrf *nvs[VR_BURST * 2];
	int32_t slot[VR_BURST * 2];
	uint16_t nk = 0, out = 0;
	uint64_t now = nat_now();

	/* keys first (and handoffs), so the session table is searched in bulk */
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct pkt_meta *meta = pkt_meta(m);
		meta->nat_sess = NAT_SESS_NONE;
		nvs[i] = nat_of_vrf(meta->vrf);
		slot[i] = -1;
		if (nvs[i] == NULL)
			continue;
		if (ip4_is_fragment(rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *))) {
			pkts[i] = m = reassemble(w, m);
			if (m == NULL) /* held until complete, or given up (counted) */
				continue;
		}
		kind[i] = key_of(m, meta->vrf, &keys[i], &tcp_flags[i]);
		if (kind[i] == KEY_ICMP_ERROR && dp.n_workers > 1 && !handed_off) {
			/* its session is the quoted flow's owner's */
			struct rte_ipv4_hdr *in;
			struct l4_view iv;
			struct nat_key rk;
			unsigned int owner;
			if (icmp_error_quote(m, meta->vrf, &in, &iv, &rk) &&
			    (owner = flow_owner(nvs[i], &rk)) != w->id) {
				handoff(w, m, owner);
				pkts[i] = NULL;
				continue;
			}
		}
		if (kind[i] != KEY_FLOW)
			continue;
		if (dp.n_workers > 1 && !handed_off) {
			unsigned int owner = flow_owner(nvs[i], &keys[i]);
			if (owner != w->id) {
				handoff(w, m, owner);
				pkts[i] = NULL;
				continue;
			}
		}
		slot[i] = nk;
		kptr[nk++] = &keys[i];
	}
	uint64_t hits = 0;
	for (uint16_t off = 0; off < nk; off += RTE_HASH_LOOKUP_BULK_MAX) {
		uint16_t cnt = RTE_MIN(nk - off, RTE_HASH_LOOKUP_BULK_MAX);
		uint64_t h = 0;
		rte_hash_lookup_bulk_data(w->nat->sessions, kptr + off, cnt, &h, data + off);
		hits |= h << off;
	}
	/* the sessions found: their lines on the way while the burst goes on */
	for (uint16_t k = 0; k < nk; k++)
		if ((hits >> k) & 1)
			rte_prefetch0(&w->nat->sess[(uint32_t)(uintptr_t)data[k] >> 1]);
	for (uint16_t i = 0; i < n; i++) {
		if (pkts[i] == NULL)
			continue;
		if (nvs[i] != NULL) {
			bool hit = slot[i] >= 0 && (hits >> slot[i]) & 1;
			if (prerouting_one(w, &pkts[i], nvs[i], &keys[i], kind[i], tcp_flags[i],
					   hit ? 0 : -1, hit ? data[slot[i]] : NULL, now) ==
			    NAT_CONSUMED)
				continue;
		}
		pkts[out++] = pkts[i];
	}
	return out;
}

/* ---------------- postrouting ---------------- */

bool nat_postrouting(struct worker *w, struct rte_mbuf *m, uint16_t out_port)
{
	struct pkt_meta *meta = pkt_meta(m);
	const struct nat_vrf *nv = nat_of_vrf(meta->vrf);

	if (nv == NULL || (meta->flags & (PKT_F_NAT_DONE | PKT_F_ORIGINATED)))
		return true;
	if (meta->nat_sess != NAT_SESS_NONE) {
		struct nat_session *s = &w->nat->sess[meta->nat_sess >> 1];
		trace(m, VR_TRACE_NAT_POST, s->rule, meta->nat_sess);
		xlat_packet(m, s, meta->nat_sess & 1);
		return true;
	}
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint32_t src = rte_be_to_cpu_32(ip->src_addr);
	const struct nat_rule *st = static_by_int(nv, src);
	if (st != NULL) {
		trace(m, VR_TRACE_NAT_POST, st->r.id, VR_TRACE_NAT_STATELESS);
		xlat_static(m, false, st->r.ext_ip);
		counter_inc(w->stats, meta->in_port, VR_CNT_NAT_TRANSLATED);
		return true;
	}
	const struct nat_rule *r = snat_match(nv, src, out_port);
	if (r == NULL)
		return true;

	struct nat_key k;
	uint8_t tcp_flags;
	enum key_kind kind = key_of(m, meta->vrf, &k, &tcp_flags);
	enum vr_counter why = VR_CNT_DROP_NAT_UNSUPPORTED;
	if (kind == KEY_TRUNCATED)
		why = VR_CNT_DROP_NAT_TRUNCATED;
	if (kind != KEY_FLOW || (k.proto == IPPROTO_ICMP && k.sport == 0 && k.dport != 0)) {
		/* other protocols, ICMP errors about nothing we track, echo
		 * replies: none can be translated without a session */
		worker_drop(w, m, meta->in_port, why);
		return false;
	}
	uint64_t now = nat_now();
	uint32_t mapping = mapping_get(w, r, k.vrf, k.proto, k.src, k.sport,
				       r->r.masquerade ? masq_addr(out_port) : 0, &why);
	if (mapping == NAT_NONE) {
		worker_drop(w, m, meta->in_port, why);
		return false;
	}
	struct nat_key x = k;
	x.src = w->nat->maps[mapping].out_ip;
	x.sport = w->nat->maps[mapping].out_port;
	uint32_t idx = sess_create(w, &k, &x, mapping, r, 0, tcp_flags, now);
	if (idx == NAT_NONE) {
		mapping_drop_if_unused(w->nat, mapping);
		worker_drop(w, m, meta->in_port, VR_CNT_DROP_NAT_TABLE_FULL);
		return false;
	}
	counter_inc(w->stats, meta->in_port, VR_CNT_NAT_SESSIONS_CREATED);
	counter_inc(w->stats, meta->in_port, VR_CNT_NAT_TRANSLATED);
	trace(m, VR_TRACE_NAT_POST, r->r.id | VR_TRACE_NAT_NEW, idx << 1);
	xlat_packet(m, &w->nat->sess[idx], false);
	return true;
}

/* ---------------- housekeeping ---------------- */

static bool expired(const struct nat_session *s, uint64_t now)
{
	return now - s->last_tsc >= (uint64_t)nat_timeout_s(s->state) * dp.tsc_hz;
}

/* Sessions a flush removes: those of its filter, and any whose mapping is
 * on an outside address no rule uses any more (a deleted SNAT rule's, held
 * by hairpin sessions of port forwards, which have the forward's rule id):
 * its allocator is about to be freed. */
static bool flushed(const struct nat_worker *n, const struct nat_session *s)
{
	return nat_filter_match(&n->filter, s) ||
	       (s->mapping != NAT_NONE &&
		__atomic_load_n(&n->maps[s->mapping].addr->refs, __ATOMIC_ACQUIRE) == 0);
}

void nat_worker_housekeeping(struct worker *w)
{
	struct nat_worker *n = w->nat;

	/* fragments that never completed: the table only looks at a stale
	 * entry when another fragment lands on it, so give them up here */
	uint32_t held = n->death_row.cnt;
	rte_ip_frag_table_del_expired_entries(n->frags, &n->death_row, rte_rdtsc());
	frags_given_up(w, held);
	if (n->death_row.cnt > 0)
		rte_ip_frag_free_death_row(&n->death_row, 0);
	uint32_t seq = __atomic_load_n(&n->cmd_seq, __ATOMIC_ACQUIRE);
	/* the clock read after the command: the test clock the control thread
	 * advanced just before asking for expiry is the one it must expire by
	 * (read before, the pass missed the advance and left it to the scan) */
	uint64_t now = nat_now();
	if (seq != n->done_seq) {
		/* a whole pass, on the control thread's request (flush, or
		 * expiry right after the test clock moved) */
		for (uint32_t i = 0; i < n->max; i++) {
			struct nat_session *s = &n->sess[i];
			if (!s->used)
				continue;
			if (n->cmd == NAT_CMD_FLUSH ? flushed(n, s) : expired(s, now))
				sess_delete(n, i);
		}
		__atomic_store_n(&n->done_seq, seq, __ATOMIC_RELEASE);
	}
	if (n->n_sess == 0)
		return;
	/* the whole table about once per EXPIRE_SWEEP_S, in steps of at most
	 * EXPIRE_PER_LOOP: a fixed 64 a loop read 64 session lines from memory
	 * for every burst, however big the table */
	struct sweep *sw = &sweeps[w->id];
	uint64_t tsc = rte_rdtsc();
	sw->credit += (double)(tsc - sw->tsc) * n->max / ((double)dp.tsc_hz * EXPIRE_SWEEP_S);
	sw->tsc = tsc;
	if (sw->credit > EXPIRE_PER_LOOP)
		sw->credit = EXPIRE_PER_LOOP;
	uint32_t todo = (uint32_t)sw->credit;
	sw->credit -= todo;
	for (uint32_t k = 0; k < todo; k++) {
		uint32_t i = n->cursor++ % n->max;
		struct nat_session *s = &n->sess[i];
		if (s->used && expired(s, now))
			sess_delete(n, i);
	}
}
