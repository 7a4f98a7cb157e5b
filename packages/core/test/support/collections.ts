/**
 * Every collection the client has, with what its spec cannot say (samples as LXD 5.0.2 sends them, names):
 * read by `collections.test.ts` (the checklist of STYLE §12 per collection) and `fastDecode.test.ts` (the fast
 * decoder agrees with Schema on each spec's schemas). Adding a collection is one entry here.
 */
import { Profiles } from "@effect-lxd/core"
import { type AnySpec, collectionSuite, type Fixture } from "./collectionSuite.js"

/** A collection, its types erased so that different ones fit in one list. */
export interface Entry {
  readonly spec: AnySpec
  readonly item: Readonly<Record<string, unknown>>
  readonly post: unknown
  /** Declares its suite. */
  readonly suite: () => void
}

const entry = <S extends AnySpec>(spec: S, fixture: Fixture<S>): Entry => ({
  spec,
  item: fixture.item,
  post: fixture.post,
  suite: () => collectionSuite(spec, fixture)
})

export const collections: ReadonlyArray<Entry> = [
  entry(Profiles.spec, {
    make: Profiles.make,
    // `GET /1.0/profiles/default` on LXD 5.0.2 (no `project` field yet)
    item: {
      config: { "limits.memory": "1GiB" },
      description: "Default LXD profile",
      devices: {
        eth0: { name: "eth0", network: "lxdbr0", type: "nic" },
        root: { path: "/", pool: "default", type: "disk" }
      },
      name: "dev+café",
      used_by: ["/1.0/instances/c1", "/1.0/instances/c2?project=other"]
    },
    post: { name: "dev+café", description: "a profile", config: { "limits.cpu": "2" }, devices: {} },
    parents: [],
    name: "dev+café",
    newName: "dev-2",
    invalidName: "two words"
  })
]
