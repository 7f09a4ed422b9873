/* SPDX-License-Identifier: BSD-3-Clause */
#define _GNU_SOURCE /* dup3 */
#include "memseg_fds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_memory.h>

struct saved_fd {
	int fd;       /* the EAL's number */
	int copy;     /* our dup of it */
	int fd_flags; /* FD_CLOEXEC or 0, as the EAL opened it */
	dev_t dev;
	ino_t ino;
};

static struct saved_fd saved[RTE_MAX_MEMSEG_LISTS];
static unsigned int n_saved;

static bool
already_saved(int fd)
{
	for (unsigned int i = 0; i < n_saved; i++)
		if (saved[i].fd == fd)
			return true;
	return false;
}

static int
save_one(const struct rte_memseg_list *msl __rte_unused, const struct rte_memseg *ms,
	 void *arg __rte_unused)
{
	struct saved_fd *s;
	struct stat st;
	int fd;

	/* Inside the walk the memory lock is held: use the unlocked getter. */
	fd = rte_memseg_get_fd_thread_unsafe(ms);
	if (fd < 0 || already_saved(fd))
		return 0; /* no fd (e.g. --no-huge): nothing memif can close */
	if (n_saved == RTE_DIM(saved) || fstat(fd, &st) != 0)
		return 0;
	s = &saved[n_saved];
	s->copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (s->copy < 0) {
		fprintf(stderr, "memseg fds: dup(%d): %s\n", fd, strerror(errno));
		return -1;
	}
	s->fd = fd;
	s->fd_flags = fcntl(fd, F_GETFD) & FD_CLOEXEC;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	n_saved++;
	return 0;
}

int
memseg_fds_save(void)
{
	memseg_fds_forget();
	return rte_memseg_walk(save_one, NULL) < 0 ? -1 : 0;
}

int
memseg_fds_restore(void)
{
	for (unsigned int i = 0; i < n_saved; i++) {
		struct saved_fd *s = &saved[i];
		struct stat st;

		if (fstat(s->fd, &st) == 0) {
			if (st.st_dev == s->dev && st.st_ino == s->ino)
				continue; /* untouched */
			fprintf(stderr,
				"memseg fds: fd %d was closed by the memif driver and reused "
				"for another file; cannot restore it\n", s->fd);
			return -1;
		}
		if (errno != EBADF ||
		    dup3(s->copy, s->fd, s->fd_flags ? O_CLOEXEC : 0) < 0) {
			fprintf(stderr, "memseg fds: cannot restore fd %d: %s\n", s->fd,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

void
memseg_fds_forget(void)
{
	for (unsigned int i = 0; i < n_saved; i++)
		close(saved[i].copy);
	n_saved = 0;
}
