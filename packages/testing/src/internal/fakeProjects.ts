/**
 * Projects in the fake: the generated routes of `Projects.spec` plus what is a project's own, as LXD 5.0.2 has
 * it (lab notes, `lxd/api_project.go`):
 *
 * - one store for all (`?project=` does not apply), and a `default` project with every feature;
 * - a new project gets `features.images`, `features.profiles` and `features.storage.volumes` unless its config
 *   says otherwise, and, with `features.profiles`, its own `default` profile (without a root disk);
 * - `PATCH` acts as `PUT` for `config`: a config it is sent replaces the whole map (a feature left out turns
 *   off), what it is not sent is kept;
 * - a feature changes only on an empty project (400 `Project feature "features.X" cannot be enabled/disabled on
 *   non-empty projects`); turning `features.profiles` off deletes the project's `default` profile (404 `Delete
 *   project default profile: Profile not found` when there is none), turning it on creates one;
 * - `default` can be neither renamed nor deleted (403); a project that is not empty cannot be deleted (400) nor
 *   renamed (the rename's operation fails); rename is an operation;
 * - `used_by`: its instances, images and profiles; lifecycle events are sent in the project itself;
 * - `GET /1.0/projects/{name}/state` (`project_usage`): counts against `limits.*`.
 *
 * @internal
 */
import * as Profiles from "@effect-lxd/core/Profiles"
import * as Projects from "@effect-lxd/core/Projects"
import * as Effect from "effect/Effect"
import * as M from "../LxdMockTransport.js"
import { entriesOf, fakeCollection, findEntry, putEntry, removeEntry, type Veto } from "./fakeCollection.js"
import { type FakeEntry, type FakeState, type Json, OpFailure } from "./fakeCore.js"
import { fail, ok, type Route, strMap } from "./fakeHttp.js"
import { imagesOf } from "./fakeImages.js"
import { isTrue } from "./fakeProfiles.js"

const FEATURES = ["features.images", "features.profiles", "features.storage.volumes", "features.networks"]
const NEW_PROJECT_FEATURES = ["features.images", "features.profiles", "features.storage.volumes"]

const withQuery = (url: string, project: string) => project === "default" ? url : `${url}?project=${project}`

/** What lives in a project: its instances, images and profiles (URLs, as `used_by` lists them). */
const contents = (state: FakeState, project: string) => [
  ...[...state.instances.values()].filter((i) => i.project === project).map((i) =>
    withQuery(`/1.0/instances/${i.name}`, project)
  ),
  ...imagesOf(state, project).map((i) => withQuery(`/1.0/images/${i.name}`, project)),
  ...entriesOf(state, Profiles.spec).filter((p) => p.project === project).map((p) =>
    withQuery(`/1.0/profiles/${p.name}`, project)
  )
]

/** LXD's `projectIsEmpty`: nothing in it but its `default` profile. */
const isEmpty = (state: FakeState, project: string) =>
  contents(state, project).every((url) => url === withQuery("/1.0/profiles/default", project))

/** `default` is never renamed nor deleted (403); another project only when it is empty. */
const onlyEmpty = (state: FakeState, entry: FakeEntry, verb: string, refusal: Veto): Veto =>
  entry.name === "default"
    ? M.error(403, `The "default" project cannot be ${verb}`)
    : isEmpty(state, entry.name)
    ? undefined
    : refusal

const defaultProfile = (project: string) => ({
  project,
  parents: [],
  name: "default",
  value: { name: "default", description: `Default LXD profile for project ${project}`, config: {}, devices: {} }
})

/** Moves (or, with `to` undefined, drops) every object of every served collection in project `from`. */
const moveContents = (state: FakeState, from: string, to: string | undefined) =>
  Effect.sync(() => {
    for (const [path, store] of state.collections) {
      for (const entry of [...store.entries.values()].filter((e) => e.project === from)) {
        removeEntry(state, { path }, entry)
        if (to !== undefined) putEntry(state, { path }, { ...entry, project: to })
      }
    }
  })

const configOf = (value: Json) => strMap(value.config)

/** Bytes of a `limits.memory`/`limits.disk` value (`1GiB`, `512MB`, `100%` is not a count: -1). */
const bytes = (value: string): number => {
  const m = /^(\d+(?:\.\d+)?)\s*(|B|[kKMGTPE]i?B)$/.exec(value)
  if (!m) return -1
  const unit = m[2]!
  const power = unit === "" || unit === "B" ? 0 : "kMGTPE".indexOf(unit[0]!.replace("K", "k")) + 1
  return Math.round(Number(m[1]) * (unit.includes("i") ? 1024 : 1000) ** power)
}

const stateRoute = (state: FakeState): Route =>
  M.route("GET", "/projects/:name/state", (r) => {
    const project = findEntry(state, Projects.spec, "", [], r.params.name ?? "")
    if (project === undefined) return fail(404, "Project not found")
    const config = configOf(project.value)
    const instances = [...state.instances.values()].filter((i) => i.project === project.name)
    const limit = (key: string, parse: (v: string) => number = Number) => {
      const value = config[`limits.${key}`]
      return value === undefined ? -1 : parse(value)
    }
    const count = (key: string, usage: number) => ({ Limit: limit(key), Usage: usage })
    return ok({
      resources: {
        containers: count("containers", instances.filter((i) => i.type === "container").length),
        "virtual-machines": count("virtual-machines", instances.filter((i) => i.type === "virtual-machine").length),
        instances: count("instances", instances.length),
        cpu: count("cpu", 0),
        memory: { Limit: limit("memory", bytes), Usage: 0 },
        disk: { Limit: limit("disk", bytes), Usage: 0 },
        networks: count("networks", 0),
        processes: count("processes", 0)
      }
    })
  })

/** @internal */
export const projectRoutes = (state: FakeState): Array<Route> => [
  ...fakeCollection(state, Projects.spec, {
    global: true,
    initial: [{
      value: {
        name: "default",
        description: "Default LXD project",
        config: Object.fromEntries(FEATURES.map((f) => [f, "true"]))
      }
    }],
    computed: (state, entry) => ({ used_by: contents(state, entry.name) }),
    defaults: () => ({ config: Object.fromEntries(NEW_PROJECT_FEATURES.map((f) => [f, "true"])) }),
    duplicate: (name, verb) =>
      verb === "create"
        ? M.error(409, `Error inserting "${name}" into database: This "projects" entry already exists`)
        : new OpFailure(`A project named "${name}" already exists`),
    vetoWrite: (t, entry, next) => {
      const before = configOf(entry.value)
      const after = configOf(next)
      const changed = FEATURES.filter((f) => (before[f] ?? "") !== (after[f] ?? ""))
      if (changed.length > 0 && !isEmpty(t.state, entry.name)) {
        return M.error(400, `Project feature "${changed[0]}" cannot be enabled/disabled on non-empty projects`)
      }
      const dropsProfiles = changed.includes("features.profiles") && !isTrue(after["features.profiles"])
      return dropsProfiles && findEntry(t.state, Profiles.spec, entry.name, [], "default")?.project !== entry.name
        ? M.error(404, "Delete project default profile: Profile not found")
        : undefined
    },
    // a rename checks emptiness inside its operation
    vetoRename: (t, entry) => onlyEmpty(t.state, entry, "renamed", new OpFailure("Only empty projects can be renamed")),
    vetoDelete: (t, entry) => onlyEmpty(t.state, entry, "deleted", M.error(400, "Only empty projects can be removed")),
    after: {
      created: (entry) =>
        Effect.sync(() => {
          if (isTrue(configOf(entry.value)["features.profiles"])) {
            putEntry(state, Profiles.spec, defaultProfile(entry.name))
          }
        }),
      updated: (entry, before) =>
        Effect.sync(() => {
          const on = isTrue(configOf(entry.value)["features.profiles"])
          if (on === isTrue(configOf(before)["features.profiles"])) return
          const profile = defaultProfile(entry.name)
          if (on) putEntry(state, Profiles.spec, profile)
          else removeEntry(state, Profiles.spec, profile)
        }),
      renamed: (entry, old) => moveContents(state, old, entry.name),
      deleted: (entry) => moveContents(state, entry.name, undefined)
    },
    eventProject: (entry) => entry.name
  }),
  stateRoute(state)
]
