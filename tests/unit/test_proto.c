/*
 * test_proto.c - pins the wire format to docs/PROTOCOL.md: every header offset,
 * struct size, id formula and hash the reference defines.
 */
#include <stddef.h>

#include "proto.h"
#include "unit.h"

TEST(header_sizes)
{
	CHECK_EQ(sizeof(struct sd_req), 48);
	CHECK_EQ(sizeof(struct sd_rsp), 48);
}

TEST(request_common_offsets)
{
	CHECK_EQ(offsetof(struct sd_req, proto_ver), 0);
	CHECK_EQ(offsetof(struct sd_req, opcode), 1);
	CHECK_EQ(offsetof(struct sd_req, flags), 2);
	CHECK_EQ(offsetof(struct sd_req, epoch), 4);
	CHECK_EQ(offsetof(struct sd_req, id), 8);
	CHECK_EQ(offsetof(struct sd_req, data_length), 12);
}

TEST(request_obj_offsets)
{
	CHECK_EQ(offsetof(struct sd_req, obj.oid), 16);
	CHECK_EQ(offsetof(struct sd_req, obj.cow_oid), 24);
	CHECK_EQ(offsetof(struct sd_req, obj.copies), 32);
	CHECK_EQ(offsetof(struct sd_req, obj.copy_policy), 33);
	CHECK_EQ(offsetof(struct sd_req, obj.ec_index), 34);
	CHECK_EQ(offsetof(struct sd_req, obj.tgt_epoch), 36);
	CHECK_EQ(offsetof(struct sd_req, obj.offset), 40);
}

TEST(request_vdi_offsets)
{
	CHECK_EQ(offsetof(struct sd_req, vdi.vdi_size), 16);
	CHECK_EQ(offsetof(struct sd_req, vdi.base_vdi_id), 24);
	CHECK_EQ(offsetof(struct sd_req, vdi.copies), 28);
	CHECK_EQ(offsetof(struct sd_req, vdi.copy_policy), 29);
	CHECK_EQ(offsetof(struct sd_req, vdi.store_policy), 30);
	CHECK_EQ(offsetof(struct sd_req, vdi.block_size_shift), 31);
	CHECK_EQ(offsetof(struct sd_req, vdi.snapid), 32);
	CHECK_EQ(offsetof(struct sd_req, vdi.type), 36);
}

TEST(request_cluster_offsets)
{
	CHECK_EQ(offsetof(struct sd_req, cluster.oid), 16);
	CHECK_EQ(offsetof(struct sd_req, cluster.ctime), 24);
	CHECK_EQ(offsetof(struct sd_req, cluster.copies), 32);
	CHECK_EQ(offsetof(struct sd_req, cluster.copy_policy), 33);
	CHECK_EQ(offsetof(struct sd_req, cluster.flags), 34);
	CHECK_EQ(offsetof(struct sd_req, cluster.tag), 36);
	CHECK_EQ(offsetof(struct sd_req, cluster.nodes_nr), 40);
	CHECK_EQ(offsetof(struct sd_req, cluster.block_size_shift), 44);
	CHECK_EQ(offsetof(struct sd_req, vdi_state.old_vid), 16);
	CHECK_EQ(offsetof(struct sd_req, vdi_state.new_vid), 20);
	CHECK_EQ(offsetof(struct sd_req, vdi_state.copies), 24);
	CHECK_EQ(offsetof(struct sd_req, vdi_state.set_bitmap), 25);
	CHECK_EQ(offsetof(struct sd_req, vdi_state.copy_policy), 26);
	CHECK_EQ(offsetof(struct sd_req, vdi_state.block_size_shift), 27);
}

TEST(response_offsets)
{
	CHECK_EQ(offsetof(struct sd_rsp, result), 16);
	CHECK_EQ(offsetof(struct sd_rsp, obj.copies), 20);
	CHECK_EQ(offsetof(struct sd_rsp, obj.offset), 24);
	CHECK_EQ(offsetof(struct sd_rsp, vdi.rsvd), 20);
	CHECK_EQ(offsetof(struct sd_rsp, vdi.vdi_id), 24);
	CHECK_EQ(offsetof(struct sd_rsp, vdi.attr_id), 28);
	CHECK_EQ(offsetof(struct sd_rsp, vdi.copies), 32);
	CHECK_EQ(offsetof(struct sd_rsp, vdi.block_size_shift), 33);
	CHECK_EQ(offsetof(struct sd_rsp, node.nr_nodes), 20);
	CHECK_EQ(offsetof(struct sd_rsp, node.store_size), 32);
	CHECK_EQ(offsetof(struct sd_rsp, node.store_free), 40);
	CHECK_EQ(offsetof(struct sd_rsp, cluster_default.nr_copies), 20);
	CHECK_EQ(offsetof(struct sd_rsp, cluster_default.copy_policy), 21);
	CHECK_EQ(offsetof(struct sd_rsp, cluster_default.block_size_shift), 22);
}

TEST(node_layout)
{
	CHECK_EQ(sizeof(struct node_id), 40);
	CHECK_EQ(offsetof(struct node_id, port), 16);
	CHECK_EQ(offsetof(struct node_id, io_addr), 18);
	CHECK_EQ(offsetof(struct node_id, io_port), 34);
	CHECK_EQ(sizeof(struct sd_node), 80);
	CHECK_EQ(offsetof(struct sd_node, nid), 24);
	CHECK_EQ(offsetof(struct sd_node, nr_vnodes), 64);
	CHECK_EQ(offsetof(struct sd_node, zone), 68);
	CHECK_EQ(offsetof(struct sd_node, space), 72);
}

TEST(inode_layout)
{
	CHECK_EQ(offsetof(struct sd_inode, name), 0);
	CHECK_EQ(offsetof(struct sd_inode, tag), 256);
	CHECK_EQ(offsetof(struct sd_inode, create_time), 512);
	CHECK_EQ(offsetof(struct sd_inode, snap_ctime), 520);
	CHECK_EQ(offsetof(struct sd_inode, vm_clock_nsec), 528);
	CHECK_EQ(offsetof(struct sd_inode, vdi_size), 536);
	CHECK_EQ(offsetof(struct sd_inode, vm_state_size), 544);
	CHECK_EQ(offsetof(struct sd_inode, copy_policy), 552);
	CHECK_EQ(offsetof(struct sd_inode, store_policy), 553);
	CHECK_EQ(offsetof(struct sd_inode, nr_copies), 554);
	CHECK_EQ(offsetof(struct sd_inode, block_size_shift), 555);
	CHECK_EQ(offsetof(struct sd_inode, snap_id), 556);
	CHECK_EQ(offsetof(struct sd_inode, vdi_id), 560);
	CHECK_EQ(offsetof(struct sd_inode, parent_vdi_id), 564);
	CHECK_EQ(offsetof(struct sd_inode, btree_counter), 568);
	CHECK_EQ(offsetof(struct sd_inode, data_vdi_id), 4664);
	CHECK_EQ(offsetof(struct sd_inode, gref), 4198968);
	CHECK_EQ(sizeof(struct sd_inode), 12587576);
}

TEST(cluster_structs)
{
	CHECK_EQ(sizeof(struct epoch_log), 48);
	CHECK_EQ(offsetof(struct epoch_log, time), 8);
	CHECK_EQ(offsetof(struct epoch_log, epoch), 16);
	CHECK_EQ(offsetof(struct epoch_log, nr_nodes), 20);
	CHECK_EQ(offsetof(struct epoch_log, disable_recovery), 24);
	CHECK_EQ(offsetof(struct epoch_log, nr_copies), 25);
	CHECK_EQ(offsetof(struct epoch_log, copy_policy), 26);
	CHECK_EQ(offsetof(struct epoch_log, flags), 30);
	CHECK_EQ(offsetof(struct epoch_log, drv_name), 32);
	CHECK_EQ(offsetof(struct cluster_info, nr_nodes), 2);
	CHECK_EQ(offsetof(struct cluster_info, epoch), 4);
	CHECK_EQ(offsetof(struct cluster_info, ctime), 8);
	CHECK_EQ(offsetof(struct cluster_info, flags), 16);
	CHECK_EQ(offsetof(struct cluster_info, nr_copies), 18);
	CHECK_EQ(offsetof(struct cluster_info, status), 20);
	CHECK_EQ(offsetof(struct cluster_info, block_size_shift), 21);
	CHECK_EQ(offsetof(struct cluster_info, default_store), 25);
	CHECK_EQ(offsetof(struct cluster_info, nodes), 48);
}

TEST(constants)
{
	CHECK_EQ(SD_PROTO_VER, 0x02);
	CHECK_EQ(SD_SHEEP_PROTO_VER, 0x0a);
	CHECK_EQ(SD_LISTEN_PORT, 7000);
	CHECK_EQ(SD_DATA_OBJ_SIZE, 4194304);
	CHECK_EQ(SD_VDI_BITMAP_SIZE, 2097152);
	CHECK_EQ(SD_OLD_MAX_VDI_SIZE, 4398046511104ULL);
	CHECK_EQ(SD_OP_READ_VDIS, 0x15);
	CHECK_EQ(SD_OP_GET_CLUSTER_DEFAULT, 0x18);
	CHECK_EQ(SD_OP_READ_PEER, 0xA4);
	CHECK_EQ(SD_RES_WAIT_FOR_FORMAT, 0x16);
	CHECK_EQ(SD_RES_INODE_INVALIDATED, 0x1D);
	CHECK_EQ(SD_RES_NO_SPACE, 0x15);
}

TEST(object_ids)
{
	CHECK_EQ(vid_to_vdi_oid(0x7c2b25), 0x807c2b2500000000ULL);
	CHECK_EQ(vid_to_data_oid(0x7c2b25, 0), 0x007c2b2500000000ULL);
	CHECK_EQ(vid_to_data_oid(0x7c2b25, 0xfffff), 0x007c2b25000fffffULL);
	CHECK_EQ(LEDGER_BIT | vid_to_data_oid(0x7c2b25, 0), 0x087c2b2500000000ULL);
	CHECK_EQ(oid_to_vid(0x807c2b2500000000ULL), 0x7c2b25);
	CHECK_EQ(oid_to_vid(0x087c2b2500000007ULL), 0x7c2b25);
	CHECK_EQ(data_oid_to_idx(0x007c2b2500001234ULL), 0x1234);
	CHECK(is_vdi_obj(0x807c2b2500000000ULL));
	CHECK(!is_vdi_obj(0x007c2b2500000000ULL));
	CHECK(is_data_obj(0x007c2b2500000000ULL));
	CHECK(!is_data_obj(0x087c2b2500000000ULL));
	CHECK(!is_data_obj(VMSTATE_BIT | 5));
}

TEST(vdi_ids)
{
	CHECK_EQ(fnv_64a_buf("test", 4, FNV1A_64_INIT), 0xf9e6e6ef197c2b25ULL);
	CHECK_EQ(sd_hash_vdi("test", 4), 0x7c2b25);
	CHECK_EQ(sd_hash_vdi("dn", 2), 0x3bb647);
	CHECK_EQ(sd_hash_vdi("clone1", 6), 0xc8f989);
}

TEST(placement_hash)
{
	uint64_t h = fnv_64a_buf("test", 4, FNV1A_64_INIT);
	uint64_t oid = 0x007c2b2500000000ULL;

	/* sd_hash = FNV-1a, then one more round over its own 8 bytes */
	CHECK_EQ(sd_hash("test", 4), fnv_64a_buf(&h, 8, h));
	CHECK_EQ(sd_hash_oid(oid), sd_hash(&oid, 8));
	CHECK_EQ(sd_hash_next(h), fnv_64a_buf(&h, 8, h));
	CHECK(sd_hash_oid(oid) != sd_hash_oid(oid + 1));
}

UNIT_MAIN(T(header_sizes), T(request_common_offsets), T(request_obj_offsets),
	  T(request_vdi_offsets), T(request_cluster_offsets), T(response_offsets),
	  T(node_layout), T(inode_layout), T(cluster_structs), T(constants), T(object_ids),
	  T(vdi_ids), T(placement_hash))
