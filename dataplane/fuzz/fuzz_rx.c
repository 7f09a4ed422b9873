/* SPDX-License-Identifier: BSD-3-Clause
 * libFuzzer harness: arbitrary frames through the dataplane's real receive
 * path (Ethernet -> ARP | IPv4 input -> NAT prerouting -> FIB -> local /
 * forward -> NAT postrouting -> fragmentation -> neighbour -> Ethernet
 * rewrite -> tx), with AddressSanitizer and UndefinedBehaviorSanitizer.
 *
 * The process is a dataplane without NICs: EAL without hugepages or PCI, the
 * dataplane's own dp_setup() with one worker lcore that is never launched;
 * this thread plays that worker (RCU thread 0) and, in between, the control
 * thread (the control socket's handlers, control_drain_workers()). Ports are
 * ring ports configured through the real control channel. See README.md
 * for the input format, the topology and how to run it.
 *
 * Findings besides sanitizer reports (each aborts):
 *   - an mbuf that is not back in its pool once an input has been fully
 *     processed and the per-input state (neighbours learned, NAT sessions,
 *     fragments waiting for reassembly) reset: a leak;
 *   - a frame sent with an inconsistent mbuf chain (rte_mbuf_check());
 *   - an IPv4 frame sent whose header checksum is wrong, or whose length
 *     disagrees with its IP total length.
 * Reads past the end of a received segment's data are caught too: the
 * harness poisons (ASan) the unused tail of the buffers it receives into.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sanitizer/asan_interface.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "control.h"
#include "ctl.h"
#include "dp.h"
#include "nat_session.h"
#include "setup.h"
#include "vr_ctl.h"
#include "worker.h"

#define N_PORTS 4
#define MAX_FRAMES 64      /* per input */
#define MAX_SEGS 2048      /* per frame */
#define SETTLE_ROUNDS 16

static struct worker *W;
static struct rte_mempool *in_mp; /* what the harness "receives" into */
static int ctl_fd = -1;
static uint32_t ctl_seq;
static uint16_t ports[N_PORTS];
static unsigned int baseline;
static char sock_path[108];
static char file_prefix[64];

#define ADDR(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fuzz_rx: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

/* ---------------- the control channel, served on this thread ---------------- */

static uint8_t msg_buf[sizeof(struct vr_msg_hdr) + VR_CTL_MAX_MSG];

/* Sends a request, serves it, returns the status; the (last) reply body is
 * copied to `out`. */
static int ctl(uint16_t type, const void *body, uint32_t len, void *out, uint32_t out_len)
{
	struct vr_msg_hdr h = {.type = type, .len = len, .seq = ++ctl_seq};
	memcpy(msg_buf, &h, sizeof(h));
	if (len > 0)
		memcpy(msg_buf + sizeof(h), body, len);
	if (send(ctl_fd, msg_buf, sizeof(h) + len, 0) < 0)
		die("control send: %s", strerror(errno));
	for (int tries = 0; tries < 1000; tries++) {
		ctl_server_poll(1);
		ssize_t n = recv(ctl_fd, msg_buf, sizeof(msg_buf), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < (ssize_t)sizeof(h))
			die("control recv: %zd", n);
		memcpy(&h, msg_buf, sizeof(h));
		if (h.flags & VR_F_MORE)
			die("control message %u: multi-datagram reply", type);
		if (h.status != 0) {
			const struct vr_error *e = (const void *)(msg_buf + sizeof(h));
			fprintf(stderr, "fuzz_rx: control message %u: %s\n", type,
				h.len >= sizeof(*e) ? e->msg : "?");
		} else if (out != NULL) {
			memcpy(out, msg_buf + sizeof(h), RTE_MIN(out_len, h.len));
		}
		return h.status;
	}
	die("control message %u: no reply", type);
}

static void ctl_ok(uint16_t type, const void *body, uint32_t len, void *out, uint32_t out_len)
{
	if (ctl(type, body, len, out, out_len) != 0)
		die("setup failed at control message %u", type);
}

static uint16_t port_add(const char *name, uint8_t mac_last, uint16_t vrf, uint16_t mtu)
{
	struct vr_port_add_req q = {.kind = VR_PORT_RING, .set_mac = 1,
				    .mac = {0x02, 0, 0, 0, 0, mac_last}, .vrf = vrf, .mtu = mtu,
				    .admin_up = 1};
	struct vr_port_id id;
	snprintf(q.name, sizeof(q.name), "%s", name);
	ctl_ok(VR_MSG_PORT_ADD, &q, sizeof(q), &id, sizeof(id));
	return id.port;
}

static void addr_add(uint16_t port, uint32_t ip, uint8_t plen)
{
	struct vr_addr_req q = {.port = port, .addr = {.ip = ip, .plen = plen}};
	ctl_ok(VR_MSG_ADDR_ADD, &q, sizeof(q), NULL, 0);
}

static void nh_add(uint32_t id, uint8_t type, uint16_t port, uint32_t gw,
		   const uint32_t *members, uint8_t n_members)
{
	struct vr_nh q = {.id = id, .type = type, .port = port, .gw = gw, .n_members = n_members};
	for (uint8_t i = 0; i < n_members; i++)
		q.members[i] = members[i];
	ctl_ok(VR_MSG_NH_ADD, &q, sizeof(q), NULL, 0);
}

static void route_add(uint16_t vrf, uint32_t prefix, uint8_t plen, uint32_t nh_id)
{
	uint8_t buf[sizeof(struct vr_route_req) + sizeof(struct vr_route)];
	struct vr_route_req *q = (struct vr_route_req *)buf;
	*q = (struct vr_route_req){.vrf = vrf, .n = 1};
	q->routes[0] = (struct vr_route){.prefix = prefix, .plen = plen, .nh_id = nh_id};
	ctl_ok(VR_MSG_ROUTE_ADD, buf, sizeof(buf), NULL, 0);
}

static void neigh_add(uint16_t port, uint32_t ip, uint8_t mac_last)
{
	struct vr_neigh q = {.ip = ip, .port = port, .mac = {0x02, 0, 0, 0, 0x10, mac_last}};
	ctl_ok(VR_MSG_NEIGH_ADD, &q, sizeof(q), NULL, 0);
}

static void nat_rule_add(const struct vr_nat_rule *q)
{
	ctl_ok(VR_MSG_NAT_RULE_ADD, q, sizeof(*q), NULL, 0);
}

/* ---------------- playing the worker and the control thread ---------------- */

static void worker_run(uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	rte_rcu_qsbr_thread_online(dp.qs, W->id);
	worker_process_rx(W, port, pkts, n);
	rte_rcu_qsbr_quiescent(dp.qs, W->id);
	/* offline while playing the control thread: its rcu_sync() waits for
	 * every online reader */
	rte_rcu_qsbr_thread_offline(dp.qs, W->id);
}

static bool handed_over_pending(void)
{
	return !rte_ring_empty(W->to_ctl) || !rte_ring_empty(W->events) ||
	       !rte_ring_empty(W->inject) || !rte_ring_empty(W->handoff);
}

static void unpoison_chain(struct rte_mbuf *m)
{
	for (; m != NULL; m = m->next)
		ASAN_UNPOISON_MEMORY_REGION(m->buf_addr, m->buf_len);
}

static bool any_cksum_good; /* the input claimed a good checksum somewhere */
static bool debug;          /* FUZZ_DEBUG=1: print what each port sent */

static void check_sent(struct rte_mbuf *m, uint16_t port)
{
	const char *why = NULL;
	unpoison_chain(m);
	if (rte_mbuf_check(m, 1, &why) != 0)
		die("port %u sent an inconsistent mbuf: %s", port, why);
	if (m->pkt_len < sizeof(struct rte_ether_hdr))
		die("port %u sent a %u-byte frame", port, m->pkt_len);
	uint8_t buf[RTE_ETHER_HDR_LEN + 60];
	uint32_t n = RTE_MIN(m->pkt_len, (uint32_t)sizeof(buf));
	const uint8_t *f = rte_pktmbuf_read(m, 0, n, buf);
	const struct rte_ether_hdr *eth = (const void *)f;
	if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4))
		return;
	if (n < RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr))
		die("port %u sent a truncated IPv4 frame (%u bytes)", port, m->pkt_len);
	const struct rte_ipv4_hdr *ip = (const void *)(f + RTE_ETHER_HDR_LEN);
	uint32_t hlen = (ip->version_ihl & 0xf) * 4u;
	if ((ip->version_ihl >> 4) != 4 || hlen < sizeof(*ip) || RTE_ETHER_HDR_LEN + hlen > n)
		die("port %u sent a bad IPv4 header (version/ihl 0x%02x)", port, ip->version_ihl);
	if (m->pkt_len != RTE_ETHER_HDR_LEN + rte_be_to_cpu_16(ip->total_length))
		die("port %u sent a %u-byte frame with IP total length %u", port, m->pkt_len,
		    rte_be_to_cpu_16(ip->total_length));
	if (!any_cksum_good && rte_raw_cksum(ip, hlen) != 0xffff)
		die("port %u sent an IPv4 header with a bad checksum", port);
}

/* Runs the worker and the control thread until nothing is left in flight,
 * then takes (checks and frees) whatever the ports sent. */
static void settle(void)
{
	for (int i = 0; i < SETTLE_ROUNDS; i++) {
		worker_run(0, NULL, 0);
		control_drain_workers();
		if (!handed_over_pending())
			break;
	}
	worker_run(0, NULL, 0);
	if (handed_over_pending())
		die("work still in flight after %d rounds", SETTLE_ROUNDS);
	for (unsigned int i = 0; i < N_PORTS; i++) {
		struct rte_ring *tx = dp.ports[ports[i]].pg_tx[0];
		struct rte_mbuf *m;
		while (rte_ring_dequeue(tx, (void **)&m) == 0) {
			check_sent(m, ports[i]);
			if (debug) {
				uint8_t b[64];
				uint32_t len = RTE_MIN(m->pkt_len, (uint32_t)sizeof(b));
				const uint8_t *d = rte_pktmbuf_read(m, 0, len, b);
				fprintf(stderr, "p%u sent %u bytes:", i, m->pkt_len);
				for (uint32_t k = 12; k < len; k++)
					fprintf(stderr, " %02x", d[k]);
				fprintf(stderr, "\n");
			}
			rte_pktmbuf_free(m);
		}
	}
}

/* Back to the state after start-up: no learned neighbour, no NAT session,
 * no fragment waiting. */
static void reset(void)
{
	struct nat_worker *n = W->nat;
	n->cmd = NAT_CMD_FLUSH;
	n->filter = (struct vr_nat_filter){.vrf = VR_NAT_ANY_VRF};
	__atomic_store_n(&n->cmd_seq, n->cmd_seq + 1, __ATOMIC_RELEASE);
	rte_rcu_qsbr_thread_online(dp.qs, W->id);
	nat_worker_housekeeping(W);
	rte_ip_frag_table_del_expired_entries(n->frags, &n->death_row, UINT64_MAX);
	rte_ip_frag_free_death_row(&n->death_row, 0);
	rte_rcu_qsbr_thread_offline(dp.qs, W->id);
	if (n->n_sess != 0 || n->n_maps != 0)
		die("%u NAT sessions, %u mappings left after a flush", n->n_sess, n->n_maps);

	static uint8_t buf[sizeof(struct vr_neigh_list_resp) + 64 * sizeof(struct vr_neigh)];
	const struct vr_neigh_list_resp *list = (const void *)buf;
	memset(buf, 0, sizeof(buf));
	if (ctl(VR_MSG_NEIGH_LIST, NULL, 0, buf, sizeof(buf)) != 0)
		die("neighbour list failed");
	for (uint32_t i = 0; i < list->n && i < 64; i++) {
		struct vr_neigh e = list->neighs[i];
		if (e.state == VR_NEIGH_PERMANENT)
			continue;
		if (ctl(VR_MSG_NEIGH_DEL, &e, sizeof(e), NULL, 0) != 0)
			die("neighbour delete failed");
	}
	settle();
}

/* ---------------- set-up ---------------- */

static void topology(void)
{
	/* p0 inside 10.0.0.1/24, p1 outside 10.0.1.1/24 (MTU 1280: forwarding
	 * from p0 fragments), p2 p0's exception port, p3 in vrf 1 */
	ports[0] = port_add("p0", 1, 0, 1500);
	ports[1] = port_add("p1", 2, 0, 1280);
	ports[2] = port_add("p2", 3, 0, 1500);
	struct vr_vrf_add_req v = {.vrf = 1, .max_routes = 1024, .num_tbl8 = 64};
	ctl_ok(VR_MSG_VRF_ADD, &v, sizeof(v), NULL, 0);
	ports[3] = port_add("p3", 4, 1, 576);
	addr_add(ports[0], ADDR(10, 0, 0, 1), 24);
	addr_add(ports[0], ADDR(192, 168, 7, 1), 31);
	addr_add(ports[1], ADDR(10, 0, 1, 1), 24);
	addr_add(ports[3], ADDR(10, 0, 0, 1), 24); /* overlaps p0's, other vrf */

	struct vr_port_set_req ps = {.port = ports[0], .mask = VR_PORT_SET_PUNT,
				     .punt_port = ports[2]};
	ctl_ok(VR_MSG_PORT_SET, &ps, sizeof(ps), NULL, 0);

	neigh_add(ports[1], ADDR(10, 0, 1, 2), 2);
	neigh_add(ports[0], ADDR(10, 0, 0, 2), 3);
	neigh_add(ports[3], ADDR(10, 0, 0, 9), 4);

	nh_add(1, VR_NH_GATEWAY, ports[1], ADDR(10, 0, 1, 2), NULL, 0); /* resolved */
	nh_add(2, VR_NH_GATEWAY, ports[1], ADDR(10, 0, 1, 3), NULL, 0); /* needs ARP */
	nh_add(3, VR_NH_GATEWAY, ports[0], ADDR(10, 0, 0, 2), NULL, 0);
	const uint32_t group[] = {1, 2, 3};
	nh_add(4, VR_NH_GROUP, 0, 0, group, 3);
	nh_add(5, VR_NH_BLACKHOLE, 0, 0, NULL, 0);
	nh_add(6, VR_NH_REJECT, 0, 0, NULL, 0);
	nh_add(7, VR_NH_GATEWAY, ports[3], ADDR(10, 0, 0, 9), NULL, 0);

	route_add(0, 0, 0, 1);                         /* default via 10.0.1.2 */
	route_add(0, ADDR(100, 64, 0, 0), 10, 2);      /* via the unresolved one */
	route_add(0, ADDR(172, 16, 0, 0), 12, 3);
	route_add(0, ADDR(198, 51, 100, 0), 24, 4);    /* ECMP */
	route_add(0, ADDR(192, 0, 2, 0), 24, 5);       /* blackhole */
	route_add(0, ADDR(203, 0, 113, 0), 24, 6);     /* reject */
	route_add(0, ADDR(10, 9, 0, 0), 16, 7);        /* into vrf 1 */
	route_add(1, 0, 0, 1);                         /* vrf 1: out through vrf 0's p1 */
	route_add(1, ADDR(192, 0, 2, 128), 25, 5);

	/* NAT: masquerade 10.0.0.0/24 out of p1, a pool for 172.16/12 sources,
	 * TCP and UDP port forwards, a 1:1 */
	struct vr_nat_rule r = {.id = 1, .type = VR_NAT_SNAT, .vrf = 0, .out_port = ports[1],
				.masquerade = 1, .match = ADDR(10, 0, 0, 0), .match_plen = 24};
	nat_rule_add(&r);
	r = (struct vr_nat_rule){.id = 2, .type = VR_NAT_SNAT, .vrf = 0, .out_port = ports[1],
				 .n_pool = 2, .pool = {ADDR(10, 0, 1, 50), ADDR(10, 0, 1, 51)},
				 .match = ADDR(192, 168, 7, 0), .match_plen = 31,
				 .port_lo = 2000, .port_hi = 2015};
	nat_rule_add(&r);
	r = (struct vr_nat_rule){.id = 3, .type = VR_NAT_DNAT, .proto = IPPROTO_TCP, .vrf = 0,
				 .ext_ip = ADDR(10, 0, 1, 1), .ext_port = 8080,
				 .int_ip = ADDR(10, 0, 0, 2), .int_port = 80};
	nat_rule_add(&r);
	r = (struct vr_nat_rule){.id = 4, .type = VR_NAT_DNAT, .proto = IPPROTO_UDP, .vrf = 0,
				 .ext_ip = ADDR(10, 0, 1, 1), .ext_port = 5353,
				 .int_ip = ADDR(10, 0, 0, 2), .int_port = 53};
	nat_rule_add(&r);
	r = (struct vr_nat_rule){.id = 5, .type = VR_NAT_STATIC, .vrf = 0,
				 .ext_ip = ADDR(10, 0, 1, 100), .int_ip = ADDR(10, 0, 0, 100)};
	nat_rule_add(&r);

	/* no rate limit gets in the way: the same input behaves the same */
	struct vr_params p = {.mask = VR_PARAM_ICMP_RATE | VR_PARAM_ICMP_BURST |
				      VR_PARAM_PUNT_RATE | VR_PARAM_PUNT_BURST | VR_PARAM_ARP_QUEUE_LEN |
				      VR_PARAM_ARP_RATE | VR_PARAM_ARP_BURST,
			      .icmp_rate = 1000000, .icmp_burst = 100000, .punt_rate = 10000000,
			      .punt_burst = 100000, .arp_queue_len = 4, .arp_rate = 1000000,
			      .arp_burst = 100000};
	ctl_ok(VR_MSG_PARAMS_SET, &p, sizeof(p), NULL, 0);
}

static void cleanup(void)
{
	/* its only reference is in DPDK memory, which LeakSanitizer does not scan */
	free(W->rxqs);
	W->rxqs = NULL;
	unlink(sock_path);
	char dir[256];
	snprintf(dir, sizeof(dir), "/var/run/dpdk/%s", file_prefix);
	rmdir(dir); /* --no-shconf leaves at most an empty directory */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	cpu_set_t set;
	int cpu = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		while (cpu < CPU_SETSIZE - 1 && !CPU_ISSET(cpu, &set))
			cpu++;
	char lcores[32];
	snprintf(lcores, sizeof(lcores), "0@%d,1@%d", cpu, cpu);
	snprintf(file_prefix, sizeof(file_prefix), "vrfuzz%d", getpid());
	snprintf(sock_path, sizeof(sock_path), "/tmp/vrouter-fuzz-%d.sock", getpid());
	char *eal[] = {"fuzz_rx", "--lcores", lcores, "--main-lcore", "0", "--no-huge", "-m", "512",
		       "--no-pci", "--no-telemetry", "--no-shconf", "--file-prefix", file_prefix,
		       "--log-level", getenv("FUZZ_EAL_LOG") ? getenv("FUZZ_EAL_LOG") : "error",
		       NULL};
	int eal_argc = (int)RTE_DIM(eal) - 1;
	if (rte_eal_init(eal_argc, eal) < 0)
		die("EAL init failed: %s", rte_strerror(rte_errno));
	atexit(cleanup);
	debug = getenv("FUZZ_DEBUG") != NULL;

	struct app_opts o = {.socket = sock_path, .mbufs = 8192, .nexthops = 64,
			     .neigh_table = 64, .vrf0_routes = 1024, .vrf0_tbl8 = 64,
			     .nat_sessions = 256};
	if (dp_setup(&o) < 0 || dp.n_workers != 1)
		die("dataplane set-up failed");
	W = dp.workers[0];
	if (rte_rcu_qsbr_thread_register(dp.qs, W->id) != 0)
		die("RCU register failed");
	in_mp = rte_pktmbuf_pool_create("fuzz_in", 8192, 0,
					RTE_ALIGN(sizeof(struct pkt_meta), RTE_MBUF_PRIV_ALIGN),
					RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (in_mp == NULL)
		die("input pool: %s", rte_strerror(rte_errno));

	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	ctl_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (ctl_fd < 0 || connect(ctl_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("control socket: %s", strerror(errno));
	struct vr_hello_req hello = {.version = VR_CTL_VERSION};
	ctl_ok(VR_MSG_HELLO, &hello, sizeof(hello), NULL, 0);
	topology();
	settle(); /* gratuitous ARPs */
	reset();
	baseline = rte_mempool_in_use_count(dp.mp);
	return 0;
}

/* ---------------- one input ---------------- */

/* Input: records, each
 *   flags (1 byte): bits 0-1 ingress port p0..p3; bits 2-3 the rx IP
 *     checksum offload flag (unknown, bad, good, none); bit 4: same rx
 *     burst as the previous record; bits 5-7 the segment layout (splits[])
 *   length (2 bytes, big endian; clipped to what is left)
 *   the frame
 */
static const struct {
	uint16_t first; /* bytes in the first segment (0: all that fit) */
	uint16_t rest;  /* bytes in each later one (0: all that fit) */
} splits[8] = {{0, 0}, {14, 0}, {34, 0}, {42, 0}, {54, 0}, {34, 8}, {38, 3}, {1000, 0}};

static const uint64_t cksum_flags[4] = {RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN,
					RTE_MBUF_F_RX_IP_CKSUM_BAD,
					RTE_MBUF_F_RX_IP_CKSUM_GOOD,
					RTE_MBUF_F_RX_IP_CKSUM_NONE};

static struct rte_mbuf *frame_mbuf(const uint8_t *data, uint16_t len, uint8_t layout)
{
	struct rte_mbuf *head = NULL, *last = NULL;
	uint16_t off = 0;

	while (off < len || head == NULL) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(in_mp);
		if (m == NULL)
			die("input pool empty");
		ASAN_UNPOISON_MEMORY_REGION(m->buf_addr, m->buf_len);
		uint16_t want = head == NULL ? splits[layout].first : splits[layout].rest;
		uint16_t n = (uint16_t)RTE_MIN((uint32_t)(len - off), rte_pktmbuf_tailroom(m));
		if (want != 0 && want < n)
			n = want;
		if (n > 0)
			memcpy(rte_pktmbuf_append(m, n), data + off, n);
		off += n;
		/* reading past this segment's data is a bug: make ASan say so */
		uint8_t *end = rte_pktmbuf_mtod_offset(m, uint8_t *, n);
		ASAN_POISON_MEMORY_REGION(end, (uint8_t *)m->buf_addr + m->buf_len - end);
		if (head == NULL) {
			head = m;
		} else {
			last->next = m;
			head->nb_segs++;
			head->pkt_len += n;
		}
		last = m;
		if (head->nb_segs >= MAX_SEGS)
			break;
	}
	return head;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rte_mbuf *burst[VR_BURST];
	uint16_t n_burst = 0, burst_port = 0;
	unsigned int frames = 0;
	size_t off = 0;

	any_cksum_good = false;
	while (off + 3 <= size && frames < MAX_FRAMES) {
		uint8_t flags = data[off];
		uint16_t len = (uint16_t)(data[off + 1] << 8 | data[off + 2]);
		off += 3;
		if (len > size - off)
			len = (uint16_t)(size - off);
		uint16_t port = ports[flags & 3];
		bool same = (flags & 0x10) != 0;
		if (n_burst > 0 && (!same || port != burst_port || n_burst == VR_BURST)) {
			worker_run(burst_port, burst, n_burst);
			control_drain_workers();
			n_burst = 0;
		}
		struct rte_mbuf *m = frame_mbuf(data + off, len, flags >> 5);
		off += len;
		m->port = port;
		m->ol_flags = cksum_flags[(flags >> 2) & 3];
		any_cksum_good |= m->ol_flags == RTE_MBUF_F_RX_IP_CKSUM_GOOD;
		burst_port = port;
		burst[n_burst++] = m;
		frames++;
	}
	if (n_burst > 0) {
		worker_run(burst_port, burst, n_burst);
		control_drain_workers();
	}
	settle();
	reset();

	unsigned int in_use = rte_mempool_in_use_count(dp.mp);
	if (in_use != baseline)
		die("mbuf leak: %u mbufs in use after the input, %u before", in_use, baseline);
	in_use = rte_mempool_in_use_count(in_mp);
	if (in_use != 0)
		die("mbuf leak: %u received mbufs never freed", in_use);
	return 0;
}
