/*
 * quarantine.pml -- Promela model of the ukasan quarantine protocol.
 *
 * Models the code in:
 *   src/percpu/exclusion.h      enter / exit / synchronize (busy flag + `slow`
 *                               counter, per-slot lock fallback)
 *   src/quarantine/quarantine.h put, transfer (per-CPU queue -> global FIFO),
 *                               reduce, extract_from_queue/_fifo (remove_cache,
 *                               drain_all)
 *   src/slab/                   thread-exit flush of the calling thread's queue
 *
 * Variants (preprocessor switches, e.g. `spin -a -DBROKEN quarantine.pml`):
 *   (none)            the protocol as implemented; must verify with 0 errors.
 *   -DBROKEN          the variant rejected in the 2018 LKML thread "kasan:
 *                     convert kasan/quarantine_lock to raw_spinlock": put's
 *                     transfer leaves the per-CPU critical section BEFORE the
 *                     batch is on the global FIFO, so the batch is in flight
 *                     outside every section and remove_cache() misses it.
 *   -DNO_DESTROY_CHECK  drop the "nothing of C is left anywhere" assertion at
 *                     the return of remove_cache(C); with -DBROKEN spin then
 *                     finds the later free of the destroyed cache's object
 *                     (assertion in the free callback).
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
 *   exit (thread-exit flush).
 *   The remover thread frees o4, then calls remove_cache(C1) at a
 *   nondeterministic moment after every C1 object has been freed (user
 *   contract of cache destroy: all frees of C happen-before destroy(C)),
 *   then exits (flush).  Finally init runs drain_all (from no slot) and checks
 *   conservation.
 *   Not modelled: signal-handler re-entry (`nesting`), more than one
 *   remover, object allocation itself.
 *
 * Properties (assertions; spin also checks invalid end states = deadlock):
 *   P1 after remove_cache(C1) returns no C1 object is in any per-slot queue,
 *      global batch or thread-local list (in flight / being freed), and the
 *      free callback never frees an object of a destroyed cache;
 *   P2 every object is put exactly once and freed exactly once (final drain);
 *   P3 no deadlock (every process reaches its end);
 *   P4 a reduce that finds global_bytes > max_bytes under global_lock removes
 *      exactly one batch, every batch is <= MAXBATCH bytes, and afterwards
 *      global_bytes <= max_bytes + MAXBATCH;
 *   plus: no remover touches a slot's queue while its owner is in a FAST
 *   section, and global_bytes always equals the bytes on the FIFO.
 *
 * Memory model: Promela is sequentially consistent.  The real code relies on
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) in synchronize plus a compiler
 * barrier in enter (together standing in for a pair of seq_cst fences); that
 * is NOT checked here (heavy_barrier() is a no-op in this model).
 *
 * Representation: a set of objects is a bitmask (bit o = object o); a batch on
 * the global FIFO is a mask; the FIFO is a buffered channel of masks.  Objects
 * are unique, so bytes(mask) = sum of the sizes of its bits.
 */

#define NOBJ      6
#define NSLOT     3            /* thread slots: 0,1 owners, 2 remover thread */
#define NFL       4            /* fl[] (ghost local lists): slots + drain    */
#define DRAINFL   3            /* fl[] index used by the final drain (init)  */
#define NOSLOT    255          /* drain_all caller owns no slot              */
#define GQCAP     8            /* capacity of the FIFO channel               */
#define CACHEB    1            /* per-slot queue transfer threshold          */
#define MAXB      1            /* max_bytes of the global quarantine         */
#ifndef NRED
#define NRED      2            /* allocation-path reduces per owner thread   */
#endif
#define MAXOBJ    2            /* largest object size                        */
#define MAXBATCH  (CACHEB + MAXOBJ)  /* largest possible batch               */
#define C1MASK    21           /* o0, o2, o4 */
#define C2MASK    42           /* o1, o3, o5 */
#define ALLMASK   63
#define NC1       3            /* number of C1 objects */

#define CACHE(o)  ((o) % 2)
#define SZ(o)     ((o) == 1 -> 2 : 1)
#define MBYTES(m) ((((m) >> 0) & 1) * 1 + (((m) >> 1) & 1) * 2 + \
                   (((m) >> 2) & 1) * 1 + (((m) >> 3) & 1) * 1 + \
                   (((m) >> 4) & 1) * 1 + (((m) >> 5) & 1) * 1)

/* ---- shared state of the implementation ---- */
byte slow = 0;                 /* number of active synchronizers             */
bit  glock = 0;                /* global_lock                                */
bit  rmutex = 0;               /* remove_mutex                               */
byte global_bytes = 0;
chan gq = [GQCAP] of { byte }; /* global FIFO of batches (masks)             */
bit  busy[NSLOT];              /* written only by the slot's owner           */
bit  slock[NSLOT];             /* per-slot lock                              */
byte qmask[NSLOT];             /* per-slot (per-CPU) queue                   */
byte qbytes[NSLOT];

/* ---- ghost state (not in the implementation) ---- */
bit  fast[NSLOT];              /* owner is inside a FAST-mode section        */
byte fl[NFL];                  /* objects held in a thread-local list: the
                                  batch being transferred, reduce's popped
                                  batch, remove's list L                     */
byte gmask = 0;                /* union of all batches on the FIFO           */
bit  destroyed[2];             /* cache destroyed (remove_cache returned)    */
bit  put_cnt[NOBJ];
bit  freed[NOBJ];
byte c1_put = 0;               /* C1 frees (puts) that have returned         */
byte done = 0;

inline lock(l)   { atomic { l == 0 -> l = 1 } }
inline unlock(l) { assert(l == 1); l = 0 }

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

/* ---------------- src/percpu/exclusion.h ---------------- */
inline enter(s) {
  busy[s] = 1;
  /* compiler barrier */
  if
  :: slow != 0 ->                                  /* LOCKED mode */
       busy[s] = 0;
       lock(slock[s]);
       printf("T%d: enter (LOCKED)\n", s)
  :: atomic {                                     /* FAST mode   */
       slow == 0 -> fast[s] = 1; printf("T%d: enter (FAST)\n", s)
     }
  fi
}

inline exit_section(s) {
  if
  :: fast[s] -> d_step { fast[s] = 0; busy[s] = 0 }
  :: else    -> unlock(slock[s])
  fi
}

/* ---------------- src/quarantine/quarantine.h ---------------- */

/* append the batch fl[p] (tb bytes) to the global FIFO; holds global_lock */
inline push_locked(p) {
  d_step {
    assert(tb <= MAXBATCH);
    assert(len(gq) < GQCAP);   /* model capacity suffices */
    gq ! fl[p];
    printf("T%d: batch ", p); pset(fl[p]); printf(" appended to global FIFO\n");
    global_bytes = global_bytes + tb;
    gmask = gmask | fl[p];
    fl[p] = 0;
    tb = 0;
    assert(GLOBAL_OK)
  }
}

/* take S.q whole as a batch into fl[s] */
inline take_queue(s) {
  d_step {
    fl[s] = qmask[s]; tb = qbytes[s]; qmask[s] = 0; qbytes[s] = 0;
    printf("T%d: q[%d] taken as batch ", s, s); pset(fl[s]); printf("\n")
  }
}

/* put(S, o) followed by exit(S).  In the BROKEN variant the section is left
 * between taking the batch off S.q and publishing it on the global FIFO. */
inline put_and_exit(s, o) {
  d_step {
    assert(put_cnt[o] == 0);
    put_cnt[o] = 1;
    qmask[s] = qmask[s] | (1 << o);
    qbytes[s] = qbytes[s] + SZ(o);
    printf("T%d: put o%d (C%d) into q[%d]\n", s, o, CACHE(o) + 1, s)
  };
  if
  :: qbytes[s] > CACHEB ->
       take_queue(s);
#ifdef BROKEN
       printf("T%d: BROKEN: exit section, batch in flight\n", s);
       exit_section(s);        /* batch now in flight outside any section */
#endif
       lock(glock);
       push_locked(s);
       unlock(glock);
#ifndef BROKEN
       exit_section(s)
#endif
  :: else ->
       exit_section(s)
  fi;
  d_step {
    if
    :: CACHE(o) == 0 -> c1_put++
    :: else -> skip
    fi
  }
}

/* reduce(S): between enter and exit */
inline reduce(s) {
  lock(glock);
  if
  :: global_bytes <= MAXB -> unlock(glock)
  :: else ->
       d_step {
         assert(len(gq) > 0);
         nb = len(gq);
         gq ? fl[s];
         tb = MBYTES(fl[s]);
         assert(tb <= MAXBATCH);
         global_bytes = global_bytes - tb;
         gmask = gmask & ~fl[s];
         printf("T%d: reduce pops batch ", s); pset(fl[s]); printf("\n");
         /* property 4: exactly one batch removed; bytes bounded after */
         assert(len(gq) == nb - 1);
         assert(global_bytes <= MAXB + MAXBATCH);
         assert(GLOBAL_OK);
         nb = 0;
         tb = 0
       };
       if
       :: fast[s] -> unlock(glock); free_list(s)  /* FAST: free outside the
                                                      lock, inside the section */
       :: else    -> free_list(s); unlock(glock)  /* LOCKED: free under lock */
       fi
  fi
}

/* thread-exit flush (src/slab/): enter; move S.q whole to the FIFO; exit */
inline thread_exit(s) {
  enter(s);
  if
  :: qmask[s] != 0 ->
       take_queue(s);
       lock(glock);
       push_locked(s);
       unlock(glock)
  :: else -> skip
  fi;
  exit_section(s)
}

/* remove_if = the synchronizer's extract_from_queue + extract_from_fifo (cache mask cm) called from slot `self` (NOSLOT: none), local
 * list L = fl[p].  remove_cache(C): cm = mask of C; drain_all: cm = ALL. */
inline remove_objs(cm, self, p) {
  lock(rmutex);
  d_step { slow++; printf("T%d: remove(cache mask %d) begins\n", p, cm) };
  /* heavy_barrier(): membarrier -- no-op under sequential consistency */
  ri = 0;
  do
  :: ri == NSLOT -> break
  :: ri < NSLOT && ri == self -> ri++
  :: ri < NSLOT && ri != self -> (busy[ri] == 0); ri++
  od;
  ri = 0;
  do
  :: ri == NSLOT -> break
  :: ri < NSLOT ->
       lock(slock[ri]);
       d_step {
         assert(!fast[ri]);    /* exclusion: no FAST-mode section may run */
         fl[p] = fl[p] | (qmask[ri] & cm);
         qmask[ri] = qmask[ri] & ~cm;
         qbytes[ri] = MBYTES(qmask[ri])
       };
       unlock(slock[ri]);
       ri++
  od;
  ri = 0;
  lock(glock);
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
  unlock(glock);
  printf("T%d: remove collected ", p); pset(fl[p]); printf("\n");
  free_list(p);
  slow--;
  unlock(rmutex)
}

/* An owner thread on slot s: frees (puts) the objects in `todo` in any
 * order, with up to NRED allocation-path reduces at any point, then the
 * thread-exit flush.  If `succ` is non-empty, a successor thread then reuses
 * the slot (slots are never freed) and does the same with the objects in
 * `succ`. */
proctype owner(byte s; byte todo; byte succ) {
  byte o, tb, nb, fx, pi;
  byte nred = 0;
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
       enter(s);
       put_and_exit(s, o);
       o = 0
  :: nred < NRED && global_bytes > MAXB ->  /* racy check, allocation path */
       nred++;
       enter(s);
       reduce(s);
       exit_section(s)
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

proctype remover() {
  byte ri, tb, nb, fx, pi;
  enter(2);
  put_and_exit(2, 4);    /* the destroying thread frees o4 (C1) itself */
  c1_put == NC1;         /* user contract: every C1 object freed first */
  remove_objs(C1MASK, 2, 2);
  d_step {
    destroyed[0] = 1;    /* remove_cache(C1) returned: cache destroyed */
    printf("T2: remove_cache(C1) returned, C1 destroyed; left in flight: ");
    pset((fl[0] | fl[1]) & C1MASK); printf("\n");
#ifndef NO_DESTROY_CHECK
    /* property 1: no C1 object left in any queue, batch, or local list */
    assert(((qmask[0] | qmask[1] | qmask[2] | fl[0] | fl[1] | fl[2] | gmask)
            & C1MASK) == 0)
#endif
  };
  thread_exit(2);
  done++
}

init {
  byte ri, tb, nb, fx, pi;
  atomic {
    run owner(0, 3, 32);   /* thread 0: o0, o1; successor on slot 0: o5 */
    run owner(1, 12, 0);   /* thread 1: o2, o3 */
    run remover()
  };
  done == 3;
  remove_objs(ALLMASK, NOSLOT, DRAINFL);   /* final drain_all */
  /* property 2: conservation -- every object put once and freed once */
  d_step {
    assert(global_bytes == 0 && gmask == 0);
    assert(qmask[0] == 0 && qmask[1] == 0 && qmask[2] == 0);
    assert(qbytes[0] == 0 && qbytes[1] == 0 && qbytes[2] == 0);
    assert(fl[0] == 0 && fl[1] == 0 && fl[2] == 0 && fl[3] == 0);
    assert(slow == 0 && glock == 0 && rmutex == 0);
    assert(slock[0] == 0 && slock[1] == 0 && slock[2] == 0);
    assert(busy[0] == 0 && busy[1] == 0 && busy[2] == 0);
    ri = 0;
    do
    :: ri < NOBJ -> assert(put_cnt[ri] == 1 && freed[ri] == 1); ri++
    :: else -> break
    od;
    ri = 0
  }
}
