/*
 * proto.h - the Sheepdog wire format, and nothing else.
 *
 * Every struct here travels on the wire or lives on disk byte for byte as the
 * reference implementation lays it out (docs/PROTOCOL.md).
 * The protocol is little-endian and carries no byte swapping; sheep only
 * builds on little-endian hosts (checked below).  Offsets are pinned by
 * static asserts here and by tests/unit/test_proto.c.
 */
#ifndef SHEEP_PROTO_H
#define SHEEP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Sheepdog protocol is host order; sheep supports little-endian hosts only"
#endif

#define SD_LISTEN_PORT		7000
#define SD_PROTO_VER		0x02	/* client ops accept 0..SD_PROTO_VER */
#define SD_SHEEP_PROTO_VER	0x0a	/* internal ops need exactly this */

#define SD_REQ_SIZE		48
#define SD_RSP_SIZE		48

/* client opcodes */
#define SD_OP_CREATE_AND_WRITE_OBJ	0x01
#define SD_OP_READ_OBJ			0x02
#define SD_OP_WRITE_OBJ			0x03
#define SD_OP_REMOVE_OBJ		0x04
#define SD_OP_DISCARD_OBJ		0x05
#define SD_OP_NEW_VDI			0x11
#define SD_OP_LOCK_VDI			0x12
#define SD_OP_RELEASE_VDI		0x13
#define SD_OP_GET_VDI_INFO		0x14
#define SD_OP_READ_VDIS			0x15
#define SD_OP_FLUSH_VDI			0x16
#define SD_OP_DEL_VDI			0x17
#define SD_OP_GET_CLUSTER_DEFAULT	0x18

/* internal opcodes (>= 0x80) */
#define SD_OP_INTERNAL_MIN		0x80
#define SD_OP_GET_NODE_LIST		0x82
#define SD_OP_MAKE_FS			0x84
#define SD_OP_SHUTDOWN			0x85
#define SD_OP_STAT_SHEEP		0x86
#define SD_OP_STAT_CLUSTER		0x87
#define SD_OP_STAT_RECOVERY		0x97
#define SD_OP_GET_STORE_LIST		0x90
#define SD_OP_NOTIFY_VDI_DEL		0x99
#define SD_OP_KILL_NODE			0x9A
#define SD_OP_GET_OBJ_LIST		0xA1
#define SD_OP_GET_EPOCH			0xA2
#define SD_OP_CREATE_AND_WRITE_PEER	0xA3
#define SD_OP_READ_PEER			0xA4
#define SD_OP_WRITE_PEER		0xA5
#define SD_OP_REMOVE_PEER		0xA6
#define SD_OP_FLUSH_PEER		0xAE	/* ours: Sheepdog's number, unused in 1.0 */
#define SD_OP_ENABLE_RECOVER		0xA8
#define SD_OP_DISABLE_RECOVER		0xA9
#define SD_OP_COMPLETE_RECOVERY		0xAC
#define SD_OP_NOTIFY_VDI_ADD		0xAF
#define SD_OP_REWEIGHT			0xB5
#define SD_OP_GET_LOGLEVEL		0xB9
#define SD_OP_SET_LOGLEVEL		0xBA
#define SD_OP_EXIST			0xBD
#define SD_OP_CLUSTER_INFO		0xBE
#define SD_OP_GET_VDI_ATTR		0x89
#define SD_OP_READ_DEL_VDIS		0xC9
/* ours: the VDI lock table, and forced unlock (dog vdi lock list|unlock) */
#define SD_OP_GET_VDI_LOCKS		0xD0
#define SD_OP_FORCE_UNLOCK_VDI		0xD1
/* ours, internal: free the vids of a wholly deleted family (format -R) */
#define SD_OP_RECYCLE_VIDS		0xD8
#define SD_OP_SET_VNODES		0xCC
#define SD_OP_GET_VNODES		0xCD
/* the rest of the reference's internal opcodes (ops.c says how each is answered) */
#define SD_OP_FORCE_RECOVER		0x8A
#define SD_OP_CLEANUP			0x94
#define SD_OP_TRACE_STATUS		0x95
#define SD_OP_TRACE_READ_BUF		0x96
#define SD_OP_FLUSH_DEL_CACHE		0x98
#define SD_OP_TRACE_ENABLE		0x9B
#define SD_OP_TRACE_DISABLE		0x9C
#define SD_OP_GET_VDI_COPIES		0xAB
#define SD_OP_DELETE_CACHE		0xB0
#define SD_OP_MD_INFO			0xB1
#define SD_OP_MD_PLUG			0xB2
#define SD_OP_MD_UNPLUG			0xB3
#define SD_OP_GET_HASH			0xB4
#define SD_OP_STAT			0xB8
#define SD_OP_NFS_CREATE		0xBB
#define SD_OP_NFS_DELETE		0xBC
#define SD_OP_ALTER_CLUSTER_COPY	0xBF
#define SD_OP_ALTER_VDI_COPY		0xC0
#define SD_OP_DECREF_OBJ		0xC1
#define SD_OP_DECREF_PEER		0xC2
#define SD_OP_REPAIR_REPLICA		0xC5
#define SD_OP_OIDS_EXIST		0xC6
#define SD_OP_VDI_STATE_CHECKPOINT_CTL	0xC7
#define SD_OP_INODE_COHERENCE		0xC8
#define SD_OP_GET_RECOVERY		0xCA
#define SD_OP_SET_RECOVERY		0xCB

/* request flags */
#define SD_FLAG_CMD_WRITE	0x0001
#define SD_FLAG_CMD_COW		0x0002
#define SD_FLAG_CMD_CACHE	0x0004
#define SD_FLAG_CMD_DIRECT	0x0008
#define SD_FLAG_CMD_PIGGYBACK	0x0010
#define SD_FLAG_CMD_TGT		0x0020
#define SD_FLAG_CMD_FWD		0x0040
#define SD_FLAG_CMD_RECOVERY	0x0080
#define SD_FLAG_CMD_WILDCARD	0x0100
/* GET_VDI_ATTR: create the key, only if new, delete it (0x0100 is also WILDCARD) */
#define SD_FLAG_CMD_CREAT	0x0100
#define SD_FLAG_CMD_EXCL	0x0200
#define SD_FLAG_CMD_DEL		0x0400
/* ours: a peer write sent again (another path); obj.cow_oid carries its tag */
#define SD_FLAG_CMD_RESEND	0x1000
/* ours: a peer write acknowledged before it is synced (write-back; FLUSH_PEER syncs it) */
#define SD_FLAG_CMD_LAZY	0x2000
/* ours: a notify the node sends by itself (no client request waits for it) */
#define SD_FLAG_CMD_INTERNAL	0x8000

/* result codes */
#define SD_RES_SUCCESS		0x00
#define SD_RES_UNKNOWN		0x01
#define SD_RES_NO_OBJ		0x02
#define SD_RES_EIO		0x03
#define SD_RES_VDI_EXIST	0x04
#define SD_RES_INVALID_PARMS	0x05
#define SD_RES_SYSTEM_ERROR	0x06
#define SD_RES_VDI_LOCKED	0x07
#define SD_RES_NO_VDI		0x08
#define SD_RES_NO_BASE_VDI	0x09
#define SD_RES_VDI_READ		0x0A
#define SD_RES_VDI_WRITE	0x0B
#define SD_RES_BASE_VDI_READ	0x0C
#define SD_RES_BASE_VDI_WRITE	0x0D
#define SD_RES_NO_TAG		0x0E
#define SD_RES_STARTUP		0x0F
#define SD_RES_VDI_NOT_LOCKED	0x10
#define SD_RES_SHUTDOWN		0x11
#define SD_RES_NO_MEM		0x12
#define SD_RES_FULL_VDI		0x13
#define SD_RES_VER_MISMATCH	0x14
#define SD_RES_NO_SPACE		0x15
#define SD_RES_WAIT_FOR_FORMAT	0x16
#define SD_RES_WAIT_FOR_JOIN	0x17
#define SD_RES_JOIN_FAILED	0x18
#define SD_RES_HALT		0x19
#define SD_RES_READONLY		0x1A
#define SD_RES_INODE_INVALIDATED 0x1D

#define SD_RES_OLD_NODE_VER	0x81
#define SD_RES_NEW_NODE_VER	0x82
#define SD_RES_NOT_FORMATTED	0x83
#define SD_RES_INVALID_CTIME	0x84
#define SD_RES_INVALID_EPOCH	0x85
#define SD_RES_NETWORK_ERROR	0x86
#define SD_RES_BUFFER_SMALL	0x88
#define SD_RES_FORCE_RECOVER	0x89	/* the cluster runs (or is halted): no force recover */
#define SD_RES_NO_STORE	0x8A
#define SD_RES_NO_SUPPORT	0x8B
#define SD_RES_KILLED		0x8D
#define SD_RES_OID_EXIST	0x8E
#define SD_RES_AGAIN		0x8F
#define SD_RES_CLUSTER_ERROR	0x91
#define SD_RES_VDI_NOT_EMPTY	0x92
#define SD_RES_NOT_FOUND	0x93
#define SD_RES_GATEWAY_MODE	0x97
#define SD_RES_INVALID_VNODES_STRATEGY	0x98

/* object ids */
#define VDI_BIT			(UINT64_C(1) << 63)
#define VMSTATE_BIT		(UINT64_C(1) << 62)
#define VDI_ATTR_BIT		(UINT64_C(1) << 61)
#define VDI_BTREE_BIT		(UINT64_C(1) << 60)
#define LEDGER_BIT		(UINT64_C(1) << 59)
#define VDI_SPACE_SHIFT		32
#define VID_MASK		UINT64_C(0x00FFFFFF00000000)

/* sizes and limits */
#define SD_DEFAULT_BLOCK_SIZE_SHIFT	22
#define SD_DATA_OBJ_SIZE	(UINT32_C(1) << SD_DEFAULT_BLOCK_SIZE_SHIFT)
#define SD_NR_VDIS		(UINT32_C(1) << 24)
#define SD_VDI_BITMAP_SIZE	(SD_NR_VDIS / 8)	/* 2 MiB, READ_VDIS payload */
#define SD_MAX_VDI_LEN		256
#define SD_MAX_VDI_TAG_LEN	256
#define SD_MAX_VDI_ATTR_KEY_LEN	256
#define SD_MAX_VDI_ATTR_VALUE_LEN	65536
#define SD_INODE_DATA_INDEX	(UINT32_C(1) << 20)
#define SD_INODE_HEADER_SIZE	4664
#define SD_INODE_INDEX_SIZE	(4 * SD_INODE_DATA_INDEX)
#define SD_INODE_GREF_SIZE	(8 * SD_INODE_DATA_INDEX)
#define SD_INODE_SIZE		(SD_INODE_HEADER_SIZE + SD_INODE_INDEX_SIZE + SD_INODE_GREF_SIZE)
#define SD_OLD_MAX_VDI_SIZE	((uint64_t)SD_DATA_OBJ_SIZE * SD_INODE_DATA_INDEX)	/* 4 TiB */
/* hyper volumes (store_policy 1): 2^32 objects of 4 MiB, the index a B-tree */
#define SD_MAX_VDI_SIZE		((uint64_t)SD_DATA_OBJ_SIZE << 32)	/* 16 PiB */
#define INODE_BTREE_MAGIC	0x6274
#define SD_DEFAULT_COPIES	3
#define SD_MAX_COPIES		31
#define SD_DEFAULT_VNODES	128
#define SD_MAX_NODES		6144
#define SD_MAX_EVENT_BUF_SIZE	(128 * 1024)
#define SD_MAX_STORE_NAME	16
#define SD_VDI_ATTR_SIZE	66320

/* largest payload a request may carry or ask for: a whole inode object */
#define SD_MAX_PAYLOAD		SD_INODE_SIZE

/* a VDI attribute object (key/value) */
struct sheepdog_vdi_attr {
	char name[SD_MAX_VDI_LEN];
	char tag[SD_MAX_VDI_TAG_LEN];
	uint64_t ctime;
	uint32_t snap_id;
	uint32_t value_len;
	char key[SD_MAX_VDI_ATTR_KEY_LEN];
	char value[SD_MAX_VDI_ATTR_VALUE_LEN];
};

#define SD_VDI_ATTR_HEADER	784	/* offset of value */

/* lock types (vdi.type) */
#define LOCK_TYPE_NORMAL	0
#define LOCK_TYPE_SHARED	1

/* cluster status in struct cluster_info */
#define SD_STATUS_OK		1
#define SD_STATUS_WAIT		2
#define SD_STATUS_SHUTDOWN	3
#define SD_STATUS_KILLED	4

/* cluster flags */
#define SD_CLUSTER_FLAG_STRICT		0x0001
#define SD_CLUSTER_FLAG_DISKMODE	0x0002
#define SD_CLUSTER_FLAG_AUTO_VNODES	0x0004
#define SD_CLUSTER_FLAG_USE_LOCK	0x0008
#define SD_CLUSTER_FLAG_RECYCLE_VID	0x0010
#define SD_CLUSTER_FLAG_AVOID_DISKFULL	0x0020

/* 48-byte request header; the union view depends on the opcode */
struct sd_req {
	uint8_t proto_ver;
	uint8_t opcode;
	uint16_t flags;
	uint32_t epoch;
	uint32_t id;
	uint32_t data_length;
	union {
		struct {
			uint64_t oid;
			uint64_t cow_oid;
			uint8_t copies;
			uint8_t copy_policy;
			uint8_t ec_index;
			uint8_t reserved;
			uint32_t tgt_epoch;
			uint32_t offset;
			uint32_t __pad;
		} obj;
		struct {
			uint64_t vdi_size;
			uint32_t base_vdi_id;
			uint8_t copies;
			uint8_t copy_policy;
			uint8_t store_policy;
			uint8_t block_size_shift;
			uint32_t snapid;
			uint32_t type;
			uint32_t __pad[2];
		} vdi;
		struct {
			uint64_t oid;
			uint64_t ctime;
			uint8_t copies;
			uint8_t copy_policy;
			uint16_t flags;
			uint32_t tag;
			uint32_t nodes_nr;
			uint8_t block_size_shift;
			uint8_t __pad[3];
		} cluster;
		struct {		/* REPAIR_REPLICA: copy oid from this node */
			uint64_t oid;
			uint8_t addr[16];
			uint16_t port;
		} forw;
		struct {
			uint32_t old_vid;
			uint32_t new_vid;
			uint8_t copies;
			uint8_t set_bitmap;
			uint8_t copy_policy;
			uint8_t block_size_shift;
		} vdi_state;
		uint32_t __pad[8];
	};
};

/* 48-byte response header */
struct sd_rsp {
	uint8_t proto_ver;
	uint8_t opcode;
	uint16_t flags;
	uint32_t epoch;
	uint32_t id;
	uint32_t data_length;
	union {
		uint32_t result;
		struct {
			uint32_t __pad;
			uint8_t copies;
			uint8_t reserved[3];
			uint64_t offset;
		} obj;
		struct {
			uint32_t __pad;
			uint32_t rsvd;
			uint32_t vdi_id;
			uint32_t attr_id;
			uint8_t copies;
			uint8_t block_size_shift;
			uint8_t reserved[2];
		} vdi;
		struct {
			uint32_t __pad;
			uint32_t nr_nodes;
			uint32_t __reserved[2];
			uint64_t store_size;
			uint64_t store_free;
		} node;
		struct {
			uint32_t __pad;
			uint8_t nr_copies;
			uint8_t copy_policy;
			uint8_t block_size_shift;
			uint8_t __reserved;
		} cluster_default;
		struct {
			uint32_t __pad;
			uint32_t __reserved;
			uint8_t digest[20];	/* GET_HASH: SHA-1 of the object */
		} hash;
		/* ours, internal: READ_PEER with SD_FLAG_CMD_RECOVERY, GET_OBJ_LIST */
		struct {
			uint32_t __pad;
			uint32_t ver_epoch;
			uint64_t ver_counter;
			uint32_t obj_size;
			uint32_t more;		/* GET_OBJ_LIST: call again after the last oid */
		} recov;
		uint32_t __pad2[8];
	};
};

/* GET_OBJ_LIST entries, sorted by oid (internal) */
struct obj_list_entry {
	uint64_t oid;
	uint32_t epoch;
	uint32_t __pad;
	uint64_t counter;
};

/* STAT_RECOVERY payload */
struct recovery_state {
	uint8_t in_recovery;
	uint8_t __pad[3];
	uint32_t state;		/* 0 preparing the list, 1 recovering objects, 2 done; ours: 3 stopped */
	uint64_t nr_finished;
	uint64_t nr_total;
};

/* GET_RECOVERY / SET_RECOVERY payload: recover at most max objects per interval ms */
struct recovery_throttling {
	uint32_t max_exec_count;
	uint32_t __pad;
	uint64_t queue_work_interval;
	uint8_t throttling;	/* both are non-zero */
	uint8_t __pad2[7];
};

/* MD_INFO payload: the node's store directories (ours: one) */
#define MD_MAX_DISK		64
#define MD_PATH_LEN		4096
struct md_info {
	int32_t idx;
	uint32_t __pad;
	uint64_t free;
	uint64_t used;		/* bytes of the objects in path */
	char path[MD_PATH_LEN];
};

struct sd_md_info {
	struct md_info disk[MD_MAX_DISK];
	int32_t nr;
	uint32_t __pad;
};

/* STAT payload (dog node stat): request counters since the start */
struct sd_stat {
	uint64_t gway_active_nr;	/* client object requests in progress */
	uint64_t peer_active_nr;	/* replica requests in progress */
	uint64_t gway_total_nr;
	uint64_t peer_total_nr;
	uint64_t gway_total_rx;		/* bytes written */
	uint64_t gway_total_tx;		/* bytes asked for */
	uint64_t peer_total_rx;
	uint64_t peer_total_tx;
	uint64_t gway_total_remove_nr;
	uint64_t gway_total_read_nr;
	uint64_t gway_total_write_nr;
	uint64_t gway_total_flush_nr;
	uint64_t peer_total_remove_nr;
	uint64_t peer_total_read_nr;
	uint64_t peer_total_write_nr;
};

/* node identity: IPv4 is 12 zero bytes followed by the address */
struct node_id {
	uint8_t addr[16];
	uint16_t port;
	uint8_t io_addr[16];
	uint16_t io_port;
	uint8_t pad[4];
};

/* GET_VDI_LOCKS entries (ours): one per VDI and holder */
struct vdi_lock_entry {
	uint32_t vid;
	uint32_t type;		/* LOCK_TYPE_NORMAL (exclusive) or LOCK_TYPE_SHARED */
	struct node_id owner;
};

/* GET_VDI_COPIES entries: one per VDI the node knows, with its lock */
#define LOCK_STATE_UNLOCKED	1
#define LOCK_STATE_LOCKED	2
#define LOCK_STATE_SHARED	3
#define SHARED_LOCK_STATE_MODIFIED	1
#define SHARED_LOCK_STATE_SHARED	2
#define SHARED_LOCK_STATE_INVALIDATED	3
struct sd_vdi_state {
	uint32_t vid;
	uint8_t nr_copies;
	uint8_t snapshot;
	uint8_t deleted;
	uint8_t copy_policy;
	uint8_t block_size_shift;
	uint8_t __pad[3];
	uint32_t parent_vid;
	uint32_t lock_state;	/* LOCK_STATE_* */
	struct node_id lock_owner;
	uint32_t nr_participants;	/* shared locks: the holders */
	uint32_t participants_state[SD_MAX_COPIES];
	struct node_id participants[SD_MAX_COPIES];
};

/* the first 24 bytes held rb_node pointers in the reference; we send zeros */
struct sd_node {
	uint8_t __rb[24];
	struct node_id nid;
	uint16_t nr_vnodes;
	uint16_t __pad;
	uint32_t zone;
	uint64_t space;
};

/* the persistent part of a VDI: the inode object */
struct sd_inode {
	char name[SD_MAX_VDI_LEN];
	char tag[SD_MAX_VDI_TAG_LEN];
	uint64_t create_time;
	uint64_t snap_ctime;
	uint64_t vm_clock_nsec;
	uint64_t vdi_size;
	uint64_t vm_state_size;
	uint8_t copy_policy;
	uint8_t store_policy;
	uint8_t nr_copies;
	uint8_t block_size_shift;
	uint32_t snap_id;
	uint32_t vdi_id;
	uint32_t parent_vdi_id;
	uint32_t btree_counter;
	uint8_t __unused[SD_INODE_HEADER_SIZE - 572];
	uint32_t data_vdi_id[SD_INODE_DATA_INDEX];
	struct {
		int32_t generation;
		int32_t count;
	} gref[SD_INODE_DATA_INDEX];
};

/*
 * A hyper volume's index, in data_vdi_id[] (4 MiB): a header, then either
 * sorted {idx, vdi_id} entries (depth 1) or sorted {highest idx, oid of a
 * 4 MiB leaf object holding a depth-1 node} entries (depth 2).
 */
struct sd_index_header {
	uint16_t magic;
	uint16_t depth;
	uint32_t entries;
};

struct sd_index {
	uint32_t idx;
	uint32_t vdi_id;
};

struct sd_indirect_idx {
	uint32_t idx;
	uint64_t oid;
};

static inline uint64_t vid_to_btree_oid(uint32_t vid, uint32_t nr)
{
	return ((uint64_t)vid << VDI_SPACE_SHIFT) | VDI_BTREE_BIT | nr;
}

/* STAT_CLUSTER payload element: one epoch of history */
struct epoch_log {
	uint64_t ctime;
	uint64_t time;
	uint32_t epoch;
	uint32_t nr_nodes;
	uint8_t disable_recovery;
	uint8_t nr_copies;
	uint8_t copy_policy;
	uint8_t __pad[3];
	uint16_t flags;
	char drv_name[16];
	struct sd_node nodes[];
};

/* join message header; nodes[] follow */
struct cluster_info {
	uint8_t proto_ver;
	uint8_t disable_recovery;
	int16_t nr_nodes;
	uint32_t epoch;
	uint64_t ctime;
	uint16_t flags;
	uint8_t nr_copies;
	uint8_t copy_policy;
	uint8_t status;
	uint8_t block_size_shift;
	uint8_t __pad[3];
	uint8_t default_store[SD_MAX_STORE_NAME];
	uint8_t __pad2[7];
	struct sd_node nodes[];
};

_Static_assert(sizeof(struct sd_req) == SD_REQ_SIZE, "sd_req is 48 bytes");
_Static_assert(sizeof(struct sd_rsp) == SD_RSP_SIZE, "sd_rsp is 48 bytes");
_Static_assert(offsetof(struct sd_req, obj.offset) == 40, "obj.offset at 40");
_Static_assert(offsetof(struct sd_req, vdi.snapid) == 32, "vdi.snapid at 32");
_Static_assert(offsetof(struct sd_rsp, vdi.vdi_id) == 24, "rsp vdi_id at 24");
_Static_assert(offsetof(struct sd_rsp, node.store_size) == 32, "store_size at 32");
_Static_assert(offsetof(struct sd_req, forw.port) == 40, "forw.port at 40");
_Static_assert(offsetof(struct sd_rsp, hash.digest) == 24, "hash.digest at 24");
_Static_assert(sizeof(struct node_id) == 40, "node_id is 40 bytes");
_Static_assert(sizeof(struct recovery_state) == 24, "recovery_state is 24 bytes");
_Static_assert(sizeof(struct vdi_lock_entry) == 48, "vdi_lock_entry is 48 bytes");
_Static_assert(sizeof(struct sd_stat) == 120, "sd_stat is 120 bytes");
_Static_assert(sizeof(struct recovery_throttling) == 24, "recovery_throttling is 24 bytes");
_Static_assert(sizeof(struct md_info) == 4120, "md_info is 4120 bytes");
_Static_assert(sizeof(struct sd_md_info) == 263688, "sd_md_info is 263688 bytes");
_Static_assert(sizeof(struct sd_vdi_state) == 1428, "sd_vdi_state is 1428 bytes");
_Static_assert(offsetof(struct sd_vdi_state, participants) == 188, "participants at 188");
_Static_assert(sizeof(struct sheepdog_vdi_attr) == SD_VDI_ATTR_SIZE, "vdi attr size");
_Static_assert(offsetof(struct sheepdog_vdi_attr, value) == SD_VDI_ATTR_HEADER, "value at 784");
_Static_assert(sizeof(struct obj_list_entry) == 24, "obj_list_entry is 24 bytes");
_Static_assert(sizeof(struct sd_node) == 80, "sd_node is 80 bytes");
_Static_assert(offsetof(struct sd_node, zone) == 68, "zone at 68");
_Static_assert(offsetof(struct sd_inode, data_vdi_id) == SD_INODE_HEADER_SIZE, "index at 4664");
_Static_assert(sizeof(struct sd_inode) == SD_INODE_SIZE, "inode size");
_Static_assert(offsetof(struct epoch_log, flags) == 30, "epoch_log flags at 30");
_Static_assert(sizeof(struct epoch_log) == 48, "epoch_log header is 48 bytes");
_Static_assert(offsetof(struct cluster_info, default_store) == 25, "default_store at 25");
_Static_assert(sizeof(struct cluster_info) == 48, "cluster_info header is 48 bytes");
_Static_assert(sizeof(struct sd_indirect_idx) == 16, "indirect index entry is 16 bytes");

static inline uint64_t vid_to_vdi_oid(uint32_t vid)
{
	return VDI_BIT | ((uint64_t)vid << VDI_SPACE_SHIFT);
}

static inline uint64_t vid_to_data_oid(uint32_t vid, uint32_t idx)
{
	return ((uint64_t)vid << VDI_SPACE_SHIFT) | idx;
}

static inline uint32_t oid_to_vid(uint64_t oid)
{
	return (uint32_t)((oid & VID_MASK) >> VDI_SPACE_SHIFT);
}

static inline uint32_t data_oid_to_idx(uint64_t oid)
{
	return (uint32_t)oid;
}

static inline int is_vdi_obj(uint64_t oid)
{
	return !!(oid & VDI_BIT);
}

static inline int is_data_obj(uint64_t oid)
{
	return !(oid & (VDI_BIT | VMSTATE_BIT | VDI_ATTR_BIT | VDI_BTREE_BIT | LEDGER_BIT));
}

/* 64-bit FNV-1a */
#define FNV1A_64_INIT	UINT64_C(0xcbf29ce484222325)
#define FNV_64_PRIME	UINT64_C(0x100000001b3)

static inline uint64_t fnv_64a_buf(const void *buf, size_t len, uint64_t hval)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		hval ^= p[i];
		hval *= FNV_64_PRIME;
	}
	return hval;
}

/* the VDI id a name hashes to, before probing; vid 0 is never used */
static inline uint32_t sd_hash_vdi(const char *name, size_t len)
{
	uint32_t vid = (uint32_t)(fnv_64a_buf(name, len, FNV1A_64_INIT) & (SD_NR_VDIS - 1));

	return vid ? vid : 1;
}

/* placement hash: FNV-1a, then one more round over the 8 result bytes */
static inline uint64_t sd_hash(const void *buf, size_t len)
{
	uint64_t h = fnv_64a_buf(buf, len, FNV1A_64_INIT);

	return fnv_64a_buf(&h, sizeof(h), h);
}

static inline uint64_t sd_hash_next(uint64_t h)
{
	return fnv_64a_buf(&h, sizeof(h), h);
}

static inline uint64_t sd_hash_oid(uint64_t oid)
{
	return sd_hash(&oid, sizeof(oid));
}

#endif
