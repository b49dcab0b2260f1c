// A profile is the set of fixes one kernel release carries. v4.4 is the release as it came out (with
// the v3.6 fix it already had); each later profile adds what its release had. Any fix can be switched
// over any profile; a combination in which a fix lacks one it needs is refused.
import { FIXES, FixSet, fixById } from './fixes.ts';

const V4_4 = ['d833352a4338'];
const V4_19 = [...V4_4, 'b528e4b6405b', 'b5bc66b71310', 'b0579ade7cd8', '10af6235e0d3', '3ea277194daa', '99baac21e458', '369ea8242c0f', '5f32b265400d',
  '017b1660df89', 'dff11abe280b', 'eb66ae030829'];
const V5_16 = [...V4_19, '9b553bf5eb99', '9f132f7e1455', 'a31acd3ee8f7', '016c4d92cd16', '75802ca66354', 'c0d0381ade79', '550a7d60bd5e', 'a4a118f2eead'];
// v6.1 replaced the fault side of c0d0381ade79 (reverted) with the hugetlb VMA lock.
const V6_1 = [...V5_16.filter((id) => id !== 'c0d0381ade79'), '90e7e7f5ef3f', '3d0b95cd87b2', '40549ba8f8e0', '4a18419f71cd'];
const V6_18 = [...V6_1, '209954cbc7d0', '6bbd42e2df8f', '59d9094df3d7', '3ef938c35035', '081056dc00a2', '1013af4f585f',
  '6db2526c1d69', 'fea4e317f9e7'];

export const PROFILES: Readonly<Record<string, readonly string[]>> = {
  'v4.4': V4_4,
  'v4.19': V4_19,
  'v5.16': V5_16,
  'v6.1': V6_1,
  'v6.18': V6_18,
};
export const DEFAULT_PROFILE = 'v6.18';
export const PROFILE_NAMES = Object.keys(PROFILES);

export class ProfileError extends Error {}

const FIX_ID = /^[0-9a-f]{12}$/;

/** The fixes of `profile` with `overrides` applied; throws ProfileError naming what is wrong. */
export function resolveFixes(profile: string, overrides: Readonly<Record<string, boolean>> = {}): FixSet {
  const base = Object.hasOwn(PROFILES, profile) ? PROFILES[profile] : undefined; // a name such as "__proto__" is no profile
  if (!base) throw new ProfileError(`unknown kernel profile '${profile}' (profiles: ${PROFILE_NAMES.join(', ')})`);
  const on = new Set(base);
  for (const [id, value] of Object.entries(overrides)) {
    if (!FIX_ID.test(id)) throw new ProfileError(`fix id '${id}' is not 12 lower-case hex digits`);
    if (!fixById(id)) throw new ProfileError(`unknown fix ${id} (run 'mmuwasm profiles' for the list)`);
    if (value) on.add(id);
    else on.delete(id);
  }
  for (const id of on) {
    for (const need of fixById(id)!.needs ?? []) {
      if (!on.has(need)) {
        throw new ProfileError(`fix ${id} (${fixById(id)!.title}) needs fix ${need} (${fixById(need)!.title}), which is off in this replay`);
      }
    }
  }
  // Keep the registry order so reports list fixes the same way every time.
  return new FixSet(FIXES.filter((f) => on.has(f.id)).map((f) => f.id));
}
