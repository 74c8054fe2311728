# sheep: one binary, the daemon and (as `dog`) the admin CLI.
#   make            build ./sheep and the ./dog link
#   make test       unit + cluster tests; ends with "N passed, N failed"
#   make asan       build ./sheep with AddressSanitizer + UBSan
#   make fuzz       build and run the request-parser fuzzer for 60 s
#   make check      cppcheck over the sources
#   make test-scale the scale rig: SCALE_N="100 200" sheep at once on ZooKeeper (bench/scale.sh)

CC      ?= gcc
CFLAGS  ?= -O2 -g
SAN     ?=
ALL_CFLAGS = -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -pthread $(CFLAGS) $(SAN)
# the ZooKeeper client is linked in statically (Debian ships the .a)
ZK_LIBS  = -Wl,-Bstatic -lzookeeper_mt -Wl,-Bdynamic
# corosync's client libraries (CPG, quorum, cfg) from Debian, shared
COROSYNC_LIBS = -lcpg -lquorum -lcfg
ALL_LDFLAGS = -pthread $(LDFLAGS) $(SAN) $(ZK_LIBS) $(COROSYNC_LIBS)

# cluster drivers linked into the binary: each registers itself
DRIVERS  = cluster_local.o cluster_zookeeper.o cluster_corosync.o cluster_accord.o
CORE     = util.o oidset.o journal.o event.o work.o net.o store.o request.o ops.o group.o cluster.o recovery.o evlog.o \
           vdi.o gateway.o ring.o sha1.o inode_index.o daemon.o
CORE    += objlock.o peer.o wtag.o nbd.o vdi_io.o
CORE    += vdi_alter.o
DOG      = dog.o dog_vdi.o dog_cluster.o dog_bench.o dog_farm.o dog_inode.o dog_check.o dog_backup.o
DOG     += dog_vdi_admin.o
OBJS     = sheep.o $(CORE) $(DRIVERS) $(DOG)
HDRS     = $(wildcard *.h)

UNIT_TESTS = tests/unit/test_proto tests/unit/test_util tests/unit/test_store tests/unit/test_journal \
             tests/unit/test_ring tests/unit/test_inode_index
UNIT_TESTS += tests/unit/test_sha1 tests/unit/test_wtag

all: sheep dog

sheep: $(OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $(OBJS) $(ALL_LDFLAGS)

dog: sheep
	ln -sf sheep dog

%.o: %.c $(HDRS)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# the ZooKeeper C client declares its synchronous API only with THREADED
cluster_zookeeper.o: cluster_zookeeper.c $(HDRS)
	$(CC) $(ALL_CFLAGS) -DTHREADED -c -o $@ $<

tests/unit/test_%: tests/unit/test_%.c $(CORE) $(DRIVERS) $(HDRS) tests/unit/unit.h
	$(CC) $(ALL_CFLAGS) -I. -o $@ $< $(CORE) $(DRIVERS) $(ALL_LDFLAGS)

unit: $(UNIT_TESTS)

test: all unit
	bash tests/run.sh

# one static binary (musl) with both drivers; test-static runs the suite on it.
# libzookeeper_mt.a comes from Debian (glibc-built): musl_shim.c fills in the
# four fortify symbols it calls.  Its headers are reached through a symlink,
# never -I/usr/include (that would mix glibc headers into a musl build).
MUSL_CC = musl-gcc
ZK_A    = $(shell $(CC) -print-file-name=libzookeeper_mt.a)
static: static/sheep
# the corosync client libraries (libcpg, libquorum, libcfg, libqb): Debian has no static or musl
# ones, so musl-corosync.sh builds them from Debian's source packages into static-cache (kept by
# make clean, like image/cache); their headers are reached through symlinks in static/inc too
MUSL_CS      = static-cache
MUSL_CS_LIBS = -L$(MUSL_CS)/lib -lcpg -lquorum -lcfg -lcorosync_common -lqb
$(MUSL_CS)/.done: musl-corosync.sh
	MUSL_CC=$(MUSL_CC) bash musl-corosync.sh $(MUSL_CS)

static/sheep: $(patsubst %.o,%.c,$(OBJS)) musl_shim.c $(HDRS) $(MUSL_CS)/.done
	mkdir -p static/inc
	ln -sfn /usr/include/zookeeper static/inc/zookeeper
	ln -sfn $(CURDIR)/$(MUSL_CS)/include/qb static/inc/qb
	ln -sfn $(CURDIR)/$(MUSL_CS)/include/corosync static/inc/corosync
	$(MUSL_CC) -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -DTHREADED -O2 -pthread -static \
		-Istatic/inc -o $@ $(patsubst %.o,%.c,$(OBJS)) musl_shim.c $(ZK_A) $(MUSL_CS_LIBS)
	strip $@
	ln -sf sheep static/dog
	@ls -l $@

test-static: static unit
	SHEEP=$(CURDIR)/static/sheep DOG=$(CURDIR)/static/dog bash tests/run.sh

# the appliance: PXE pair, TFTP root and hybrid ISO under image/out (no root)
image: image/out/sheep.iso

image/out/sheep.iso: static/sheep image/init image/build.sh
	bash image/build.sh static/sheep

# throughput, IOPS, latency, RSS and CPU against this machine's disk and loopback
bench: all static
	bash bench/run.sh

# the scale rig (issue 19; not in make test): N sheep started at once on one ZooKeeper and on a
# 3-server ensemble, N from SCALE_N (default "100 200 500 1000", as memory allows); prints a table
test-scale: all
	bash bench/scale.sh

# the long suite: 20 kill -9/restart rounds in the recovery test; corosync rings of 5-20 nodes
test-long: all unit
	RECOVERY_ROUNDS=20 SHEEP_TEST_LONG=1 bash tests/run.sh

# sanitizers: a separate build tree so objects never mix
asan:
	$(MAKE) clean
	$(MAKE) CFLAGS="-O1 -g" SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" \
		all unit

FUZZ_CC = clang
fuzz/fuzz_request: tests/fuzz/fuzz_request.c $(HDRS)
	mkdir -p fuzz
	$(FUZZ_CC) -g -O1 -std=gnu11 -D_GNU_SOURCE -DTHREADED -fsanitize=fuzzer,address,undefined -I. \
		-o $@ tests/fuzz/fuzz_request.c $(patsubst %.o,%.c,$(CORE) $(DRIVERS)) \
		-pthread -lzookeeper_mt $(COROSYNC_LIBS)

fuzz: fuzz/fuzz_request
	mkdir -p fuzz/corpus
	./fuzz/fuzz_request -max_total_time=$${FUZZ_SECONDS:-60} -max_len=4096 fuzz/corpus

check:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=missingIncludeSystem -D_GNU_SOURCE -D__BYTE_ORDER__=1234 \
		-D__ORDER_LITTLE_ENDIAN__=1234 --std=c11 *.c tests/unit/*.c

clean:
	rm -rf sheep dog *.o $(UNIT_TESTS) fuzz/fuzz_request static image/out

# also the downloaded Debian packages the image is made of
distclean: clean
	rm -rf image/cache
	rm -rf static-cache

.PHONY: bench distclean image static test-static test-long all unit test asan fuzz check clean
.PHONY: test-scale
