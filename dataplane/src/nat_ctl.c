/* SPDX-License-Identifier: BSD-3-Clause
 * NAT, the control-thread side: rules (validated, compiled per VRF and
 * published under RCU), timeouts, session listing and flushing, and the
 * test clock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_malloc.h>

#include "ctl.h"
#include "fib.h"
#include "ip4_util.h"
#include "nat.h"
#include "nat_session.h"
#include "port.h"

#define NAT_MAX_RULES 4096
#define CMD_TIMEOUT_MS 3000

static struct nat_rule *rules[NAT_MAX_RULES]; /* ctl */
static struct nat_addr *addrs[NAT_MAX_ADDRS];

int nat_init(uint32_t max_sessions)
{
	dp.nat_params = (struct vr_nat_params){
		.tcp_established = 7440, /* RFC 5382 REQ-5: at least 2 h 4 min */
		.tcp_transitory = 240,   /* RFC 5382 REQ-5: at least 4 min */
		.udp = 300,              /* RFC 4787 REQ-5: at least 2 min, 5 recommended */
		.icmp = 60,              /* RFC 5508 REQ-1 */
		.other = 300,
		.max_sessions = max_sessions,
	};
	return 0;
}

/* ---------------- outside address allocators ---------------- */

/* One per pool address (by VRF and IP), one per masquerading port. */
static struct nat_addr *addr_get(uint16_t vrf, uint32_t ip, uint16_t masq_port)
{
	int free_slot = -1;
	for (int i = 0; i < NAT_MAX_ADDRS; i++) {
		struct nat_addr *a = addrs[i];
		if (a == NULL) {
			if (free_slot < 0)
				free_slot = i;
		} else if (a->vrf == vrf && a->ip == ip && a->masq_port == masq_port) {
			a->refs++;
			return a;
		}
	}
	if (free_slot < 0)
		return NULL;
	struct nat_addr *a = rte_zmalloc("nat_addr", sizeof(*a), RTE_CACHE_LINE_SIZE);
	if (a == NULL)
		return NULL;
	*a = (struct nat_addr){.ip = ip, .vrf = vrf, .masq_port = masq_port, .refs = 1};
	addrs[free_slot] = a;
	return a;
}

static void addr_put(struct nat_addr *a)
{
	if (a == NULL || --a->refs > 0)
		return;
	for (int i = 0; i < NAT_MAX_ADDRS; i++)
		if (addrs[i] == a)
			addrs[i] = NULL;
	rte_free(a);
}

static void rule_addr_refs(struct nat_rule *r, int delta)
{
	for (int i = 0; i < VR_NAT_MAX_POOL; i++)
		if (r->pool[i] != NULL)
			__atomic_store_n(&r->pool[i]->refs, r->pool[i]->refs + (uint32_t)delta,
					 __ATOMIC_RELEASE);
}

static void rule_free(struct nat_rule *r)
{
	for (int i = 0; i < VR_NAT_MAX_POOL; i++)
		addr_put(r->pool[i]);
	rte_free(r);
}

/* ---------------- worker commands ---------------- */

/* Runs a command on every worker between its bursts and waits for all. */
static int nat_run_cmd(struct ctl_resp *r, enum nat_cmd cmd, const struct vr_nat_filter *f)
{
	for (unsigned int i = 0; i < dp.n_workers; i++) {
		struct nat_worker *n = dp.workers[i]->nat;
		n->cmd = cmd;
		if (f != NULL)
			n->filter = *f;
		__atomic_store_n(&n->cmd_seq, n->cmd_seq + 1, __ATOMIC_RELEASE);
	}
	for (int ms = 0; ms < CMD_TIMEOUT_MS; ms++) {
		bool done = true;
		for (unsigned int i = 0; i < dp.n_workers; i++) {
			struct nat_worker *n = dp.workers[i]->nat;
			done &= __atomic_load_n(&n->done_seq, __ATOMIC_ACQUIRE) == n->cmd_seq;
		}
		if (done)
			return 0;
		usleep(1000);
	}
	return ctl_err(r, ETIMEDOUT, "a worker did not run the NAT command within %d ms",
		       CMD_TIMEOUT_MS);
}

/* ---------------- rules ---------------- */

static struct nat_rule *rule_find(uint32_t id, int *slot)
{
	for (int i = 0; i < NAT_MAX_RULES; i++) {
		if (rules[i] != NULL && rules[i]->r.id == id) {
			if (slot != NULL)
				*slot = i;
			return rules[i];
		}
	}
	return NULL;
}

/* Compiles the VRF's rules and swaps them in; the old set is freed once no
 * worker can be using it. */
static int nat_publish(uint16_t vrf)
{
	struct nat_vrf *nv = NULL;
	for (int i = 0; i < NAT_MAX_RULES; i++) {
		struct nat_rule *r = rules[i];
		if (r == NULL || r->r.vrf != vrf)
			continue;
		if (nv == NULL && (nv = calloc(1, sizeof(*nv))) == NULL)
			return -ENOMEM;
		if (r->r.type == VR_NAT_SNAT)
			nv->snat[nv->n_snat++] = r;
		else if (r->r.type == VR_NAT_DNAT)
			nv->dnat[nv->n_dnat++] = r;
		else
			nv->stat[nv->n_static++] = r;
	}
	struct nat_vrf *old = __atomic_exchange_n(&dp.vrfs[vrf].nat, nv, __ATOMIC_ACQ_REL);
	rcu_sync();
	free(old);
	return 0;
}

static unsigned int vrf_rule_count(uint16_t vrf)
{
	unsigned int n = 0;
	for (int i = 0; i < NAT_MAX_RULES; i++)
		n += rules[i] != NULL && rules[i]->r.vrf == vrf;
	return n;
}

static int rule_check(const struct vr_nat_rule *q, struct ctl_resp *r)
{
	char b1[16], b2[16];

	if (q->id == 0)
		return ctl_err(r, EINVAL, "NAT rule id 0 is reserved");
	if (rule_find(q->id, NULL) != NULL)
		return ctl_err(r, EEXIST, "NAT rule %u already exists", q->id);
	if (!vrf_exists(q->vrf))
		return ctl_err(r, ENOENT, "NAT rule %u: vrf %u does not exist", q->id, q->vrf);
	if (vrf_rule_count(q->vrf) >= NAT_MAX_RULES_PER_VRF)
		return ctl_err(r, ENOSPC, "vrf %u already has %u NAT rules", q->vrf,
			       NAT_MAX_RULES_PER_VRF);
	switch (q->type) {
	case VR_NAT_SNAT:
		if (!port_valid(q->out_port))
			return ctl_err(r, ENOENT, "NAT rule %u: port %u does not exist", q->id,
				       q->out_port);
		if (dp.ports[q->out_port].vrf != q->vrf)
			return ctl_err(r, EINVAL, "NAT rule %u: port %s is not in vrf %u", q->id,
				       dp.ports[q->out_port].name, q->vrf);
		if (q->match_plen > 32 || (q->match & ~plen_mask(q->match_plen)))
			return ctl_err(r, EINVAL, "NAT rule %u: bad inside prefix %s/%u", q->id,
				       ip4_fmt(q->match, b1), q->match_plen);
		if (q->masquerade == (q->n_pool > 0) || q->n_pool > VR_NAT_MAX_POOL)
			return ctl_err(r, EINVAL, "NAT rule %u: give masquerade or 1..%u pool "
				       "addresses", q->id, VR_NAT_MAX_POOL);
		for (uint8_t i = 0; i < q->n_pool; i++)
			if (q->pool[i] == 0 || ip_martian_src(q->pool[i]))
				return ctl_err(r, EINVAL, "NAT rule %u: pool address %s is not a "
					       "unicast address", q->id, ip4_fmt(q->pool[i], b1));
		if ((q->port_lo || q->port_hi) &&
		    (q->port_lo == 0 || q->port_hi < q->port_lo))
			return ctl_err(r, EINVAL, "NAT rule %u: port range %u-%u", q->id,
				       q->port_lo, q->port_hi);
		return 0;
	case VR_NAT_DNAT:
		if (q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP)
			return ctl_err(r, EINVAL, "NAT rule %u: a port forward is TCP or UDP, not "
				       "protocol %u", q->id, q->proto);
		if (q->ext_port == 0 || q->int_port == 0 || q->ext_ip == 0 || q->int_ip == 0)
			return ctl_err(r, EINVAL, "NAT rule %u: addresses and ports must be set",
				       q->id);
		for (int i = 0; i < NAT_MAX_RULES; i++) {
			const struct nat_rule *o = rules[i];
			if (o != NULL && o->r.type == VR_NAT_DNAT && o->r.vrf == q->vrf &&
			    o->r.proto == q->proto && o->r.ext_ip == q->ext_ip &&
			    o->r.ext_port == q->ext_port)
				return ctl_err(r, EEXIST, "NAT rule %u: %s:%u/%s is already forwarded "
					       "by rule %u", q->id, ip4_fmt(q->ext_ip, b1),
					       q->ext_port, q->proto == IPPROTO_TCP ? "tcp" : "udp",
					       o->r.id);
		}
		return 0;
	case VR_NAT_STATIC:
		if (q->ext_ip == 0 || q->int_ip == 0)
			return ctl_err(r, EINVAL, "NAT rule %u: addresses must be set", q->id);
		for (int i = 0; i < NAT_MAX_RULES; i++) {
			const struct nat_rule *o = rules[i];
			if (o != NULL && o->r.type == VR_NAT_STATIC && o->r.vrf == q->vrf &&
			    (o->r.ext_ip == q->ext_ip || o->r.int_ip == q->int_ip))
				return ctl_err(r, EEXIST, "NAT rule %u: %s or %s is already mapped "
					       "by rule %u", q->id, ip4_fmt(q->ext_ip, b1),
					       ip4_fmt(q->int_ip, b2), o->r.id);
		}
		return 0;
	}
	return ctl_err(r, EINVAL, "NAT rule %u: unknown type %u", q->id, q->type);
}

static int nat_rule_add_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_nat_rule *q = req;
	(void)len;
	int rc = rule_check(q, r);
	if (rc < 0)
		return rc;
	int slot = -1;
	for (int i = 0; i < NAT_MAX_RULES && slot < 0; i++)
		if (rules[i] == NULL)
			slot = i;
	if (slot < 0)
		return ctl_err(r, ENOSPC, "%u NAT rules already", NAT_MAX_RULES);
	struct nat_rule *nr = rte_zmalloc("nat_rule", sizeof(*nr), RTE_CACHE_LINE_SIZE);
	if (nr == NULL)
		return ctl_err(r, ENOMEM, "out of memory for NAT rule %u", q->id);
	nr->r = *q;
	nr->r.sessions = 0;
	if (q->type == VR_NAT_SNAT) {
		unsigned int n = q->masquerade ? 1 : q->n_pool;
		for (unsigned int i = 0; i < n; i++) {
			nr->pool[i] = q->masquerade ? addr_get(q->vrf, 0, q->out_port)
						    : addr_get(q->vrf, q->pool[i], VR_PORT_NONE);
			if (nr->pool[i] == NULL) {
				rule_free(nr);
				return ctl_err(r, ENOSPC, "NAT rule %u: too many outside addresses",
					       q->id);
			}
		}
	}
	rules[slot] = nr;
	rc = nat_publish(q->vrf);
	if (rc < 0) {
		rules[slot] = NULL;
		rule_free(nr);
		return ctl_err(r, -rc, "NAT rule %u: cannot publish the rules", q->id);
	}
	return 0;
}
CTL_HANDLER(VR_MSG_NAT_RULE_ADD, sizeof(struct vr_nat_rule), nat_rule_add_handler)

static int nat_rule_del_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_nat_rule_id *q = req;
	int slot;
	(void)len;
	struct nat_rule *nr = rule_find(q->id, &slot);
	if (nr == NULL)
		return ctl_err(r, ENOENT, "NAT rule %u does not exist", q->id);
	/* Out of the published set first (and no worker still reading it), so
	 * no new session can come from it; then its sessions go. */
	rules[slot] = NULL;
	nat_publish(nr->r.vrf);
	struct vr_nat_filter f = {.vrf = VR_NAT_ANY_VRF, .rule = q->id};
	/* its outside addresses no other rule uses show 0 references while
	 * the workers flush: sessions mapped on them go too (hairpins) */
	rule_addr_refs(nr, -1);
	int rc = nat_run_cmd(r, NAT_CMD_FLUSH, &f);
	rule_addr_refs(nr, 1);
	if (rc < 0) {
		rules[slot] = nr; /* keep its allocators: sessions may use them */
		nat_publish(nr->r.vrf);
		return rc;
	}
	rule_free(nr);
	return 0;
}
CTL_HANDLER(VR_MSG_NAT_RULE_DEL, sizeof(struct vr_nat_rule_id), nat_rule_del_handler)

static int nat_rule_list_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	(void)req;
	(void)len;
	const struct vr_nat_rule_list_resp *list = ctl_list_begin(r, sizeof(*list));
	(void)list; /* entries are counted by ctl_list_add() */
	for (int i = 0; i < NAT_MAX_RULES; i++) {
		const struct nat_rule *nr = rules[i];
		if (nr == NULL)
			continue;
		struct vr_nat_rule *e = ctl_list_add(r, sizeof(*e));
		if (e == NULL)
			return -EIO;
		*e = nr->r;
		for (unsigned int w = 0; w < dp.n_workers; w++)
			e->sessions += __atomic_load_n(&nr->created[w], __ATOMIC_RELAXED);
	}
	return 0;
}
CTL_HANDLER(VR_MSG_NAT_RULE_LIST, 0, nat_rule_list_handler)

/* ---------------- sessions ---------------- */

static bool session_snapshot(const struct nat_session *s, struct nat_session *copy)
{
	for (int tries = 0; tries < 8; tries++) {
		uint32_t v1 = __atomic_load_n(&s->version, __ATOMIC_ACQUIRE);
		if (v1 & 1)
			continue;
		memcpy(copy, s, sizeof(*copy));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&s->version, __ATOMIC_RELAXED) == v1)
			return copy->used;
	}
	return false; /* busy: it is being rewritten right now; skip it */
}

static int nat_session_list_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_nat_filter *f = req;
	uint64_t now = rte_rdtsc() + dp.nat_clock_offset;
	(void)len;
	const struct vr_nat_session_list_resp *list = ctl_list_begin(r, sizeof(*list));
	(void)list;
	for (unsigned int w = 0; w < dp.n_workers; w++) {
		const struct nat_worker *n = dp.workers[w]->nat;
		for (uint32_t i = 0; i < n->max; i++) {
			struct nat_session s;
			if (!__atomic_load_n(&n->sess[i].used, __ATOMIC_RELAXED) ||
			    !session_snapshot(&n->sess[i], &s))
				continue;
			if (!nat_filter_match(f, &s))
				continue;
			struct vr_nat_session *e = ctl_list_add(r, sizeof(*e));
			if (e == NULL)
				return -EIO;
			*e = (struct vr_nat_session){
				.orig_src = s.orig.src, .orig_dst = s.orig.dst,
				.orig_sport = s.orig.sport, .orig_dport = s.orig.dport,
				.xlat_src = s.xlat.src, .xlat_dst = s.xlat.dst,
				.xlat_sport = s.xlat.sport, .xlat_dport = s.xlat.dport,
				.proto = s.orig.proto, .state = s.state, .vrf = s.orig.vrf,
				.rule = s.rule,
				.age_ms = (uint32_t)((now - s.last_tsc) * 1000 / dp.tsc_hz),
				.timeout_s = nat_timeout_s(s.state), .worker = (uint16_t)w, .packets = s.packets};
		}
	}
	return 0;
}
CTL_HANDLER(VR_MSG_NAT_SESSION_LIST, sizeof(struct vr_nat_filter), nat_session_list_handler)

static int nat_session_flush_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	(void)len;
	return nat_run_cmd(r, NAT_CMD_FLUSH, req);
}
CTL_HANDLER(VR_MSG_NAT_SESSION_FLUSH, sizeof(struct vr_nat_filter), nat_session_flush_handler)

/* ---------------- parameters and clock ---------------- */

static int nat_params_get_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	(void)req;
	(void)len;
	struct vr_nat_params *e = ctl_resp_put(r, sizeof(*e));
	*e = dp.nat_params;
	e->mask = 0;
	for (unsigned int w = 0; w < dp.n_workers; w++) {
		e->sessions += __atomic_load_n(&dp.workers[w]->nat->n_sess, __ATOMIC_RELAXED);
		e->mappings += __atomic_load_n(&dp.workers[w]->nat->n_maps, __ATOMIC_RELAXED);
	}
	return 0;
}
CTL_HANDLER(VR_MSG_NAT_PARAMS_GET, 0, nat_params_get_handler)

static int nat_params_set_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_nat_params *q = req;
	struct vr_nat_params p = dp.nat_params;
	(void)len;
	static const struct {
		uint32_t bit;
		size_t off;
		const char *name;
	} fields[] = {
		{VR_NAT_P_TCP_EST, offsetof(struct vr_nat_params, tcp_established), "tcp_established"},
		{VR_NAT_P_TCP_TRANS, offsetof(struct vr_nat_params, tcp_transitory), "tcp_transitory"},
		{VR_NAT_P_UDP, offsetof(struct vr_nat_params, udp), "udp"},
		{VR_NAT_P_ICMP, offsetof(struct vr_nat_params, icmp), "icmp"},
		{VR_NAT_P_OTHER, offsetof(struct vr_nat_params, other), "other"},
	};
	if (q->mask & ~(VR_NAT_P_OTHER * 2 - 1))
		return ctl_err(r, EINVAL, "unknown bits 0x%x in mask", q->mask);
	for (size_t i = 0; i < RTE_DIM(fields); i++) {
		if (!(q->mask & fields[i].bit))
			continue;
		uint32_t v = *(const uint32_t *)((const uint8_t *)q + fields[i].off);
		if (v == 0 || v > 30 * 86400)
			return ctl_err(r, EINVAL, "NAT timeout %s %u s out of range 1..2592000",
				       fields[i].name, v);
		*(uint32_t *)((uint8_t *)&p + fields[i].off) = v;
	}
	dp.nat_params = p;
	return 0;
}
CTL_HANDLER(VR_MSG_NAT_PARAMS_SET, sizeof(struct vr_nat_params), nat_params_set_handler)

static int nat_clock_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_nat_clock *q = req;
	(void)len;
	__atomic_fetch_add(&dp.nat_clock_offset, (uint64_t)q->seconds * dp.tsc_hz,
			   __ATOMIC_RELEASE);
	return nat_run_cmd(r, NAT_CMD_EXPIRE, NULL);
}
CTL_HANDLER(VR_MSG_NAT_CLOCK_ADVANCE, sizeof(struct vr_nat_clock), nat_clock_handler)
