/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>

#include <pcap/pcap.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "filter.h"

struct rte_bpf *pkt_filter_compile(const char *expr, bool *ok, char *err, size_t errlen)
{
	*ok = true;
	if (expr == NULL || expr[0] == '\0')
		return NULL;
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	struct bpf_program code;
	if (p == NULL || pcap_compile(p, &code, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, errlen, "filter '%s': %s", expr, p ? pcap_geterr(p) : "no memory");
		if (p != NULL)
			pcap_close(p);
		*ok = false;
		return NULL;
	}
	struct rte_bpf_prm *prm = rte_bpf_convert(&code);
	struct rte_bpf *bpf = prm != NULL ? rte_bpf_load(prm) : NULL;
	if (bpf == NULL) {
		snprintf(err, errlen, "filter '%s': cannot load it: %s", expr, rte_strerror(rte_errno));
		*ok = false;
	}
	rte_free(prm);
	pcap_freecode(&code);
	pcap_close(p);
	return bpf;
}
