/*
 * net.c - socket plumbing shared by the daemon and dog.
 *
 * Owns no state.  Everything here is either non-blocking setup done by the
 * main loop or blocking IO done by dog or by worker threads; the main
 * thread never calls exec_req().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"
#include "util.h"

int set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

int set_io_timeout(int fd, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

int set_liveness(int fd, int user_timeout_ms, int idle_s, int intvl_s, int cnt)
{
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof(idle_s)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl_s, sizeof(intvl_s)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
		       sizeof(user_timeout_ms)) < 0)
		return -errno;
	return 0;
}

int listen_tcp(const char *bindaddr, int port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	char portstr[16];
	int fd = -1, err = -EADDRNOTAVAIL;

	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(bindaddr, portstr, &hints, &res) != 0)
		return -EADDRNOTAVAIL;
	/* without -b prefer one dual-stack IPv6 socket, else the first that binds */
	for (ai = res; ai; ai = ai->ai_next) {
		int one = 1;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && !bindaddr) {
			int zero = 0;

			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
			break;
		err = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return err;
	return fd;
}

int listen_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 1024) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int fl = fcntl(fd, F_GETFL), err = 0;
	socklen_t elen = sizeof(err);

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS)
			return -errno;
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			return -errno;
		if (err)
			return -err;
	}
	fcntl(fd, F_SETFL, fl);
	return 0;
}

int connect_tcp(const char *host, int port, int timeout_ms)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	char portstr[16];
	int fd = -1, err = -EHOSTUNREACH;

	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(host, portstr, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		err = connect_timeout(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms);
		if (err == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return err;
	set_nodelay(fd);
	return fd;
}

int connect_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int exec_req(int fd, struct sd_req *hdr, const void *wdata, struct sd_rsp *rsp,
	     void *rdata, uint32_t rlen)
{
	uint32_t got;
	int ret;

	ret = xwrite2_full(fd, hdr, sizeof(*hdr), wdata,
			   (hdr->flags & SD_FLAG_CMD_WRITE) ? hdr->data_length : 0);
	if (ret)
		return ret;
	ret = xread_full(fd, rsp, sizeof(*rsp));
	if (ret)
		return ret;
	got = rsp->data_length;
	if (got > rlen) {
		/* never let a peer overrun our buffer: treat as a protocol error */
		return -EPROTO;
	}
	if (got) {
		ret = xread_full(fd, rdata, got);
		if (ret)
			return ret;
	}
	return 0;
}

int str_to_addr(const char *s, uint8_t addr[16])
{
	struct in_addr a4;
	struct in6_addr a6;

	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, &a4) == 1) {
		memcpy(addr + 12, &a4, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		memcpy(addr, &a6, 16);
		return 0;
	}
	return -EINVAL;
}

static bool addr_is_v4(const uint8_t addr[16])
{
	static const uint8_t zeros[12];

	return !memcmp(addr, zeros, 12);
}

int addr_is_local(const uint8_t addr[16])
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd, ret = 0;

	if (addr_is_v4(addr)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, addr + 12, 4);
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, addr, 16);
		len = sizeof(*s6);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * The address this machine is reached at when nothing names one: the first
 * IPv4 address of an interface that is up and not loopback, else such an IPv6
 * address outside fe80::/10 (as Sheepdog picks it).  -ENOENT if none.
 */
int net_first_addr(uint8_t addr[16])
{
	struct ifaddrs *all, *ifa;
	int found = 0;

	if (getifaddrs(&all))
		return -errno;
	for (int family = AF_INET; family && !found; family = family == AF_INET ? AF_INET6 : 0) {
		for (ifa = all; ifa && !found; ifa = ifa->ifa_next) {
			const struct sockaddr *sa = ifa->ifa_addr;

			if (!sa || sa->sa_family != family || !(ifa->ifa_flags & IFF_UP) ||
			    (ifa->ifa_flags & IFF_LOOPBACK))
				continue;
			memset(addr, 0, 16);
			if (family == AF_INET) {
				memcpy(addr + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
				found = 1;
			} else {
				const uint8_t *a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

				if (a6[0] == 0xfe && (a6[1] & 0xc0) == 0x80)
					continue;
				memcpy(addr, a6, 16);
				found = 1;
			}
		}
	}
	freeifaddrs(all);
	return found ? 0 : -ENOENT;
}

char *addr_to_str(const uint8_t addr[16], char *buf, size_t len)
{
	if (addr_is_v4(addr))
		inet_ntop(AF_INET, addr + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, addr, buf, (socklen_t)len);
	return buf;
}

char *node_id_to_str(const struct node_id *nid, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	addr_to_str(nid->addr, a, sizeof(a));
	snprintf(buf, len, "%s:%u", a, nid->port);
	return buf;
}

bool node_id_eq(const struct node_id *a, const struct node_id *b)
{
	return !memcmp(a->addr, b->addr, 16) && a->port == b->port;
}
