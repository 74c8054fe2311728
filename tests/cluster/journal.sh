#!/bin/bash
# The write journal (-j): bad options are refused with a message; a 4 MiB
# journal (so it fills and checkpoints every few dozen writes) under a
# stream of 64 KiB writes killed -9 three times: every acknowledged write
# reads back after each restart (which replays what the journal holds); two
# sheep never share one journal; a resized journal and then no journal at
# all keep every byte.  (Replay after a power cut, torn entries and removed
# or replaced objects: tests/unit/test_journal.c.)
TEST_PORT_OFFSET=60
source "$(dirname "$0")/../lib.sh"
W="$TOP/tests/cluster/writer.py"

expect_fail "a size that is not a number" 1 "invalid journal size 'abc'" \
	"$SHEEP" -p "$(port_of 5)" -j size=abc "$T/bad"
expect_fail "a journal below 1 MiB" 1 "invalid journal size '100K'" \
	"$SHEEP" -p "$(port_of 5)" -j size=100K "$T/bad"
expect_fail "no size" 1 "needs size=N" "$SHEEP" -p "$(port_of 5)" -j dir="$T/jd" "$T/bad"
expect_fail "an unknown option" 1 "invalid --journal option 'bogus'" \
	"$SHEEP" -p "$(port_of 5)" -j size=8,bogus "$T/bad"
check "nothing was started for them" bash -c "! ls '$T/bad/obj' 2>/dev/null | grep -q ."

mkdir -p "$T/jd"
check "sheep starts with a 4 MiB journal in its own directory" start_sheep 0 -j size=4M,dir="$T/jd"
check "the journal file is there, 4 MiB" bash -c "[ \$(stat -c %s '$T/jd/journal') = $((4 << 20)) ]"
expect_fail "a second sheep cannot use the same journal" 1 "journal in .* is in use by another sheep" \
	start_sheep 1 -j size=4M,dir="$T/jd"
check "format" dogp 0 cluster format -c 1
check "create vdi" dogp 0 vdi create jv 64M
for round in 1 2 3; do
	write_and_kill 0 jv 2
	check "round $round: restart after kill -9 during writes" start_sheep 0 -j size=4M,dir="$T/jd"
	check "round $round: every acknowledged write reads back" acked_reads_back 0 jv
done
check "more was written than the journal holds (it wrapped, checkpointing)" \
	bash -c "[ \$((\$(grep -c '^A ' '$T/ack') * 64)) -gt 4096 ]"
# (a kill -9 just after a checkpoint finds the journal empty: about 1 in 60)
check "each restart replayed what the journal held" \
	bash -c "[ \$(grep -c 'journal .*: \(replayed [0-9]* writes\|nothing to replay\)' '$T/0/sheep.log') -ge 3 ]"
check "and most held writes" \
	bash -c "[ \$(grep -c 'journal .*: replayed [1-9][0-9]* writes' '$T/0/sheep.log') -ge 2 ]"
dogp 0 vdi read jv >"$T/before"

pid=$(pid_of 0)
kill -9 "$pid" && wait_dead "$pid"
check "restart with a bigger journal" start_sheep 0 -j size=8M,dir="$T/jd"
check "it is 8 MiB now" bash -c "[ \$(stat -c %s '$T/jd/journal') = $((8 << 20)) ]"
check "the data is unchanged" same_data 0 "$T/before" jv
pid=$(pid_of 0)
kill -9 "$pid" && wait_dead "$pid"
check "restart without a journal" start_sheep 0
check "the data is still unchanged" same_data 0 "$T/before" jv
check "the journal in the default place was never made" bash -c "[ ! -e '$T/0/journal' ]"
python3 "$W" write "$(port_of 0)" jv "$T/ack" 2
check "writes without a journal read back" acked_reads_back 0 jv
finish
