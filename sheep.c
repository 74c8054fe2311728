/*
 * sheep.c - the daemon's entry point, and the multi-call switch: run as
 * `dog` (or `sheep dog ...`) it is the admin CLI instead.
 *
 * Parses options, takes the store directory's lock, daemonizes (the parent
 * exits only once the child has joined its cluster, so `sheep DIR && dog ...`
 * never races), starts the loop, the workers and the cluster driver, and
 * decides when the process stops.  Only this file and dog.c call exit().
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster.h"
#include "daemon.h"
#include "event.h"
#include "journal.h"
#include "nbd.h"
#include "net.h"
#include "recovery.h"
#include "ring.h"
#include "sheep.h"
#include "store.h"
#include "vdi.h"

#define SHEEP_VERSION "0.1.0"
#define DEFAULT_WORKERS 8

int dog_main(int argc, char **argv);

static char sock_path[PATH_MAX + 16];

static const struct option long_options[] = {
	{ "bindaddr", required_argument, NULL, 'b' },
	{ "cluster", required_argument, NULL, 'c' },
	{ "debug", no_argument, NULL, 'd' },
	{ "directio", no_argument, NULL, 'D' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "gateway", no_argument, NULL, 'g' },
	{ "help", no_argument, NULL, 'h' },
	{ "ioaddr", required_argument, NULL, 'i' },
	{ "nbd", required_argument, NULL, 'N' },
	{ "journal", required_argument, NULL, 'j' },
	{ "log", required_argument, NULL, 'l' },
	{ "nosync", no_argument, NULL, 'n' },
	{ "stdout", no_argument, NULL, 'o' },
	{ "port", required_argument, NULL, 'p' },
	{ "pidfile", required_argument, NULL, 'P' },
	{ "version", no_argument, NULL, 'v' },
	{ "vnodes", required_argument, NULL, 'V' },
	{ "wq-threads", required_argument, NULL, 'w' },
	{ "myaddr", required_argument, NULL, 'y' },
	{ "zone", required_argument, NULL, 'z' },
	{ "recovery", required_argument, NULL, 'R' },
	{ NULL, 0, NULL, 0 },
};

static void usage(int status) __attribute__((noreturn));
static void usage(int status)
{
	FILE *f = status ? stderr : stdout;

	fprintf(f,
		"Usage: sheep [OPTION]... [PATH]\n"
		"Sheepdog daemon: stores objects in PATH (default /tmp) and serves the\n"
		"Sheepdog protocol.  Run as 'dog' (or 'sheep dog ...') for the admin CLI.\n\n"
		"Options:\n"
		"  -b, --bindaddr IP       listen on IP only (default: all addresses)\n"
		"  -c, --cluster DRIVER    corosync[:ID] (the default), local[:DIR] (default DIR\n"
		"                          /tmp/sheep-local) or\n"
		"                          zookeeper:HOST:PORT[,HOST:PORT...][,timeout=10s]\n"
		"  -d, --debug             log level debug (older Sheepdog's switch)\n"
		"  -D, --directio          accepted for Sheepdog's scripts: writes of 1 MiB and\n"
		"                          more always bypass the page cache (O_DIRECT)\n"
		"  -f, --foreground        do not daemonize\n"
		"  -g, --gateway           gateway only: store nothing (0 vnodes)\n"
		"  -h, --help              this help\n"
		"  -i, --ioaddr host=IP[,port=N]  dedicated IO NIC address\n"
		"  -N, --nbd [ADDR:]PORT   export the VDIs over NBD (docs/NBD.md)\n"
		"  -j, --journal size=N[,dir=D][,skip]  write journal of N MiB (or 256M, 1G)\n"
		"                          in D (default: the store); skip: VDI objects only\n"
		"  -l, --log level=L[,dir=D][,dst=stdout]  log level: emerg alert crit err\n"
		"                          warning notice info debug (or 0-7); default info\n"
		"  -n, --nosync            do not fdatasync writes (benchmarks only: unsafe)\n"
		"  -o, --stdout            log to standard output\n"
		"  -p, --port N            TCP port (default %d)\n"
		"  -P, --pidfile FILE      write the pid to FILE\n"
		"  -R, --recovery max=N,interval=MS  recover at most N objects per MS ms\n"
		"  -v, --version           print the version and the cluster drivers\n"
		"  -V, --vnodes N          this node's vnodes (1-65535) in a cluster formatted\n"
		"                          with -V (default %d); else %d x its space / the\n"
		"                          nodes' average space\n"
		"  -w, --wq-threads N      worker threads for disk IO (default %d)\n"
		"  -y, --myaddr IP         address advertised to other sheep\n"
		"  -z, --zone N            zone id (failure domain; default from the address)\n",
		SD_LISTEN_PORT, SD_DEFAULT_VNODES, SD_DEFAULT_VNODES, DEFAULT_WORKERS);
	exit(status);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* after daemonizing, the launcher waiting for us prints it */
	if (daemon_ready_fd() >= 0)
		sheep_startup_failed(msg);
	else
		fprintf(stderr, "sheep: %s\n", msg);
	daemon_remove_pidfile();
	exit(1);
}

/* a bad option value: Sheepdog's words, no prefix, exit 1 */
static void bad_option(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bad_option(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void check_exit(void)
{
	if (sys->exiting && work_outstanding() == 0)
		event_loop_stop();
}

static void signal_handler(int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)data;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			sd_notice("signal %u: stopping", si.ssi_signo);
			sheep_request_exit();
		}
	}
}

static int init_signals(void)
{
	sigset_t mask;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	/* past a file size limit a write fails with EFBIG, like a full disk; no kill */
	signal(SIGXFSZ, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	return register_event(fd, signal_handler, NULL);
}

/*
 * -i given: a host is needed, the port defaults to the main one (the
 * guide's `-i host=IP`), and an IO address equal to the cluster address is
 * no second path.
 */
static void check_ioaddr(struct node_id *nid, bool given)
{
	static const uint8_t zero[16];

	if (!given)
		return;
	if (!memcmp(nid->io_addr, zero, 16))
		die("--ioaddr needs host=IP (an address of this host's IO NIC)");
	if (!nid->io_port)
		nid->io_port = nid->port;
	if (!memcmp(nid->io_addr, nid->addr, 16) && nid->io_port == nid->port) {
		sd_warn("the IO address is the cluster address: no separate IO path");
		memset(nid->io_addr, 0, 16);
		nid->io_port = 0;
	}
}

/*
 * The IO address's listener.  A main listener on every address already
 * takes the IO address at the main port (a second bind there would fail
 * with "Address already in use"); the address must still be this host's.
 */
static void listen_io(const char *bindaddr, int port, const struct node_id *nid)
{
	bool all = !bindaddr || !strcmp(bindaddr, "0.0.0.0") || !strcmp(bindaddr, "::");
	char a[64];
	int ret;

	if (!nid->io_port)
		return;
	addr_to_str(nid->io_addr, a, sizeof(a));
	if (all && nid->io_port == port)
		ret = addr_is_local(nid->io_addr);
	else
		ret = create_listen_ports(a, nid->io_port, NULL);
	if (ret == -EADDRNOTAVAIL)
		die("IO address %s: not an address of this host", a);
	if (ret)
		die("cannot listen on the IO address %s:%u: %s", a, nid->io_port, strerror(-ret));
}

/* "host=IP[,port=N]" */
static void parse_ioaddr(const char *arg, struct node_id *nid)
{
	char s[512], *tok, *save = NULL;

	snprintf(s, sizeof(s), "%s", arg);
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (!strncmp(tok, "host=", 5)) {
			if (str_to_addr(tok + 5, nid->io_addr))
				die("invalid IO address '%s'", tok + 5);
		} else if (!strncmp(tok, "port=", 5)) {
			if (parse_uint(tok + 5, 65535, &v) || !v)
				die("invalid IO port '%s'", tok + 5);
			nid->io_port = (uint16_t)v;
		} else {
			die("invalid --ioaddr option '%s' (want host=IP[,port=N])", tok);
		}
	}
}

/* "max=N,interval=MS": recover at most N objects per MS milliseconds */
/*
 * Neither -y nor one bind address names this node: its cluster driver says
 * (local: 127.0.0.1; zookeeper: the first address of an interface that is up
 * and not loopback, as Sheepdog's, so the guide's `sheep /store -c
 * zookeeper:...` line works across machines).  Non-zero: no answer.
 */
static int default_addr(const char *cluster, uint8_t addr[16])
{
	char name[64];
	const struct cluster_driver *drv;

	snprintf(name, sizeof(name), "%.*s", (int)strcspn(cluster, ":"), cluster);
	drv = cdrv_find(name);
	return !drv || !drv->get_local_addr || drv->get_local_addr(addr);
}

static void parse_recovery(const char *arg, int *max, int *ms)
{
	char s[256], *tok, *save = NULL;

	snprintf(s, sizeof(s), "%s", arg);
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (!strncmp(tok, "max=", 4) && !parse_uint(tok + 4, 1000000, &v) && v)
			*max = (int)v;
		else if (!strncmp(tok, "interval=", 9) && !parse_uint(tok + 9, 3600000, &v) && v)
			*ms = (int)v;
		else
			die("invalid --recovery option '%s' (want max=N,interval=MS, both > 0)",
			    tok);
	}
	if (!*max || !*ms)
		die("--recovery needs both max=N and interval=MS");
}

/*
 * "size=N[,dir=D][,skip]": N in MiB as Sheepdog took it, or with a suffix
 * (256M, 1G); 0 turns the journal off.
 */
static void parse_journal(const char *arg)
{
	char s[1100], *tok, *save = NULL;
	bool have_size = false;

	snprintf(s, sizeof(s), "%s", arg);
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (!strncmp(tok, "size=", 5)) {
			const char *n = tok + 5;
			bool bare = *n && strspn(n, "0123456789") == strlen(n);

			if (bare ? parse_uint(n, JOURNAL_MAX_SIZE >> 20, &v) : parse_size(n, &v))
				die("invalid journal size '%s'", n);
			if (bare)
				v <<= 20;
			if (v && (v < JOURNAL_MIN_SIZE || v > JOURNAL_MAX_SIZE))
				die("invalid journal size '%s' (1M-64G, or 0 for none)", n);
			store_journal.size = v / 4096 * 4096;
			have_size = true;
		} else if (!strncmp(tok, "dir=", 4) && tok[4]) {
			if (strlen(tok + 4) >= sizeof(store_journal.dir) - 16)
				die("journal directory name too long");
			snprintf(store_journal.dir, sizeof(store_journal.dir), "%s", tok + 4);
		} else if (!strcmp(tok, "skip")) {
			store_journal.skip = true;
		} else {
			die("invalid --journal option '%s' (want size=N[,dir=D][,skip])", tok);
		}
	}
	if (!have_size)
		die("--journal needs size=N");
}

/* "level=L[,dir=D][,dst=stdout]"; a bare level is accepted too */
static void parse_log(const char *arg, int *level, char *dir, size_t dirlen, bool *to_stdout)
{
	char s[512], *tok, *save = NULL;

	snprintf(s, sizeof(s), "%s", arg);
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const char *v = strchr(tok, '=') ? strchr(tok, '=') + 1 : tok;

		if (!strncmp(tok, "level=", 6) || !strchr(tok, '=')) {
			*level = log_parse_level(v);
			if (*level < 0)
				die("invalid log level '%s'", v);
		} else if (!strncmp(tok, "dir=", 4)) {
			snprintf(dir, dirlen, "%s", v);
		} else if (!strncmp(tok, "dst=", 4)) {
			if (!strcmp(v, "stdout"))
				*to_stdout = true;
			else if (strcmp(v, "default"))
				die("unsupported log destination '%s'", v);
		} else if (!strncmp(tok, "format=", 7)) {
			continue;
		} else {
			die("invalid --log option '%s'", tok);
		}
	}
}

/* mkdir -p dir; its absolute path into out (may be dir itself); what: for messages */
static void make_dir(const char *dir, const char *what, char *out, size_t len)
{
	char abs[PATH_MAX];
	int ret = mkdir_p(dir, 0755);

	if (ret)
		die("cannot create %s%s: %s", what, dir, strerror(-ret));
	if (!realpath(dir, abs))
		die("cannot resolve %s%s: %s", what, dir, strerror(errno));
	if (strlen(abs) >= len)
		die("%s%s: path too long", what, abs);
	snprintf(out, len, "%s", abs);
}

/*
 * The space this node weighs with (auto vnodes): the free space of its
 * store when it first started, kept in the config as Sheepdog keeps it, so a
 * restart weighs the same; dog cluster reweight measures it again.
 */
static uint64_t node_space(void)
{
	struct store_config cfg;
	uint64_t size, avail;
	int ret = store_read_config(&cfg);

	if (ret == 0 && cfg.space)
		return cfg.space;
	if (store_stat(&size, &avail))
		return 0;
	if (ret) {	/* an unreadable config is reported where it is used, never rewritten */
		sd_err("cannot read the config to keep the node's space: %s", strerror(-ret));
		return avail;
	}
	cfg.space = avail;
	if (store_write_config(&cfg))
		sd_err("cannot keep the node's space in the config: %m");
	return avail;
}

static int store_lock_fd = -1;

static void lock_store_dir(const char *dir)
{
	char path[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		die("cannot open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		die("another sheep is already using %s", dir);
	store_lock_fd = fd;
}

/* fork; the parent waits until the child reports it joined, then exits */
static void daemonize(void)
{
	int pfd[2];
	pid_t pid;
	char msg[512];
	ssize_t n;

	if (pipe(pfd) < 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid > 0) {
		/* the lock is the daemon's alone, or a restart could not retake it */
		close(store_lock_fd);
		close(pfd[1]);
		/* _exit: the child owns everything this process allocated */
		n = read(pfd[0], msg, sizeof(msg) - 1);
		if (n >= 1 && msg[0] == 'R')
			_exit(0);
		if (n > 1 && msg[0] == 'E') {
			msg[n] = '\0';
			fprintf(stderr, "sheep: %s\n", msg + 1);
		} else {
			fprintf(stderr, "sheep: failed to start; see the log in the store directory\n");
		}
		_exit(1);
	}
	close(pfd[0]);
	daemon_set_ready_fd(pfd[1]);
	setsid();
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

static int sheep_main(int argc, char **argv)
{
	bool io_given = false;
	const char *nbd_spec = NULL;
	const char *bindaddr = NULL, *cluster = "corosync", *myaddr = NULL, *dir = "/tmp", *jdir;
	bool foreground = false, to_stdout = false, gateway = false, zone_set = false;
	int port = SD_LISTEN_PORT, level = SDLOG_INFO, workers = DEFAULT_WORKERS, ret, logfd;
	int rec_max = 0, rec_ms = 0;
	uint64_t v, vnodes = 0, zone = 0;	/* vnodes 0: auto, by free space */
	char logdir[PATH_MAX] = "", logpath[PATH_MAX + 16], abspath[PATH_MAX], piddir[PATH_MAX];
	char pidarg[PATH_MAX], pidpath[PATH_MAX * 2];
	struct node_id *nid = &sys->this_node.nid;
	int opt;

#ifdef M_MMAP_THRESHOLD
	/*
	 * Keep the 4 MiB request buffers in the heap: with glibc's default they
	 * are mmap'd and unmapped per request, paying page faults and zeroing
	 * for every 4 KiB page of every request (sheep CPU per GiB written with
	 * 3 copies: 3.77 -> 2.78 s in one A/B).  musl has no such knob: the
	 * request buffers are pooled (request.c); this covers the rest.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
	while ((opt = getopt_long(argc, argv, "b:c:dDfghi:j:l:N:noP:p:R:vV:w:y:z:", long_options,
				  NULL)) != -1) {
		switch (opt) {
		case 'b':
			bindaddr = optarg;
			break;
		case 'c':
			cluster = optarg;
			break;
		case 'd':
			level = SDLOG_DEBUG;
			break;
		case 'D':
			break;	/* Sheepdog's O_DIRECT switch: big writes always are (store.c) */
		case 'f':
			foreground = true;
			break;
		case 'g':
			gateway = true;
			break;
		case 'h':
			usage(0);
		case 'N':
			nbd_spec = optarg;
			break;
		case 'i':
			parse_ioaddr(optarg, nid);
			io_given = true;
			break;
		case 'j':
			parse_journal(optarg);
			break;
		case 'l':
			parse_log(optarg, &level, logdir, sizeof(logdir), &to_stdout);
			break;
		case 'n':
			store_nosync = true;
			break;
		case 'o':
			to_stdout = true;
			break;
		case 'p':
			if (parse_uint(optarg, 65535, &v) || !v)
				bad_option("Invalid port number '%s'", optarg);
			port = (int)v;
			break;
		case 'P':
			snprintf(pidarg, sizeof(pidarg), "%s", optarg);
			if (!realpath(dirname(pidarg), piddir))
				die("invalid pidfile path '%s'", optarg);
			snprintf(pidarg, sizeof(pidarg), "%s", optarg);
			snprintf(pidpath, sizeof(pidpath), "%s/%s", piddir, basename(pidarg));
			daemon_set_pidfile(pidpath);
			break;
		case 'R':
			parse_recovery(optarg, &rec_max, &rec_ms);
			break;
		case 'v': {
			char names[256];

			printf("Sheepdog daemon version %s\nCluster drivers: %s\n", SHEEP_VERSION,
			       cdrv_names(names, sizeof(names)));
			exit(0);
		}
		case 'V':
			if (parse_uint(optarg, 65535, &vnodes) || !vnodes)
				bad_option("Invalid number of vnodes '%s': must be an integer between "
					   "1 and 65535", optarg);
			break;
		case 'w':
			if (!strncmp(optarg, "io=", 3))
				optarg += 3;
			if (parse_uint(optarg, 256, &v) || !v)
				die("invalid number of worker threads '%s' (1-256)", optarg);
			workers = (int)v;
			break;
		case 'y':
			myaddr = optarg;
			break;
		case 'z':
			if (parse_uint(optarg, UINT32_MAX, &zone))
				bad_option("Invalid zone id '%s': must be an integer between 0 and "
					   "%" PRIu32, optarg, UINT32_MAX);
			zone_set = true;
			break;
		default:
			usage(64);
		}
	}
	if (optind < argc)
		dir = argv[optind++];
	if (optind < argc)
		die("unexpected argument '%s'", argv[optind]);
	if (gateway && vnodes)
		bad_option("Options '-g' and '-V' can not be both specified");

	make_dir(dir, "", abspath, sizeof(abspath));
	dir = abspath;
	if (store_journal.dir[0])
		make_dir(store_journal.dir, "the journal directory ", store_journal.dir,
			 sizeof(store_journal.dir));

	/* identity */
	if (myaddr) {
		if (str_to_addr(myaddr, nid->addr))
			die("invalid address '%s' for --myaddr", myaddr);
	} else if (bindaddr && strcmp(bindaddr, "0.0.0.0") && strcmp(bindaddr, "::")) {
		if (str_to_addr(bindaddr, nid->addr))
			die("invalid bind address '%s'", bindaddr);
	} else if (default_addr(cluster, nid->addr)) {
		str_to_addr("127.0.0.1", nid->addr);
	}
	nid->port = (uint16_t)port;
	check_ioaddr(nid, io_given);
	if (!zone_set)
		memcpy(&zone, nid->addr + 12, 4);	/* the reference's default */
	sys->this_node.zone = (uint32_t)zone;

	lock_store_dir(dir);
	daemon_set_argv(argv);
	/* a restart (sheep_restart) is already detached: stay this process */
	if (getenv("SHEEP_REEXEC")) {
		const char *fd = getenv("SHEEP_READY_FD");

		if (fd)
			daemon_set_ready_fd(atoi(fd));
		/* exec'd through /proc/self/exe: be "sheep" again in ps, not "exe" */
		prctl(PR_SET_NAME, "sheep", 0, 0, 0);
		unsetenv("SHEEP_REEXEC");
		unsetenv("SHEEP_READY_FD");
	} else if (!foreground) {
		daemonize();
	}
	/* now, not only once joined: whoever started us can always stop us */
	daemon_write_pidfile();

	if (to_stdout) {
		logfd = dup(1);
	} else {
		snprintf(logpath, sizeof(logpath), "%s/sheep.log", logdir[0] ? logdir : dir);
		logfd = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (logfd < 0)
			die("cannot open log %s: %s", logpath, strerror(errno));
	}
	log_init("sheep", logfd, level);
	sd_notice("sheep %s starting: store %s, port %d, cluster driver %s", SHEEP_VERSION, dir,
		  port, cluster);

	if (gateway)
		store_journal.size = 0;	/* nothing to journal */
	ret = store_init(dir);
	jdir = store_journal.dir[0] ? store_journal.dir : dir;
	if (ret == -EBUSY)
		die("the journal in %s is in use by another sheep", jdir);
	if (ret == -EEXIST)
		die("the journal in %s holds writes of another store (see the log)", jdir);
	if (ret)
		die("cannot initialize the store in %s: %s", dir, strerror(-ret));
	sys->this_node.nr_vnodes = gateway ? 0 : vnodes ? (uint16_t)vnodes : SD_DEFAULT_VNODES;
	sys->vnodes_fixed = vnodes;
	if (!gateway)
		sys->this_node.space = node_space();
	sd_debug("this node: %u vnodes%s, zone %" PRIu32 ", space %" PRIu64 " bytes",
		 sys->this_node.nr_vnodes, vnodes ? " (-V)" : "", sys->this_node.zone,
		 sys->this_node.space);
	if (event_init() < 0 || init_signals() < 0)
		die("cannot set up the event loop: %s", strerror(errno));
	ret = work_init(workers);
	if (ret)
		die("cannot start worker threads: %s", strerror(-ret));
	ret = recovery_init();
	if (ret)
		die("cannot start recovery: %s", strerror(-ret));
	recovery_set_throttle(rec_max, rec_ms);
	vdi_init();
	ret = vdi_load_local();
	if (ret)
		die("cannot scan the local objects: %s", strerror(-ret));

	snprintf(sock_path, sizeof(sock_path), "%s/sock", dir);
	if (strlen(sock_path) >= 108) {
		sd_warn("store path too long for a unix socket; serving TCP only");
		sock_path[0] = '\0';
	}
	ret = create_listen_ports(bindaddr, port, sock_path[0] ? sock_path : NULL);
	if (ret)
		die("cannot listen on port %d: %s", port, strerror(-ret));
	listen_io(bindaddr, port, nid);
	if (nbd_spec) {
		ret = nbd_listen(nbd_spec);
		if (ret)
			die("cannot serve NBD on '%s': %s", nbd_spec,
			    ret == -EINVAL ? "want [ADDR:]PORT" : strerror(-ret));
	}

	ret = group_init(cluster);
	if (ret) {
		char names[256];

		if (ret == -ENOENT)
			die("cannot start the cluster driver '%s': no such driver (built in: %s)",
			    cluster, cdrv_names(names, sizeof(names)));
		if (cdrv_error()[0])
			die("cannot start the cluster driver '%s': %s", cluster, cdrv_error());
		die("cannot start the cluster driver '%s': %s (see %s)", cluster,
		    ret == -ETIMEDOUT ? "no server answered" :
		    ret == -EINVAL ? "invalid driver options" : strerror(-ret),
		    to_stdout ? "the log" : logpath);
	}
	event_set_post_hook(check_exit);

	if (!foreground && !to_stdout)
		detach_stdio();
	event_loop();

	sd_notice("sheep stopping");
	sys->cdrv->leave();
	if (sock_path[0])
		unlink(sock_path);
	daemon_remove_pidfile();
	return sys->status == SD_STATUS_KILLED && !sys->joined ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	if (!strcmp(prog, "dog") || !strcmp(prog, "collie"))
		return dog_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "dog"))
		return dog_main(argc - 1, argv + 1);
	return sheep_main(argc, argv);
}
