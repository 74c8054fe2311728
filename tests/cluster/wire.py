#!/usr/bin/env python3
"""Wire-level checks against a running, formatted sheep: header layout,
pipelining, version checks, result codes, and garbage that must neither crash
nor hang the daemon.  Usage: wire.py PORT STORE_DIR.  Prints PASS:/FAIL: lines."""
import os
import random
import socket
import struct
import sys
import time

PORT = int(sys.argv[1])
STORE = sys.argv[2]
FAILED = 0

REQ = struct.Struct("<BBHIII32s")
RSP = struct.Struct("<BBHIII32s")


def report(ok, desc):
    global FAILED
    print(("PASS" if ok else "FAIL") + ": wire: " + desc, flush=True)
    if not ok:
        FAILED += 1


def conn(unix=False):
    if unix:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(os.path.join(STORE, "sock"))
    else:
        s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    s.settimeout(10)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def obj_body(oid, offset=0, cow=0, copies=0):
    return struct.pack("<QQBBBBIII", oid, cow, copies, 0, 0, 0, 0, offset, 0)


def vdi_body(size=0, base=0, copies=0, snapid=0, typ=0):
    return struct.pack("<QIBBBBII8x", size, base, copies, 0, 0, 0, snapid, typ)


def send_req(s, opcode, body=b"\0" * 32, flags=0, data=b"", dlen=None, ver=2, rid=1):
    if dlen is None:
        dlen = len(data)
    s.sendall(REQ.pack(ver, opcode, flags, 0, rid, dlen, body) + data)


def read_rsp(s):
    ver, op, flags, epoch, rid, dlen, body = RSP.unpack(recv_exact(s, 48))
    data = recv_exact(s, dlen) if dlen else b""
    result = struct.unpack_from("<I", body, 0)[0]
    return {"op": op, "epoch": epoch, "id": rid, "dlen": dlen, "body": body,
            "result": result, "data": data}


def call(opcode, body=b"\0" * 32, flags=0, data=b"", dlen=None, ver=2, rid=7, s=None):
    own = s is None
    if own:
        s = conn()
    send_req(s, opcode, body, flags, data, dlen, ver, rid)
    r = read_rsp(s)
    if own:
        s.close()
    return r


def alive():
    try:
        return call(0x18)["result"] == 0
    except OSError:
        return False


def name_buf(name, tag=""):
    return name.encode().ljust(256, b"\0") + (tag.encode().ljust(256, b"\0") if tag else b"")


# --- headers and simple ops ---
r = call(0x18, rid=0xdeadbeef)
report(r["result"] == 0 and r["id"] == 0xdeadbeef and r["op"] == 0x18,
       "GET_CLUSTER_DEFAULT answers with echoed id and opcode")
report(r["body"][4] == 1 and r["body"][6] == 22, "cluster default copies 1, block shift 22")
report(r["epoch"] >= 1, "response carries the cluster epoch")

r = call(0x82, dlen=80 * 16, ver=2)
report(r["result"] == 0x14, "internal op with client version gets VER_MISMATCH")
r = call(0x82, dlen=80 * 16, ver=0x0a)
report(r["result"] == 0 and r["dlen"] == 80, "GET_NODE_LIST returns one 80-byte node")
if r["dlen"] == 80:
    nid = r["data"][24:64]
    report(nid[:12] == b"\0" * 12 and nid[12:16] == bytes([127, 0, 0, 1]),
           "node address is 12 zero bytes + IPv4")
    report(struct.unpack_from("<H", nid, 16)[0] == PORT, "node port little-endian")

r = call(0x02, obj_body(1 << 63 | 0x7c2b25 << 32), ver=3, dlen=16)
report(r["result"] == 0x14, "client op with proto_ver 3 gets VER_MISMATCH")
for v in (0, 1, 2):
    report(call(0x18, ver=v)["result"] == 0, "client op with proto_ver %d accepted" % v)
report(call(0x16, obj_body(1 << 63 | 0x7c2b25 << 32))["result"] == 0x05,
       "FLUSH_VDI answers INVALID_PARMS (clients fall back to direct mode)")
report(call(0x7f)["result"] == 0x05, "unknown opcode answers INVALID_PARMS")

# --- the reference's internal opcodes (ops.c): served, or NO_SUPPORT ---
def icall(opcode, body=b"\0" * 32, flags=0, data=b"", dlen=None):
    return call(opcode, body, flags, data, dlen, ver=0x0a)


r = icall(0x90, dlen=512)
report(r["result"] == 0 and r["data"].rstrip(b"\0") == b"tree plain ",
       "GET_STORE_LIST: the stores as Sheepdog's sheep lists them")
def cluster_body(copies=0, policy=0, nodes_nr=0):
    return struct.pack("<QQBBHII4x", 0, 0, copies, policy, 0, 0, nodes_nr)


r = icall(0x87, dlen=48)     # Sheepdog's cluster alter-copy: one entry, no room for nodes
report(r["result"] == 0 and r["dlen"] == 48 and r["data"][32:38] == b"plain\0" and
       r["data"][25] == 1 and struct.unpack_from("<I", r["data"], 20)[0] == 0,
       "STAT_CLUSTER without room for nodes: one entry naming the store, copies 1")
r = icall(0x87, cluster_body(nodes_nr=4), dlen=10 * (48 + 4 * 80))
log1 = r["data"][:48 + 4 * 80]
report(r["result"] == 0 and r["dlen"] % (48 + 4 * 80) == 0 and r["dlen"] > 0 and
       struct.unpack_from("<I", log1, 20)[0] == 1 and
       struct.unpack_from("<H", log1, 48 + 40)[0] == PORT,
       "STAT_CLUSTER with room for 4 nodes: entries of 48 + 4 x 80 bytes, the node inside")

r = icall(0xBE, dlen=48 + 6144 * 80)    # what Sheepdog's dog asks
ci = r["data"]
report(r["result"] == 0 and r["dlen"] == 48 + 80 and ci[0] == 0x0a and
       struct.unpack_from("<h", ci, 2)[0] == 1 and struct.unpack_from("<I", ci, 4)[0] >= 1,
       "CLUSTER_INFO: proto_ver, one node, the epoch (%d bytes)" % r["dlen"])
if len(ci) >= 128:
    report(struct.unpack_from("<Q", ci, 8)[0] != 0 and ci[18] == 1 and ci[20] == 1 and
           ci[21] == 22 and ci[25:31] == b"plain\0",
           "CLUSTER_INFO: ctime, copies 1, status OK, block shift 22, store plain")
    report(struct.unpack_from("<H", ci, 16)[0] & 0x4,
           "CLUSTER_INFO: auto vnodes flag on a sheep without -V (Sheepdog's format needs it)")
    report(ci[48 + 24 + 12:48 + 24 + 16] == bytes([127, 0, 0, 1]) and
           struct.unpack_from("<H", ci, 48 + 24 + 16)[0] == PORT,
           "CLUSTER_INFO: the node list follows the header")
report(icall(0xBE, dlen=16)["result"] == 0x88, "CLUSTER_INFO into 16 bytes -> BUFFER_SMALL")

r = icall(0x97, dlen=24)
report(r["result"] == 0 and r["dlen"] == 24 and r["data"][0] == 0,
       "STAT_RECOVERY with Sheepdog's 24-byte buffer: 24 bytes, not recovering")

r = icall(0xCA, dlen=24)
def throttling(data):
    t = struct.unpack("<IIQB7x", data)
    return (t[0], t[2], t[3])


report(r["result"] == 0 and r["dlen"] == 24 and throttling(r["data"]) == (0, 0, 0),
       "GET_RECOVERY: no throttling")
r = icall(0xCB, flags=1, data=struct.pack("<IIQB7x", 5, 0, 250, 1))
r2 = icall(0xCA, dlen=24)
report(r["result"] == 0 and throttling(r2["data"]) == (5, 250, 1),
       "SET_RECOVERY 5 per 250 ms, GET_RECOVERY reads it back")
icall(0xCB, flags=1, data=struct.pack("<IIQB7x", 0, 0, 0, 0))
report(throttling(icall(0xCA, dlen=24)["data"]) == (0, 0, 0),
       "SET_RECOVERY 0 0 switches throttling off")
report(icall(0xCB)["result"] == 0x05, "SET_RECOVERY without its payload -> INVALID_PARMS")

r = icall(0xB1, dlen=64 * 4120 + 8)
md = r["data"]
report(r["result"] == 0 and r["dlen"] == 263688 and
       struct.unpack_from("<i", md, 64 * 4120)[0] == 1,
       "MD_INFO: Sheepdog's sd_md_info with one disk")
if len(md) == 263688:
    path = md[24:4120].split(b"\0")[0].decode()
    free, used = struct.unpack_from("<QQ", md, 8)
    report(path == os.path.join(STORE, "obj") and free > 0 and used > 0,
           "MD_INFO disk 0: %s, %d free, %d used" % (path, free, used))
report(icall(0xB1, dlen=4096)["result"] == 0x88, "MD_INFO into 4 KiB -> BUFFER_SMALL")

missing = 0x7c2b25 << 32 | 0x7777
r = icall(0xC6, flags=0x11, data=struct.pack("<QQ", 1 << 63 | 0x7c2b25 << 32, missing))
report(r["result"] == 0x02 and r["data"] == struct.pack("<Q", missing),
       "OIDS_EXIST: NO_OBJ with just the missing oid")
r = icall(0xC6, flags=0x11, data=struct.pack("<Q", 1 << 63 | 0x7c2b25 << 32))
report(r["result"] == 0 and r["dlen"] == 0, "OIDS_EXIST of a stored object: SUCCESS")

import hashlib
full = call(0x02, obj_body(1 << 63 | 0x7c2b25 << 32), dlen=12587576)["data"]
r = icall(0xB4, obj_body(1 << 63 | 0x7c2b25 << 32))
report(r["result"] == 0 and len(full) == 12587576 and
       r["body"][8:28] == hashlib.sha1(full).digest(),
       "GET_HASH of the inode: SHA-1 of the whole object (rsp bytes 24..43)")
report(icall(0xB4, obj_body(missing))["result"] == 0x02, "GET_HASH of a missing object: NO_OBJ")

r = icall(0xAB, dlen=512 * 1428)
states = [r["data"][i:i + 1428] for i in range(0, r["dlen"], 1428)]
mine = [v for v in states if struct.unpack_from("<I", v, 0)[0] == 0x7c2b25]
report(r["result"] == 0 and r["dlen"] % 1428 == 0 and len(mine) == 1 and mine[0][4] == 1 and
       mine[0][5] == 0 and mine[0][8] == 22 and struct.unpack_from("<I", mine[0], 16)[0] == 1,
       "GET_VDI_COPIES: test has 1 copy, not a snapshot, block shift 22, unlocked")
report(icall(0xAB, dlen=100)["result"] == 0x88, "GET_VDI_COPIES into 100 bytes -> BUFFER_SMALL")

for op in (0x98, 0xB0):
    report(icall(op, obj_body(1 << 63 | 0x7c2b25 << 32))["result"] == 0,
           "op %02x (the reference's cache, gone): SUCCESS, nothing to do" % op)
report(icall(0x99, flags=1, data=struct.pack("<I", 0x7c2b25))["result"] == 0,
       "NOTIFY_VDI_DEL: SUCCESS, nothing to do")
report(icall(0x8A, dlen=4096)["result"] == 0x89,
       "FORCE_RECOVER of a running cluster -> FORCE_RECOVER (Sheepdog's refusal)")
for op in (0x94, 0x95, 0x96, 0x9B, 0x9C, 0xB2, 0xB3, 0xBB, 0xBC,
           0xC1, 0xC2, 0xC7, 0xC8):
    r = icall(op, flags=1 if op in (0xB2, 0xB3) else 0, data=b"/x\0" if op in (0xB2, 0xB3)
              else b"")
    report(r["result"] == 0x8B, "op %02x (a feature we lack) -> NO_SUPPORT" % op)
report(icall(0xC0)["result"] == 0x05, "ALTER_VDI_COPY of vid 0 -> INVALID_PARMS")
report(icall(0xAE)["result"] == 0, "FLUSH_PEER (ours, the NBD export's FLUSH): SUCCESS, lazy writes synced")
for op in (0x91, 0x92, 0x93, 0xA7, 0xAD, 0xB6, 0xB7, 0xC3, 0xC4, 0xCE, 0xFF):
    report(icall(op)["result"] == 0x05, "op %02x (no handler in the reference) -> INVALID_PARMS"
           % op)

# --- VDI lookups ---
r = call(0x14, vdi_body(), flags=1, data=name_buf("test"))
report(r["result"] == 0 and struct.unpack_from("<I", r["body"], 8)[0] == 0x7c2b25,
       "GET_VDI_INFO test -> vid 0x7c2b25")
r = call(0x14, vdi_body(), flags=1, data=name_buf("test", "notag"))
report(r["result"] == 0x0e, "GET_VDI_INFO with an unknown tag -> NO_TAG")
r = call(0x14, vdi_body(), flags=1, data=name_buf("nosuchvdi"))
report(r["result"] == 0x08, "GET_VDI_INFO of an unknown name -> NO_VDI")
r = call(0x12, vdi_body(typ=1), flags=1, data=name_buf("test"), ver=1)
report(r["result"] == 0 and struct.unpack_from("<I", r["body"], 8)[0] == 0x7c2b25,
       "LOCK_VDI (tgt style, shared, proto 1) -> vid")
r = call(0x13, vdi_body(base=0x7c2b25, typ=1), ver=0)
report(r["result"] == 0, "RELEASE_VDI with proto_ver 0 succeeds")
r = call(0x11, vdi_body(size=1 << 30), flags=1, data=name_buf("test"))
report(r["result"] == 0x04, "NEW_VDI of an existing name -> VDI_EXIST")
r = call(0x11, vdi_body(size=1 << 43), flags=1, data=name_buf("huge"))
report(r["result"] == 0x05, "NEW_VDI over 4 TiB without hyper volume -> INVALID_PARMS")
r = call(0x11, vdi_body(size=1 << 20), flags=1, data=b"")
report(r["result"] == 0x05, "NEW_VDI without a name -> INVALID_PARMS")
# erasure coding is not built: a copy policy is refused, not stored and replicated
r = call(0x11, struct.pack("<QIBBBBII8x", 1 << 30, 0, 0, 0x21, 0, 0, 0, 0), flags=1,
         data=name_buf("ec"))
report(r["result"] == 0x8B, "NEW_VDI with an erasure-code policy -> NO_SUPPORT")
r = icall(0x84, cluster_body(copies=3, policy=0x21), flags=1, data=b"plain\0")
report(r["result"] == 0x8B, "MAKE_FS with an erasure-code policy -> NO_SUPPORT")
r = call(0x14, flags=1, data=name_buf("test"))
report(r["result"] == 0, "... and the cluster was not formatted again")
r = icall(0x84, cluster_body(copies=3), flags=1, data=b"p\0")
report(r["result"] == 0x8A, "MAKE_FS with a store named by a prefix of 'plain' -> NO_STORE")
r = call(0x14, flags=1, data=name_buf("test"))
report(r["result"] == 0, "... and the cluster was not formatted then either")
# Sheepdog's dog sends SET_VNODES with 8 bytes (the size of a pointer), the value first
r = icall(0xCC, flags=1, data=struct.pack("<Q", 64))
report(r["result"] == 0x98, "SET_VNODES of 8 bytes is read (auto vnodes cluster: "
       "INVALID_VNODES_STRATEGY, not INVALID_PARMS)")

inode_oid = 1 << 63 | 0x7c2b25 << 32
r = call(0x02, obj_body(inode_oid), dlen=4664)
hdr = r["data"]
report(r["result"] == 0 and hdr[:4] == b"test" and
       struct.unpack_from("<Q", hdr, 536)[0] == 1 << 30 and hdr[555] == 22 and
       struct.unpack_from("<I", hdr, 560)[0] == 0x7c2b25,
       "inode header decodes: name, vdi_size, block_size_shift, vdi_id")
r = call(0x02, obj_body(inode_oid), dlen=4198968)
report(r["result"] == 0 and r["dlen"] == 4198968, "tgt-size inode read (header + index)")

# --- object IO ---
data_oid = 0x7c2b25 << 32 | 0x3ff
r = call(0x02, obj_body(data_oid), dlen=512)
report(r["result"] == 0x02, "READ_OBJ of a never-written object -> NO_OBJ")
r = call(0x03, obj_body(data_oid, 0), flags=1, data=b"x" * 512)
report(r["result"] == 0x02, "WRITE_OBJ to a missing object -> NO_OBJ")
payload = os.urandom(512)
r = call(0x01, obj_body(data_oid, 8192), flags=1, data=payload)
report(r["result"] == 0 and r["dlen"] == 0, "CREATE_AND_WRITE ok, response carries no data")
payload2 = os.urandom(512)
r = call(0x03, obj_body(data_oid, 8192 + 100), flags=0x25, data=payload2)
report(r["result"] == 0 and r["dlen"] == 0, "WRITE_OBJ (tgt flags 0x25) ok, no data in response")
r = call(0x02, obj_body(data_oid, 8192), dlen=612, flags=0x20)
report(r["data"] == payload[:100] + payload2, "READ_OBJ returns what was written")
r = call(0x03, obj_body(data_oid, (4 << 20) - 10), flags=1, data=b"y" * 20)
report(r["result"] == 0x05, "write past the object end -> INVALID_PARMS")
r = call(0x02, obj_body(data_oid, (4 << 20) + 1), dlen=4)
report(r["result"] == 0x05, "read starting past the object end -> INVALID_PARMS")
r = call(0x02, obj_body(data_oid, 8192), dlen=612)
report(r["data"] == payload[:100] + payload2, "failed writes left the object untouched")

cow_oid = 0x7c2b25 << 32 | 0x400
r = call(0x01, obj_body(cow_oid, 8192 + 50, cow=data_oid), flags=0x27, data=b"Z" * 10)
r2 = call(0x02, obj_body(cow_oid, 8192), dlen=612)
expect = bytearray(payload[:100] + payload2)
expect[50:60] = b"Z" * 10
report(r["result"] == 0 and r2["data"] == bytes(expect),
       "CREATE_AND_WRITE with COW copies the source, then applies the write")

# --- pipelining ---
s = conn()
for i in range(100, 102):
    send_req(s, 0x02, obj_body(data_oid, 8192), dlen=612, rid=i)
ids = sorted(read_rsp(s)["id"] for _ in range(2))
report(ids == [100, 101], "two pipelined reads answered with matching ids")
N = 300
batch = b"".join(REQ.pack(2, 0x02, 0, 0, 1000 + i, 4096, obj_body(data_oid, (i % 1000) * 4096))
                 for i in range(N))
s.sendall(batch)
got = [read_rsp(s) for _ in range(N)]
report(sorted(g["id"] for g in got) == list(range(1000, 1000 + N)) and
       all(g["result"] == 0 and g["dlen"] == 4096 for g in got),
       "%d pipelined requests each answered exactly once" % N)
s.close()

# --- the unix socket ---
try:
    s = conn(unix=True)
    r = call(0x18, s=s)
    s.close()
    report(r["result"] == 0, "unix socket <store>/sock serves the protocol")
except OSError as e:
    report(False, "unix socket <store>/sock serves the protocol (%s)" % e)

# --- READ_VDIS ---
r = call(0x15, dlen=4096)
report(r["result"] == 0x05, "READ_VDIS with a 4 KiB buffer -> INVALID_PARMS")
r = call(0x15, dlen=2 << 20)
bits = [i for i, b in enumerate(r["data"]) for j in range(8) if b >> j & 1]
vids = sorted(i * 8 + j for i, b in enumerate(r["data"]) for j in range(8) if b >> j & 1)
inodes = sorted(int(f[2:8], 16) for f in os.listdir(os.path.join(STORE, "obj"))
                if f.startswith("80") and len(f) == 16)
report(r["result"] == 0 and vids == inodes, "READ_VDIS bitmap = the VDIs on disk")

# --- replication connections: a thread of their own, back to the main loop for other ops ---
def peer_req(opcode, offset=0, dlen=0, data=b"", epoch=1, rid=1):
    return REQ.pack(0x0a, opcode, 1 if data else 0, epoch, rid, dlen,
                    obj_body(data_oid, offset)) + data


def threads():
    with open("/proc/%s/status" % open(STORE + ".pid").read().strip()) as f:
        return int([l for l in f if l.startswith("Threads:")][0].split()[1])


ep = call(0x18)["epoch"]
before = threads()
s = conn()
s.sendall(peer_req(0xA4, 0, 4096, epoch=ep, rid=1))
r = read_rsp(s)
ref = call(0x02, obj_body(data_oid, 0), dlen=4096)["data"]
report(r["result"] == 0 and r["id"] == 1 and r["data"] == ref,
       "READ_PEER on a new connection reads the object")
new = bytes(random.getrandbits(8) for _ in range(4096))
s.sendall(peer_req(0xA5, 8192, 4096, new, epoch=ep, rid=2))
r = read_rsp(s)
report(r["result"] == 0 and r["id"] == 2 and r["dlen"] == 0,
       "WRITE_PEER on the same connection, answered with a bare header")
send_req(s, 0x82, dlen=80 * 16, ver=0x0a, rid=3)
r = read_rsp(s)
report(r["result"] == 0 and r["id"] == 3 and r["dlen"] == 80,
       "GET_NODE_LIST on that connection (handed back to the main loop)")
s.sendall(peer_req(0xA4, 8192, 4096, epoch=ep, rid=4))
r = read_rsp(s)
report(r["result"] == 0 and r["data"] == new, "READ_PEER after it reads what WRITE_PEER wrote")
s.sendall(peer_req(0xA4, 8192, 4096, epoch=ep - 1, rid=5))
report(read_rsp(s)["result"] == 0x81, "READ_PEER of an older epoch: OLD_NODE_VER")
send_req(s, 0x18, rid=6)
report(read_rsp(s)["result"] == 0, "a client op on that connection too")
report(call(0x02, obj_body(data_oid, 8192), dlen=4096)["data"] == new,
       "a client read sees the WRITE_PEER")
s.sendall(peer_req(0xA4, 0, 4096, epoch=ep, rid=7))
report(read_rsp(s)["result"] == 0, "READ_PEER again (a thread of its own again)")
s.sendall(peer_req(0xA4, 0, 0xffffffff, epoch=ep, rid=8))
r = read_rsp(s)
s.sendall(peer_req(0xA4, 0, 4096, epoch=ep, rid=9))
r2 = read_rsp(s)
report(r["result"] == 0x05 and r["id"] == 8 and r2["result"] == 0 and r2["data"] == ref,
       "an absurd read length there: INVALID_PARMS, and the connection goes on")
s.sendall(peer_req(0xA5, 0, 0xffffffff, b"x" * 100, epoch=ep, rid=10))
try:
    closed = s.recv(48) == b""
except OSError:
    closed = True
s.close()
report(closed and alive(), "an absurd payload length there closes it; sheep lives")
report(call(0x02, obj_body(data_oid, 0), dlen=4096)["data"] == ref, "and nothing of it was written")

M = 300
socks = [conn() for _ in range(M)]
for i, c in enumerate(socks):
    c.sendall(peer_req(0xA4, 4096 * (i % 16), 4096, epoch=ep, rid=i))
got = [read_rsp(c) for c in socks]
report(all(g["result"] == 0 and g["dlen"] == 4096 for g in got),
       "%d replication connections at once, every one answered" % M)
busy = threads()
report(busy <= before + 256 + 2, "at most 256 threads for them (%d -> %d)" % (before, busy))
for c in socks:
    c.close()
deadline = time.time() + 10
while threads() > before + 2 and time.time() < deadline:
    time.sleep(0.1)
report(threads() <= before + 2, "their threads end with them (%d now)" % threads())

# an idle replication connection goes back to the main loop after 30 s: no thread, still served
s = conn()
s.settimeout(60)
s.sendall(peer_req(0xA4, 0, 4096, epoch=ep, rid=1))
r = read_rsp(s)
busy = threads()
deadline = time.time() + 45
while threads() >= busy and time.time() < deadline:
    time.sleep(0.5)
report(r["result"] == 0 and threads() < busy,
       "an idle replication connection gives its thread back (%d -> %d)" % (busy, threads()))
s.sendall(peer_req(0xA4, 0, 4096, epoch=ep, rid=2))
r = read_rsp(s)
s.sendall(peer_req(0xA5, 12288, 4096, new, epoch=ep, rid=3))
r2 = read_rsp(s)
report(r["result"] == 0 and r["data"] == ref and r2["result"] == 0,
       "and the connection still serves replication")
s.close()

# --- garbage ---
s = conn()
oversized = REQ.pack(2, 0x03, 1, 0, 1, 0xffffffff, obj_body(data_oid))
s.sendall(oversized)
try:
    closed = s.recv(48) == b""
except ConnectionError:
    closed = True
report(closed, "an absurd write payload closes the connection")
s.close()
report(alive(), "sheep alive after an oversized payload")

s = conn()
send_req(s, 0x02, obj_body(data_oid), dlen=0xffffffff)
r = read_rsp(s)
send_req(s, 0x18, rid=5)
r2 = read_rsp(s)
s.close()
report(r["result"] == 0x05 and r2["id"] == 5 and r2["result"] == 0,
       "an absurd read size is refused and the connection stays usable")

s = conn()
s.sendall(b"\x02\x02\x00")
s.close()
report(alive(), "sheep alive after a half header")

random.seed(1)
for k in range(20):
    s = conn()
    try:
        s.sendall(bytes(random.getrandbits(8) for _ in range(random.randint(1, 4000))))
        s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
report(alive(), "sheep alive after 20 connections of random garbage")

s = conn()
try:
    s.sendall(REQ.pack(2, 0x01, 1, 0, 1, 1 << 20, obj_body(data_oid)) + b"q" * 1000)
finally:
    s.close()
time.sleep(0.2)
r = call(0x02, obj_body(data_oid, 0), dlen=1000)
report(alive() and r["data"] != b"q" * 1000, "a payload cut short is never applied")

# STAT (dog node stat): the request counters, as the reference counts them
r = icall(0xB8, dlen=120)
st = dict(zip("gway_active peer_active gway_total peer_total gway_rx gway_tx peer_rx peer_tx "
              "gway_remove gway_read gway_write gway_flush peer_remove peer_read peer_write".split(),
              struct.unpack("<15Q", r["data"]) if r["dlen"] == 120 else [0] * 15))
report(r["result"] == 0 and r["dlen"] == 120 and st["gway_active"] == 0 and
       st["peer_active"] == 0 and st["gway_read"] >= N and st["gway_write"] >= 3 and
       st["gway_flush"] >= 1 and st["peer_read"] >= M and st["peer_write"] >= 2 and
       st["gway_rx"] >= 1024 and st["peer_rx"] >= 8192 and
       st["gway_total"] == st["gway_read"] + st["gway_write"] + st["gway_remove"] +
       st["gway_flush"] and st["peer_total"] >= st["peer_read"] + st["peer_write"],
       "STAT: client and replica requests counted, none left active (%s)" % st)

# NOTIFY_VDI_ADD (Sheepdog's cluster snapshot load) records a VDI everywhere; last, as the
# bitmap then holds a vid without an inode
r = icall(0xAF, struct.pack("<IIBBBB20x", 0, 0x123457, 1, 1, 0, 22))
r2 = call(0x15, dlen=2 << 20)
report(r["result"] == 0 and r2["data"][0x123457 // 8] >> (0x123457 % 8) & 1,
       "NOTIFY_VDI_ADD sets the vid in the in-use bitmap")

print("wire: %d failed" % FAILED)
sys.exit(1 if FAILED else 0)
