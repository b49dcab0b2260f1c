// What a system call returns when the kernel refuses it, and the signal a fault delivers, by the names
// of include/uapi/asm-generic/errno-base.h and signal.h. A refusal is kernel behaviour, not bad input:
// the call returns its error (the trace goes on), and the observer records it for the report.

/** The errors the model's system calls can return. */
export type Errno = 'EINVAL' | 'ENOMEM' | 'ENOSPC' | 'ENOSYS' | 'EFAULT';

/** The signals the model's faults can deliver besides SIGSEGV (which the replay's segfaults list holds). */
export type FaultSignal = 'SIGBUS';

/** One refused call or signalled fault, as the observer hears of it. */
export interface Refusal {
  /** The system call (`madvise(MADV_DONTNEED)`, `mmap`, `migrate`, `fallocate`) or `fault`. */
  call: string;
  error: Errno | FaultSignal;
  /** Why the kernel of this profile refuses it, with the source that says so. */
  why: string;
}
