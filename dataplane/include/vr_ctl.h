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

	VR_MSG_NAT_RULE_ADD = 80,
	VR_MSG_NAT_RULE_DEL,
	VR_MSG_NAT_RULE_LIST,
	VR_MSG_NAT_SESSION_LIST,
	VR_MSG_NAT_SESSION_FLUSH,
	VR_MSG_NAT_PARAMS_GET,
	VR_MSG_NAT_PARAMS_SET,
	VR_MSG_NAT_CLOCK_ADVANCE, /* tests: move the NAT clock forward */
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

#endif /* VR_CTL_H */
