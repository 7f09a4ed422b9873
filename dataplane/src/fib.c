/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_malloc.h>
#include <rte_rib.h>

#include "ctl.h"
#include "fib.h"
#include "ip4_util.h"
#include "neigh.h"

#define VRF_DEFAULT_MAX_ROUTES (1 << 16)
#define VRF_DEFAULT_TBL8 (1 << 12)
#define VRF_MAX_TBL8 (1 << 20)

/* Client routes displaced by an internal route of the same prefix. */
struct shadow_route {
	bool used;
	uint16_t vrf;
	uint8_t plen;
	uint32_t prefix;
	uint32_t nh_id;
};
#define SHADOW_MAX (VR_MAX_PORTS * VR_MAX_ADDRS * 3)
static struct shadow_route shadows[SHADOW_MAX];

static uint32_t nh_high; /* ids below this may be in use */

int fib_init(uint32_t max_nexthops)
{
	dp.max_nexthops = max_nexthops;
	dp.nhs = rte_zmalloc("nexthops", sizeof(struct nexthop) * NH_TABLE_SIZE,
			     RTE_CACHE_LINE_SIZE);
	if (dp.nhs == NULL)
		return -ENOMEM;
	dp.nhs[NH_ID_LOCAL].type = VR_NH_LOCAL;
	dp.nhs[NH_ID_BROADCAST].type = VR_NH_BROADCAST;
	for (uint16_t p = 0; p < VR_MAX_PORTS; p++) {
		struct nexthop *nh = &dp.nhs[NH_ID_CONNECTED(p)];
		nh->type = VR_NH_CONNECTED;
		nh->port = p;
		nh->neigh = VR_NEIGH_NONE;
	}
	return 0;
}

/* ---------------- VRFs ---------------- */

int vrf_create(uint16_t vrf, uint32_t max_routes, uint32_t num_tbl8, struct ctl_resp *r)
{
	char name[32];

	if (vrf >= VR_MAX_VRFS)
		return ctl_err(r, EINVAL, "vrf %u out of range 0..%u", vrf, VR_MAX_VRFS - 1);
	if (dp.vrfs[vrf].fib != NULL)
		return ctl_err(r, EEXIST, "vrf %u already exists", vrf);
	if (num_tbl8 > VRF_MAX_TBL8)
		return ctl_err(r, EINVAL, "num_tbl8 %u above the limit %u", num_tbl8, VRF_MAX_TBL8);
	struct rte_fib_conf conf = {
		.type = RTE_FIB_DIR24_8,
		.default_nh = 0, /* nexthop id 0: no route */
		.max_routes = (int)(max_routes ? max_routes : VRF_DEFAULT_MAX_ROUTES),
		.dir24_8 = {.nh_sz = RTE_FIB_DIR24_8_4B,
			    .num_tbl8 = num_tbl8 ? num_tbl8 : VRF_DEFAULT_TBL8},
	};
	snprintf(name, sizeof(name), "vrf%u", vrf);
	struct rte_fib *fib = rte_fib_create(name, (int)rte_socket_id(), &conf);
	if (fib == NULL)
		return ctl_err(r, ENOMEM, "cannot allocate the FIB of vrf %u (%u routes): %s", vrf,
			       conf.max_routes, rte_strerror(rte_errno));
	dp.vrfs[vrf] = (struct vrf){.fib = fib, .max_routes = (uint32_t)conf.max_routes,
				    .num_tbl8 = conf.dir24_8.num_tbl8};
	return 0;
}

static uint16_t vrf_port_count(uint16_t vrf)
{
	uint16_t n = 0;
	for (uint16_t p = 0; p < VR_MAX_PORTS; p++)
		n += dp.ports[p].in_use && dp.ports[p].vrf == vrf;
	return n;
}

void vrf_destroy_all(void)
{
	for (uint16_t v = 0; v < VR_MAX_VRFS; v++) {
		if (dp.vrfs[v].fib != NULL)
			rte_fib_free(dp.vrfs[v].fib);
		dp.vrfs[v].fib = NULL;
	}
}

static int vrf_add_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_vrf_add_req *q = req;
	(void)len;
	return vrf_create(q->vrf, q->max_routes, q->num_tbl8, r);
}
CTL_HANDLER(VR_MSG_VRF_ADD, sizeof(struct vr_vrf_add_req), vrf_add_handler)

static int vrf_del_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_vrf_id *q = req;
	(void)len;
	if (!vrf_exists(q->vrf))
		return ctl_err(r, ENOENT, "vrf %u does not exist", q->vrf);
	uint16_t ports = vrf_port_count(q->vrf);
	if (ports > 0)
		return ctl_err(r, EBUSY, "vrf %u still has %u ports", q->vrf, ports);
	if (dp.vrfs[q->vrf].n_routes > 0)
		return ctl_err(r, EBUSY, "vrf %u still has %u routes", q->vrf,
			       dp.vrfs[q->vrf].n_routes);
	struct rte_fib *fib = dp.vrfs[q->vrf].fib;
	dp.vrfs[q->vrf].fib = NULL;
	rcu_sync(); /* no worker is looking up in it any more */
	rte_fib_free(fib);
	dp.vrfs[q->vrf] = (struct vrf){0};
	return 0;
}
CTL_HANDLER(VR_MSG_VRF_DEL, sizeof(struct vr_vrf_id), vrf_del_handler)

static int vrf_list_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	(void)req;
	(void)len;
	const struct vr_vrf_list_resp *list = ctl_list_begin(r, sizeof(*list));
	(void)list; /* entries are counted by ctl_list_add() */
	for (uint16_t v = 0; v < VR_MAX_VRFS; v++) {
		if (!vrf_exists(v))
			continue;
		struct vr_vrf_info *e = ctl_list_add(r, sizeof(*e));
		if (e == NULL)
			return -EIO;
		*e = (struct vr_vrf_info){.vrf = v, .n_ports = vrf_port_count(v),
					  .n_routes = dp.vrfs[v].n_routes,
					  .max_routes = dp.vrfs[v].max_routes,
					  .num_tbl8 = dp.vrfs[v].num_tbl8};
	}
	return 0;
}
CTL_HANDLER(VR_MSG_VRF_LIST, 0, vrf_list_handler)

/* ---------------- next hops ---------------- */

static void nh_ref(uint32_t id)
{
	dp.nhs[id].refcnt++;
}

static void nh_unref(uint32_t id)
{
	dp.nhs[id].refcnt--;
}

void nh_bind_neigh(uint16_t port, uint32_t ip, uint32_t idx)
{
	for (uint32_t id = 1; id < nh_high; id++) {
		struct nexthop *nh = &dp.nhs[id];
		if (nh->type == VR_NH_GATEWAY && nh->port == port && nh->gw == ip)
			__atomic_store_n(&nh->neigh, idx, __ATOMIC_RELEASE);
	}
}

uint32_t nh_port_users(uint16_t port)
{
	uint32_t n = 0;
	for (uint32_t id = 1; id < nh_high; id++)
		n += dp.nhs[id].type == VR_NH_GATEWAY && dp.nhs[id].port == port;
	return n;
}

static bool nh_client_exists(uint32_t id)
{
	return id > 0 && id < dp.max_nexthops && dp.nhs[id].type != VR_NH_NONE;
}

static bool port_has_subnet_for(uint16_t port, uint32_t ip)
{
	const struct addr_list *al = dp.ports[port].addrs;
	for (uint32_t i = 0; al != NULL && i < al->n; i++)
		if (ip_in_subnet(ip, &al->a[i]) && al->a[i].ip != ip)
			return true;
	return false;
}

static int nh_add_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_nh *q = req;
	char b[16];
	(void)len;

	if (q->id == 0 || q->id >= dp.max_nexthops)
		return ctl_err(r, EINVAL, "next-hop id %u out of range 1..%u", q->id,
			       dp.max_nexthops - 1);
	if (dp.nhs[q->id].type != VR_NH_NONE)
		return ctl_err(r, EEXIST, "next hop %u already exists", q->id);

	struct nexthop nh = {.type = q->type, .neigh = VR_NEIGH_NONE};
	switch (q->type) {
	case VR_NH_GATEWAY:
		if (q->port >= VR_MAX_PORTS || !dp.ports[q->port].in_use)
			return ctl_err(r, ENOENT, "next hop %u: port %u does not exist", q->id,
				       q->port);
		if (!port_has_subnet_for(q->port, q->gw))
			return ctl_err(r, EINVAL,
				       "next hop %u: gateway %s is not a neighbour on a subnet of "
				       "port %u (%s)",
				       q->id, ip4_fmt(q->gw, b), q->port, dp.ports[q->port].name);
		nh.port = q->port;
		nh.gw = q->gw;
		nh.neigh = neigh_lookup(q->port, q->gw);
		break;
	case VR_NH_BLACKHOLE:
	case VR_NH_REJECT:
		break;
	case VR_NH_GROUP:
		if (q->n_members == 0 || q->n_members > VR_MAX_ECMP)
			return ctl_err(r, EINVAL, "next hop %u: group of %u members, allowed 1..%u",
				       q->id, q->n_members, VR_MAX_ECMP);
		for (uint8_t i = 0; i < q->n_members; i++) {
			uint32_t m = q->members[i];
			if (!nh_client_exists(m))
				return ctl_err(r, ENOENT, "next hop %u: member %u does not exist",
					       q->id, m);
			if (dp.nhs[m].type != VR_NH_GATEWAY)
				return ctl_err(r, EINVAL,
					       "next hop %u: member %u is not a gateway next hop",
					       q->id, m);
			nh.members[i] = m;
		}
		nh.n_members = q->n_members;
		for (uint8_t i = 0; i < q->n_members; i++)
			nh_ref(q->members[i]);
		break;
	default:
		return ctl_err(r, EINVAL, "next hop %u: type %u cannot be added by clients", q->id,
			       q->type);
	}
	/* No route points at this id yet, so workers cannot be reading it. */
	dp.nhs[q->id] = nh;
	if (q->id >= nh_high)
		nh_high = q->id + 1;
	return 0;
}
CTL_HANDLER(VR_MSG_NH_ADD, sizeof(struct vr_nh), nh_add_handler)

static int nh_del_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_nh_id *q = req;
	(void)len;
	if (!nh_client_exists(q->id))
		return ctl_err(r, ENOENT, "next hop %u does not exist", q->id);
	struct nexthop *nh = &dp.nhs[q->id];
	if (nh->refcnt > 0)
		return ctl_err(r, EBUSY, "next hop %u is used by %u routes or groups", q->id,
			       nh->refcnt);
	rcu_sync(); /* a worker may still hold it from a lookup made before the last route went */
	if (nh->type == VR_NH_GROUP)
		for (uint8_t i = 0; i < nh->n_members; i++)
			nh_unref(nh->members[i]);
	*nh = (struct nexthop){.type = VR_NH_NONE, .neigh = VR_NEIGH_NONE};
	return 0;
}
CTL_HANDLER(VR_MSG_NH_DEL, sizeof(struct vr_nh_id), nh_del_handler)

static void nh_export(uint32_t id, struct vr_nh *e)
{
	const struct nexthop *nh = &dp.nhs[id];
	*e = (struct vr_nh){.id = id, .type = nh->type, .n_members = nh->n_members,
			    .port = nh->port, .gw = nh->gw, .refcnt = nh->refcnt};
	memcpy(e->members, nh->members, sizeof(e->members));
}

static int nh_list_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	(void)req;
	(void)len;
	const struct vr_nh_list_resp *list = ctl_list_begin(r, sizeof(*list));
	(void)list; /* entries are counted by ctl_list_add() */
	for (uint32_t id = 1; id < NH_TABLE_SIZE; id++) {
		if (id == nh_high && id < dp.max_nexthops)
			id = dp.max_nexthops; /* skip the unused client range */
		if (dp.nhs[id].type == VR_NH_NONE)
			continue;
		if (dp.nhs[id].type == VR_NH_CONNECTED && !dp.ports[dp.nhs[id].port].in_use)
			continue;
		struct vr_nh *e = ctl_list_add(r, sizeof(*e));
		if (e == NULL)
			return -EIO;
		nh_export(id, e);
	}
	return 0;
}
CTL_HANDLER(VR_MSG_NH_LIST, 0, nh_list_handler)

/* ---------------- routes ---------------- */

static struct rte_rib *vrf_rib(uint16_t vrf)
{
	return rte_fib_get_rib(dp.vrfs[vrf].fib);
}

/* The next hop of exactly prefix/plen in the FIB, 0 if absent. */
static uint32_t fib_get_exact(uint16_t vrf, uint32_t prefix, uint8_t plen)
{
	struct rte_rib_node *n = rte_rib_lookup_exact(vrf_rib(vrf), prefix, plen);
	uint64_t nh = 0;
	if (n == NULL || rte_rib_get_nh(n, &nh) != 0)
		return 0;
	return (uint32_t)nh;
}

static int fib_set(uint16_t vrf, uint32_t prefix, uint8_t plen, uint32_t nh_id)
{
	struct vrf *v = &dp.vrfs[vrf];
	/* A tbl8 group freed by an earlier delete may be reused by this add:
	 * make sure no worker is still walking it. */
	if (plen > 24 && v->tbl8_maybe_freed) {
		rcu_sync();
		v->tbl8_maybe_freed = false;
	}
	return rte_fib_add(v->fib, prefix, plen, nh_id);
}

static void fib_unset(uint16_t vrf, uint32_t prefix, uint8_t plen)
{
	rte_fib_delete(dp.vrfs[vrf].fib, prefix, plen);
	if (plen > 24)
		dp.vrfs[vrf].tbl8_maybe_freed = true;
}

static struct shadow_route *shadow_find(uint16_t vrf, uint32_t prefix, uint8_t plen)
{
	for (int i = 0; i < SHADOW_MAX; i++) {
		struct shadow_route *s = &shadows[i];
		if (s->used && s->vrf == vrf && s->prefix == prefix && s->plen == plen)
			return s;
	}
	return NULL;
}

static struct shadow_route *shadow_alloc(void)
{
	for (int i = 0; i < SHADOW_MAX; i++)
		if (!shadows[i].used)
			return &shadows[i];
	return NULL;
}

int fib_internal_add(uint16_t vrf, uint32_t prefix, uint8_t plen, uint32_t nh_id,
		     struct ctl_resp *r)
{
	char b[16];
	uint32_t old = fib_get_exact(vrf, prefix, plen);

	if (old != 0 && nh_is_internal(old))
		return ctl_err(r, EEXIST, "%s/%u is already a local or connected route in vrf %u",
			       ip4_fmt(prefix, b), plen, vrf);
	struct shadow_route *s = NULL;
	if (old != 0) {
		s = shadow_alloc();
		if (s == NULL)
			return ctl_err(r, ENOSPC, "no room to keep route %s/%u aside",
				       ip4_fmt(prefix, b), plen);
	}
	int rc = fib_set(vrf, prefix, plen, nh_id);
	if (rc < 0)
		return ctl_err(r, -rc, "cannot add %s/%u to vrf %u: %s", ip4_fmt(prefix, b), plen,
			       vrf, strerror(-rc));
	if (s != NULL)
		*s = (struct shadow_route){.used = true, .vrf = vrf, .prefix = prefix,
					   .plen = plen, .nh_id = old};
	return 0;
}

void fib_internal_del(uint16_t vrf, uint32_t prefix, uint8_t plen)
{
	struct shadow_route *s = shadow_find(vrf, prefix, plen);
	if (s != NULL) {
		/* Replacing an entry in place allocates nothing, so this succeeds. */
		rte_fib_add(dp.vrfs[vrf].fib, prefix, plen, s->nh_id);
		s->used = false;
	} else {
		fib_unset(vrf, prefix, plen);
	}
}

/* How to take back one applied route of a bulk request. */
struct route_undo {
	uint32_t old_nh;  /* 0: the prefix was new */
	bool shadowed;    /* the change was to the shadow copy */
};

static int route_add_one(uint16_t vrf, const struct vr_route *rt, struct route_undo *u,
			 struct ctl_resp *r, uint32_t idx)
{
	char b[16];
	const char *p = ip4_fmt(rt->prefix, b);

	if (rt->plen > 32)
		return ctl_err(r, EINVAL, "route %u: prefix length %u above 32", idx, rt->plen);
	if (rt->prefix & ~plen_mask(rt->plen))
		return ctl_err(r, EINVAL, "route %u: %s/%u has host bits set", idx, p, rt->plen);
	if (!nh_client_exists(rt->nh_id) || nh_is_internal(rt->nh_id))
		return ctl_err(r, ENOENT, "route %u (%s/%u): next hop %u does not exist", idx, p,
			       rt->plen, rt->nh_id);

	uint32_t cur = fib_get_exact(vrf, rt->prefix, rt->plen);
	bool replace = rt->flags & VR_ROUTE_REPLACE;
	*u = (struct route_undo){0};

	if (cur != 0 && nh_is_internal(cur)) {
		struct shadow_route *s = shadow_find(vrf, rt->prefix, rt->plen);
		if (s != NULL && !replace)
			return ctl_err(r, EEXIST, "route %u: %s/%u already exists in vrf %u", idx,
				       p, rt->plen, vrf);
		if (s == NULL && (s = shadow_alloc()) == NULL)
			return ctl_err(r, ENOSPC, "route %u: no room to keep %s/%u aside", idx, p,
				       rt->plen);
		u->shadowed = true;
		u->old_nh = s->used ? s->nh_id : 0;
		if (s->used)
			nh_unref(s->nh_id);
		*s = (struct shadow_route){.used = true, .vrf = vrf, .prefix = rt->prefix,
					   .plen = rt->plen, .nh_id = rt->nh_id};
	} else {
		if (cur != 0 && !replace)
			return ctl_err(r, EEXIST, "route %u: %s/%u already exists in vrf %u", idx,
				       p, rt->plen, vrf);
		int rc = fib_set(vrf, rt->prefix, rt->plen, rt->nh_id);
		if (rc < 0)
			return ctl_err(r, -rc, "route %u: cannot add %s/%u to vrf %u: %s", idx, p,
				       rt->plen, vrf,
				       rc == -ENOSPC ? "table full (max_routes or tbl8 groups)"
						     : strerror(-rc));
		u->old_nh = cur;
		if (cur != 0)
			nh_unref(cur);
	}
	nh_ref(rt->nh_id);
	if (u->old_nh == 0)
		dp.vrfs[vrf].n_routes++;
	return 0;
}

static void route_add_undo(uint16_t vrf, const struct vr_route *rt, const struct route_undo *u)
{
	nh_unref(rt->nh_id);
	if (u->old_nh != 0)
		nh_ref(u->old_nh);
	else
		dp.vrfs[vrf].n_routes--;
	if (u->shadowed) {
		struct shadow_route *s = shadow_find(vrf, rt->prefix, rt->plen);
		if (u->old_nh != 0)
			s->nh_id = u->old_nh;
		else
			s->used = false;
	} else if (u->old_nh != 0) {
		rte_fib_add(dp.vrfs[vrf].fib, rt->prefix, rt->plen, u->old_nh);
	} else {
		fib_unset(vrf, rt->prefix, rt->plen);
	}
}

static int route_req_check(const struct vr_route_req *q, uint32_t len, struct ctl_resp *r)
{
	if (!vrf_exists(q->vrf))
		return ctl_err(r, ENOENT, "vrf %u does not exist", q->vrf);
	if ((uint64_t)q->n * sizeof(struct vr_route) != len - sizeof(*q))
		return ctl_err(r, EINVAL, "%u routes announced, %zu bytes of routes sent", q->n,
			       (size_t)(len - sizeof(*q)));
	return 0;
}

static int route_add_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_route_req *q = req;
	int rc = route_req_check(q, len, r);
	if (rc < 0)
		return rc;
	struct route_undo *undo = malloc(sizeof(*undo) * (q->n ? q->n : 1));
	if (undo == NULL)
		return ctl_err(r, ENOMEM, "out of memory");
	uint32_t i;
	for (i = 0; i < q->n; i++) {
		rc = route_add_one(q->vrf, &q->routes[i], &undo[i], r, i);
		if (rc < 0)
			break;
	}
	if (rc < 0)
		while (i-- > 0)
			route_add_undo(q->vrf, &q->routes[i], &undo[i]);
	free(undo);
	return rc;
}
CTL_HANDLER(VR_MSG_ROUTE_ADD, sizeof(struct vr_route_req), route_add_handler)

static int route_del_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_route_req *q = req;
	char b[16];
	int rc = route_req_check(q, len, r);
	if (rc < 0)
		return rc;
	/* Check everything first: a delete then has nothing left to fail. */
	for (uint32_t i = 0; i < q->n; i++) {
		const struct vr_route *rt = &q->routes[i];
		if (rt->plen > 32)
			return ctl_err(r, EINVAL, "route %u: prefix length %u above 32", i,
				       rt->plen);
		uint32_t cur = fib_get_exact(q->vrf, rt->prefix, rt->plen);
		if (cur == 0 || (nh_is_internal(cur) &&
				 shadow_find(q->vrf, rt->prefix, rt->plen) == NULL))
			return ctl_err(r, ENOENT, "route %u: %s/%u not found in vrf %u", i,
				       ip4_fmt(rt->prefix, b), rt->plen, q->vrf);
		for (uint32_t j = 0; j < i; j++)
			if (q->routes[j].prefix == rt->prefix && q->routes[j].plen == rt->plen)
				return ctl_err(r, EINVAL, "route %u: %s/%u listed twice", i,
					       ip4_fmt(rt->prefix, b), rt->plen);
	}
	for (uint32_t i = 0; i < q->n; i++) {
		const struct vr_route *rt = &q->routes[i];
		struct shadow_route *s = shadow_find(q->vrf, rt->prefix, rt->plen);
		if (s != NULL) {
			nh_unref(s->nh_id);
			s->used = false;
		} else {
			nh_unref(fib_get_exact(q->vrf, rt->prefix, rt->plen));
			fib_unset(q->vrf, rt->prefix, rt->plen);
		}
		dp.vrfs[q->vrf].n_routes--;
	}
	return 0;
}
CTL_HANDLER(VR_MSG_ROUTE_DEL, sizeof(struct vr_route_req), route_del_handler)

static int route_list_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_route_list_req *q = req;
	(void)len;
	if (!vrf_exists(q->vrf))
		return ctl_err(r, ENOENT, "vrf %u does not exist", q->vrf);
	struct rte_rib *rib = vrf_rib(q->vrf);
	struct rte_rib_node *n = NULL;
	const struct vr_route_list_resp *list = ctl_list_begin(r, sizeof(*list));
	(void)list; /* entries are counted by ctl_list_add() */
	/* The default route is not part of get_nxt's walk under 0/0. */
	struct rte_rib_node *def = rte_rib_lookup_exact(rib, 0, 0);
	n = def;
	do {
		if (n != NULL) {
			uint32_t ip;
			uint8_t depth;
			uint64_t nh;
			rte_rib_get_ip(n, &ip);
			rte_rib_get_depth(n, &depth);
			rte_rib_get_nh(n, &nh);
			struct vr_route *e = ctl_list_add(r, sizeof(*e));
			if (e == NULL)
				return -EIO;
			*e = (struct vr_route){.prefix = ip, .plen = depth, .nh_id = (uint32_t)nh};
		}
		n = rte_rib_get_nxt(rib, 0, 0, n == def ? NULL : n, RTE_RIB_GET_NXT_ALL);
	} while (n != NULL);
	return 0;
}
CTL_HANDLER(VR_MSG_ROUTE_LIST, sizeof(struct vr_route_list_req), route_list_handler)

static int route_lookup_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_route_lookup_req *q = req;
	(void)len;
	if (!vrf_exists(q->vrf))
		return ctl_err(r, ENOENT, "vrf %u does not exist", q->vrf);
	struct vr_route_lookup_resp *e = ctl_resp_put(r, sizeof(*e));
	struct rte_rib_node *n = rte_rib_lookup(vrf_rib(q->vrf), q->ip);
	if (n == NULL)
		return 0;
	uint32_t ip;
	uint8_t depth;
	uint64_t nh;
	rte_rib_get_ip(n, &ip);
	rte_rib_get_depth(n, &depth);
	rte_rib_get_nh(n, &nh);
	e->route = (struct vr_route){.prefix = ip, .plen = depth, .nh_id = (uint32_t)nh};
	nh_export((uint32_t)nh, &e->nh);
	return 0;
}
CTL_HANDLER(VR_MSG_ROUTE_LOOKUP, sizeof(struct vr_route_lookup_req), route_lookup_handler)
