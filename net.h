/*
 * net.h - sockets: listeners, blocking client connections, request/response
 * exchange for callers that may block (dog, worker threads), and node
 * address conversion.
 */
#ifndef SHEEP_NET_H
#define SHEEP_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

int listen_tcp(const char *bindaddr, int port);
int listen_unix(const char *path);
/* blocking connect with a timeout in ms; returns fd or -errno */
int connect_tcp(const char *host, int port, int timeout_ms);
int connect_unix(const char *path);
int set_nonblocking(int fd);
int set_nodelay(int fd);
int set_io_timeout(int fd, int timeout_ms);
/*
 * A TCP connection that stops acknowledging is dropped: data unacknowledged
 * for user_timeout_ms, or an idle one whose keepalive probes (after idle_s,
 * every intvl_s, cnt of them) go unanswered.  Not for Unix sockets.
 */
int set_liveness(int fd, int user_timeout_ms, int idle_s, int intvl_s, int cnt);

/*
 * Send hdr (+ wdata when SD_FLAG_CMD_WRITE and data_length) and receive the
 * response into rsp and rdata (at most rlen bytes).  Returns 0 when the
 * exchange worked (the result is in rsp->result) or -errno on a socket error.
 */
int exec_req(int fd, struct sd_req *hdr, const void *wdata, struct sd_rsp *rsp,
	     void *rdata, uint32_t rlen);

/* 16-byte sheepdog address <-> text; IPv4 is 12 zeros + 4 bytes */
int str_to_addr(const char *s, uint8_t addr[16]);
char *addr_to_str(const uint8_t addr[16], char *buf, size_t len);
/* 0 if addr is one of this host's (it can be bound), else -errno (-EADDRNOTAVAIL) */
int addr_is_local(const uint8_t addr[16]);
/* first address of an interface that is up and not loopback; -ENOENT if none */
int net_first_addr(uint8_t addr[16]);
char *node_id_to_str(const struct node_id *nid, char *buf, size_t len);
bool node_id_eq(const struct node_id *a, const struct node_id *b);

#endif
