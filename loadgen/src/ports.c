/* SPDX-License-Identifier: BSD-3-Clause */
#include "ports.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_ethdev.h>

#include "memseg_fds.h"

/* Ring sizes for PMDs that honour them; memif ignores these and takes its
 * ring size from the rsize= devarg. */
#define PORT_NB_DESC 1024

int
port_setup(uint16_t port, struct rte_mempool *rx_pool, uint16_t nb_rxq)
{
	struct rte_eth_conf conf;
	uint16_t nb_rxd = PORT_NB_DESC, nb_txd = PORT_NB_DESC;
	int socket = rte_eth_dev_socket_id(port);
	int ret;

	memset(&conf, 0, sizeof(conf));
	ret = rte_eth_dev_configure(port, nb_rxq, 1, &conf);
	if (ret < 0) {
		fprintf(stderr, "port %u: configure: %s\n", port, rte_strerror(-ret));
		return -1;
	}
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
	if (ret < 0) {
		fprintf(stderr, "port %u: descriptor counts: %s\n", port, rte_strerror(-ret));
		return -1;
	}
	for (uint16_t q = 0; q < nb_rxq; q++) {
		ret = rte_eth_rx_queue_setup(port, q, nb_rxd, socket < 0 ? 0 : socket, NULL,
					     rx_pool);
		if (ret < 0) {
			fprintf(stderr, "port %u: rx queue %u: %s\n", port, q, rte_strerror(-ret));
			return -1;
		}
	}
	ret = rte_eth_tx_queue_setup(port, 0, nb_txd, socket < 0 ? 0 : socket, NULL);
	if (ret < 0) {
		fprintf(stderr, "port %u: tx queue: %s\n", port, rte_strerror(-ret));
		return -1;
	}
	/* The receiving side counts everything, whatever MAC the DUT writes.
	 * Not every PMD can (memif always is): ignore a refusal. */
	rte_eth_promiscuous_enable(port);
	return 0;
}

/* Returns the devargs of a memif port, NULL for any other port. */
static const struct rte_devargs *
memif_devargs(uint16_t port)
{
	struct rte_eth_dev_info info;

	if (rte_eth_dev_info_get(port, &info) != 0 || info.device == NULL ||
	    strcmp(info.driver_name, "net_memif") != 0)
		return NULL;
	return rte_dev_devargs(info.device);
}

/* A memif server listens instead of connecting: it must be started first
 * and its link comes up only when a client arrives. Only the devargs say
 * which role a memif port has (client is the default). */
static bool
is_memif_server(uint16_t port)
{
	const struct rte_devargs *da = memif_devargs(port);

	return da != NULL && da->args != NULL &&
	       (strstr(da->args, "role=server") != NULL ||
		strstr(da->args, "role=master") != NULL);
}

static bool
link_up(uint16_t port)
{
	struct rte_eth_link link;

	return rte_eth_link_get_nowait(port, &link) == 0 &&
	       link.link_status == RTE_ETH_LINK_UP;
}

/* Poll until the ports in the list are up. */
static int
wait_links(const uint16_t *ports, unsigned int n, uint64_t deadline,
	   volatile sig_atomic_t *quit)
{
	for (;;) {
		unsigned int up = 0;

		for (unsigned int i = 0; i < n; i++)
			up += link_up(ports[i]);
		if (up == n)
			return 0;
		if (*quit)
			return -1;
		if (rte_get_timer_cycles() > deadline) {
			for (unsigned int i = 0; i < n; i++)
				if (!link_up(ports[i]))
					fprintf(stderr,
						"port %u: link still down (memif: is the "
						"peer running, same socket and id, and was "
						"the server up before the client?)\n",
						ports[i]);
			return -1;
		}
		usleep(1000);
	}
}

static int
start_one(uint16_t port)
{
	int ret = rte_eth_dev_start(port);

	if (ret < 0) {
		/* A memif client fails here when nothing listens on its socket. */
		fprintf(stderr, "port %u: start: %s%s\n", port, rte_strerror(-ret),
			memif_devargs(port) == NULL || is_memif_server(port) ? "" :
			" (memif client: is a server listening on the socket?)");
		return -1;
	}
	return 0;
}

int
ports_start(const uint16_t *ports, unsigned int n, double timeout_s,
	    volatile sig_atomic_t *quit)
{
	uint64_t deadline = rte_get_timer_cycles() + timeout_s * rte_get_timer_hz();
	int ret = -1;

	if (memseg_fds_save() < 0)
		return -1;

	for (unsigned int i = 0; i < n; i++)
		if (is_memif_server(ports[i]) && start_one(ports[i]) < 0)
			goto out;

	for (unsigned int i = 0; i < n; i++) {
		if (is_memif_server(ports[i]))
			continue;
		if (start_one(ports[i]) < 0 || wait_links(&ports[i], 1, deadline, quit) < 0 ||
		    memseg_fds_restore() < 0)
			goto out;
	}

	if (wait_links(ports, n, deadline, quit) < 0)
		goto out;
	ret = memseg_fds_restore();
out:
	memseg_fds_forget();
	return ret;
}

void
ports_stop(const uint16_t *ports, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		rte_eth_dev_stop(ports[i]);
		rte_eth_dev_close(ports[i]);
	}
}
