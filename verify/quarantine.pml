/*
 * quarantine.pml -- Promela model of the ukasan quarantine protocol.
 *
 * Models the code in src/quarantine/quarantine.h:
 *   put        the owner appends to its per-CPU queue without any lock (one
 *              step: the entry is invisible until its count is published)
 *   transfer   the owner moves its whole queue to the global FIFO, under
 *              global_lock (queue -> FIFO is never in flight)
 *   reduce     pop the oldest batch under global_lock into the evictor's
 *              registered Evicting record; then claim and free its entries
 *              one group at a time (a claim fails while a synchronizer holds
 *              the record's stop bit); unregister under global_lock
 *   extract    (remove_cache, drain_all) under global_lock: clear matching
 *              entries of every queue and FIFO batch; for each registered
 *              evictor set stop, take the matching entries it has not
 *              claimed, clear stop, and wait only if the group it is freeing
 *              right now holds a matching node; register what it took as
 *              its own extracted record (same lock hold) and free it group
 *              by group like an evictor. A drain skips other synchronizers'
 *              records; remove_cache takes from them.
 * and the thread-exit flush (src/slab/thread.cpp).  A group is one entry
 * here (32 in the code; the protocol does not depend on the size).
 *
 * Variants (preprocessor switches, e.g. `spin -a -DBROKEN quarantine.pml`):
 *   (none)          the protocol as implemented; must verify with 0 errors.
 *   -DPROGRESS      additionally, any one owner may stop forever at any point
 *                   (a descheduled thread) except while it holds global_lock
 *                   (a lock wait, not a section) or frees an object of the
 *                   cache being removed (the one documented wait); the
 *                   remover and the final drain must still finish (spin's
 *                   invalid-end-state check).
 *   -DBROKEN        the bug of the 2018 LKML thread "kasan: convert
 *                   kasan/quarantine_lock to raw_spinlock", in this protocol's
 *                   terms: the transfer takes the queue off before it takes
 *                   global_lock, so the batch is in flight where no
 *                   synchronizer looks, and remove_cache() misses it.
 *   -DBROKEN -DNO_DESTROY_CHECK
 *                   the same without the check at the return of
 *                   remove_cache(C1): spin then finds the later free of the
 *                   destroyed cache's object.
 *   -DBROKEN_EVICT  the evictor frees its popped batch without registering it.
 *   -DDRAINER       a second synchronizer: a thread that drains everything
 *                   concurrently with remove_cache(C1) (it frees o5, there is
 *                   no successor thread, NRED = 1, to keep the state space
 *                   exhaustively searchable: ~90 M states, ~5 GB, ~2.5 min).
 *   -DDRAINER -DBROKEN_DRAIN
 *                   the drain also takes from remove_cache's extracted record
 *                   (the bug destroy_stress_test found): remove_cache returns
 *                   while C1 objects sit in the drainer's list.
 *   -DPROGRESS -DWAIT_ALL
 *                   the synchronizer waits for whatever group an evictor is
 *                   freeing (as the old protocol waited for whole sections):
 *                   spin must find the stopped owner it waits for forever.
 *
 * Configuration (small, for exhaustive search):
 *   3 thread slots: 0 and 1 are owner threads, 2 belongs to the remover thread.
 *   2 caches C1 (=0) and C2 (=1); 6 objects (cache, size, freed by):
 *     o0 (C1, 1 byte, thread 0)   o1 (C2, 2 bytes, thread 0)
 *     o2 (C1, 1 byte, thread 1)   o3 (C2, 1 byte,  thread 1)
 *     o4 (C1, 1 byte, remover thread, into its own slot, before destroying C1)
 *     o5 (C2, 1 byte, a successor thread that reuses slot 0 after thread 0
 *         has exited)
 *   cache_bytes (per-slot transfer threshold) = 1, max_bytes = 1.
 *   Owner threads free (put) their objects in nondeterministic order, may do
 *   up to NRED (= 2) allocation-path reduces at any point when
 *   global_bytes > max_bytes (racy read, rechecked under global_lock), then
 *   exit (thread-exit flush).  The remover thread frees o4, then calls
 *   remove_cache(C1) at a nondeterministic moment after every C1 object has
 *   been freed (the cache-destroy contract), then exits.  Finally init runs
 *   drain_all and checks conservation.
 *   Not modelled: signal-handler re-entry (the nested stack), the queue
 *   squeeze, magazines, the real sizes and thresholds.
 *
 * Properties (assertions; spin also checks invalid end states = deadlock):
 *   P1 after remove_cache(C1) returns no C1 object is in any per-slot queue,
 *      FIFO batch, evicting batch, evictor's hands or local list, and the free
 *      callback never frees an object of a destroyed cache;
 *   P2 every object is put exactly once and freed exactly once (final drain);
 *   P3 no deadlock (every process reaches its end);
 *   P4 a reduce that finds global_bytes > max_bytes under global_lock removes
 *      exactly one batch, every batch is <= MAXBATCH bytes, and afterwards
 *      global_bytes <= max_bytes + MAXBATCH;
 *   P5 (-DPROGRESS) the remover finishes while any owner is stopped forever
 *      at any point outside a global_lock critical section and outside the
 *      free of a C1 object it claimed.
 *
 * Memory model: Promela is sequentially consistent.  The code's orderings
 * (count published with release after the entry; chunk links published with
 * release; the pos CAS acq_rel; done published with release after a group's
 * frees) are argued in quarantine.h and exercised under ThreadSanitizer.
 *
 * Representation: a set of objects is a bitmask (bit o = object o); a batch on
 * the global FIFO is a mask; the FIFO is a buffered channel of masks.
 */

#define NOBJ      6
#define NSLOT     4            /* thread slots: 0,1 owners, 2 remover, 3 drainer */
#define NFL       5            /* fl[] (ghost local lists): slots + drain    */
#define DRAINFL   4            /* fl[] index used by the final drain (init)  */
#define GQCAP     8            /* capacity of the FIFO channel               */
#define CACHEB    1            /* per-slot queue transfer threshold          */
#define MAXB      1            /* max_bytes of the global quarantine         */
#ifndef NRED
#ifdef DRAINER
#define NRED      1            /* (a smaller state space with the drainer)   */
#else
#define NRED      2            /* allocation-path reduces per owner thread   */
#endif
#endif
#define MAXOBJ    2            /* largest object size                        */
#define MAXBATCH  (CACHEB + MAXOBJ)  /* largest possible batch               */
#define C1MASK    21           /* o0, o2, o4 */
#define C2MASK    42           /* o1, o3, o5 */
#define ALLMASK   63
#define NC1       3            /* number of C1 objects */
#define NONE      255

#define CACHE(o)  ((o) % 2)
#define SZ(o)     ((o) == 1 -> 2 : 1)
#define MBYTES(m) ((((m) >> 0) & 1) * 1 + (((m) >> 1) & 1) * 2 + \
                   (((m) >> 2) & 1) * 1 + (((m) >> 3) & 1) * 1 + \
                   (((m) >> 4) & 1) * 1 + (((m) >> 5) & 1) * 1)

/* ---- shared state of the implementation ---- */
bit  glock = 0;                /* global_lock                                */
byte global_bytes = 0;
chan gq = [GQCAP] of { byte }; /* global FIFO of batches (masks)             */
byte qmask[NSLOT];             /* per-slot (per-CPU) queue: published entries */
bit  evreg[NSLOT];             /* Evicting record registered                 */
byte evm[NSLOT];               /* its entries neither claimed nor taken      */
byte cur[NSLOT];               /* the object of the group being freed        */
bit  stop[NSLOT];              /* stop bit in Evicting::pos                  */
bit  isx[NSLOT];               /* the record is a synchronizer's extracted list */

/* ---- ghost state (not in the implementation) ---- */
byte gholder = NONE;           /* slot holding global_lock                   */
byte fl[NFL];                  /* objects held in a thread-local list: a
                                  batch taken off its queue (BROKEN), a batch
                                  being freed without a record (BROKEN_EVICT),
                                  the remover's list L                       */
byte gmask = 0;                /* union of all batches on the FIFO           */
bit  destroyed[2];             /* cache destroyed (remove_cache returned)    */
bit  put_cnt[NOBJ];
bit  freed[NOBJ];
byte c1_put = 0;               /* C1 frees (puts) that have returned         */
byte c1_left[2];               /* C1 objects owner 0 / 1 has still to free   */
byte done = 0;
byte halt_req = 0;             /* PROGRESS: slot+1 of the owner to stop      */
byte halted = 0;

inline lock(l, who)   { atomic { l == 0 -> l = 1; gholder = who } }
inline unlock(l)      { assert(l == 1); atomic { l = 0; gholder = NONE } }

/* trace output (printf is not executed by pan during verification; it is
 * shown when a counterexample trail is replayed with `spin -t`) */
inline pset(m) {
  pi = 0;
  printf("{");
  do
  :: pi < NOBJ ->
       if
       :: ((m) >> pi) & 1 -> printf(" o%d", pi)
       :: else -> skip
       fi;
       pi++
  :: else -> break
  od;
  printf(" }");
  pi = 0
}

/* global FIFO consistency, checked while holding global_lock */
#define GLOBAL_OK  (global_bytes == MBYTES(gmask))

/* Free callback: frees the objects of fl[p] one at a time (each free is a
 * separate step, so other threads interleave between the frees). */
inline free_list(p) {
  fx = 0;
  do
  :: fx == NOBJ -> break
  :: else ->
       if
       :: (fl[p] >> fx) & 1 ->
            d_step {
              assert(!destroyed[CACHE(fx)]);   /* property 1 */
              assert(put_cnt[fx] == 1);        /* property 2 */
              assert(freed[fx] == 0);          /* property 2: at most once */
              freed[fx] = 1;
              printf("T%d: free o%d (C%d)\n", p, fx, CACHE(fx) + 1);
              fl[p] = fl[p] & ~(1 << fx);
              fx++
            }
       :: else -> fx++
       fi
  od;
  fx = 0
}

/* one object freed by an evictor (the claimed group's free) */
inline free_one(p, o) {
  d_step {
    assert(!destroyed[CACHE(o)]);   /* property 1 */
    assert(put_cnt[o] == 1);        /* property 2 */
    assert(freed[o] == 0);          /* property 2: at most once */
    freed[o] = 1;
    printf("T%d: evictor frees o%d (C%d)\n", p, o, CACHE(o) + 1)
  }
}

/* ---------------- src/quarantine/quarantine.h ---------------- */

/* transfer(S): the whole queue becomes the FIFO's tail batch, under the lock */
inline transfer(s) {
#ifdef BROKEN
  d_step {
    fl[s] = qmask[s]; qmask[s] = 0;
    printf("T%d: BROKEN: q[%d] taken as batch ", s, s); pset(fl[s]);
    printf(" before global_lock: in flight\n")
  };
  lock(glock, s);
  d_step {
    tb = MBYTES(fl[s]);
    assert(tb <= MAXBATCH);
    assert(len(gq) < GQCAP);
    gq ! fl[s];
    global_bytes = global_bytes + tb;
    gmask = gmask | fl[s];
    fl[s] = 0;
    tb = 0;
    assert(GLOBAL_OK)
  };
  unlock(glock)
#else
  lock(glock, s);
  d_step {
    tb = MBYTES(qmask[s]);
    assert(tb <= MAXBATCH);
    assert(len(gq) < GQCAP);   /* model capacity suffices */
    gq ! qmask[s];
    printf("T%d: q[%d] = batch ", s, s); pset(qmask[s]); printf(" appended to global FIFO\n");
    global_bytes = global_bytes + tb;
    gmask = gmask | qmask[s];
    qmask[s] = 0;
    tb = 0;
    assert(GLOBAL_OK)
  };
  unlock(glock)
#endif
}

/* put(S, o): append (publish) without a lock; transfer past cache_bytes */
inline put(s, o) {
  d_step {
    assert(put_cnt[o] == 0);
    put_cnt[o] = 1;
    qmask[s] = qmask[s] | (1 << o);
    printf("T%d: put o%d (C%d) into q[%d]\n", s, o, CACHE(o) + 1, s)
  };
  if
  :: MBYTES(qmask[s]) > CACHEB -> transfer(s)
  :: else -> skip
  fi;
  d_step {
    if
    :: CACHE(o) == 0 ->
         c1_put++;
         if
         :: s < 2 -> c1_left[s]--
         :: else -> skip
         fi
    :: else -> skip
    fi
  }
}

/* Claim (CAS of pos, refused while a synchronizer holds stop) and free the
 * groups of S's registered record one at a time. */
inline evict_record(s) {
  do
  :: atomic {                     /* claim the next group: CAS of pos */
       stop[s] == 0 && evm[s] != 0 ->
         if
         :: evm[s] & 1  -> cur[s] = 0
         :: else -> if
            :: evm[s] & 2  -> cur[s] = 1
            :: else -> if
               :: evm[s] & 4  -> cur[s] = 2
               :: else -> if
                  :: evm[s] & 8  -> cur[s] = 3
                  :: else -> if
                     :: evm[s] & 16 -> cur[s] = 4
                     :: else -> cur[s] = 5
                     fi
                  fi
               fi
            fi
         fi;
         evm[s] = evm[s] & ~(1 << cur[s])
     };
     free_one(s, cur[s]);
     cur[s] = NONE                /* done = g + 1 (release) */
  :: atomic { stop[s] == 0 && evm[s] == 0 } -> break
  od
}

/* reduce(S) with S's Evicting record */
inline reduce(s) {
  lock(glock, s);
  if
  :: global_bytes <= MAXB -> unlock(glock)
  :: else ->
       d_step {
         assert(len(gq) > 0);
         nb = len(gq);
         gq ? tb;
         global_bytes = global_bytes - MBYTES(tb);
         gmask = gmask & ~tb;
         assert(MBYTES(tb) <= MAXBATCH);
         /* property 4: exactly one batch removed; bytes bounded after */
         assert(len(gq) == nb - 1);
         assert(global_bytes <= MAXB + MAXBATCH);
         assert(GLOBAL_OK);
#ifdef BROKEN_EVICT
         fl[s] = tb;
         printf("T%d: BROKEN_EVICT: reduce pops batch ", s); pset(tb); printf(" unregistered\n");
#else
         evm[s] = tb;
         evreg[s] = 1;
         printf("T%d: reduce pops batch ", s); pset(tb); printf(" into its record\n");
#endif
         nb = 0;
         tb = 0
       };
       unlock(glock);
#ifdef BROKEN_EVICT
       free_list(s)
#else
       evict_record(s);
       lock(glock, s);
       evreg[s] = 0;                   /* unregister */
       unlock(glock)
#endif
  fi
}

/* thread-exit flush: move S.q whole to the FIFO */
inline thread_exit(s) {
  if
  :: qmask[s] != 0 -> transfer(s)
  :: else -> skip
  fi
}

/* extract (cache mask cm) into local list L = fl[p], then free it.
 * remove_cache(C): cm = mask of C, waits for a claimed matching group;
 * drain_all: cm = ALL, no wait. reg: the synchronizer is a thread with a
 * slot p, whose list is registered (under the same lock hold) as an
 * extracted record and freed group by group like an evictor's batch; the
 * final drain (init, after every thread has finished) frees it directly.
 * A drain (wait = 0) leaves other synchronizers' extracted records alone
 * (-DBROKEN_DRAIN: it takes from them too). */
inline remove_objs(cm, p, wait, reg) {
  lock(glock, p);
  printf("T%d: extract(cache mask %d) begins\n", p, cm);
  ri = 0;
  do
  :: ri == NSLOT -> break
  :: ri < NSLOT ->
       atomic {
         fl[p] = fl[p] | (qmask[ri] & cm);
         qmask[ri] = qmask[ri] & ~cm;
         ri++
       }
  od;
  ri = 0;
  d_step {
    nb = len(gq);
    do
    :: nb > 0 ->
         gq ? tb;
         fl[p] = fl[p] | (tb & cm);
         gq ! (tb & ~cm);      /* emptied batches stay on the FIFO */
         nb--
    :: else -> break
    od;
    tb = 0;
    gmask = gmask & ~cm;
    global_bytes = MBYTES(gmask);
    assert(GLOBAL_OK)
  };
  ri = 0;
  do
  :: ri == NSLOT -> break
  :: ri < NSLOT && !evreg[ri] -> ri++
#ifndef BROKEN_DRAIN
  :: ri < NSLOT && evreg[ri] && isx[ri] && !wait -> ri++
  :: ri < NSLOT && evreg[ri] && (!isx[ri] || wait) ->
#else
  :: ri < NSLOT && evreg[ri] ->
#endif
       stop[ri] = 1;                   /* CAS pos -> pos | stop */
       d_step {
         fl[p] = fl[p] | (evm[ri] & cm);
         evm[ri] = evm[ri] & ~cm;
#ifdef WAIT_ALL
         tb = cur[ri];
#else
         if
         :: cur[ri] != NONE && ((1 << cur[ri]) & cm) -> tb = cur[ri]
         :: else -> tb = NONE
         fi
#endif
       };
       stop[ri] = 0;                   /* unfreeze (release) */
       if
       :: wait && tb != NONE ->
            printf("T%d: waits for T%d to free o%d\n", p, ri, tb);
            (cur[ri] != tb)
       :: else -> skip
       fi;
       tb = 0;
       ri++
  od;
  if
  :: reg ->
       d_step {                        /* registered in the same lock hold */
         evm[p] = fl[p]; fl[p] = 0;
         isx[p] = 1; evreg[p] = 1
       };
       unlock(glock);
       printf("T%d: extract collected ", p); pset(evm[p]); printf(" into its record\n");
       evict_record(p);
       lock(glock, p);
       evreg[p] = 0; isx[p] = 0;       /* unregister */
       unlock(glock)
  :: else ->
       unlock(glock);
       printf("T%d: extract collected ", p); pset(fl[p]); printf("\n");
       free_list(p)
  fi
}

#ifdef PROGRESS
/* An owner may be told to stop forever; it obeys at any point where that is
 * not a lock hold or the free of a C1 object it claimed (see P5). */
#define MAY_STOP(s) (halt_req == (s) + 1 && gholder != (s) && \
                     !(cur[s] != NONE && CACHE(cur[s]) == 0))
active proctype scheduler() {
  if
  :: halt_req = 1
  :: halt_req = 2
  :: skip
  fi
}
/* The cache-destroy contract with a stopped owner: the objects it has not
 * freed are never freed; every other C1 free must have returned. */
#define C1_FREES_RETURNED ((c1_left[0] == 0 || (halted && halt_req == 1)) && \
                           (c1_left[1] == 0 || (halted && halt_req == 2)) && c1_put >= 1)
#else
#define C1_FREES_RETURNED (c1_put == NC1)
#endif

/* An owner thread on slot s: frees (puts) the objects in `todo` in any
 * order, with up to NRED allocation-path reduces at any point, then the
 * thread-exit flush.  If `succ` is non-empty, a successor thread then reuses
 * the slot (slots are never freed) and does the same with the objects in
 * `succ`. */
proctype owner(byte s; byte todo; byte succ) {
  byte o, tb, nb, fx, pi;
  byte nred = 0;
  {
thread:
    do
    :: todo != 0 ->
         if
         :: (todo >> 0) & 1 -> o = 0
         :: (todo >> 1) & 1 -> o = 1
         :: (todo >> 2) & 1 -> o = 2
         :: (todo >> 3) & 1 -> o = 3
         :: (todo >> 4) & 1 -> o = 4
         :: (todo >> 5) & 1 -> o = 5
         fi;
         todo = todo & ~(1 << o);
         put(s, o);
         o = 0
    :: nred < NRED && global_bytes > MAXB ->  /* racy check, allocation path */
         nred++;
         reduce(s)
    :: todo == 0 -> break
    od;
    thread_exit(s);
    if
    :: succ != 0 ->
         printf("T%d: thread exited; a new thread reuses slot %d\n", s, s);
         todo = succ;
         succ = 0;
         nred = 0;
         goto thread
    :: else -> skip
    fi;
    done++
  }
#ifdef PROGRESS
  unless {
    atomic { MAY_STOP(s) -> halted = 1; printf("T%d: stopped forever\n", s) };
end_stopped:
    false
  }
#endif
}

#ifdef DRAINER
/* A second synchronizer: a thread that frees o5 (C2) and then drains the
 * whole quarantine (ukasan_quarantine_drain, or an allocation out of memory)
 * at any moment, concurrently with the remover. (In this configuration it,
 * not a successor thread on slot 0, frees o5.) */
proctype drainer() {
  byte ri, tb, nb, fx, pi;
  put(3, 5);
  remove_objs(ALLMASK, 3, 0, 1);
  done++
}
#define NTHREADS 4
#define SUCC0 0
#else
#define NTHREADS 3
#define SUCC0 32                 /* o5: a successor thread reuses slot 0 */
#endif

proctype remover() {
  byte ri, tb, nb, fx, pi;
  put(2, 4);             /* the destroying thread frees o4 (C1) itself */
  C1_FREES_RETURNED;     /* user contract: every C1 free has returned */
  remove_objs(C1MASK, 2, 1, 1);
  d_step {
    destroyed[0] = 1;    /* remove_cache(C1) returned: cache destroyed */
    printf("T2: remove_cache(C1) returned, C1 destroyed; left: ");
    pset((qmask[0] | qmask[1] | qmask[2] | qmask[3] | evm[0] | evm[1] | evm[3] | fl[0] | fl[1] | gmask) & C1MASK);
    printf("\n");
#ifndef NO_DESTROY_CHECK
    /* property 1: no C1 object left in any queue, batch, record or local list */
    assert(((qmask[0] | qmask[1] | qmask[2] | qmask[3] | evm[0] | evm[1] | evm[2] | evm[3] |
             fl[0] | fl[1] | fl[2] | fl[3] | gmask) & C1MASK) == 0);
    assert(cur[0] == NONE || CACHE(cur[0]) != 0);
    assert(cur[1] == NONE || CACHE(cur[1]) != 0);
    assert(cur[3] == NONE || CACHE(cur[3]) != 0)
#endif
  };
  thread_exit(2);
  done++
}

init {
  byte ri, tb, nb, fx, pi;
  atomic {
    cur[0] = NONE; cur[1] = NONE; cur[2] = NONE; cur[3] = NONE;
    c1_left[0] = 1; c1_left[1] = 1;
    run owner(0, 3, SUCC0);  /* thread 0: o0, o1; (successor on slot 0: o5) */
    run owner(1, 12, 0);     /* thread 1: o2, o3 */
    run remover()
#ifdef DRAINER
    ; run drainer()
#endif
  };
  done + halted == NTHREADS;
  remove_objs(ALLMASK, DRAINFL, 0, 0);   /* final drain_all */
#ifndef PROGRESS
  /* property 2: conservation -- every object put once and freed once */
  d_step {
    assert(global_bytes == 0 && gmask == 0);
    assert(qmask[0] == 0 && qmask[1] == 0 && qmask[2] == 0 && qmask[3] == 0);
    assert(evm[0] == 0 && evm[1] == 0 && evm[2] == 0 && evm[3] == 0);
    assert(evreg[0] == 0 && evreg[1] == 0 && evreg[2] == 0 && evreg[3] == 0);
    assert(fl[0] == 0 && fl[1] == 0 && fl[2] == 0 && fl[3] == 0 && fl[4] == 0);
    assert(glock == 0);
    ri = 0;
    do
    :: ri < NOBJ -> assert(put_cnt[ri] == 1 && freed[ri] == 1); ri++
    :: else -> break
    od;
    ri = 0
  }
#endif
}
