/**
 * Profiles in the fake: the generated routes of `Profiles.spec` plus what is a profile's own, as LXD 5.0.2 has
 * it: the `default` profile (a root disk on pool `default`) that can be neither renamed nor deleted (403),
 * `used_by` computed from the instances that apply it, 400 `Profile is currently in use` on deleting one of those,
 * a duplicate create answered with a 500 (`Error inserting "p" into database: The profile already exists`), and a
 * project without `features.profiles` using the profiles of `default`.
 *
 * @internal
 */
import * as Profiles from "@effect-lxd/core/Profiles"
import * as Projects from "@effect-lxd/core/Projects"
import * as M from "../LxdMockTransport.js"
import { fakeCollection, findEntry } from "./fakeCollection.js"
import type { FakeEntry, FakeState } from "./fakeCore.js"
import { isObject, type Route } from "./fakeHttp.js"

/** LXD's `shared.IsTrue`. @internal */
export const isTrue = (value: unknown): boolean =>
  typeof value === "string" && ["true", "1", "yes", "on"].includes(value.toLowerCase())

/**
 * The project whose objects of a kind a request in `project` reaches: itself when it has the feature
 * (`features.profiles`, `features.networks`), else `default` (and itself for a project the fake does not have:
 * the request is answered 404 anyway).
 *
 * @internal
 */
export const featureProject = (feature: string) => (state: FakeState, project: string): string => {
  const config = findEntry(state, Projects.spec, project, [], project)?.value.config
  return config === undefined || (isObject(config) && isTrue(config[feature])) ? project : "default"
}

/** The project whose profiles a request in `project` reaches. @internal */
export const profilesProject: (state: FakeState, project: string) => string = featureProject("features.profiles")

/** The profile an instance of `project` applies under `name`, as stored (`config`, `devices`). @internal */
export const profileOf = (state: FakeState, project: string, name: string): FakeEntry | undefined =>
  findEntry(state, Profiles.spec, project, [], name)

const usedBy = (state: FakeState, profile: FakeEntry) =>
  [...state.instances.values()]
    .filter((i) => profilesProject(state, i.project) === profile.project && i.profiles.includes(profile.name))
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
    project: profilesProject,
    computed: (state, entry) => ({ used_by: usedBy(state, entry) }),
    duplicate: (name, verb) =>
      verb === "create"
        ? M.error(500, `Error inserting "${name}" into database: The profile already exists`)
        : M.error(409, `Name "${name}" already in use`),
    vetoRename: (_, entry) => protectedDefault(entry, "renamed"),
    vetoDelete: (t, entry) =>
      protectedDefault(entry, "deleted") ??
        (usedBy(t.state, entry).length > 0 ? M.error(400, "Profile is currently in use") : undefined)
  })
