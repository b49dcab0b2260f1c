// Three processes share one hugetlb memfd segment of 1 GiB, each mapping it whole at its own
// PUD-aligned address, so that their faults share one PMD page (mm/hugetlb.c huge_pmd_share).
// Then, one process at a time while the others sleep: a partial munmap (unshares the PMD page), an
// mprotect of 2 MiB (splits the VMA), a hole punch of 4 MiB and a truncate to 512 MiB.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEG (1UL << 30)
#define HPAGE (2UL << 20)
#define NPROC 3

static int turn[NPROC][2];

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void wait_turn(int i) {
  char c;
  if (read(turn[i][0], &c, 1) != 1) die("read");
}

static void give_turn(int i) {
  if (write(turn[i][1], "x", 1) != 1) die("write");
}

static void touch(char *base, unsigned long off, unsigned long n) {
  for (unsigned long i = 0; i < n; i++) base[off + i * HPAGE] = (char)i;
}

static void run(int i, int fd) {
  char *want = (char *)((i + 1) * SEG);
  wait_turn(i);
  char *p = mmap(want, SEG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_NORESERVE, fd, 0);
  if (p != want) die("mmap");
  touch(p, 0, 8);
  touch(p, 600UL << 20, 1);
  give_turn((i + 1) % NPROC);
  wait_turn(i);
  switch (i) {
  case 0:
    if (munmap(p + 6 * HPAGE, HPAGE)) die("munmap");
    break;
  case 1:
    if (mprotect(p + 4 * HPAGE, HPAGE, PROT_READ)) die("mprotect");
    break;
  case 2:
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * HPAGE, 2 * HPAGE)) die("fallocate");
    if (ftruncate(fd, SEG / 2)) die("ftruncate");
    break;
  }
  give_turn((i + 1) % NPROC);
  wait_turn(i);
  touch(p, 0, 2);
  give_turn((i + 1) % NPROC);
}

int main(void) {
  int fd = memfd_create("segment", MFD_HUGETLB);
  if (fd < 0) die("memfd_create");
  if (ftruncate(fd, SEG)) die("ftruncate");
  for (int i = 0; i < NPROC; i++)
    if (pipe(turn[i])) die("pipe");
  for (int i = 1; i < NPROC; i++) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      run(i, fd);
      _exit(0);
    }
  }
  give_turn(0);
  run(0, fd);
  for (int i = 1; i < NPROC; i++) wait(NULL);
  return 0;
}
