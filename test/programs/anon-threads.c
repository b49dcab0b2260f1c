// Two threads of one process, pinned to CPU 0 and CPU 1, on anonymous memory: while the thread on
// CPU 1 spins in user mode with the mm loaded, the one on CPU 0 calls MADV_DONTNEED, MADV_FREE,
// mprotect and mremap on pages both touched, so each flush has to reach the other CPU.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL
#define NPAGES 64

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
  touch(area, NPAGES / 2, NPAGES / 2);
  atomic_store(&phase, 1);
  // Spin (no syscalls, no faults) so this CPU keeps running the mm until the main thread is done.
  while (atomic_load(&phase) != 2) {
  }
  return NULL;
}

int main(void) {
  pin(0);
  area = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  touch(area, 0, NPAGES / 2);
  pthread_t t;
  if (pthread_create(&t, NULL, other, NULL)) return 1;
  while (atomic_load(&phase) != 1) {
  }
  if (madvise(area, 4 * PAGE, MADV_DONTNEED)) perror("madvise(MADV_DONTNEED)");
  if (madvise(area + 8 * PAGE, 16 * PAGE, MADV_FREE)) perror("madvise(MADV_FREE)");
  if (madvise(area + 32 * PAGE, 64 * PAGE - 32 * PAGE, MADV_DONTNEED)) perror("madvise(MADV_DONTNEED)");
  touch(area, 40, 4);
  if (mprotect(area + 40 * PAGE, 2 * PAGE, PROT_READ)) perror("mprotect");
  char *moved = mremap(area + 40 * PAGE, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, area + 96 * PAGE);
  if (moved == MAP_FAILED) perror("mremap");
  atomic_store(&phase, 2);
  pthread_join(t, NULL);
  return 0;
}
