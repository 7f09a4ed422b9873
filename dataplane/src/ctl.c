/* SPDX-License-Identifier: BSD-3-Clause */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_debug.h>
#include <rte_log.h>

#include "ctl.h"

#define CTL_MAX_TYPES 128
#define CTL_MAX_CLIENTS 16
#define CTL_SEND_TIMEOUT_S 5

struct ctl_handler {
	ctl_handler_t fn;
	uint32_t min_len;
	const char *name;
};

struct ctl_resp {
	int fd;
	struct vr_msg_hdr req;
	uint32_t len;       /* body bytes used */
	uint32_t list_hdr;  /* list replies: header size, 0 otherwise */
	bool failed;        /* client gone while sending MORE datagrams */
	char err[VR_ERR_LEN];
	/* aligned: handlers cast the body to their structs (8-byte fields) */
	uint8_t buf[sizeof(struct vr_msg_hdr) + VR_CTL_MAX_MSG] __rte_aligned(8);
};

static struct ctl_handler handlers[CTL_MAX_TYPES];
static int listen_fd = -1;
static int epoll_fd = -1;
static int wake_fd = -1;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static uint8_t req_buf[sizeof(struct vr_msg_hdr) + VR_CTL_MAX_MSG] __rte_aligned(8);
static struct ctl_resp resp;

void ctl_register(uint16_t type, uint32_t min_len, ctl_handler_t fn, const char *name)
{
	RTE_VERIFY(type < CTL_MAX_TYPES && handlers[type].fn == NULL);
	handlers[type] = (struct ctl_handler){.fn = fn, .min_len = min_len, .name = name};
}

void *ctl_resp_put(struct ctl_resp *r, uint32_t size)
{
	if (r->len + size > VR_CTL_MAX_MSG)
		return NULL;
	void *p = r->buf + sizeof(struct vr_msg_hdr) + r->len;
	memset(p, 0, size);
	r->len += size;
	return p;
}

int ctl_err(struct ctl_resp *r, int err, const char *fmt, ...)
{
	char buf[VR_ERR_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r != NULL ? r->err : buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (r == NULL) /* called outside a request, e.g. at start-up */
		RTE_LOG(ERR, USER1, "%s\n", buf);
	return -err;
}

static int ctl_send(struct ctl_resp *r, int status, uint16_t flags)
{
	struct vr_msg_hdr *h = (struct vr_msg_hdr *)r->buf;
	*h = (struct vr_msg_hdr){.type = r->req.type, .flags = flags, .len = r->len,
				 .seq = r->req.seq, .status = status};
	ssize_t n = send(r->fd, r->buf, sizeof(*h) + r->len, MSG_NOSIGNAL);
	if (n != (ssize_t)(sizeof(*h) + r->len)) {
		r->failed = true;
		return -1;
	}
	return 0;
}

void *ctl_list_begin(struct ctl_resp *r, uint32_t hdr_size)
{
	r->list_hdr = hdr_size;
	r->len = 0;
	return ctl_resp_put(r, hdr_size);
}

void *ctl_list_add(struct ctl_resp *r, uint32_t entry_size)
{
	if (r->failed || r->list_hdr + entry_size > VR_CTL_MAX_MSG)
		return NULL;
	void *e = ctl_resp_put(r, entry_size);
	if (e == NULL) {
		if (ctl_send(r, 0, VR_F_MORE) != 0)
			return NULL;
		ctl_list_begin(r, r->list_hdr);
		e = ctl_resp_put(r, entry_size);
	}
	uint32_t *count = (uint32_t *)(r->buf + sizeof(struct vr_msg_hdr));
	(*count)++;
	return e;
}

int ctl_server_init(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(sa.sun_path)) {
		RTE_LOG(ERR, USER1, "control socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(sock_path, sizeof(sock_path), "%s", path);
	listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		return -errno;
	unlink(path); /* a stale socket from a previous run */
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0660) < 0 || listen(listen_fd, 8) < 0) {
		int err = errno;
		RTE_LOG(ERR, USER1, "control socket %s: %s\n", path, strerror(err));
		close(listen_fd);
		return -err;
	}
	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = listen_fd};
	epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
	return 0;
}

static void ctl_client_close(int fd)
{
	epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

static void ctl_accept(void)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct timeval tv = {.tv_sec = CTL_SEND_TIMEOUT_S};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

static void ctl_dispatch(int fd, ssize_t n)
{
	struct ctl_resp *r = &resp;
	const struct vr_msg_hdr *h = (const struct vr_msg_hdr *)req_buf;
	int status;

	r->fd = fd;
	r->len = 0;
	r->list_hdr = 0;
	r->failed = false;
	r->err[0] = '\0';
	if ((size_t)n < sizeof(*h)) {
		r->req = (struct vr_msg_hdr){0};
		status = ctl_err(r, EINVAL, "message of %zd bytes is shorter than its header", n);
		goto reply;
	}
	r->req = *h;
	if ((size_t)n > sizeof(req_buf)) { /* recv() reported the untruncated size */
		status = ctl_err(r, EMSGSIZE, "message of %zd bytes exceeds the %zu-byte limit", n,
				 sizeof(req_buf));
		goto reply;
	}
	const struct ctl_handler *hd = h->type < CTL_MAX_TYPES ? &handlers[h->type] : NULL;
	if (h->len != (size_t)n - sizeof(*h)) {
		status = ctl_err(r, EINVAL, "header says %u body bytes, datagram has %zu", h->len,
				 (size_t)n - sizeof(*h));
	} else if (hd == NULL || hd->fn == NULL) {
		status = ctl_err(r, EOPNOTSUPP, "unknown message type %u", h->type);
	} else if (h->len < hd->min_len) {
		status = ctl_err(r, EINVAL, "%s: body of %u bytes, need at least %u", hd->name,
				 h->len, hd->min_len);
	} else {
		status = hd->fn(req_buf + sizeof(*h), h->len, r);
		if (status > 0)
			status = 0;
	}
reply:
	if (r->failed)
		return;
	if (status != 0) {
		if (r->err[0] == '\0')
			snprintf(r->err, sizeof(r->err), "%s", strerror(-status));
		r->len = 0;
		struct vr_error *e = ctl_resp_put(r, sizeof(*e));
		memcpy(e->msg, r->err, sizeof(e->msg));
	}
	ctl_send(r, status, 0);
}

int ctl_server_wake_fd(void)
{
	if (wake_fd < 0) {
		wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = wake_fd};
		if (wake_fd >= 0)
			epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
	}
	return wake_fd;
}

void ctl_server_poll(int timeout_ms)
{
	struct epoll_event evs[CTL_MAX_CLIENTS];
	int n = epoll_wait(epoll_fd, evs, CTL_MAX_CLIENTS, timeout_ms);

	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;
		if (fd == listen_fd) {
			ctl_accept();
			continue;
		}
		if (fd == wake_fd) {
			uint64_t v;
			if (read(fd, &v, sizeof(v)) < 0) { /* nothing: woken all the same */
			}
			continue;
		}
		ssize_t len = recv(fd, req_buf, sizeof(req_buf), MSG_DONTWAIT | MSG_TRUNC);
		if (len <= 0) {
			if (len == 0 || (errno != EAGAIN && errno != EINTR))
				ctl_client_close(fd);
			continue;
		}
		ctl_dispatch(fd, len);
	}
}

void ctl_server_close(void)
{
	if (listen_fd >= 0) {
		close(listen_fd);
		unlink(sock_path);
	}
	if (epoll_fd >= 0)
		close(epoll_fd);
	if (wake_fd >= 0)
		close(wake_fd);
	listen_fd = epoll_fd = wake_fd = -1;
}
