// Fork with copy-on-write: the parent writes 16 anonymous pages, forks, and the child writes them
// (each a copy of the shared page, flushed), then the parent writes them (each now its own again).
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL
#define NPAGES 16

int main(void) {
  char *p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  for (unsigned long i = 0; i < NPAGES; i++) p[i * PAGE] = 1;
  int go[2];
  if (pipe(go)) return 1;
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    for (unsigned long i = 0; i < NPAGES; i++) p[i * PAGE] = 2;
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  for (unsigned long i = 0; i < NPAGES; i++) p[i * PAGE] = 3;
  return 0;
}
