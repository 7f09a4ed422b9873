/* SPDX-License-Identifier: BSD-3-Clause */
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_config.h>

#include "frame.h"

static const char *prog_name = "vrouter-loadgen";

void
options_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [EAL args] -- --server [process options]\n"
		"       %s [EAL args] -- --config FILE [process options]\n"
		"       %s [EAL args] -- --duration SEC --src-mac MAC --dst-mac MAC\n"
		"           --src-ip A.B.C.D --dst-ip A.B.C.D [options]\n"
		"\n"
		"A DPDK traffic generator on one lcore, on every port the EAL probed.\n"
		"\n"
		"  --server            print a 'ready' JSON line, then run the trial\n"
		"                      described in FILE for each 'run FILE' line on\n"
		"                      stdin (one JSON result line each) until 'quit'\n"
		"                      or end of input (appliance/vrouter/loadgen runs it)\n"
		"  --config FILE       run the one trial described in FILE, print the result\n"
		"\n"
		"Process options (pools are made before the ports start, so memif\n"
		"zero-copy peers see all of them):\n"
		"  --slots N           streams a trial may have (default 8, at most 64)\n"
		"  --slot0-mbufs N     frames in the first stream's pool (default 32767)\n"
		"  --slot-mbufs N      frames in every other stream's pool (default 4095)\n"
		"  --rx-mbufs N        receive pool (default 32767)\n"
		"  --rx-queues N       receive queues per port, all polled (default 1;\n"
		"                      2 for a memif peer that sends on two, like OVS)\n"
		"  --link-timeout SEC  how long to wait for every link (default 10)\n"
		"  --hold              (--config, legacy) after printing, keep the ports\n"
		"                      up until stdin closes or a signal arrives, so the\n"
		"                      DUT can be stopped first (see main.c)\n"
		"\n"
		"Legacy mode: Ethernet/IPv4/UDP frames on one port, counted on another,\n"
		"for the forwarding benchmark (bench/forwarding.py):\n"
		"\n"
		"  --duration SEC      how long to transmit (required)\n"
		"  --rate PPS          packets per second, paced by the TSC in bursts\n"
		"                      of 32; 0 (default) = as fast as possible\n"
		"  --src-mac MAC       Ethernet source (required)\n"
		"  --dst-mac MAC       Ethernet destination (required)\n"
		"  --src-ip A.B.C.D    IPv4 source (required)\n"
		"  --dst-ip A.B.C.D    first IPv4 destination (required)\n"
		"  --dst-count N       cycle through N consecutive destinations\n"
		"  --dst-step N        ...N addresses apart (default 1; 256: one per /24)\n"
		"                      (default 1, at most %u)\n"
		"  --size BYTES        frame size without CRC, %u..%u (default 64)\n"
		"  --tx-port N         port to send on (default 0)\n"
		"  --rx-port N         port to count on (default 1)\n"
		"  --sample-ms MS      also report the rates of every MS-millisecond\n"
		"                      interval (to see warm-up and stalls)\n"
		"  --json              print the result as one JSON object\n"
		"  --help              this text\n",
		prog, prog, prog, OPT_MAX_DST_COUNT, FRAME_MIN_SIZE, FRAME_MAX_SIZE);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
bad_arg(const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s: ", prog_name, name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see %s -- --help)\n", prog_name);
	exit(EXIT_USAGE);
}

static double
parse_seconds(const char *name, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0)
		bad_arg(name, "'%s' is not a positive number of seconds", s);
	return v;
}

static uint64_t
parse_u64(const char *name, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	/* strtoull accepts "-1" and wraps it: refuse signs outright. */
	if (s[0] == '-' || s[0] == '+')
		bad_arg(name, "'%s' is not an unsigned integer", s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		bad_arg(name, "'%s' is not an unsigned integer", s);
	if (v < min || v > max)
		bad_arg(name, "%llu is out of range %llu..%llu", v,
			(unsigned long long)min, (unsigned long long)max);
	return v;
}

static void
parse_mac(const char *name, const char *s, struct rte_ether_addr *mac)
{
	if (rte_ether_unformat_addr(s, mac) != 0)
		bad_arg(name, "'%s' is not a MAC address (xx:xx:xx:xx:xx:xx)", s);
}

static uint32_t
parse_ipv4(const char *name, const char *s)
{
	struct in_addr a;

	/* inet_pton, unlike inet_aton, refuses shorthand such as "10.1". */
	if (inet_pton(AF_INET, s, &a) != 1)
		bad_arg(name, "'%s' is not an IPv4 address (A.B.C.D)", s);
	return ntohl(a.s_addr);
}

enum {
	OPT_DURATION = 256,
	OPT_RATE,
	OPT_SRC_MAC,
	OPT_DST_MAC,
	OPT_SRC_IP,
	OPT_DST_IP,
	OPT_DST_COUNT,
	OPT_DST_STEP,
	OPT_SIZE,
	OPT_TX_PORT,
	OPT_RX_PORT,
	OPT_LINK_TIMEOUT,
	OPT_SAMPLE_MS,
	OPT_JSON,
	OPT_HOLD,
	OPT_HELP,
	OPT_SERVER,
	OPT_CONFIG,
	OPT_SLOTS,
	OPT_SLOT0_MBUFS,
	OPT_SLOT_MBUFS,
	OPT_RX_MBUFS,
	OPT_RX_QUEUES,
};

static const struct option long_options[] = {
	{"duration", required_argument, NULL, OPT_DURATION},
	{"rate", required_argument, NULL, OPT_RATE},
	{"src-mac", required_argument, NULL, OPT_SRC_MAC},
	{"dst-mac", required_argument, NULL, OPT_DST_MAC},
	{"src-ip", required_argument, NULL, OPT_SRC_IP},
	{"dst-ip", required_argument, NULL, OPT_DST_IP},
	{"dst-count", required_argument, NULL, OPT_DST_COUNT},
	{"dst-step", required_argument, NULL, OPT_DST_STEP},
	{"size", required_argument, NULL, OPT_SIZE},
	{"tx-port", required_argument, NULL, OPT_TX_PORT},
	{"rx-port", required_argument, NULL, OPT_RX_PORT},
	{"link-timeout", required_argument, NULL, OPT_LINK_TIMEOUT},
	{"sample-ms", required_argument, NULL, OPT_SAMPLE_MS},
	{"json", no_argument, NULL, OPT_JSON},
	{"hold", no_argument, NULL, OPT_HOLD},
	{"help", no_argument, NULL, OPT_HELP},
	{"server", no_argument, NULL, OPT_SERVER},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"slots", required_argument, NULL, OPT_SLOTS},
	{"slot0-mbufs", required_argument, NULL, OPT_SLOT0_MBUFS},
	{"slot-mbufs", required_argument, NULL, OPT_SLOT_MBUFS},
	{"rx-mbufs", required_argument, NULL, OPT_RX_MBUFS},
	{"rx-queues", required_argument, NULL, OPT_RX_QUEUES},
	{NULL, 0, NULL, 0},
};

void
options_parse(int argc, char **argv, struct options *opt)
{
	bool have_duration = false, have_src_mac = false, have_dst_mac = false;
	bool have_src_ip = false, have_dst_ip = false, legacy = false;
	int c;

	memset(opt, 0, sizeof(*opt));
	opt->dst_count = 1;
	opt->dst_step = 1;
	opt->frame_size = 64;
	opt->tx_port = 0;
	opt->rx_port = 1;
	opt->link_timeout_s = 10;
	opt->mode = RUN_LEGACY;
	opt->slots = 8;
	opt->slot0_mbufs = 32767;
	opt->slot_mbufs = 4095;
	opt->rx_mbufs = 32767;
	opt->rx_queues = 1;

	/* The EAL has used getopt already; start over, and report errors
	 * ourselves so they name the argument the way we want. */
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_DURATION:
			legacy = true;
			opt->duration_s = parse_seconds("--duration", optarg);
			have_duration = true;
			break;
		case OPT_RATE:
			legacy = true;
			opt->rate_pps = parse_u64("--rate", optarg, 0, UINT64_C(1) << 40);
			break;
		case OPT_SRC_MAC:
			legacy = true;
			parse_mac("--src-mac", optarg, &opt->src_mac);
			have_src_mac = true;
			break;
		case OPT_DST_MAC:
			legacy = true;
			parse_mac("--dst-mac", optarg, &opt->dst_mac);
			have_dst_mac = true;
			break;
		case OPT_SRC_IP:
			legacy = true;
			opt->src_ip = parse_ipv4("--src-ip", optarg);
			have_src_ip = true;
			break;
		case OPT_DST_IP:
			legacy = true;
			opt->dst_ip = parse_ipv4("--dst-ip", optarg);
			have_dst_ip = true;
			break;
		case OPT_DST_COUNT:
			legacy = true;
			opt->dst_count = parse_u64("--dst-count", optarg, 1,
						   OPT_MAX_DST_COUNT);
			break;
		case OPT_DST_STEP:
			legacy = true;
			opt->dst_step = parse_u64("--dst-step", optarg, 1, 1u << 24);
			break;
		case OPT_SIZE:
			legacy = true;
			opt->frame_size = parse_u64("--size", optarg, FRAME_MIN_SIZE,
						    FRAME_MAX_SIZE);
			break;
		case OPT_TX_PORT:
			legacy = true;
			opt->tx_port = parse_u64("--tx-port", optarg, 0, RTE_MAX_ETHPORTS - 1);
			break;
		case OPT_RX_PORT:
			legacy = true;
			opt->rx_port = parse_u64("--rx-port", optarg, 0, RTE_MAX_ETHPORTS - 1);
			break;
		case OPT_LINK_TIMEOUT:
			opt->link_timeout_s = parse_seconds("--link-timeout", optarg);
			break;
		case OPT_SAMPLE_MS:
			legacy = true;
			opt->sample_s = parse_u64("--sample-ms", optarg, 1, 3600 * 1000) / 1000.0;
			break;
		case OPT_JSON:
			legacy = true;
			opt->json = true;
			break;
		case OPT_HOLD:
			opt->hold = true;
			break;
		case OPT_HELP:
			options_usage(argv[0]);
			exit(0);
		case OPT_SERVER:
			if (opt->mode == RUN_CONFIG)
				bad_arg("--server", "cannot be combined with --config");
			opt->mode = RUN_SERVER;
			break;
		case OPT_CONFIG:
			if (opt->mode == RUN_SERVER)
				bad_arg("--config", "cannot be combined with --server");
			opt->mode = RUN_CONFIG;
			opt->config_path = optarg;
			break;
		case OPT_SLOTS:
			opt->slots = parse_u64("--slots", optarg, 1, 64);
			break;
		case OPT_SLOT0_MBUFS:
			opt->slot0_mbufs = parse_u64("--slot0-mbufs", optarg, 255, 1u << 20);
			break;
		case OPT_SLOT_MBUFS:
			opt->slot_mbufs = parse_u64("--slot-mbufs", optarg, 255, 1u << 20);
			break;
		case OPT_RX_MBUFS:
			opt->rx_mbufs = parse_u64("--rx-mbufs", optarg, 255, 1u << 20);
			break;
		case OPT_RX_QUEUES:
			opt->rx_queues = parse_u64("--rx-queues", optarg, 1, 8);
			break;
		case ':':
			bad_arg(argv[optind - 1], "needs a value");
		default:
			bad_arg(argv[optind - 1], "unknown option");
		}
	}
	if (optind < argc)
		bad_arg(argv[optind], "unexpected argument");
	if (opt->mode != RUN_LEGACY) {
		if (legacy)
			bad_arg(opt->mode == RUN_SERVER ? "--server" : "--config",
				"takes the traffic from the trial description, not from "
				"--duration/--rate/--src-ip... options");
		return;
	}

	if (!have_duration)
		bad_arg("--duration", "missing (this option is required)");
	if (!have_src_mac)
		bad_arg("--src-mac", "missing (this option is required)");
	if (!have_dst_mac)
		bad_arg("--dst-mac", "missing (this option is required)");
	if (!have_src_ip)
		bad_arg("--src-ip", "missing (this option is required)");
	if (!have_dst_ip)
		bad_arg("--dst-ip", "missing (this option is required)");
	if (opt->tx_port == opt->rx_port)
		bad_arg("--rx-port", "must differ from --tx-port (%u)", opt->tx_port);
	/* Destinations are consecutive addresses: do not wrap past
	 * 255.255.255.255 into 0.0.0.0. */
	if ((uint64_t)opt->dst_ip + (uint64_t)(opt->dst_count - 1) * opt->dst_step > UINT32_MAX)
		bad_arg("--dst-count", "%u addresses %u apart from --dst-ip run past 255.255.255.255",
			opt->dst_count, opt->dst_step);
}
