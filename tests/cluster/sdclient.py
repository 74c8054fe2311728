"""A small Sheepdog protocol client for tests: VDI lookup, inode reads and
object IO the way QEMU and tgt do it (create + inode update for a new object,
write for an owned one).  Talks to a real sheep; nothing here is simulated."""
import socket
import struct

REQ = struct.Struct("<BBHIII32s")
INODE_HEADER = 4664
OBJ_SIZE = 4 << 20


class SheepError(Exception):
    def __init__(self, result, what):
        super().__init__("%s: result 0x%02x" % (what, result))
        self.result = result


class Client:
    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rid = 0

    def close(self):
        self.s.close()

    def _recv(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed")
            buf += chunk
        return bytes(buf)

    def call(self, opcode, body, flags=0, data=b"", dlen=None, ver=2, epoch=0):
        self.rid += 1
        if dlen is None:
            dlen = len(data)
        self.s.sendall(REQ.pack(ver, opcode, flags, epoch, self.rid, dlen, body) + data)
        _, _, _, _, rid, rlen, rbody = REQ.unpack(self._recv(48))
        rdata = self._recv(rlen) if rlen else b""
        if rid != self.rid:
            raise ConnectionError("response id %d, expected %d" % (rid, self.rid))
        return struct.unpack_from("<I", rbody)[0], rbody, rdata

    @staticmethod
    def obj_body(oid, offset=0, cow=0):
        return struct.pack("<QQBBBBIII", oid, cow, 0, 0, 0, 0, 0, offset, 0)

    def vdi_id(self, name):
        body = struct.pack("<QIBBBBII8x", 0, 0, 0, 0, 0, 0, 0, 0)
        res, rbody, _ = self.call(0x14, body, 1, name.encode().ljust(512, b"\0"))
        if res:
            raise SheepError(res, "GET_VDI_INFO " + name)
        return struct.unpack_from("<I", rbody, 8)[0]

    def read_obj(self, oid, length, offset=0):
        res, _, data = self.call(0x02, self.obj_body(oid, offset), dlen=length)
        if res:
            raise SheepError(res, "READ_OBJ %016x" % oid)
        return data

    def write_obj(self, oid, data, offset=0, create=False, cow=0):
        flags = 1 | (2 if cow else 0)
        res, _, _ = self.call(0x01 if create else 0x03, self.obj_body(oid, offset, cow),
                              flags, data)
        if res:
            raise SheepError(res, "%s %016x" % ("CREATE" if create else "WRITE", oid))


class Vdi:
    """A VDI opened by name; writes and reads at byte offsets."""

    def __init__(self, client, name):
        self.c = client
        self.vid = client.vdi_id(name)
        self.inode_oid = 1 << 63 | self.vid << 32
        hdr = client.read_obj(self.inode_oid, INODE_HEADER + 4 * (1 << 20))
        self.size = struct.unpack_from("<Q", hdr, 536)[0]
        self.index = list(struct.unpack_from("<%dI" % (1 << 20), hdr, INODE_HEADER))

    def write(self, offset, data):
        while data:
            idx, off = divmod(offset, OBJ_SIZE)
            n = min(len(data), OBJ_SIZE - off)
            oid = self.vid << 32 | idx
            owner = self.index[idx]
            if owner == self.vid:
                self.c.write_obj(oid, data[:n], off)
            else:
                cow = (owner << 32 | idx) if owner else 0
                self.c.write_obj(oid, data[:n], off, create=True, cow=cow)
                self.c.write_obj(self.inode_oid, struct.pack("<I", self.vid),
                                 INODE_HEADER + 4 * idx)
                self.index[idx] = self.vid
            offset += n
            data = data[n:]

    def read(self, offset, length):
        out = bytearray()
        while length:
            idx, off = divmod(offset, OBJ_SIZE)
            n = min(length, OBJ_SIZE - off)
            owner = self.index[idx]
            out += self.c.read_obj(owner << 32 | idx, n, off) if owner else bytes(n)
            offset += n
            length -= n
        return bytes(out)
