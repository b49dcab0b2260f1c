// Exit with a lazy CPU: a thread on CPU 1 touches memory and then sleeps, so CPU 1 goes idle with
// the process's mm still loaded lazily; the main thread on CPU 0 then exits the whole process,
// whose teardown frees the page tables that CPU 1 may still cache.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL
#define NPAGES 32

static char *area;

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set)) {
    perror("pthread_setaffinity_np");
    exit(1);
  }
}

static void *other(void *unused) {
  (void)unused;
  pin(1);
  for (unsigned long i = 0; i < NPAGES; i++) area[i * PAGE] = 1;
  pause();
  return NULL;
}

int main(void) {
  pin(0);
  area = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) return 1;
  pthread_t t;
  if (pthread_create(&t, NULL, other, NULL)) return 1;
  usleep(20000);
  exit(0);
}
