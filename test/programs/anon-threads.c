// Two threads of one process, pinned to CPU 0 and CPU 1, on anonymous memory: while the thread on
// CPU 1 spins in user mode with the mm loaded, the one on CPU 0 calls MADV_DONTNEED, MADV_FREE,
// mprotect and mremap on pages both touched, so each flush has to reach the other CPU. The area is
// placed so that each mremap crosses a PMD boundary, first of its old range, then of its new one:
// move_page_tables moves (and, from eb66ae030829, flushes) one extent per PMD of either. A last
// mremap moves a whole PMD-aligned 2 MiB: move_normal_pmd moves its page table and flushes the PMD.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL
#define NPAGES 64
#define PMD (2UL << 20)
#define HOLE (16UL << 20)

static char *area;
static atomic_int phase;

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set)) {
    perror("pthread_setaffinity_np");
    exit(1);
  }
}

static void touch(char *p, unsigned long from, unsigned long n) {
  for (unsigned long i = from; i < from + n; i++) p[i * PAGE] = (char)i;
}

static void *other(void *unused) {
  (void)unused;
  pin(1);
  while (atomic_load(&phase) != 1) {
  }
  touch(area, NPAGES / 2, NPAGES / 2);
  atomic_store(&phase, 2);
  // Spin (no syscalls, no faults) so this CPU keeps running the mm until the main thread is done.
  while (atomic_load(&phase) != 3) {
  }
  return NULL;
}

int main(void) {
  pin(0);
  // The thread first: its stack is mapped before the hole is chosen, so it cannot land in it.
  pthread_t t;
  if (pthread_create(&t, NULL, other, NULL)) return 1;
  // A free hole of 16 MiB; the area starts 41 pages below a PMD boundary inside it.
  char *hole = mmap(NULL, HOLE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (hole == MAP_FAILED || munmap(hole, HOLE)) {
    perror("mmap/munmap of the hole");
    return 1;
  }
  uintptr_t boundary = ((uintptr_t)hole + 41 * PAGE + PMD - 1) & ~(PMD - 1);
  area = mmap((char *)(boundary - 41 * PAGE), NPAGES * PAGE, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (area == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  touch(area, 0, NPAGES / 2);
  // 2 MiB on PMD boundaries, out of transparent huge pages' way, with 8 of its pages written.
  char *whole = mmap((char *)(boundary + 2 * PMD), PMD, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (whole == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  madvise(whole, PMD, MADV_NOHUGEPAGE);
  for (unsigned long i = 0; i < 8; i++) whole[i * 64 * PAGE] = 1;
  atomic_store(&phase, 1);
  while (atomic_load(&phase) != 2) {
  }
  if (madvise(area, 4 * PAGE, MADV_DONTNEED)) perror("madvise(MADV_DONTNEED)");
  if (madvise(area + 8 * PAGE, 16 * PAGE, MADV_FREE)) perror("madvise(MADV_FREE)");
  if (madvise(area + 32 * PAGE, 64 * PAGE - 32 * PAGE, MADV_DONTNEED)) perror("madvise(MADV_DONTNEED)");
  touch(area, 40, 4);
  if (mprotect(area + 40 * PAGE, 2 * PAGE, PROT_READ)) perror("mprotect");
  char *moved = mremap(area + 40 * PAGE, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, area + 96 * PAGE);
  if (moved == MAP_FAILED) perror("mremap");
  // Back to 1 page below the next PMD boundary: the new range crosses it.
  if (mremap(moved, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, (char *)(boundary + PMD - PAGE)) == MAP_FAILED) perror("mremap");
  // A whole PMD to an empty one.
  if (mremap(whole, PMD, PMD, MREMAP_MAYMOVE | MREMAP_FIXED, (char *)(boundary + 4 * PMD)) == MAP_FAILED) perror("mremap");
  atomic_store(&phase, 3);
  pthread_join(t, NULL);
  return 0;
}
