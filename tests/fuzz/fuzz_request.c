/*
 * fuzz_request.c - libFuzzer target for the request path.
 *
 * A real in-process sheep (store in a scratch directory, event loop, worker
 * pool, local cluster driver, formatted cluster) serves each input as the
 * byte stream of one client connection over a socketpair: header parsing,
 * payload handling, dispatch, every op handler and the response writer all
 * run for real.  An input must never crash, leak, or leave the loop stuck.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event.h"
#include "sheep.h"
#include "store.h"
#include "vdi.h"

static void drain(int fd)
{
	char buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* run the loop until the client is gone and all work has finished */
static void run_until_idle(int peer)
{
	for (int i = 0; i < 100000; i++) {
		drain(peer);
		event_loop_once(1);
		if (clients_open() == 0 && work_outstanding() == 0 &&
		    event_loop_once(0) == 0 && work_outstanding() == 0)
			return;
	}
	fprintf(stderr, "fuzz: the daemon did not become idle\n");
	abort();
}

static void send_simple(uint8_t opcode, uint8_t copies, const void *data, uint32_t len)
{
	struct sd_req hdr = { 0 };
	int sv[2];

	hdr.proto_ver = opcode >= 0x80 ? SD_SHEEP_PROTO_VER : SD_PROTO_VER;
	hdr.opcode = opcode;
	hdr.flags = len ? SD_FLAG_CMD_WRITE : 0;
	hdr.data_length = len;
	hdr.cluster.copies = copies;
	hdr.cluster.ctime = 1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	client_attach(sv[0]);
	(void)!write(sv[1], &hdr, sizeof(hdr));
	if (len)
		(void)!write(sv[1], data, len);
	shutdown(sv[1], SHUT_WR);
	run_until_idle(sv[1]);
	close(sv[1]);
}

static char dir[] = "/tmp/sheep-fuzz.XXXXXX";

/* the store the runs wrote into goes when the fuzzer exits (-max_total_time) */
static void remove_store(void)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char name[256] = "fuzzvdi";

	(void)argc;
	(void)argv;
	/* as the daemon does: a peer that hung up is an error return, not a signal */
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		abort();
	atexit(remove_store);
	log_init("fuzz", open("/dev/null", O_WRONLY), SDLOG_EMERG);
	store_nosync = true;
	if (store_init(dir) || event_init() || work_init(2) || vdi_init())
		abort();
	sys->this_node.nid.addr[12] = 127;
	sys->this_node.nid.addr[15] = 1;
	sys->this_node.nid.port = 7000;
	sys->this_node.nr_vnodes = 128;
	char drv[64];

	snprintf(drv, sizeof(drv), "local:%s/cluster", dir);
	if (group_init(drv))
		abort();
	for (int i = 0; i < 100 && !sys->joined; i++)
		event_loop_once(10);
	send_simple(SD_OP_MAKE_FS, 1, "plain", 6);
	send_simple(SD_OP_NEW_VDI, 0, name, sizeof(name));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	size_t off = 0;

	/* state an input may change: keep every run starting from a live cluster */
	sys->exiting = false;
	if (sys->status != SD_STATUS_OK && sys->ctime)
		sys->status = SD_STATUS_OK;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	if (client_attach(sv[0]) < 0)
		abort();
	while (off < size) {
		ssize_t n = write(sv[1], data + off, size - off);

		if (n < 0) {
			if (errno != EAGAIN)
				break;
			drain(sv[1]);
			event_loop_once(1);
			continue;
		}
		off += (size_t)n;
	}
	shutdown(sv[1], SHUT_WR);
	run_until_idle(sv[1]);
	close(sv[1]);
	return 0;
}
