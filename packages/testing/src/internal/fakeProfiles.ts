/**
 * Profiles in the fake: the generated routes of `Profiles.spec` plus what is a profile's own, as LXD 5.0.2 has
 * it: the `default` profile (a root disk on pool `default`) that can be neither renamed nor deleted (403),
 * `used_by` computed from the instances that apply it, 400 `Profile is currently in use` on deleting one of those,
 * and a duplicate create answered with a 500 (`Error inserting "p" into database: The profile already exists`).
 *
 * @internal
 */
import * as Profiles from "@effect-lxd/core/Profiles"
import * as M from "../LxdMockTransport.js"
import { fakeCollection, findEntry } from "./fakeCollection.js"
import type { FakeEntry, FakeState } from "./fakeCore.js"
import type { Route } from "./fakeHttp.js"

/** The profile an instance of `project` applies under `name`, as stored (`config`, `devices`). @internal */
export const profileOf = (state: FakeState, project: string, name: string): FakeEntry | undefined =>
  findEntry(state, Profiles.spec, project, [], name)

const usedBy = (state: FakeState, profile: FakeEntry) =>
  [...state.instances.values()]
    .filter((i) => i.project === profile.project && i.profiles.includes(profile.name))
    .map((i) => `/1.0/instances/${encodeURIComponent(i.name)}${i.project === "default" ? "" : `?project=${i.project}`}`)

const protectedDefault = (entry: FakeEntry, verb: string) =>
  entry.name === "default" ? M.error(403, `The "default" profile cannot be ${verb}`) : undefined

/** @internal */
export const profileRoutes = (state: FakeState): Array<Route> =>
  fakeCollection(state, Profiles.spec, {
    initial: [{
      value: {
        name: "default",
        description: "Default LXD profile",
        config: {},
        devices: { root: { path: "/", pool: "default", type: "disk" } }
      }
    }],
    computed: (state, entry) => ({ used_by: usedBy(state, entry) }),
    duplicate: (name) => M.error(500, `Error inserting "${name}" into database: The profile already exists`),
    vetoRename: (_, entry) => protectedDefault(entry, "renamed"),
    vetoDelete: (t, entry) =>
      protectedDefault(entry, "deleted") ??
        (usedBy(t.state, entry).length > 0 ? M.error(400, "Profile is currently in use") : undefined)
  })
