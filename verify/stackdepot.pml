/*
 * stackdepot.pml -- Promela model of the stack depot's table
 * (src/stackdepot/stackdepot.cpp): a split-ordered list without deletion.
 *
 * Modelled as the code does it, one atomic step per atomic instruction:
 *   walk       from a link, acquire-load each link; a record's key and
 *              stack are immutable once it is reachable (read with the load
 *              that reached it); stop before the first node that sorts after
 *              the wanted order, or at a record of that order holding the
 *              stack
 *   link_in    store the node's own next word (it is unreachable), then CAS
 *              the word before its place from the successor read to the node
 *              (a bucket's word: state bits compared and kept); a lost CAS
 *              walks on from the same node
 *   buckets    bucket_start reads the size, then the bucket's state; an
 *              unlinked bucket is linked by link_bucket: each ancestor (b
 *              without its top bit) not yet ready first, each claimed by a CAS
 *              Unlinked -> Claimed, its dummy walked to and linked from the
 *              nearest linked ancestor, then marked Ready by one RMW; a
 *              bucket claimed by another thread is walked past from its
 *              ancestor
 *   insert     walk from the bucket; not found: reserve a record (the pool's
 *              fetch_add), fill it, link_in; a twin found there wins
 *   growth     a separate process doubles the size at any moment (the code
 *              grows after inserts: any moment over-approximates it)
 *
 * Configuration: 2 hash bits (4 buckets; the size 1, 2 or 4), 3 inserters:
 *   P0 and P1 insert stack A (hash 3: bucket 0, 1 or 3, whose ancestors are
 *   1 and 0); P2 inserts B, a different stack with A's hash.
 *
 * Variants (spin -a -DNAME):
 *   (none)         must verify: 0 errors, complete search
 *   -DPROGRESS     any inserter may stop forever at any point (a preempted
 *                  thread, one interrupted by a signal whose handler
 *                  inserts too, or a process killed mid-insert: forked
 *                  processes share the depot); the others must still
 *                  finish and agree
 *   -DNO_CLAIM     must fail: every thread links the bucket's dummy itself
 *   -DNO_REWALK    must fail: a lost CAS retries at the same place
 *   -DNO_TWIN      must fail: a record of the same order is not compared
 *
 * Properties (assertions at the end, after every inserter finished):
 *   D1 the two inserts of A returned the same handle; B's differs from A's
 *   D2 the list from bucket 0 is sorted (a dummy before its bucket's records),
 *      acyclic, holds each stack once, each dummy at most once, and every
 *      ready bucket's dummy; every handle returned is on it
 */

#define NB 4            /* buckets: hash bits 2 */
#define NR 3            /* record slots in the pool */
#define NN 7            /* nodes: dummies 0..3, records 4..6 (the trail's numbers) */
#define END 0           /* links are node + 1 */
#define UNLINKED 0
#define CLAIMED 1
#define READY 2
#define STACK_A 1
#define STACK_B 2
#define STACK_C 3

byte nxt[NN];           /* each node's next link */
byte st[NB];            /* each bucket's state bits (bucket 0: always ready) */
byte rkey[NR];          /* a record's hash */
byte rstack[NR];        /* a record's stack */
byte lg = 0;            /* the table's size is 2^lg */
byte cursor = 0;        /* the pool's cursor (records reserved) */
byte result[3];         /* handles (record node + 1) returned: A by P0, A by P1, B by P2 */
bool done[3];
bool gone[3];           /* PROGRESS: stopped for good */

#define REV(x)    (((x) & 1) * 2 + ((x) >> 1))   /* 2-bit reversal */
#define ORDER(n)  ((n) < NB -> REV(n) * 2 : REV(rkey[(n) - NB]) * 2 + 1)
#define PARENT(b) ((b) >= 2 -> (b) - 2 : 0)

#ifdef PROGRESS
#define MAYSTOP if :: goto stopped :: skip fi
#else
#define MAYSTOP skip
#endif

/* walk from node `at` (its next word) to the place of order `ord`; a record
   of that order holding stack `stk` (0: none wanted) is returned in found */
inline walk(at, ord, stk, found, psucc, pst) {
  found = 0;
  do
  :: atomic {
       cur = nxt[at]; curst = (at < NB -> st[at] : 0);
       if
       :: cur == END -> psucc = cur; pst = curst; stop = 1
       :: else -> o = ORDER(cur - 1);
          if
          :: o < ord -> at = cur - 1
#ifndef NO_TWIN
          :: o == ord && stk != 0 && rstack[cur - 1 - NB] == stk -> found = cur; stop = 1
          :: o == ord && stk != 0 && rstack[cur - 1 - NB] != stk -> at = cur - 1
          :: o == ord && stk == 0 -> psucc = cur; pst = curst; stop = 1
#else
          :: o == ord -> psucc = cur; pst = curst; stop = 1
#endif
          :: o > ord -> psucc = cur; pst = curst; stop = 1
          fi
       fi;
       cur = 0; curst = 0; o = 0;   /* dead: not part of the state */
       if
       :: stop -> stop = 0; break
       :: else -> skip
       fi
     }
     MAYSTOP
  od
}

/* link `node` after `at` (place psucc/pst), walking on after a lost CAS */
inline link_in(node, at, ord, stk, found, psucc, pst) {
  do
  :: nxt[node] = psucc;          /* unreachable: a plain store (bucket: state kept) */
     MAYSTOP;
     atomic {
       if
       :: nxt[at] == psucc && (at >= NB || st[at] == pst) -> nxt[at] = node + 1; ok = 1;
          printf("P%d: links node %d after node %d\n", _pid - 1, node, at)
       :: else -> ok = 0
       fi
     }
     if
     :: ok -> ok = 0; break
     :: else ->
        MAYSTOP;
#ifndef NO_REWALK
        walk(at, ord, stk, found, psucc, pst);
        if
        :: found != 0 -> break
        :: else -> skip
        fi
#else
        atomic { psucc = nxt[at]; pst = (at < NB -> st[at] : 0) }
#endif
     fi
  od
}

/* from := the node to walk bucket b from (b >= 1, b not seen ready) */
inline link_bucket(b, from) {
  /* the chain of ancestors not ready, b first */
  n = 0; a = b;
  do
  :: a == 0 -> break
  :: a != 0 ->
     if
     :: n > 0 -> atomic { if :: st[a] == READY -> break :: else -> skip fi }
     :: else -> skip
     fi;
     chain[n] = a; n++; a = PARENT(a)
  od;
  from = a;
  do
  :: n == 0 -> break
  :: n > 0 ->
     n--; x = chain[n];
#ifndef NO_CLAIM
     atomic {
       if
       :: st[x] == UNLINKED -> st[x] = CLAIMED; claimed = 1
       :: else -> claimed = 0; if :: st[x] == READY -> from = x :: else -> skip fi
       fi
     }
#else
     atomic { claimed = (st[x] != READY); if :: !claimed -> from = x :: else -> st[x] = CLAIMED fi }
#endif
     MAYSTOP;
     if
     :: claimed ->
        at = from; walk(at, REV(x) * 2, 0, found, psucc, pst);
        MAYSTOP;
        link_in(x, at, REV(x) * 2, 0, found, psucc, pst);
        MAYSTOP;
        atomic { st[x] = READY; from = x; psucc = 0; pst = 0; found = 0; at = 0 }  /* the fetch_xor keeping the link: one RMW */
     :: else -> skip
     fi
  od;
  atomic { x = 0; a = 0; claimed = 0; chain[0] = 0; chain[1] = 0 }
}

inline insert(stk, hash, slot_out) {
  atomic { b = hash & ((1 << lg) - 1) };
  if
  :: b == 0 -> from = 0
  :: else ->
     atomic { if :: st[b] == READY -> from = b; ready = 1 :: else -> ready = 0 fi };
     if
     :: !ready -> link_bucket(b, from)
     :: else -> skip
     fi
  fi;
  atomic { b = 0; ready = 0 };
  MAYSTOP;
  at = from; walk(at, REV(hash) * 2 + 1, stk, found, psucc, pst);
  if
  :: found != 0 -> slot_out = found
  :: else ->
     atomic { r = cursor; cursor++ };
     rkey[r] = hash; rstack[r] = stk;
     MAYSTOP;
     link_in(NB + r, at, REV(hash) * 2 + 1, stk, found, psucc, pst);
     if
     :: found != 0 -> slot_out = found
     :: else -> slot_out = NB + r + 1
     fi
  fi;
  atomic { at = 0; from = 0; found = 0; psucc = 0; pst = 0; ok = 0; r = 0;
           printf("P%d: stack %d gets handle %d\n", _pid - 1, stk, slot_out) }
}

proctype inserter(byte id) {
  byte cur, curst, o, stop, at, from, found, psucc, pst, ok, b, ready, n, a, x, claimed, r;
  byte chain[2];
  if
  :: id == 0 -> insert(STACK_A, 3, result[0])
  :: id == 1 -> insert(STACK_A, 3, result[1])
  :: id == 2 -> insert(STACK_B, 3, result[2])
  fi;
  done[id] = 1;
#ifdef PROGRESS
  goto finish;
stopped:
  gone[id] = 1;
end_stopped:
  false;                 /* never runs again: a valid end state */
finish:
#endif
  skip
}

proctype grower() {
  do
  :: atomic { lg < 2 -> lg++ }
  :: break
  od
}

init {
  byte i, node, prev_order, o, seen_stack[4], seen_node[NN], steps;
  st[0] = READY;
  atomic {
    run inserter(0); run inserter(1); run inserter(2); run grower()
  };
  ((done[0] || gone[0]) && (done[1] || gone[1]) && (done[2] || gone[2]));
  /* D1 */
  if
  :: done[0] && done[1] -> assert(result[0] == result[1])
  :: else -> skip
  fi;
  if
  :: done[0] && done[2] -> assert(result[2] != result[0])
  :: else -> skip
  fi;
  /* D2: the list from bucket 0 */
  node = nxt[0]; prev_order = 0; steps = 0;
  do
  :: node == END -> break
  :: node != END ->
     steps++;
     assert(steps <= NN);                       /* acyclic */
     assert(!seen_node[node - 1]);
     seen_node[node - 1] = 1;
     o = ORDER(node - 1);
     assert(o >= prev_order);                   /* sorted */
     if
     :: node - 1 < NB -> assert(st[node - 1] != UNLINKED)
     :: else -> assert(!seen_stack[rstack[node - 1 - NB]]); seen_stack[rstack[node - 1 - NB]] = 1
     fi;
     prev_order = o;
     node = nxt[node - 1]
  od;
  i = 1;
  do
  :: i < NB -> if :: st[i] == READY -> assert(seen_node[i]) :: else -> skip fi; i++
  :: i == NB -> break
  od;
  i = 0;
  do
  :: i < 3 -> if :: result[i] != 0 -> assert(seen_node[result[i] - 1]) :: else -> skip fi; i++
  :: i == 3 -> break
  od
}
