/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "ctl.h"
#include "fib.h"
#include "neigh.h"
#include "port.h"

#define PORT_DEFAULT_MTU 1500
#define PORT_MIN_MTU 68 /* RFC 791 */
#define PORT_MAX_MTU 9600
#define PORT_DEFAULT_DESC 1024

void ports_publish_rxqs(void)
{
	struct rxq_list *old[VR_MAX_WORKERS];
	uint32_t counts[VR_MAX_WORKERS] = {0};
	struct rxq_list *lists[VR_MAX_WORKERS];

	/* Queue q of port p goes to worker (p + q) % n, so single-queue ports
	 * spread over workers too. */
	for (uint16_t p = 0; p < VR_MAX_PORTS; p++) {
		const struct port *pt = &dp.ports[p];
		if (pt->in_use && pt->admin_up && pt->started)
			for (uint16_t q = 0; q < pt->n_rxq; q++)
				counts[(p + q) % dp.n_workers]++;
	}
	for (unsigned int w = 0; w < dp.n_workers; w++) {
		lists[w] = calloc(1, sizeof(struct rxq_list) + counts[w] * sizeof(struct port_rxq));
		RTE_VERIFY(lists[w] != NULL);
	}
	for (uint16_t p = 0; p < VR_MAX_PORTS; p++) {
		const struct port *pt = &dp.ports[p];
		if (!(pt->in_use && pt->admin_up && pt->started))
			continue;
		for (uint16_t q = 0; q < pt->n_rxq; q++) {
			struct rxq_list *l = lists[(p + q) % dp.n_workers];
			l->q[l->n++] = (struct port_rxq){.port = p, .queue = q};
		}
	}
	for (unsigned int w = 0; w < dp.n_workers; w++)
		old[w] = __atomic_exchange_n(&dp.workers[w]->rxqs, lists[w], __ATOMIC_ACQ_REL);
	rcu_sync();
	for (unsigned int w = 0; w < dp.n_workers; w++)
		free(old[w]);
}

void port_addrs_publish(uint16_t port, struct addr_list *al)
{
	struct addr_list *old = __atomic_exchange_n(&dp.ports[port].addrs, al, __ATOMIC_ACQ_REL);
	rcu_sync();
	free(old);
}

static void port_reset_counters(uint16_t port)
{
	memset(&dp.ctl_stats[port], 0, sizeof(dp.ctl_stats[port]));
	for (unsigned int w = 0; w < dp.n_workers; w++)
		memset(&dp.workers[w]->stats[port], 0, sizeof(dp.workers[w]->stats[port]));
}

static int port_find_by_name(const char *name)
{
	for (uint16_t p = 0; p < VR_MAX_PORTS; p++)
		if (dp.ports[p].in_use && strcmp(dp.ports[p].name, name) == 0)
			return p;
	return -1;
}

/* Removes a device that is not (or no longer) published to workers. */
static void port_release_device(uint16_t pid, uint8_t kind)
{
	struct rte_eth_dev_info info;
	struct rte_device *dev = NULL;

	if (rte_eth_dev_info_get(pid, &info) == 0)
		dev = info.device;
	rte_eth_dev_stop(pid);
	rte_eth_dev_close(pid);
	if (kind == VR_PORT_RING)
		pg_port_free_rings(pid);
	if (dev != NULL)
		rte_dev_remove(dev);
}

/* The device named by devargs: "net_af_packet0,iface=x" -> "net_af_packet0". */
static int port_probe_devargs(const char *devargs, uint16_t *pid, struct ctl_resp *r)
{
	char devname[RTE_ETH_NAME_MAX_LEN];
	size_t n = strcspn(devargs, ",");

	if (n == 0 || n >= sizeof(devname))
		return ctl_err(r, EINVAL, "devargs '%s' do not start with a device name", devargs);
	memcpy(devname, devargs, n);
	devname[n] = '\0';
	if (rte_eth_dev_get_port_by_name(devname, pid) == 0)
		return ctl_err(r, EEXIST, "device %s is already a port", devname);
	int rc = rte_dev_probe(devargs);
	if (rc == -EFAULT) /* what rte_devargs_parse() says when no bus claims the name */
		return ctl_err(r, ENODEV, "cannot probe device '%s': no bus or driver knows %s",
			       devargs, devname);
	if (rc < 0)
		return ctl_err(r, -rc, "cannot probe device '%s': %s", devargs, strerror(-rc));
	if (rte_eth_dev_get_port_by_name(devname, pid) == 0)
		return 0;
	/* Some drivers name the ethdev differently from the device. */
	uint16_t p;
	RTE_ETH_FOREACH_DEV(p) {
		struct rte_eth_dev_info info;
		if (rte_eth_dev_info_get(p, &info) == 0 && info.device != NULL &&
		    strcmp(rte_dev_name(info.device), devname) == 0 && !dp.ports[p].in_use) {
			*pid = p;
			return 0;
		}
	}
	return ctl_err(r, ENODEV, "device '%s' probed but has no ethernet port", devargs);
}

static int port_configure(uint16_t pid, const struct vr_port_add_req *q, uint16_t *rxd,
			  uint16_t *txd, struct ctl_resp *r)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf = {0};
	int rc = rte_eth_dev_info_get(pid, &info);
	if (rc < 0)
		return ctl_err(r, -rc, "port %u: cannot read device info", pid);

	uint16_t nrxq = (uint16_t)RTE_MIN(dp.n_workers, RTE_MAX(info.max_rx_queues, 1u));
	uint16_t ntxq = (uint16_t)RTE_MIN(dp.n_workers, RTE_MAX(info.max_tx_queues, 1u));
	if (nrxq > 1 && info.flow_type_rss_offloads != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;
	} else {
		nrxq = 1;
	}
	/* Only ask for offloads the device has (memif has none). */
	conf.rxmode.offloads = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	conf.txmode.offloads = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	rc = rte_eth_dev_configure(pid, nrxq, ntxq, &conf);
	if (rc < 0)
		return ctl_err(r, -rc, "port %s: configure with %u rx / %u tx queues failed: %s",
			       q->name, nrxq, ntxq, strerror(-rc));
	*rxd = q->rxd ? q->rxd : PORT_DEFAULT_DESC;
	*txd = q->txd ? q->txd : PORT_DEFAULT_DESC;
	rte_eth_dev_adjust_nb_rx_tx_desc(pid, rxd, txd);
	int socket = rte_eth_dev_socket_id(pid);
	for (uint16_t i = 0; i < nrxq; i++) {
		rc = rte_eth_rx_queue_setup(pid, i, *rxd, (unsigned int)socket, NULL, dp.mp);
		if (rc < 0)
			return ctl_err(r, -rc, "port %s: rx queue %u (%u descriptors): %s", q->name,
				       i, *rxd, strerror(-rc));
	}
	for (uint16_t i = 0; i < ntxq; i++) {
		rc = rte_eth_tx_queue_setup(pid, i, *txd, (unsigned int)socket, NULL);
		if (rc < 0)
			return ctl_err(r, -rc, "port %s: tx queue %u (%u descriptors): %s", q->name,
				       i, *txd, strerror(-rc));
	}
	if (q->set_mac) {
		struct rte_ether_addr mac;
		memcpy(mac.addr_bytes, q->mac, sizeof(q->mac));
		if (!rte_is_valid_assigned_ether_addr(&mac))
			return ctl_err(r, EINVAL, "port %s: MAC is zero or multicast", q->name);
		rc = rte_eth_dev_default_mac_addr_set(pid, &mac);
		/* Devices without a MAC filter (ring) take ours in software. */
		if (rc < 0 && rc != -ENOTSUP)
			return ctl_err(r, -rc, "port %s: cannot set MAC: %s", q->name,
				       strerror(-rc));
		dp.ports[pid].mac = mac;
	} else {
		rte_eth_macaddr_get(pid, &dp.ports[pid].mac);
	}
	struct port *p = &dp.ports[pid];
	p->n_rxq = nrxq;
	p->n_txq = ntxq;
	p->tx_shared = ntxq < dp.n_workers;
	p->multiseg_tx = (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0 ||
			 q->kind == VR_PORT_RING;
	return 0;
}

static int port_set_mtu(uint16_t pid, uint16_t mtu, struct ctl_resp *r)
{
	int rc = rte_eth_dev_set_mtu(pid, mtu);
	/* Virtual devices without an MTU still get ours enforced in software. */
	if (rc < 0 && rc != -ENOTSUP)
		return ctl_err(r, -rc, "port %u: cannot set MTU %u: %s", pid, mtu, strerror(-rc));
	return 0;
}

static int port_add_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_port_add_req *q = req;
	char name[VR_NAME_LEN], devargs[VR_DEVARGS_LEN];
	uint16_t pid, rxd, txd;
	int rc;
	(void)len;

	snprintf(name, sizeof(name), "%.*s", (int)sizeof(q->name), q->name);
	snprintf(devargs, sizeof(devargs), "%.*s", (int)sizeof(q->devargs), q->devargs);
	if (name[0] == '\0')
		return ctl_err(r, EINVAL, "port name is empty");
	if (port_find_by_name(name) >= 0)
		return ctl_err(r, EEXIST, "port %s already exists", name);
	if (!vrf_exists(q->vrf))
		return ctl_err(r, ENOENT, "port %s: vrf %u does not exist", name, q->vrf);
	uint16_t mtu = q->mtu ? q->mtu : PORT_DEFAULT_MTU;
	if (mtu < PORT_MIN_MTU || mtu > PORT_MAX_MTU)
		return ctl_err(r, EINVAL, "port %s: MTU %u out of range %u..%u", name, mtu,
			       PORT_MIN_MTU, PORT_MAX_MTU);
	if (q->kind == VR_PORT_DEVARGS)
		rc = port_probe_devargs(devargs, &pid, r);
	else if (q->kind == VR_PORT_RING)
		rc = pg_port_create(name, q->rxd, q->txd, &pid, r);
	else
		return ctl_err(r, EINVAL, "port %s: unknown kind %u", name, q->kind);
	if (rc < 0)
		return rc;
	if (pid >= VR_MAX_PORTS) {
		port_release_device(pid, q->kind);
		return ctl_err(r, ENOSPC, "port %s: port id %u beyond the %u supported", name, pid,
			       VR_MAX_PORTS);
	}

	/* Start from a clean slate; only pg_port_create() has set up fields. */
	struct port *p = &dp.ports[pid];
	struct port fresh = {.kind = q->kind, .vrf = q->vrf, .mtu = mtu,
			     .punt_port = VR_PORT_NONE, .exception_of = VR_PORT_NONE};
	memcpy(fresh.pg_rx, p->pg_rx, sizeof(p->pg_rx));
	memcpy(fresh.pg_tx, p->pg_tx, sizeof(p->pg_tx));
	*p = fresh;
	rte_spinlock_init(&p->tx_lock);
	rc = port_configure(pid, q, &rxd, &txd, r);
	if (rc == 0)
		rc = port_set_mtu(pid, mtu, r);
	if (rc == 0 && q->admin_up) {
		rc = rte_eth_dev_start(pid);
		if (rc < 0)
			rc = ctl_err(r, -rc, "port %s: start failed: %s", name, strerror(-rc));
		p->started = rc == 0;
	}
	if (rc < 0) {
		port_release_device(pid, q->kind);
		*p = (struct port){0};
		return rc;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->devargs, sizeof(p->devargs), "%s", devargs);
	p->rxd = rxd;
	p->txd = txd;
	p->admin_up = q->admin_up;
	port_reset_counters(pid);
	__atomic_store_n(&p->in_use, true, __ATOMIC_RELEASE);
	ports_publish_rxqs();

	struct vr_port_id *e = ctl_resp_put(r, sizeof(*e));
	e->port = pid;
	return 0;
}
CTL_HANDLER(VR_MSG_PORT_ADD, sizeof(struct vr_port_add_req), port_add_handler)

static int port_del_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_port_id *q = req;
	(void)len;
	if (!port_valid(q->port))
		return ctl_err(r, ENOENT, "port %u does not exist", q->port);
	struct port *p = &dp.ports[q->port];
	uint32_t users = nh_port_users(q->port);
	if (users > 0)
		return ctl_err(r, EBUSY, "port %s is used by %u next hops", p->name, users);

	addr_remove_all(q->port);
	neigh_flush_port(q->port, false);
	if (p->punt_port != VR_PORT_NONE)
		dp.ports[p->punt_port].exception_of = VR_PORT_NONE;
	if (p->exception_of != VR_PORT_NONE)
		__atomic_store_n(&dp.ports[p->exception_of].punt_port, VR_PORT_NONE,
				 __ATOMIC_RELEASE);
	p->admin_up = false;
	__atomic_store_n(&p->in_use, false, __ATOMIC_RELEASE);
	ports_publish_rxqs(); /* waits until no worker polls or sends on it */
	port_release_device(q->port, p->kind);
	port_addrs_publish(q->port, NULL);
	*p = (struct port){0};
	return 0;
}
CTL_HANDLER(VR_MSG_PORT_DEL, sizeof(struct vr_port_id), port_del_handler)

static int port_set_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_port_set_req *q = req;
	(void)len;
	if (!port_valid(q->port))
		return ctl_err(r, ENOENT, "port %u does not exist", q->port);
	struct port *p = &dp.ports[q->port];
	uint32_t known = VR_PORT_SET_MTU | VR_PORT_SET_VRF | VR_PORT_SET_UP | VR_PORT_SET_MAC |
			 VR_PORT_SET_PUNT;
	if (q->mask & ~known)
		return ctl_err(r, EINVAL, "unknown bits 0x%x in mask", q->mask & ~known);

	/* Check everything before changing anything. */
	if ((q->mask & VR_PORT_SET_MTU) && (q->mtu < PORT_MIN_MTU || q->mtu > PORT_MAX_MTU))
		return ctl_err(r, EINVAL, "port %s: MTU %u out of range %u..%u", p->name, q->mtu,
			       PORT_MIN_MTU, PORT_MAX_MTU);
	if (q->mask & VR_PORT_SET_VRF) {
		if (!vrf_exists(q->vrf))
			return ctl_err(r, ENOENT, "vrf %u does not exist", q->vrf);
		if (q->vrf != p->vrf && p->addrs != NULL && p->addrs->n > 0)
			return ctl_err(r, EBUSY,
				       "port %s has addresses in vrf %u; remove them first",
				       p->name, p->vrf);
	}
	if (q->mask & VR_PORT_SET_PUNT && q->punt_port != VR_PORT_NONE) {
		if (!port_valid(q->punt_port) || q->punt_port == q->port)
			return ctl_err(r, EINVAL, "port %s: exception port %u is not another port",
				       p->name, q->punt_port);
		const struct port *x = &dp.ports[q->punt_port];
		if ((x->exception_of != VR_PORT_NONE && x->exception_of != q->port) ||
		    x->punt_port != VR_PORT_NONE)
			return ctl_err(r, EBUSY, "port %s is already an exception port or has one",
				       x->name);
	}
	struct rte_ether_addr mac, old_mac = p->mac;
	memcpy(mac.addr_bytes, q->mac, sizeof(q->mac));
	if ((q->mask & VR_PORT_SET_MAC) && !rte_is_valid_assigned_ether_addr(&mac))
		return ctl_err(r, EINVAL, "port %s: MAC is zero or multicast", p->name);

	int rc;
	if (q->mask & VR_PORT_SET_MAC) {
		rc = rte_eth_dev_default_mac_addr_set(q->port, &mac);
		if (rc < 0 && rc != -ENOTSUP)
			return ctl_err(r, -rc, "port %s: cannot set MAC: %s", p->name,
				       strerror(-rc));
	}
	if (q->mask & VR_PORT_SET_MTU) {
		rc = port_set_mtu(q->port, q->mtu, r);
		if (rc < 0) {
			if (q->mask & VR_PORT_SET_MAC)
				rte_eth_dev_default_mac_addr_set(q->port, &old_mac);
			return rc;
		}
		p->mtu = q->mtu;
	}
	if (q->mask & VR_PORT_SET_MAC) {
		p->mac = mac;
		addr_announce(q->port);
	}
	if (q->mask & VR_PORT_SET_VRF)
		p->vrf = q->vrf;
	if (q->mask & VR_PORT_SET_PUNT) {
		/* the exception port first, so a worker never punts to a port that
		 * does not yet know whose it is */
		if (p->punt_port != VR_PORT_NONE)
			dp.ports[p->punt_port].exception_of = VR_PORT_NONE;
		if (q->punt_port != VR_PORT_NONE)
			__atomic_store_n(&dp.ports[q->punt_port].exception_of, q->port,
					 __ATOMIC_RELEASE);
		__atomic_store_n(&p->punt_port, q->punt_port, __ATOMIC_RELEASE);
	}
	if ((q->mask & VR_PORT_SET_UP) && q->admin_up != p->admin_up) {
		if (q->admin_up) {
			if (!p->started) {
				rc = rte_eth_dev_start(q->port);
				if (rc < 0)
					return ctl_err(r, -rc, "port %s: start failed: %s", p->name,
						       strerror(-rc));
				p->started = true;
			}
			p->admin_up = true;
			ports_publish_rxqs();
			addr_announce(q->port);
		} else {
			p->admin_up = false;
			ports_publish_rxqs();
			rte_eth_dev_stop(q->port);
			p->started = false;
		}
	}
	return 0;
}
CTL_HANDLER(VR_MSG_PORT_SET, sizeof(struct vr_port_set_req), port_set_handler)

static int port_list_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	(void)req;
	(void)len;
	const struct vr_port_list_resp *list = ctl_list_begin(r, sizeof(*list));
	(void)list; /* entries are counted by ctl_list_add() */
	for (uint16_t pid = 0; pid < VR_MAX_PORTS; pid++) {
		const struct port *p = &dp.ports[pid];
		if (!p->in_use)
			continue;
		struct vr_port_info *e = ctl_list_add(r, sizeof(*e));
		if (e == NULL)
			return -EIO;
		struct rte_eth_dev_info info;
		struct rte_eth_link link = {0};
		rte_eth_link_get_nowait(pid, &link);
		snprintf(e->name, sizeof(e->name), "%s", p->name);
		if (rte_eth_dev_info_get(pid, &info) == 0)
			snprintf(e->driver, sizeof(e->driver), "%s", info.driver_name);
		snprintf(e->devargs, sizeof(e->devargs), "%s", p->devargs);
		e->port = pid;
		e->vrf = p->vrf;
		e->mtu = p->mtu;
		memcpy(e->mac, p->mac.addr_bytes, sizeof(e->mac));
		e->admin_up = p->admin_up;
		e->link_up = p->started && link.link_status == RTE_ETH_LINK_UP;
		e->link_speed = link.link_speed;
		e->kind = p->kind;
		e->n_rxq = p->n_rxq;
		e->n_txq = p->n_txq;
		e->punt_port = p->punt_port;
		e->exception_of = p->exception_of;
		e->rxd = p->rxd;
		e->txd = p->txd;
		if (p->addrs != NULL) {
			e->n_addrs = (uint8_t)p->addrs->n;
			memcpy(e->addrs, p->addrs->a, sizeof(e->addrs[0]) * p->addrs->n);
		}
	}
	return 0;
}
CTL_HANDLER(VR_MSG_PORT_LIST, 0, port_list_handler)

static int port_stats_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_port_id *q = req;
	(void)len;
	if (!port_valid(q->port))
		return ctl_err(r, ENOENT, "port %u does not exist", q->port);
	struct vr_port_stats_resp *e =
		ctl_resp_put(r, sizeof(*e) + VR_CNT_MAX * sizeof(uint64_t));
	e->port = q->port;
	e->n = VR_CNT_MAX;
	for (int c = 0; c < VR_CNT_MAX; c++) {
		uint64_t v = dp.ctl_stats[q->port].c[c];
		for (unsigned int w = 0; w < dp.n_workers; w++)
			v += __atomic_load_n(&dp.workers[w]->stats[q->port].c[c], __ATOMIC_RELAXED);
		e->values[c] = v;
	}
	return 0;
}
CTL_HANDLER(VR_MSG_PORT_STATS, sizeof(struct vr_port_id), port_stats_handler)

static int port_dev_stats_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_port_id *q = req;
	struct rte_eth_stats st;
	(void)len;
	if (!port_valid(q->port))
		return ctl_err(r, ENOENT, "port %u does not exist", q->port);
	/* The driver's counters, read as rte_eth_stats_get does from any thread. */
	int rc = rte_eth_stats_get(q->port, &st);
	if (rc != 0)
		return ctl_err(r, -rc, "port %u: cannot read device counters", q->port);
	struct vr_port_dev_stats *e = ctl_resp_put(r, sizeof(*e));
	if (e == NULL)
		return -EIO;
	e->port = q->port;
	e->rx_packets = st.ipackets;
	e->rx_bytes = st.ibytes;
	e->tx_packets = st.opackets;
	e->tx_bytes = st.obytes;
	e->rx_missed = st.imissed;
	e->rx_errors = st.ierrors;
	e->tx_errors = st.oerrors;
	e->rx_nombuf = st.rx_nombuf;
	return 0;
}
CTL_HANDLER(VR_MSG_PORT_DEV_STATS, sizeof(struct vr_port_id), port_dev_stats_handler)

void ports_close_all(void)
{
	for (uint16_t pid = 0; pid < VR_MAX_PORTS; pid++) {
		struct port *p = &dp.ports[pid];
		if (!p->in_use)
			continue;
		neigh_flush_port(pid, false);
		p->in_use = false;
		port_release_device(pid, p->kind);
	}
}
