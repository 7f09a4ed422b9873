/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Work around memif zero-copy closing the EAL's own hugepage fds.
 *
 * A memif client in zero-copy mode exports DPDK memory: it sends the
 * peer the fd of each memseg list as returned by rte_memseg_get_fd(), which
 * is the EAL's fd, not a copy. When the connection comes up, memif_connect()
 * then close()s that fd (DPDK 22.11, drivers/net/memif/rte_eth_memif.c,
 * "close memseg file"). The first zero-copy port is fine; the second one
 * sends a closed or, worse, reused fd number ("sendmsg fail: Bad file
 * descriptor", "mmap failed: No such device", SIGBUS), and the EAL itself
 * loses the fd it needs to grow or shrink memory.
 *
 * So before starting ports we keep a private dup of every memseg fd, and
 * after each zero-copy connection we put the original numbers back with
 * dup2(). Ports must therefore connect one at a time (see ports.c).
 */
#ifndef LOADGEN_MEMSEG_FDS_H
#define LOADGEN_MEMSEG_FDS_H

/* Remember the memseg fds. Returns 0, or -1 after printing why. */
int memseg_fds_save(void);

/* Reopen any remembered fd that has been closed. Returns 0, or -1 if an fd
 * number now belongs to another file (nothing safe to do then). */
int memseg_fds_restore(void);

/* Drop the private copies. */
void memseg_fds_forget(void);

#endif
