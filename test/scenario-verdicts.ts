// What each scenario reports under each profile: the violations in the order reported, as
// `kind@line cpuN|device fix` (the fix the oracle names), or for long lists their counts by
// `kind who fix`. A profile that is absent reports none. `buggyProfiles` lists the profiles where a
// clean workload meets a real bug of that kernel (its trace expects it "without" the fix).
// Regenerate by replaying the library and review every change: a difference is a change of verdict.

export type Verdict = readonly string[] | Readonly<Record<string, number>>;
export interface ScenarioVerdicts {
  [kernel: string]: Verdict | readonly string[] | Readonly<Record<string, readonly string[]>> | undefined;
  buggyProfiles?: readonly string[];
  invariants?: Readonly<Record<string, readonly string[]>>;
}

const LEAK_B8 = ['line 30: page 0x400000000 has map count 1 but 0 entries map it', 'line 31: page 0x400000000 has map count 1 but 0 entries map it', 'line 32: page 0x400000000 has map count 1 but 0 entries map it', 'line 33: page 0x400000000 has map count 1 but 0 entries map it'];

export const VERDICTS: Readonly<Record<string, ScenarioVerdicts>> = {
  'b1-device-invalidate-page': {
    'v4.4': ['stale-device@44 nic0 369ea8242c0f', 'stale-device@44 iommu0 369ea8242c0f', 'use-after-free@46 nic0 369ea8242c0f', 'use-after-free@47 iommu0 369ea8242c0f'],
  },
  'b1-device-range': {
  },
  'b1-shared-pmd-migration': {
    'v4.4': ['lost-write@23 cpu1 017b1660df89', 'stale-tlb@24 cpu1 017b1660df89'],
  },
  'b10-parallel-dontneed': {
    'v4.4': ['stale-tlb@20 cpu2 99baac21e458'],
  },
  'b11-mremap-flush-before-ptl-release': {
    'v4.4': ['stale-tlb@21 cpu1 eb66ae030829', 'use-after-free@22 cpu1 eb66ae030829'],
  },
  'b11-mremap-clean-entry': {
    'v4.4': ['stale-tlb@20 cpu1 eb66ae030829', 'use-after-free@21 cpu1 eb66ae030829'],
  },
  'b12-switch-mm-window-skipped-flush': {
    'v4.4': ['use-after-free@34 cpu1 fea4e317f9e7'],
    'v4.19': ['use-after-free@34 cpu1 fea4e317f9e7'],
    'v5.16': ['use-after-free@34 cpu1 fea4e317f9e7'],
    'v6.1': ['use-after-free@34 cpu1 fea4e317f9e7'],
  },
  'b13-lazy-cpu-skipped-table-freed': {
    'v4.4': ['stale-tlb@34 cpu1 3ef938c35035'],
    'v4.19': ['stale-tlb@34 cpu1 3ef938c35035'],
    'v5.16': ['stale-tlb@34 cpu1 3ef938c35035'],
    'v6.1': ['stale-tlb@34 cpu1 3ef938c35035'],
  },
  'b13-thp-collapse-lazy-cpu': {
    'v4.4': ['stale-tlb@32 cpu1 3ef938c35035'],
    'v4.19': ['stale-tlb@32 cpu1 3ef938c35035'],
    'v5.16': ['stale-tlb@32 cpu1 3ef938c35035'],
    'v6.1': ['stale-tlb@32 cpu1 3ef938c35035'],
  },
  'b16-mremap-hugetlb-unshare-flush': {
    'v5.16': ['stale-tlb@31 cpu1 3d0b95cd87b2'],
  },
  'b2-hole-punch-unshare-notifier-range': {
    'v4.4': ['stale-device@28 nic0 dff11abe280b', 'use-after-free@32 nic0 dff11abe280b'],
  },
  'b2-mprotect-unshare-notifier-range': {
    'v4.4': ['stale-device@37 nic0 081056dc00a2'],
    'v4.19': ['stale-device@37 nic0 081056dc00a2'],
    'v5.16': ['stale-tlb@37 cpu1 081056dc00a2', 'stale-device@37 nic0 081056dc00a2', 'use-after-free@42 cpu1 081056dc00a2'],
    'v6.1': ['stale-tlb@37 cpu1 081056dc00a2', 'stale-device@37 nic0 081056dc00a2', 'use-after-free@42 cpu1 081056dc00a2'],
  },
  'b3-munmap-unshare-one-page-flush': {
    'v4.4': ['stale-tlb@33 cpu1 a4a118f2eead', 'use-after-free@38 cpu1 a4a118f2eead'],
  },
  'b3-munmap-unshare-no-flush': {
    'v4.4': ['stale-tlb@33 cpu0 a4a118f2eead', 'stale-tlb@33 cpu0 a4a118f2eead', 'stale-tlb@33 cpu1 a4a118f2eead', 'stale-tlb@33 cpu1 a4a118f2eead', 'use-after-free@38 cpu1 a4a118f2eead', 'stale-walk@40 cpu1 a4a118f2eead'],
    'v4.19': ['stale-tlb@33 cpu0 a4a118f2eead', 'stale-tlb@33 cpu0 a4a118f2eead', 'stale-tlb@33 cpu1 a4a118f2eead', 'stale-tlb@33 cpu1 a4a118f2eead', 'use-after-free@38 cpu1 a4a118f2eead', 'stale-walk@40 cpu1 a4a118f2eead'],
  },
  'b4-mprotect-flush-after-unlock': {
  },
  'b5-fault-vs-unshare-vma-lock': {
    'v4.4': ['foreign-table-write@34 cpu0 c0d0381ade79'],
    'v4.19': ['foreign-table-write@34 cpu0 c0d0381ade79'],
    'v5.16': ['foreign-table-write@34 cpu0 c0d0381ade79'],
  },
  'b5-fault-vs-unshare': {
    'v4.4': ['foreign-table-write@35 cpu0 c0d0381ade79'],
    'v4.19': ['foreign-table-write@35 cpu0 c0d0381ade79'],
    'v6.1': ['foreign-table-write@35 cpu0 c0d0381ade79'],
    'v6.18': ['foreign-table-write@35 cpu0 40549ba8f8e0'],
  },
  'b6-mprotect-split-shared-pmd': {
    'v4.4': ['stale-device@39 iommu0 081056dc00a2', 'stale-device@39 iommu0 081056dc00a2', 'stale-device@39 nic0 081056dc00a2', 'stale-device@39 nic0 081056dc00a2'],
    'v4.19': ['stale-device@39 iommu0 081056dc00a2', 'stale-device@39 iommu0 081056dc00a2', 'stale-device@39 nic0 081056dc00a2', 'stale-device@39 nic0 081056dc00a2'],
    'v5.16': { 'stale-device iommu0 081056dc00a2': 2, 'stale-device nic0 081056dc00a2': 2, 'stale-tlb cpu0 081056dc00a2': 7, 'stale-tlb cpu2 081056dc00a2': 7 },
    'v6.1': { 'stale-device iommu0 081056dc00a2': 2, 'stale-device nic0 081056dc00a2': 2, 'stale-tlb cpu0 081056dc00a2': 7, 'stale-tlb cpu2 081056dc00a2': 7 },
  },
  'b7-gup-fast-vs-unshare': {
    'v4.4': ['foreign-table-pin@45 cpu1 1013af4f585f'],
    'v4.19': ['foreign-table-pin@45 cpu1 1013af4f585f'],
    'v5.16': ['foreign-table-pin@45 cpu1 1013af4f585f'],
    'v6.1': ['foreign-table-pin@45 cpu1 1013af4f585f'],
  },
  'b8-speculative-ref-pmd-share-count': {
    'v4.4': ['live-table-free@31 cpu2 59d9094df3d7'],
    'v4.19': ['live-table-free@31 cpu2 59d9094df3d7'],
    'v5.16': ['live-table-free@31 cpu2 59d9094df3d7'],
    'v6.1': ['live-table-free@31 cpu2 59d9094df3d7'],
    // The kernel's own leak: the unshare left the huge page's entry in a table no address space links.
    invariants: { 'v4.4': LEAK_B8, 'v4.19': LEAK_B8, 'v5.16': LEAK_B8, 'v6.1': LEAK_B8 },
  },
  'b9-reclaim-batched-flush-mprotect': {
    'v4.4': ['stale-tlb@19 cpu1 3ea277194daa'],
  },
  'finding-lazy-cpu-exit-unshare': {
    'v4.4': ['stale-tlb@35 cpu1 a4a118f2eead'],
    'v4.19': ['stale-tlb@35 cpu1 a4a118f2eead'],
    'v5.16': ['stale-tlb@35 cpu1'],
    'v6.1': ['stale-tlb@35 cpu1'],
    'v6.18': ['stale-tlb@35 cpu1'],
  },
  'finding-lazy-cpu-unshare-mmu-gather': {
    'v5.16': ['stale-tlb@48 cpu1'],
    'v6.1': ['stale-tlb@48 cpu1'],
    'v6.18': ['stale-tlb@48 cpu1'],
  },
  'clean-device-anon-paths': {
  },
  'clean-device-cow-after-fork': {
  },
  'clean-dontneed-refault-vs-inflight-zap': {
  },
  'clean-exit': {
  },
  'clean-exit-behind-waiting-fault': {
  },
  'clean-fault-vs-migration-page-cache': {
  },
  'clean-fork-cow': {
  },
  'clean-gup-fast-vs-unshare': {
  },
  'clean-gup-fast-vs-unshare-native-flush': {
  },
  'clean-speculative-ref-table-free': {
  },
  'clean-hugetlb-pool-exhausted': {
  },
  'clean-hugetlb-mremap': {
  },
  'clean-hugetlb-dontneed': {
  },
  'clean-hole-punch': {
    'v4.4': { 'stale-device a-iommu dff11abe280b': 1, 'stale-device a-nic dff11abe280b': 1, 'stale-tlb cpu0 a4a118f2eead': 9, 'stale-tlb cpu2 a4a118f2eead': 9, 'use-after-free cpu0 a4a118f2eead': 23 },
    'v4.19': { 'stale-tlb cpu0 a4a118f2eead': 9, 'stale-tlb cpu2 a4a118f2eead': 9, 'use-after-free cpu0 a4a118f2eead': 23 },
    buggyProfiles: ['v4.4', 'v4.19'],
  },
  'clean-hugetlb-private-1g': {
  },
  'clean-inflight-discard': {
    'v4.4': { 'stale-tlb cpu1 99baac21e458': 64 },
    buggyProfiles: ['v4.4'],
  },
  'clean-iommu-range-flush': {
  },
  'clean-lazy-tlb-nopcid': {
  },
  'clean-lazy-tlb': {
  },
  'clean-migrate-lazy-cpu': {
  },
  'clean-migration-storm': {
    'v4.4': { 'stale-tlb cpu1 017b1660df89': 16, 'stale-tlb cpu2 017b1660df89': 16, 'use-after-free cpu1 017b1660df89': 1059, 'use-after-free cpu2 017b1660df89': 1066 },
    buggyProfiles: ['v4.4'],
  },
  'clean-migration-vs-hole-punch': {
  },
  'clean-mremap-move': {
  },
  'clean-punch-vs-inflight-mprotect': {
  },
  'clean-pcid-reuse': {
  },
  'clean-thp-collapse-zap-devices': {
  },
  'clean-reclaim-swap': {
  },
  'clean-switch-mm-window': {
  },
};

/**
 * Each bug scenario with its fix switched, as both the replay (test/scenarios.test.ts) and the explorer
 * (test/explore-scenarios.test.ts) check it: off, the violation names the fix; on, nothing is found.
 * The page-size-aware gather (b528e4b6405b) only hides the missing unshare flush of b3's one-page
 * variant, so that violation names a4a118f2eead.
 */
export type FixSwitch = [scenario: string, kernel: string, fixes: Record<string, boolean>, named: string | null];
export const FIX_SWITCHES: readonly FixSwitch[] = [
  ['b1-shared-pmd-migration', 'v6.18', { '017b1660df89': false, '75802ca66354': false }, '017b1660df89'],
  ['b1-shared-pmd-migration', 'v4.4', { '017b1660df89': true }, null],
  ['b1-device-invalidate-page', 'v6.18', { '369ea8242c0f': false, '5f32b265400d': false }, '369ea8242c0f'],
  ['b1-device-invalidate-page', 'v4.4', { '369ea8242c0f': true }, null],
  ['b1-device-range', 'v4.4', { '369ea8242c0f': false }, '369ea8242c0f'],
  ['b2-hole-punch-unshare-notifier-range', 'v6.18', { dff11abe280b: false }, 'dff11abe280b'],
  ['b2-hole-punch-unshare-notifier-range', 'v4.4', { dff11abe280b: true }, null],
  ['b2-mprotect-unshare-notifier-range', 'v6.18', { '081056dc00a2': false }, '081056dc00a2'],
  ['b2-mprotect-unshare-notifier-range', 'v4.4', { '081056dc00a2': true }, null],
  ['b3-munmap-unshare-no-flush', 'v6.18', { a4a118f2eead: false }, 'a4a118f2eead'],
  ['b3-munmap-unshare-no-flush', 'v4.4', { a4a118f2eead: true }, null],
  ['b3-munmap-unshare-one-page-flush', 'v4.19', { b528e4b6405b: false }, 'a4a118f2eead'],
  ['b3-munmap-unshare-one-page-flush', 'v4.4', { b528e4b6405b: true }, null],
  ['b4-mprotect-flush-after-unlock', 'v6.18', { d833352a4338: false }, 'd833352a4338'],
  ['b5-fault-vs-unshare', 'v5.16', { c0d0381ade79: false }, 'c0d0381ade79'],
  ['b5-fault-vs-unshare', 'v6.18', { c0d0381ade79: true }, null],
  ['b5-fault-vs-unshare-vma-lock', 'v6.18', { '40549ba8f8e0': false }, '40549ba8f8e0'],
  ['b5-fault-vs-unshare-vma-lock', 'v5.16', { '40549ba8f8e0': true }, null],
  ['b6-mprotect-split-shared-pmd', 'v6.18', { '081056dc00a2': false }, '081056dc00a2'],
  ['b6-mprotect-split-shared-pmd', 'v4.4', { '081056dc00a2': true }, null],
  ['b7-gup-fast-vs-unshare', 'v6.18', { '1013af4f585f': false }, '1013af4f585f'],
  ['b7-gup-fast-vs-unshare', 'v4.4', { '1013af4f585f': true }, null],
  ['b8-speculative-ref-pmd-share-count', 'v6.18', { '59d9094df3d7': false }, '59d9094df3d7'],
  ['b8-speculative-ref-pmd-share-count', 'v4.4', { '59d9094df3d7': true }, null],
  ['b9-reclaim-batched-flush-mprotect', 'v6.18', { '3ea277194daa': false }, '3ea277194daa'],
  ['b9-reclaim-batched-flush-mprotect', 'v4.4', { '3ea277194daa': true }, null],
  ['b10-parallel-dontneed', 'v6.18', { '99baac21e458': false }, '99baac21e458'],
  ['b10-parallel-dontneed', 'v4.4', { '99baac21e458': true }, null],
  ['b11-mremap-flush-before-ptl-release', 'v6.18', { eb66ae030829: false }, 'eb66ae030829'],
  ['b11-mremap-flush-before-ptl-release', 'v4.4', { eb66ae030829: true }, null],
  ['b11-mremap-clean-entry', 'v6.18', { eb66ae030829: false }, 'eb66ae030829'],
  ['b11-mremap-clean-entry', 'v4.4', { eb66ae030829: true }, null],
  ['b13-lazy-cpu-skipped-table-freed', 'v6.18', { '3ef938c35035': false }, '3ef938c35035'],
  ['b13-lazy-cpu-skipped-table-freed', 'v4.4', { '3ef938c35035': true }, null],
  ['b12-switch-mm-window-skipped-flush', 'v6.18', { fea4e317f9e7: false }, 'fea4e317f9e7'],
  ['b12-switch-mm-window-skipped-flush', 'v4.4', { fea4e317f9e7: true }, null],
  ['b13-thp-collapse-lazy-cpu', 'v6.18', { '3ef938c35035': false }, '3ef938c35035'],
  ['b13-thp-collapse-lazy-cpu', 'v4.4', { '3ef938c35035': true }, null],
  ['b16-mremap-hugetlb-unshare-flush', 'v6.18', { '3d0b95cd87b2': false }, '3d0b95cd87b2'],
  ['b16-mremap-hugetlb-unshare-flush', 'v5.16', { '3d0b95cd87b2': true }, null],
];
