/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * castle.h - the one definition of everything the BPF programs and user space
 * share: map names, keys, values, reasons, limits. Both sides include this file;
 * never declare these structs a second time.
 *
 * Layout rules: fixed-width types only, explicit padding, every struct a
 * multiple of 8 bytes, so the BPF (bpfel) and x86_64 layouts are identical.
 */
#ifndef CASTLE_CASTLE_H
#define CASTLE_CASTLE_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define CASTLE_VERSION "0.1.0"

/* Limits of the data path. Changing one changes map layouts: pinned maps of an
 * older build are then refused instead of silently misread. */
#define CASTLE_GENS 2		  /* policy generations: active and standby */
#define CASTLE_MAX_CLASSES 16	  /* rate-limit classes per policy */
#define CASTLE_MAX_PORT_RANGES 8  /* dst_ports ranges per class */
#define CASTLE_MAX_TLS_PORTS 16	  /* tls.ports */
#define CASTLE_MAX_IFACES 64	  /* interfaces with counters */
#define CASTLE_SNI_MAX 128	  /* longest SNI name kept (bytes, lower case) */
#define CASTLE_MAX_VLANS 2	  /* 802.1Q / 802.1ad tags parsed */
#define CASTLE_MAX_V6_EXT 8	  /* IPv6 extension headers walked */
#define CASTLE_CLASS_NAME_LEN 32  /* class name with its NUL */

/* Default map capacities (entries). castled may size the LRU and the lists
 * from its options; the others are fixed. */
#define CASTLE_RL_ENTRIES_DEFAULT (1u << 20)	  /* tracked sources */
#define CASTLE_POL_EXACT_ENTRIES (1u << 21)	  /* policy exact blocks, per family */
#define CASTLE_POL_NET_ENTRIES (1u << 18)	  /* policy block CIDRs, per family */
#define CASTLE_POL_ALLOW_ENTRIES (1u << 16)	  /* policy allow CIDRs, per family */
#define CASTLE_CSRC_ENTRIES 4096		  /* class source CIDRs, per family */
#define CASTLE_MAN_EXACT_ENTRIES (1u << 20)	  /* manual + auto exact, per family */
#define CASTLE_MAN_NET_ENTRIES (1u << 16)	  /* manual + auto CIDRs, per family */
#define CASTLE_MAN_ALLOW_ENTRIES (1u << 16)	  /* manual allow CIDRs, per family */
#define CASTLE_SNI_ENTRIES 1024			  /* tls.sni.allow names */
#define CASTLE_EVENTS_BYTES (256u * 1024)	  /* drop-event ring buffer */
#define CASTLE_EVENTS_PER_SEC_DEFAULT 100	  /* sampled drop events per second */

#define CASTLE_PIN_DIR_DEFAULT "/sys/fs/bpf/castle"
#define CASTLE_STATE_DIR_DEFAULT "/var/lib/castle"

enum castle_verdict {
	CASTLE_PASS = 0,
	CASTLE_DROP = 1,
	CASTLE_VERDICT_MAX,
};

/* Why a packet got its verdict. The metric label of each is in
 * CASTLE_REASONS below; keep the two in the same order. In dry-run a packet
 * that would have dropped is counted as verdict pass with the drop reason. */
enum castle_reason {
	CASTLE_R_OK = 0,	/* passed every check */
	CASTLE_R_ALLOWLIST,	/* source on the allowlist */
	CASTLE_R_NON_IP,	/* ARP and other non-IP frames */
	CASTLE_R_ND,		/* IPv6 neighbour discovery (hop limit 255) */
	CASTLE_R_BLOCKLIST,
	CASTLE_R_AUTOBAN,
	CASTLE_R_RATELIMIT,
	CASTLE_R_MALFORMED,
	CASTLE_R_TLS_NOT_TLS,
	CASTLE_R_TLS_VERSION,
	CASTLE_R_TLS_SNI,
	CASTLE_R_QUIC,
	CASTLE_R_TLS,		/* TC: segment of a verified TLS connection */
	CASTLE_R_UNTRACKED,	/* TC: connection older than the gate, or lost state */
	CASTLE_REASON_MAX,
};

#define CASTLE_REASONS                                                             \
	"ok", "allowlist", "non_ip", "nd", "blocklist", "autoban", "ratelimit",    \
		"malformed", "tls_not_tls", "tls_version", "tls_sni", "quic", "tls", \
		"untracked"

enum castle_stage {
	CASTLE_STAGE_XDP = 0,
	CASTLE_STAGE_TC = 1,
};

/* Where a blocklist or allowlist entry came from. Policy entries live in the
 * per-generation maps and are replaced by a reload; manual and auto entries
 * live in the man_* maps and are never touched by a reload. */
enum castle_origin {
	CASTLE_ORIGIN_POLICY = 0,
	CASTLE_ORIGIN_MANUAL = 1,
	CASTLE_ORIGIN_AUTO = 2,
	CASTLE_ORIGIN_MAX,
};

/* ---- counters ---------------------------------------------------------- */

struct castle_counter {
	__u64 packets;
	__u64 bytes;
};

/* Value of xdp_stats / tc_stats: PERCPU_ARRAY indexed by the interface's
 * counter slot, which `ifslot[ifindex]` gives (castled assigns slots 1..63 at
 * attach; 0 = every interface without a slot). Two array lookups cost a
 * fraction of one hash lookup on every packet. The reason dimension is a power
 * of two so the BPF side can bound an index with a mask the verifier always
 * follows. */
#define CASTLE_IFSLOT_ENTRIES 65536	/* ifindexes with a slot: 0 .. 65535 */
#define CASTLE_REASON_SLOTS 16
struct castle_stats {
	struct castle_counter c[CASTLE_VERDICT_MAX][CASTLE_REASON_SLOTS];
};

/* Value of class_stats: PERCPU_ARRAY indexed by
 * CASTLE_CLASS_STATS_KEY(interface counter slot, class slot), so that every
 * interface counts its classes apart (slot 0: interfaces without a slot). */
struct castle_class_stats {
	struct castle_counter c[CASTLE_VERDICT_MAX];
};
#define CASTLE_CLASS_STATS_KEY(ifslot, cls) ((ifslot) * CASTLE_MAX_CLASSES + (cls))
#define CASTLE_CLASS_STATS_ENTRIES (CASTLE_MAX_IFACES * CASTLE_MAX_CLASSES)

/* ---- address keys ------------------------------------------------------ */

/* Exact maps (hash): key is the address in network byte order. */
struct castle_in6 {
	__u8 a[16];
};

/* LPM trie keys: prefixlen first, address in network byte order. */
struct castle_lpm4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct castle_lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Value of every blocklist map (exact and LPM, policy and manual). Times are
 * CLOCK_BOOTTIME nanoseconds (bpf_ktime_get_boot_ns), so a TTL keeps running
 * across suspend and is checked by the kernel on every hit. */
struct castle_block_val {
	__u64 expires_ns;	/* 0 = never */
	__u64 created_ns;
	__u64 hits;		/* packets this entry dropped (atomic add) */
	__u64 last_hit_ns;	/* CLOCK_MONOTONIC to a tick (the BPF side's
				 * castle_tick_mono_ns, cheap); maps_walk.c converts
				 * it to CLOCK_BOOTTIME for listings */
	__u32 origin;		/* enum castle_origin */
	__u32 class_slot;	/* policy: CASTLE_HIT_SLOT | its counter;
				 * manual/auto: CASTLE_MAN_SLOT(counter, class)
				 * or just the class (auto: the class that
				 * banned the source, manual: CASTLE_NO_CLASS) */
};

/*
 * A policy entry (block or allow CIDR, exact block) counts its hits in a
 * per-CPU slot of `block_hits` (a plain add; `hits` holds what a reload
 * carried over) instead of a locked add on the shared entry. Few CIDRs take
 * the packets of many sources from every CPU at once, RSS spreads even one
 * source over the CPUs by its ports, and the locked add took half the drop
 * function's samples live, 2-3 % of the drop rate (docs/BENCHMARKS.md,
 * eighth and ninth rounds). castle_gen_commit gives each generation's
 * entries the slots of bank (gen & 1), zeroed first: block CIDRs, then allow
 * CIDRs, then exact blocks. Entries past a bank's size keep the locked add
 * (CASTLE_HIT_SLOT clear: a block entry's class_slot is then CASTLE_NO_CLASS,
 * an allow entry's hit_slot 0); manual/auto entries have slots of their own
 * (CASTLE_HIT_MAN below). An entry's hits are `hits` plus the sum of its slot
 * over the CPUs.
 */
#define CASTLE_HIT_SLOT 0x80000000u
/* block_hits holds two banks of this many slots unless castled sizes it to
 * the host (castle_hit_bank in user/lib/maps.h). */
#define CASTLE_HIT_BANK_DEFAULT 1024

/*
 * Manual and auto entries (castlectl's, the XDP program's auto-bans) count in
 * a slot of `man_hits` instead, which no generation owns: a CIDR blocked by
 * hand during a flood and an auto-banned flooder are the entries every CPU
 * hits at once. Their writers claim a free slot in the bitmap `man_slots`
 * with an atomic OR (user space on its mapping, the program with BPF_ATOMIC),
 * word by word from a shared cursor. Claimed slots are zero. Nobody frees a
 * slot but castled (and a writer whose insert failed, see below): its sweep
 * (castle_man_sweep_*, on its walk of the manual maps for saving) zeroes and releases a slot no manual/auto entry
 * has named for CASTLE_MAN_SWEEP_AGE_S (15 s) and two sweeps, so a deleted,
 * reaped or overwritten entry's slot is not handed on while a program may
 * still add to it, nor is a slot claimed by a writer that has not inserted
 * its entry yet (a writer that stalls between the two for longer than the
 * age finds its slot free after its insert and claims it again; the sweep
 * does the same for any slot an entry names). A writer whose insert fails
 * gives its slot back itself. With
 * every slot taken (and without castled none is freed), an entry
 * keeps the locked add (no CASTLE_HIT_SLOT bit). The value names the slot in
 * bits 8..29 and keeps the class in the low byte:
 */
#define CASTLE_HIT_MAN 0x40000000u
#define CASTLE_MAN_SLOT(i, cls) (CASTLE_HIT_SLOT | CASTLE_HIT_MAN | ((__u32)(i) << 8) | ((cls) & 0xffu))
#define CASTLE_MAN_SLOT_IDX(v) (((v) >> 8) & 0x3fffffu)
#define CASTLE_MAN_SLOTS_MAX (1u << 22)
_Static_assert(((CASTLE_MAN_SLOTS_MAX - 1) << 8 | 0xffu) < CASTLE_HIT_MAN,
	       "a man_hits slot index and a class fit below CASTLE_HIT_MAN");
/* man_hits holds this many slots unless castled sizes it to the host
 * (castle_man_slots in user/lib/maps.h); man_slots one word per 64, after
 * its header. */
#define CASTLE_MAN_SLOTS_DEFAULT 1024
/* man_slots[0]: where the next claim starts looking (a word index, taken
 * modulo `words` by whoever claims), and how many bitmap words follow
 * (written once by the first user space to open the map: 0 = no slots). */
struct castle_man_slots_hdr {
	__u32 cursor;
	__u32 words;
};
/* Bitmap words a claim looks at before it gives up (the entry then keeps
 * the locked add). */
#define CASTLE_MAN_SLOT_TRIES 4

/* Value of every allowlist map. */
struct castle_allow_val {
	__u64 created_ns;
	__u64 hits;
	__u32 origin;
	__u32 hit_slot;		/* policy CIDR: CASTLE_HIT_SLOT | its counter;
				 * manual: CASTLE_MAN_SLOT(counter, 0) or 0 */
};

/* Value of pol_csrc4/6: the classes whose match.src holds this prefix. User
 * space ORs in the bits of every enclosing prefix, so the longest match alone
 * answers "which classes match this source". */
struct castle_csrc_val {
	__u32 classes;
	__u32 _pad;
};

/* Key of pol_sni: a lower-case server name, NUL padded. "*.example.com" is
 * stored as written; the TC program looks up the name, then "*." + the name
 * without its first label. */
struct castle_sni_key {
	char name[CASTLE_SNI_MAX];
};

/* ---- policy (one per generation, in the `policy` array) --------------- */

enum castle_policy_flags {
	CASTLE_F_DRY_RUN = 1u << 0,	   /* count, never drop */
	CASTLE_F_MALFORMED_PASS = 1u << 1, /* malformed: pass (default drop) */
	CASTLE_F_TLS = 1u << 2,		   /* tls section present */
	CASTLE_F_TLS_QUIC_ALLOW = 1u << 3, /* tls.quic: allow */
	CASTLE_F_TLS_SNI = 1u << 4,	   /* tls.sni.allow present */
};

/* A class matches proto 0 (any), 6, 17, or 1 (ICMP and ICMPv6). */
#define CASTLE_PROTO_ANY 0
#define CASTLE_PROTO_ICMP 1
#define CASTLE_PROTO_TCP 6
#define CASTLE_PROTO_UDP 17

struct castle_port_range {
	__u16 lo;
	__u16 hi;
};

/* Token buckets are GCRA: one 64-bit theoretical arrival time (TAT) per
 * source, advanced with compare-and-swap, so a bucket is exact across CPUs. */
struct castle_class {
	__u64 pkt_cost_ns;	/* 1e9 / rate */
	__u64 pkt_tol_ns;	/* (burst - 1) * pkt_cost_ns */
	__u64 byte_cost_fp;	/* ns per byte << CASTLE_BYTE_FP_SHIFT; 0 = no byte rate */
	__u64 byte_burst_ns;	/* byte_burst * ns per byte */
	__u64 ban_for_ns;	/* auto-ban duration; 0 = no auto-ban */
	__u32 ban_after;	/* drops in a row before the ban */
	__u8 proto;		/* CASTLE_PROTO_* */
	__u8 nranges;		/* 0 = any destination port */
	__u8 plen4;		/* aggregation prefix, IPv4 (default 32) */
	__u8 plen6;		/* aggregation prefix, IPv6 (default 64) */
	struct castle_port_range ports[CASTLE_MAX_PORT_RANGES];
};

#define CASTLE_BYTE_FP_SHIFT 16

struct castle_tls_conf {
	__u16 ports[CASTLE_MAX_TLS_PORTS];
	__u16 min_version;	/* 0x0301 (1.0) .. 0x0304 (1.3) */
	__u8 nports;
	__u8 _pad[5];
};

/* The per-generation (array-of-maps) maps, in a fixed order. */
enum castle_pol_map {
	CASTLE_PM_ALLOW4,
	CASTLE_PM_ALLOW6,
	CASTLE_PM_BLOCK4,
	CASTLE_PM_BLOCK6,
	CASTLE_PM_NET4,
	CASTLE_PM_NET6,
	CASTLE_PM_CSRC4,
	CASTLE_PM_CSRC6,
	CASTLE_PM_SNI,
	CASTLE_PM_NHASH4,	/* block CIDRs by prefix length, see castle_nhash_lens */
	CASTLE_PM_NHASH6,
	CASTLE_PM_MAX,
};

/*
 * A generation's block CIDRs of one family sit either in an LPM trie
 * (pol_net4/6) or, when they come in at most CASTLE_NHASH_MAX4/6 distinct
 * prefix lengths, in one hash (pol_nhash4/6) keyed by castle_lpm4/6 with the
 * host bits cleared: the programs then look up the source masked to each
 * length, longest first, and a hash lookup is a fraction of a trie walk
 * (block-cidr-v4 ~33 ns against ~98 in the profile of BENCHMARKS.md). An
 * expired entry falls through to the next shorter length. Value of the
 * `pol_nlens` array, indexed by generation like `policy`.
 */
#define CASTLE_NHASH_LENS 8
/* How many lengths castle_gen_commit puts in a hash, at most: a source on
 * no list pays one hash lookup per length (~5 ns IPv4, ~9 ns IPv6 in
 * test-run), a CIDR match in a trie a walk (~50 and ~80 ns more than in the
 * hash): see docs/BENCHMARKS.md. */
#define CASTLE_NHASH_MAX4 6
#define CASTLE_NHASH_MAX6 4
struct castle_nhash_lens {
	__u8 n4;			/* lengths used in len4 */
	__u8 n6;
	__u8 len4[CASTLE_NHASH_LENS];	/* longest first */
	__u8 len6[CASTLE_NHASH_LENS];
	__u8 _pad[6];
};

/*
 * Which counter and bucket slot each class of a generation uses. The policy's
 * classes[] stay in match order (the first that matches applies); a class's
 * slot names its class_stats counters, its sources' rl_state/rl_steady keys
 * and its auto-bans. castle_apply keeps a class's slot across reloads by
 * name, so inserting or reordering classes moves no counter and no bucket
 * to another class. The i-th class uses slot i ^ slot_xor[i]: an entry never
 * written (no castled of this build, tests) is all zeros, slot i. Value of
 * the `class_slots` array, indexed by generation like `policy`; `serial` is
 * the policy serial it was written for (user space trusts the entry only
 * when it matches the policy's: an older castled rewrites policies without
 * it).
 */
struct castle_class_slots {
	__u64 serial;
	__u8 slot_xor[CASTLE_MAX_CLASSES];
	/* User space only: the serial of the last policy in which each slot
	 * held a class (0: never), so that a new name takes the slot let go
	 * longest ago, whose buckets are the likeliest to be gone. */
	__u64 last_held[CASTLE_MAX_CLASSES];
};

/* Manual/auto maps, in a fixed order. */
enum castle_man_map {
	CASTLE_MM_ALLOW4,
	CASTLE_MM_ALLOW6,
	CASTLE_MM_BLOCK4,
	CASTLE_MM_BLOCK6,
	CASTLE_MM_NET4,
	CASTLE_MM_NET6,
	CASTLE_MM_MAX,
};

struct castle_policy {
	__u32 flags;		/* enum castle_policy_flags */
	__u32 nclasses;
	__u32 any_src_classes;	/* classes without match.src: they match every source */
	__u32 events_per_sec;	/* drop-event sampling rate; 0 = default */
	/* Bit (1 << CASTLE_PM_x): this generation's inner map x holds entries.
	 * Set by castle_gen_commit from the maps themselves; an inner map never
	 * changes after its generation went live, so a clear bit lets the
	 * programs skip the lookup. */
	__u32 lists;
	/* 1e9 / events_per_sec (the default's when 0): the event sampler's
	 * cost per event, so the drop path need not divide. Set by
	 * castle_gen_commit; 0 from any other writer makes the programs divide. */
	__u32 event_cost_ns;
	__u64 serial;		/* increases with every applied policy */
	struct castle_class classes[CASTLE_MAX_CLASSES];
	struct castle_tls_conf tls;
	/* User space only: the policy's class names, switched with the rest of
	 * the generation so castlectl and the metrics name classes correctly. */
	char class_names[CASTLE_MAX_CLASSES][CASTLE_CLASS_NAME_LEN];
};

/* Value of the single-entry `state` array. `gen` selects the policy slot and
 * the inner maps of the per-generation outer maps; a reload fills the standby
 * generation and then flips this one word, so a packet sees one whole policy. */
struct castle_state {
	__u32 gen;
	__u32 daemon_pid;	/* castled's pid while it runs, else 0 (user space only) */
	__u64 ev_tat;		/* GCRA state of the drop-event sampler */
	__u64 tick_to_mono;	/* CLOCK_MONOTONIC minus jiffies in ns, set by
				 * the programs on first use (0 = not yet) */
	__u64 reloads_ok;	/* user space only: policy applies that succeeded */
	__u64 reloads_failed;	/* ... and that were refused */
	__u64 last_reload_ok_unix; /* wall clock, seconds */
};

/* Value of the single-entry `daemon` array (user space only): castled's
 * bookkeeping that castle_state has no room for (its size is part of the
 * pinned layout; this struct keeps spare words for the next field).
 *
 * Reloads: castled numbers the reloads it takes from SIGHUP, `reload_started`
 * when it takes the signal (before it reads the file), `reload_finished` when
 * it is done, as that reload's number << 1 | 1 when it applied (0 when
 * refused): one 64-bit word, so that a reader never sees one reload's number
 * with another's verdict. `castlectl reload` waits for a reload numbered past
 * the one under way when it signalled: that one read the file too early.
 *
 * CASTLE_DAEMON_F_RESTORED: the manual entries of the state file are in
 * these maps (castled restored them, or adopted pins whose castled had).
 * Pins without it were left by a start that did not get that far (killed,
 * or failed after pinning): the next castled restores the file into them,
 * and castlectl does not save these maps over the file meanwhile.
 *
 * The numbers and the flag live as long as the pins (a reboot clears them).
 * Pins that have `state` and no `daemon` map (libbpf pins `daemon` first)
 * are an older build's. */
struct castle_daemon_rec {
	__u64 reload_started;
	__u64 reload_finished;
	__u64 flags;
	__u32 pid;		/* the castled that numbers reloads here (a castled
				 * of a build before the map leaves it alone: when it
				 * is not state's daemon_pid, castlectl goes by the
				 * counters in state) */
	__u32 pad;
	__u64 spare[4];
};

#define CASTLE_DAEMON_F_RESTORED 1ull
#define CASTLE_RELOAD_SEQ(finished) ((finished) >> 1)
#define CASTLE_RELOAD_OK(finished) ((finished) & 1)

/* Value of the single-entry `man_count` array (mmap-able): how many entries
 * each manual/auto map may hold, indexed by CASTLE_MM_x. An upper bound, never
 * less than the truth: every writer adds one before it inserts and takes one
 * off after a failed insert or a successful delete (user space through
 * maps.c, the XDP program when it auto-bans). A zero lets the programs skip
 * that map; a crash between the two steps leaves the count one too high,
 * which costs a lookup and nothing else. castled adds one back for a map it
 * finds non-empty with a zero count (an entry written around castle's tools,
 * e.g. with bpftool). */
struct castle_man_count {
	__u64 n[CASTLE_MM_MAX];
};

/* ---- user-space-only maps (pinned with the others, never read by BPF) --- */

enum castle_xdp_mode_id { CASTLE_XDPM_NONE = 0, CASTLE_XDPM_NATIVE, CASTLE_XDPM_GENERIC,
			  CASTLE_XDPM_MULTIPROG_NATIVE, CASTLE_XDPM_MULTIPROG_GENERIC };
enum castle_tc_mode_id { CASTLE_TCM_NONE = 0, CASTLE_TCM_TCX, CASTLE_TCM_CLSACT };
/* Flags above the mode in castle_iface.tc_mode (the low byte is the mode):
 * castle created the clsact qdisc, so unload removes it once it holds no
 * filter of anyone's. */
#define CASTLE_TCM_MODE_MASK 0xffu
#define CASTLE_TCM_F_OWN_QDISC 0x100u

/* Value of `ifaces` (HASH keyed by __u32 ifindex): what castled attached. */
struct castle_iface {
	char name[16];
	__u32 xdp_mode;		/* enum castle_xdp_mode_id */
	__u32 xdp_prog_id;
	__u32 tc_mode;		/* enum castle_tc_mode_id | CASTLE_TCM_F_* */
	__u32 tc_prog_id;
	__u64 attached_unix;	/* wall clock, seconds */
};

/* `notes` (HASH): the comment an operator gave an entry (castlectl --comment,
 * or the policy's comment). Kept out of the block values so that a million
 * entries without comments cost nothing. A policy entry and a manual entry
 * of the same prefix each have their own note (`origin`). Builds before the
 * field wrote 0 there for both; castled's first reload writes the policy's
 * notes again under 1 and drops the 0 ones no manual entry owns. */
struct castle_note_key {
	__u32 family;		/* 4 or 6 */
	__u32 plen;
	__u8 addr[16];
	__u32 list;		/* 0 = block, 1 = allow */
	__u32 origin;		/* 0 = manual (castlectl), 1 = policy */
};

#define CASTLE_NOTE_MAX 64
struct castle_note {
	char text[CASTLE_NOTE_MAX];
};

#define CASTLE_NOTES_ENTRIES 65536

/* ---- rate-limit state (LRU `rl_state`, hash `rl_steady`) --------------- */

/*
 * Two tiers, so that a spoofed-source flood cannot reset the buckets of the
 * sources that matter. Every new source starts in the LRU `rl_state`, where a
 * flood of new addresses evicts the least recently seen. A source that keeps
 * sending (CASTLE_RL_PROMOTE_PKTS packets over at least CASTLE_RL_PROMOTE_NS)
 * moves, bucket and all, into `rl_steady`, a plain hash that nothing evicts:
 * spoofed addresses, each seen once or twice, never get there. castled removes
 * steady entries idle for CASTLE_RL_STEADY_IDLE_NS. When `rl_steady` is full,
 * sources stay in the LRU (and an event is counted).
 */
#define CASTLE_RL_STEADY_ENTRIES 65536
#define CASTLE_RL_PROMOTE_PKTS 8
#define CASTLE_RL_PROMOTE_NS 1000000000ull
#define CASTLE_RL_STEADY_IDLE_NS (120ull * 1000000000ull)
/* A source's last_ns is stored when it moved this far, so the sweep above
 * allows for as much: an idle source goes after 120 to 128 s (plus up to one
 * period of castled's sweep). */
#define CASTLE_RL_SEEN_STEP_NS (8ull * 1000000000ull)

/* Index of the per-CPU `rl_events` array. */
enum castle_rl_event {
	CASTLE_RLE_INSERT = 0,	/* new source inserted into rl_state (LRU) */
	CASTLE_RLE_PROMOTE,	/* source moved to rl_steady */
	CASTLE_RLE_STEADY_FULL,	/* promotion refused: rl_steady full */
	CASTLE_RLE_UNTRACKED,	/* could not track a source: passed unlimited */
	CASTLE_RLE_MAX,
};

#define CASTLE_RL_EVENTS "insert", "promote", "steady_full", "untracked"

struct castle_rl_key {
	__u32 class_slot;
	__u32 family;		/* 4 or 6 */
	__u8 addr[16];		/* source masked to the class prefix */
};

struct castle_rl_val {
	__u64 tat;		/* packet bucket TAT, ns (bpf_ktime_get_ns); 0 is
				 * a full bucket (a new source) */
	__u64 byte_tat;		/* byte bucket TAT, ns; 0 likewise */
	__u64 last_ns;		/* last packet seen, CLOCK_MONOTONIC to a tick,
				 * stored every CASTLE_RL_SEEN_STEP_NS */
	__u32 drops_in_row;	/* for auto-ban */
	__u32 pkts;		/* packets in the promotion window (stops counting
				 * at CASTLE_RL_PROMOTE_PKTS) */
	__u64 first_ns;		/* start of the promotion window: first seen, or
				 * the last refused promotion (same clock) */
};

/* ---- drop events (ring buffer `events`) -------------------------------- */

struct castle_event {
	__u64 ts_ns;		/* bpf_ktime_get_boot_ns */
	__u32 ifindex;
	__u8 stage;		/* enum castle_stage */
	__u8 reason;		/* enum castle_reason */
	__u8 family;		/* 4 or 6 */
	__u8 proto;
	__u8 addr[16];		/* source address */
	__u16 dport;		/* host byte order; 0 if unknown */
	__u8 class_slot;	/* 0xff if none */
	__u8 dry_run;
	__u32 len;		/* frame length */
};

#define CASTLE_NO_CLASS 0xff

/* ---- map names (pinned as PIN_DIR/NAME) -------------------------------- */

#define CASTLE_MAP_STATE "state"
#define CASTLE_MAP_POLICY "policy"
#define CASTLE_MAP_POL_ALLOW4 "pol_allow4"
#define CASTLE_MAP_POL_ALLOW6 "pol_allow6"
#define CASTLE_MAP_POL_BLOCK4 "pol_block4"
#define CASTLE_MAP_POL_BLOCK6 "pol_block6"
#define CASTLE_MAP_POL_NET4 "pol_net4"
#define CASTLE_MAP_POL_NET6 "pol_net6"
#define CASTLE_MAP_POL_CSRC4 "pol_csrc4"
#define CASTLE_MAP_POL_CSRC6 "pol_csrc6"
#define CASTLE_MAP_POL_SNI "pol_sni"
#define CASTLE_MAP_POL_NHASH4 "pol_nhash4"
#define CASTLE_MAP_POL_NHASH6 "pol_nhash6"
#define CASTLE_MAP_POL_NLENS "pol_nlens"
#define CASTLE_MAP_CLASS_SLOTS "class_slots"
#define CASTLE_MAP_MAN_ALLOW4 "man_allow4"
#define CASTLE_MAP_MAN_ALLOW6 "man_allow6"
#define CASTLE_MAP_MAN_BLOCK4 "man_block4"
#define CASTLE_MAP_MAN_BLOCK6 "man_block6"
#define CASTLE_MAP_MAN_NET4 "man_net4"
#define CASTLE_MAP_MAN_NET6 "man_net6"
#define CASTLE_MAP_MAN_COUNT "man_count"
#define CASTLE_MAP_RL_STATE "rl_state"
#define CASTLE_MAP_RL_STEADY "rl_steady"
#define CASTLE_MAP_RL_EVENTS "rl_events"
#define CASTLE_MAP_XDP_STATS "xdp_stats"
#define CASTLE_MAP_IFSLOT "ifslot"
#define CASTLE_MAP_TC_STATS "tc_stats"
#define CASTLE_MAP_CLASS_STATS "class_stats"
#define CASTLE_MAP_EVENTS "events"
#define CASTLE_MAP_IFACES "ifaces"
#define CASTLE_MAP_NOTES "notes"
#define CASTLE_MAP_BLOCK_HITS "block_hits"
#define CASTLE_MAP_MAN_HITS "man_hits"
#define CASTLE_MAP_MAN_SLOTS "man_slots"
#define CASTLE_MAP_DAEMON "daemon"

/* Other pins under the pin directory. Links are pinned so that an attachment
 * outlives castled; XDP through libxdp/netlink needs no link. */
#define CASTLE_PIN_PROG_XDP "prog_xdp"
#define CASTLE_PIN_PROG_TC "prog_tc"
#define CASTLE_PIN_LINK_TC_FMT "link_tc_%s"	/* %s = interface name */

#endif /* CASTLE_CASTLE_H */
