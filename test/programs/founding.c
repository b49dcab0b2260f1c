// The founding case on a real kernel: two processes share the PMD page of a 1 GiB hugetlb segment
// (each maps it whole at a PUD-aligned address) and the child writes to the first huge page while
// the parent tries every way a one-node machine offers to migrate that page: move_pages and mbind
// to node 0 (the node it is on), MADV_SOFT_OFFLINE, and — with --offline — offlining the 128 MiB
// memory block that holds it (and onlining it again). It prints what each attempt did and the
// page's frame before and after (from /proc/self/pagemap; needs root).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEG (1UL << 30)
#define HPAGE (2UL << 20)
#ifndef MPOL_BIND
#define MPOL_BIND 2
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif
#define MPOL_MF_STRICT (1 << 0)
#define MPOL_MF_MOVE_ALL (1 << 2)

static uint64_t pfn_of(void *addr) {
  int fd = open("/proc/self/pagemap", O_RDONLY);
  uint64_t e = 0;
  if (fd < 0 || pread(fd, &e, 8, (off_t)((uintptr_t)addr / 4096) * 8) != 8) return 0;
  close(fd);
  return e & ((1ULL << 55) - 1);
}

static void report(const char *what, long r) {
  printf("%s: %s\n", what, r == 0 ? "ok" : strerror(errno));
}

int main(int argc, char **argv) {
  int offline = argc > 1 && strcmp(argv[1], "--offline") == 0;
  int fd = memfd_create("segment", MFD_HUGETLB);
  if (fd < 0 || ftruncate(fd, SEG)) return 1;
  atomic_int *stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  volatile char *a = mmap((void *)SEG, SEG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_NORESERVE, fd, 0);
  if (a != (void *)SEG) return 1;
  a[0] = 1;
  int ready[2];
  if (pipe(ready)) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    volatile char *b = mmap((void *)(2 * SEG), SEG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_NORESERVE, fd, 0);
    if (b != (void *)(2 * SEG)) _exit(1);
    b[0] = 2;
    if (write(ready[1], "r", 1) != 1) _exit(1);
    for (unsigned long i = 0; !atomic_load(stop); i++) b[i % 4096] = (char)i;
    _exit(0);
  }
  char c;
  if (read(ready[0], &c, 1) != 1) return 1;
  uint64_t before = pfn_of((void *)a);
  printf("frame before: 0x%llx\n", (unsigned long long)before);
  void *pages[1] = {(void *)a};
  int nodes[1] = {0}, status[1] = {-1};
  long r = syscall(SYS_move_pages, 0, 1, pages, nodes, status, MPOL_MF_MOVE_ALL);
  printf("move_pages to node 0: %s, status %d, frame 0x%llx\n", r == 0 ? "ok" : strerror(errno), status[0], (unsigned long long)pfn_of((void *)a));
  unsigned long mask = 1;
  report("mbind MPOL_BIND node 0 MPOL_MF_MOVE_ALL", syscall(SYS_mbind, (void *)a, HPAGE, MPOL_BIND, &mask, 64, MPOL_MF_MOVE_ALL | MPOL_MF_STRICT));
  printf("frame after mbind: 0x%llx\n", (unsigned long long)pfn_of((void *)a));
  report("madvise MADV_SOFT_OFFLINE", madvise((void *)a, HPAGE, MADV_SOFT_OFFLINE));
  if (offline && before) {
    char path[128];
    snprintf(path, sizeof path, "/sys/devices/system/memory/memory%llu/state", (unsigned long long)(before * 4096 / (128UL << 20)));
    int s = open(path, O_WRONLY);
    long w = s < 0 ? -1 : write(s, "offline", 7);
    printf("offline %s: %s\n", path, w == 7 ? "ok" : strerror(errno));
    if (w == 7 && (lseek(s, 0, SEEK_SET), write(s, "online", 6)) != 6) printf("online again failed: %s\n", strerror(errno));
    if (s >= 0) close(s);
  }
  a[0] = 3; // fault it back in if an attempt unmapped it
  uint64_t after = pfn_of((void *)a);
  printf("frame after: 0x%llx (%s)\n", (unsigned long long)after, after == before ? "not migrated" : "migrated");
  atomic_store(stop, 1);
  waitpid(pid, NULL, 0);
  return 0;
}
