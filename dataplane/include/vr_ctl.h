/* SPDX-License-Identifier: BSD-3-Clause
 *
 * vrouter dataplane control channel: the one header that defines every
 * message exchanged between the management plane and the dataplane.
 *
 * Transport: a unix SOCK_SEQPACKET socket, one message per datagram.
 * A request is `struct vr_msg_hdr` followed by the request body of `type`.
 * A reply echoes type and seq; status is 0 or a negative errno. A failed
 * reply carries `struct vr_error` (a message naming what was wrong) and the
 * dataplane state is unchanged. List replies may span several datagrams:
 * all but the last have VR_F_MORE set, and every list body starts with a
 * uint32_t count of the entries in that datagram.
 *
 * Conventions: IPv4 addresses are host byte order uint32_t; MACs are 6 bytes
 * in wire order; all structs are naturally aligned with explicit padding so
 * that C and Python (appliance/vrouter/dataplane/messages.py) agree. A test
 * checks the Python layouts against this header's DWARF in the built binary.
 */
#ifndef VR_CTL_H
#define VR_CTL_H

#include <stdint.h>

#define VR_CTL_VERSION 1
#define VR_CTL_MAX_MSG (60 * 1024) /* largest body (header excluded) either side sends */

#define VR_NAME_LEN 32
#define VR_DEVARGS_LEN 256
#define VR_ERR_LEN 256
#define VR_MAX_PORTS 64
#define VR_MAX_ADDRS 8 /* addresses per port */
#define VR_MAX_ECMP 16 /* members of one next-hop group */
#define VR_MAX_VRFS 256

enum vr_msg_type {
	VR_MSG_HELLO = 1,
	VR_MSG_COUNTER_NAMES,
	VR_MSG_PARAMS_GET,
	VR_MSG_PARAMS_SET,

	VR_MSG_PORT_ADD = 10,
	VR_MSG_PORT_DEL,
	VR_MSG_PORT_SET,
	VR_MSG_PORT_LIST,
	VR_MSG_PORT_STATS,
	VR_MSG_PORT_DEV_STATS, /* the device's own counters (rte_eth_stats) */

	VR_MSG_ADDR_ADD = 20,
	VR_MSG_ADDR_DEL,

	VR_MSG_VRF_ADD = 30,
	VR_MSG_VRF_DEL,
	VR_MSG_VRF_LIST,

	VR_MSG_NH_ADD = 40,
	VR_MSG_NH_DEL,
	VR_MSG_NH_LIST,

	VR_MSG_ROUTE_ADD = 50,
	VR_MSG_ROUTE_DEL,
	VR_MSG_ROUTE_LIST,
	VR_MSG_ROUTE_LOOKUP,

	VR_MSG_NEIGH_ADD = 60,
	VR_MSG_NEIGH_DEL,
	VR_MSG_NEIGH_LIST,

	VR_MSG_PG_INJECT = 70, /* ring ports: feed frames in */
	VR_MSG_PG_CAPTURE,     /* ring ports: take the frames sent out */
	VR_MSG_PG_FLOOD_START, /* ring ports: a traffic generator thread (overload tests) */
	VR_MSG_PG_FLOOD_STATS,
	VR_MSG_PG_FLOOD_STOP,

	VR_MSG_NAT_RULE_ADD = 80,
	VR_MSG_NAT_RULE_DEL,
	VR_MSG_NAT_RULE_LIST,
	VR_MSG_NAT_SESSION_LIST,
	VR_MSG_NAT_SESSION_FLUSH,
	VR_MSG_NAT_PARAMS_GET,
	VR_MSG_NAT_PARAMS_SET,
	VR_MSG_NAT_CLOCK_ADVANCE, /* tests: move the NAT clock forward */

	VR_MSG_CAPTURE_START = 90,
	VR_MSG_CAPTURE_READ,
	VR_MSG_CAPTURE_STOP,
	VR_MSG_TRACE_START,
	VR_MSG_TRACE_READ,
	VR_MSG_TRACE_STOP,
	VR_MSG_WORKER_STATS,

	VR_MSG_MEMPOOL_LIST = 100, /* packet buffer pools: size and mbufs in use */
};

#define VR_F_MORE 0x1 /* more reply datagrams follow */

struct vr_msg_hdr {
	uint16_t type;
	uint16_t flags;
	uint32_t len; /* body length in bytes, header excluded */
	uint32_t seq;
	int32_t status; /* replies: 0 or -errno */
};

struct vr_error {
	char msg[VR_ERR_LEN];
};

/* ---- session ---- */

struct vr_hello_req {
	uint32_t version;
};

struct vr_hello_resp {
	uint32_t version;
	uint32_t n_workers;
	uint32_t n_counters;
	uint32_t max_ports;
	uint32_t max_vrfs;
	uint32_t max_nexthops; /* ids 1..max_nexthops-1 are the client's */
	uint32_t neigh_table_size;
	uint32_t pid;
	uint64_t tsc_hz;
};

/* Names of the per-port counters, in the order of vr_port_stats_resp.values.
 * Names starting with "drop_" are drop reasons. */
struct vr_counter_names_resp {
	uint32_t n;
	uint32_t _pad;
	char names[][VR_NAME_LEN];
};

/* Runtime tunables; PARAMS_SET applies the fields named in `mask`. */
#define VR_PARAM_ARP_REACHABLE_MS (1u << 0)
#define VR_PARAM_ARP_RETRANS_MS (1u << 1)
#define VR_PARAM_ARP_MAX_PROBES (1u << 2)
#define VR_PARAM_ARP_QUEUE_LEN (1u << 3)
#define VR_PARAM_ICMP_RATE (1u << 4)
#define VR_PARAM_ICMP_BURST (1u << 5)
#define VR_PARAM_IDLE_SLEEP_US (1u << 6)
#define VR_PARAM_PUNT_RATE (1u << 7)
#define VR_PARAM_PUNT_BURST (1u << 8)
#define VR_PARAM_ARP_RATE (1u << 9)
#define VR_PARAM_ARP_BURST (1u << 10)

struct vr_params {
	uint32_t mask;             /* PARAMS_SET only */
	uint32_t arp_reachable_ms; /* confirmed entry is re-probed after this */
	uint32_t arp_retrans_ms;   /* between ARP requests while resolving */
	uint32_t arp_max_probes;   /* requests before giving up */
	uint32_t arp_queue_len;    /* packets held per unresolved neighbour */
	uint32_t icmp_rate;        /* ICMP errors per second per worker */
	uint32_t icmp_burst;       /* token bucket depth */
	uint32_t idle_sleep_us;    /* worker sleep after idle polls; 0 = busy poll */
	uint32_t punt_rate;        /* packets/s to a control namespace, per port, per
				    * protocol (TCP, UDP, ICMP, other), per worker */
	uint32_t punt_burst;
	uint32_t arp_rate;         /* ARP requests/s resolving or re-probing, per
				    * port; over it a request waits (counted).
				    * 0, like the other rates: the burst, then none */
	uint32_t arp_burst;
};

/* ---- ports ---- */

enum vr_port_kind {
	VR_PORT_DEVARGS = 0, /* a DPDK device: PCI address or vdev devargs */
	VR_PORT_RING = 1,    /* in-process ring port fed by PG_INJECT (tests) */
};

struct vr_port_add_req {
	char name[VR_NAME_LEN];       /* interface name, unique */
	char devargs[VR_DEVARGS_LEN]; /* e.g. "net_af_packet0,iface=veth0" */
	uint8_t kind;                 /* enum vr_port_kind */
	uint8_t set_mac;              /* use `mac` instead of the device's */
	uint8_t mac[6];
	uint16_t vrf;
	uint16_t mtu; /* 0: 1500 */
	uint16_t rxd; /* 0: default ring sizes */
	uint16_t txd;
	uint8_t admin_up;
	uint8_t _pad[3];
};

struct vr_port_id {
	uint16_t port;
	uint16_t _pad;
};

#define VR_PORT_SET_MTU (1u << 0)
#define VR_PORT_SET_VRF (1u << 1)
#define VR_PORT_SET_UP (1u << 2)
#define VR_PORT_SET_MAC (1u << 3)

#define VR_PORT_SET_PUNT (1u << 4)

struct vr_port_set_req {
	uint16_t port;
	uint16_t mtu;
	uint32_t mask;
	uint16_t vrf;
	uint8_t admin_up;
	uint8_t mac[6];
	uint8_t _pad;
	uint16_t punt_port; /* the exception port (a TAP in the VRF's control
			     * namespace) for traffic to the router: punted
			     * packets go out of it, what comes in is injected;
			     * VR_PORT_NONE: none */
	uint8_t _pad2[6];
};

#define VR_PORT_NONE 0xffff

struct vr_addr {
	uint32_t ip;
	uint8_t plen;
	uint8_t _pad[3];
};

struct vr_port_info {
	char name[VR_NAME_LEN];
	char driver[VR_NAME_LEN];
	char devargs[VR_DEVARGS_LEN];
	uint16_t port;
	uint16_t vrf;
	uint16_t mtu;
	uint8_t mac[6];
	uint8_t admin_up;
	uint8_t link_up;
	uint8_t kind;
	uint8_t n_addrs;
	uint32_t link_speed; /* Mbit/s */
	uint16_t punt_port;    /* VR_PORT_NONE: none */
	uint16_t exception_of; /* this is that port's exception port; VR_PORT_NONE: no */
	uint16_t n_rxq;
	uint16_t n_txq;
	uint16_t rxd;
	uint16_t txd;
	struct vr_addr addrs[VR_MAX_ADDRS];
};

struct vr_port_list_resp {
	uint32_t n;
	uint32_t _pad;
	struct vr_port_info ports[];
};

struct vr_port_stats_resp {
	uint16_t port;
	uint16_t _pad;
	uint32_t n;
	uint64_t values[]; /* n counters, see VR_MSG_COUNTER_NAMES */
};

/* Request: struct vr_port_id. What the device itself counted (rte_eth_stats):
 * frames it lost before the dataplane saw them (rx queue full: the workers
 * fell behind), and its receive and transmit errors. Read by the control
 * thread from the driver's counters; the workers are not involved. */
struct vr_port_dev_stats {
	uint16_t port;
	uint16_t _pad;
	uint32_t _pad2;
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t rx_missed;  /* imissed: dropped by the device, rx queue full */
	uint64_t rx_errors;  /* ierrors: erroneous frames received */
	uint64_t tx_errors;  /* oerrors: failed transmissions */
	uint64_t rx_nombuf;  /* no mbuf for a received frame */
};

/* ---- interface addresses: each brings a local /32 and a connected route ---- */

struct vr_addr_req {
	uint16_t port;
	uint16_t _pad;
	struct vr_addr addr;
};

/* ---- VRFs: one FIB each ---- */

struct vr_vrf_add_req {
	uint16_t vrf;
	uint16_t _pad;
	uint32_t max_routes; /* 0: default */
	uint32_t num_tbl8;   /* 0: default; groups for prefixes longer than /24 */
};

struct vr_vrf_id {
	uint16_t vrf;
	uint16_t _pad;
};

struct vr_vrf_info {
	uint16_t vrf;
	uint16_t n_ports;
	uint32_t n_routes;
	uint32_t max_routes;
	uint32_t num_tbl8;
};

struct vr_vrf_list_resp {
	uint32_t n;
	uint32_t _pad;
	struct vr_vrf_info vrfs[];
};

/* ---- next hops: what routes point to ---- */

enum vr_nh_type {
	VR_NH_NONE = 0,
	VR_NH_GATEWAY,   /* via neighbour `gw` on `port` (any VRF: leaking) */
	VR_NH_BLACKHOLE, /* drop silently (counted) */
	VR_NH_REJECT,    /* drop with ICMP host unreachable */
	VR_NH_GROUP,     /* ECMP over `members`, hashed on the 5-tuple */
	/* made by the dataplane for interface addresses, not by clients: */
	VR_NH_CONNECTED, /* destination is on `port`'s subnet */
	VR_NH_LOCAL,     /* one of the router's addresses */
	VR_NH_BROADCAST, /* a subnet's directed broadcast */
};

struct vr_nh {
	uint32_t id;
	uint8_t type; /* enum vr_nh_type */
	uint8_t n_members;
	uint16_t port;
	uint32_t gw;
	uint32_t refcnt; /* replies only: routes and groups using it */
	uint32_t members[VR_MAX_ECMP];
};

struct vr_nh_id {
	uint32_t id;
};

struct vr_nh_list_resp {
	uint32_t n;
	uint32_t _pad;
	struct vr_nh nhs[];
};

/* ---- routes, in bulk: a request is applied entirely or not at all ---- */

#define VR_ROUTE_REPLACE 0x1 /* ROUTE_ADD: overwrite an existing prefix */

struct vr_route {
	uint32_t prefix;
	uint8_t plen;
	uint8_t flags;
	uint16_t _pad;
	uint32_t nh_id;
};

struct vr_route_req {
	uint16_t vrf;
	uint16_t _pad;
	uint32_t n;
	struct vr_route routes[];
};

struct vr_route_list_req {
	uint16_t vrf;
	uint16_t _pad;
};

struct vr_route_list_resp {
	uint32_t n;
	uint32_t _pad;
	struct vr_route routes[];
};

struct vr_route_lookup_req {
	uint16_t vrf;
	uint16_t _pad;
	uint32_t ip;
};

struct vr_route_lookup_resp {
	struct vr_route route; /* the longest match; nh_id 0 when none */
	struct vr_nh nh;
};

/* ---- neighbours (ARP) ---- */

enum vr_neigh_state {
	VR_NEIGH_INCOMPLETE = 1, /* resolving, packets held */
	VR_NEIGH_REACHABLE,      /* confirmed within arp_reachable_ms */
	VR_NEIGH_PROBE,          /* re-probing a known MAC */
	VR_NEIGH_PERMANENT,      /* static */
};

struct vr_neigh {
	uint32_t ip;
	uint16_t port;
	uint8_t mac[6];
	uint8_t state; /* enum vr_neigh_state */
	uint8_t probes;
	uint16_t held;    /* packets waiting for resolution */
	uint32_t age_ms;  /* since last confirmation */
	uint32_t _pad;
};

struct vr_neigh_list_resp {
	uint32_t n;
	uint32_t _pad;
	struct vr_neigh neighs[];
};

/* ---- ring ports (packet tests) ---- */

/* Frames, each as uint16_t length then the bytes, padded to 2 bytes. */
struct vr_pg_frames {
	uint32_t n;
	uint16_t port;
	uint16_t _pad;
	uint8_t data[];
};

/* A traffic generator for a ring port: a thread that copies the frames
 * (encoded as in vr_pg_frames, each at most 1900 bytes), in turn, into the
 * port's rx ring as fast as it can, `count` of them (0: until stopped).
 * While it runs, PG_INJECT to the port is refused. STATS and STOP take a
 * struct vr_port_id and answer struct vr_pg_flood_stats. */
struct vr_pg_flood_req {
	uint64_t count;
	uint32_t n;    /* frames in data[], 1..1024 */
	uint16_t port;
	uint16_t _pad;
	uint8_t data[];
};

struct vr_pg_flood_stats {
	uint16_t port;
	uint8_t running;
	uint8_t _pad[5];
	uint64_t offered;  /* frames the generator made or tried to */
	uint64_t accepted; /* taken by the rx ring; the rest found it full */
	uint64_t no_mbuf;  /* not made: the pool was empty */
};

/* ---- NAT (NAPT44 with endpoint-independent mapping, port forwards, 1:1) ---- */

enum vr_nat_type {
	VR_NAT_SNAT = 1,   /* inside sources matching `match` leaving `out_port` */
	VR_NAT_DNAT,       /* port forward: ext_ip:ext_port/proto -> int_ip:int_port */
	VR_NAT_STATIC,     /* 1:1: ext_ip <-> int_ip, all protocols */
};

#define VR_NAT_MAX_POOL 16

struct vr_nat_rule {
	uint32_t id;        /* the client's, 1..: unique */
	uint8_t type;       /* enum vr_nat_type */
	uint8_t proto;      /* DNAT: IPPROTO_TCP or IPPROTO_UDP */
	uint16_t vrf;
	uint16_t out_port;  /* SNAT: egress port */
	uint8_t masquerade; /* SNAT: translate to the egress port's address */
	uint8_t n_pool;     /* SNAT without masquerade: pool addresses */
	uint32_t match;     /* SNAT: inside sources */
	uint8_t match_plen;
	uint8_t _pad;
	uint16_t port_lo;   /* SNAT: outside ports to allocate (0: 1024..65535) */
	uint16_t port_hi;
	uint16_t ext_port;
	uint32_t pool[VR_NAT_MAX_POOL];
	uint32_t ext_ip;    /* DNAT, STATIC */
	uint32_t int_ip;
	uint16_t int_port;
	uint16_t _pad2;
	uint32_t _pad3;
	uint64_t sessions;  /* replies: sessions it created */
};

struct vr_nat_rule_id {
	uint32_t id;
};

struct vr_nat_rule_list_resp {
	uint32_t n;
	uint32_t _pad;
	struct vr_nat_rule rules[];
};

/* Session filters: zero fields match anything. */
struct vr_nat_filter {
	uint16_t vrf;       /* VR_NAT_ANY_VRF: any */
	uint8_t proto;
	uint8_t _pad;
	uint32_t addr;      /* any of the session's addresses */
	uint16_t port;      /* any of its ports */
	uint16_t _pad2;
	uint32_t rule;      /* sessions of this rule */
};
#define VR_NAT_ANY_VRF 0xffff

enum vr_nat_state {
	VR_NAT_S_UDP = 1,
	VR_NAT_S_ICMP,
	VR_NAT_S_OTHER,     /* 1:1 of other protocols */
	VR_NAT_S_TCP_SYN,   /* opening: one direction seen */
	VR_NAT_S_TCP_EST,
	VR_NAT_S_TCP_FIN,   /* one side closed */
	VR_NAT_S_TCP_CLOSING, /* both closed, or reset */
};

/* A session: the flow as it arrived (orig) and as it left (xlat). Ports of
 * ICMP queries: the identifier in src_port, 0 in dst_port. */
struct vr_nat_session {
	uint32_t orig_src;
	uint32_t orig_dst;
	uint16_t orig_sport;
	uint16_t orig_dport;
	uint32_t xlat_src;
	uint32_t xlat_dst;
	uint16_t xlat_sport;
	uint16_t xlat_dport;
	uint8_t proto;
	uint8_t state;      /* enum vr_nat_state */
	uint16_t vrf;
	uint32_t rule;
	uint32_t age_ms;    /* since the last packet */
	uint32_t timeout_s; /* idle time after which it expires, in its state */
	uint16_t worker;
	uint16_t _pad;
	uint64_t packets;   /* both directions */
};

struct vr_nat_session_list_resp {
	uint32_t n;
	uint32_t _pad;
	struct vr_nat_session sessions[];
};

/* Idle timeouts per state, seconds (RFC 4787, RFC 5382, RFC 5508), and
 * counts; PARAMS_SET applies the timeouts named in `mask`. */
#define VR_NAT_P_TCP_EST (1u << 0)
#define VR_NAT_P_TCP_TRANS (1u << 1)
#define VR_NAT_P_UDP (1u << 2)
#define VR_NAT_P_ICMP (1u << 3)
#define VR_NAT_P_OTHER (1u << 4)

struct vr_nat_params {
	uint32_t mask;
	uint32_t tcp_established; /* >= 7440 (2 h 4 min) by RFC 5382 */
	uint32_t tcp_transitory;  /* >= 240 by RFC 5382 */
	uint32_t udp;             /* >= 120 by RFC 4787; 300 recommended */
	uint32_t icmp;            /* 60 by RFC 5508 */
	uint32_t other;           /* 1:1 mappings of other protocols */
	uint32_t max_sessions;    /* read-only: all workers together */
	uint32_t sessions;        /* read-only: in use now */
	uint32_t mappings;        /* read-only: endpoint-independent mappings */
	uint32_t _pad;
};

struct vr_nat_clock {
	uint32_t seconds;
	uint32_t _pad;
};

/* ---- packet capture and tracing ---- */

#define VR_DIR_RX 0x1
#define VR_DIR_TX 0x2
#define VR_FILTER_LEN 256

/* Capture: copies of the packets a port receives and/or sends that match a
 * tcpdump-style filter, until `count` of them. */
struct vr_capture_start_req {
	uint16_t port;
	uint8_t dirs;        /* VR_DIR_RX | VR_DIR_TX */
	uint8_t _pad;
	uint32_t snaplen;    /* 0: whole packets */
	uint32_t count;      /* 0: until stopped */
	uint32_t _pad2;
	char filter[VR_FILTER_LEN]; /* pcap-filter(7) expression; "" matches all */
};

struct vr_capture_id {
	uint32_t id;
	uint32_t _pad;
};

/* READ replies: entries, each this header then `caplen` bytes, padded to 8. */
struct vr_captured {
	uint64_t time_ns;    /* since the epoch */
	uint32_t orig_len;
	uint16_t caplen;
	uint16_t port;
	uint8_t dir;         /* VR_DIR_RX or VR_DIR_TX */
	uint8_t _pad[7];
	uint8_t data[];
};

struct vr_capture_list_resp {
	uint32_t n;
	uint32_t _pad;
	/* n struct vr_captured */
};

struct vr_capture_stop_resp {
	uint64_t captured;
	uint64_t dropped;    /* copies lost: ring full or no mbuf */
};

/* Trace: the path of the next `count` packets matching the filter. */
struct vr_trace_start_req {
	uint16_t port;       /* ingress port; VR_PORT_NONE: any */
	uint16_t _pad;
	uint32_t count;
	char filter[VR_FILTER_LEN];
};

enum vr_trace_stage {
	VR_TRACE_RX = 1,     /* a: length */
	VR_TRACE_IP,         /* valid IPv4; a: vrf */
	VR_TRACE_NAT_PRE,    /* a: rule | VR_TRACE_NAT_NEW, b: session << 1 | reply */
	VR_TRACE_FIB,        /* a: next-hop id, b: next-hop type */
	VR_TRACE_LOCAL,      /* a: protocol, b: 1 answered here, 0 punted */
	VR_TRACE_FORWARD,    /* a: egress port, b: TTL after */
	VR_TRACE_NAT_POST,   /* a: rule | VR_TRACE_NAT_NEW, b: session << 1 | reply */
	VR_TRACE_NEIGH,      /* a: neighbour index, b: 1 resolved, 0 held for ARP */
	VR_TRACE_TX,         /* a: port */
	VR_TRACE_DROP,       /* a: counter index (see COUNTER_NAMES) */
	VR_TRACE_ICMP_ERROR, /* a: type, b: code */
	VR_TRACE_ARP,        /* a: opcode */
};

/* NAT stages: in a, the packet created its session (else it matched one);
 * b of a 1:1 translation, which has no session */
#define VR_TRACE_NAT_NEW (1u << 31)
#define VR_TRACE_NAT_STATELESS 0xFFFFFFFFu

struct vr_trace_rec {
	uint32_t packet;     /* 1.. in the order the trace picked them */
	uint8_t stage;       /* enum vr_trace_stage */
	uint8_t _pad;
	uint16_t port;       /* the ingress port */
	uint32_t a;
	uint32_t b;
	uint64_t tsc;
};

struct vr_trace_list_resp {
	uint32_t n;
	uint32_t _pad;
	struct vr_trace_rec recs[];
};

/* Per worker: cycles spent on packets, for cycles/packet. */
struct vr_worker_stats {
	uint64_t busy_tsc;   /* in loop iterations that had work */
	uint64_t packets;    /* received and injected */
	uint64_t loops;
	uint64_t idle_loops;
};

struct vr_worker_stats_resp {
	uint32_t n;
	uint32_t _pad;
	uint64_t tsc_hz;
	struct vr_worker_stats workers[];
};

/* ---- resources ---- */

/* A packet buffer pool. An mbuf is in use when it is neither in the pool
 * nor in a per-lcore cache: in a queue, held for ARP or reassembly, or in
 * flight. With no traffic and nothing held, in_use is back to what it was
 * at start-up (tests check that no path leaks an mbuf). */
struct vr_mempool_info {
	char name[VR_NAME_LEN];
	uint32_t size;       /* mbufs */
	uint32_t in_use;
	uint32_t cache_size; /* per lcore */
	uint32_t _pad;
};

struct vr_mempool_list_resp {
	uint32_t n;
	uint32_t _pad;
	struct vr_mempool_info pools[];
};

#endif /* VR_CTL_H */
