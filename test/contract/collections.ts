/**
 * Collections on the shared shape (profiles, projects) for the contract suite: pylxd's scenarios, on both
 * backends.
 */
import { Certificates, LxdClient, Profiles, Projects, Warnings } from "@effect-lxd/core"
import { Effect } from "effect"
import { expect } from "vitest"
import { makeCertificate } from "../support/certs.js"
import type { Scenario } from "./scenarios.js"

/** Runs `use` with a project, deleting it (and the profiles it made) afterwards. */
const withProject = <A, E, R>(name: string, config: Record<string, string>, use: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.flatMap(Projects.Projects, (p) => p.create({ name, config })),
    () => use,
    () => Effect.ignore(Effect.flatMap(Projects.Projects, (p) => p.delete(name)))
  )

export const collectionScenarios: ReadonlyArray<Scenario> = [
  {
    name: "profiles: pylxd's create (limits.memory, description), save, rename, delete then NotFound",
    run: () =>
      Effect.gen(function*() {
        const profiles = yield* Profiles.Profiles
        const name = yield* profiles.create({
          name: "ct-profile",
          description: "a test profile",
          config: { "limits.memory": "128MiB" }
        })
        expect(name).toBe("ct-profile")
        const created = yield* profiles.get("ct-profile")
        expect(created).toMatchObject({ description: "a test profile", config: { "limits.memory": "128MiB" } })
        expect(created.used_by).toEqual([])
        // pylxd's save(): the whole writable part, with the ETag
        yield* profiles.modify("ct-profile", (p) => ({ ...p, config: { ...p.config, "limits.cpu": "1" } }))
        expect((yield* profiles.get("ct-profile")).config).toEqual({ "limits.memory": "128MiB", "limits.cpu": "1" })
        yield* profiles.update("ct-profile", { description: "changed" })
        const changed = yield* profiles.getWithEtag("ct-profile")
        expect(changed.value).toMatchObject({ description: "changed", config: { "limits.cpu": "1" } })
        const stale = yield* Effect.flip(profiles.update("ct-profile", { description: "again" }, { etag: "\"0\"" }))
        expect(stale._tag).toBe("PreconditionFailed")
        yield* profiles.rename("ct-profile", "ct-profile2")
        expect(yield* profiles.exists("ct-profile")).toBe(false)
        expect(yield* profiles.listNames()).toContain("ct-profile2")
        expect((yield* Effect.flip(profiles.create({ name: "ct-profile2" })))._tag).toMatch(/Conflict|LxdApiError/)
        yield* profiles.delete("ct-profile2")
        expect((yield* Effect.flip(profiles.get("ct-profile2")))._tag).toBe("NotFound")
        expect((yield* Effect.flip(profiles.delete("default")))._tag).toBe("Forbidden")
      })
  },
  {
    name: "projects: pylxd's create (features.images=true, features.profiles=false), save, rename, delete",
    run: () =>
      Effect.gen(function*() {
        const projects = yield* Projects.Projects
        yield* projects.create({
          name: "ct-project",
          description: "a test project",
          config: { "features.images": "true", "features.profiles": "false" }
        })
        const created = yield* projects.get("ct-project")
        expect(Projects.features(created)).toMatchObject({ images: true, profiles: false })
        expect(created.description).toBe("a test project")
        yield* projects.update("ct-project", { description: "changed" })
        expect((yield* projects.get("ct-project")).description).toBe("changed")
        const state = yield* projects.state("ct-project")
        expect(state.resources["instances"]?.Usage).toBe(0)
        yield* projects.rename("ct-project", "ct-project2")
        expect(yield* projects.exists("ct-project")).toBe(false)
        expect((yield* projects.list()).map((p) => p.name)).toContain("ct-project2")
        expect(yield* projects.listNames()).toContain("ct-project2")
        yield* projects.delete("ct-project2")
        expect((yield* Effect.flip(projects.get("ct-project2")))._tag).toBe("NotFound")
      })
  },
  {
    name: "projects: update changes one key and keeps every other (5.0.2's PATCH acts as PUT)",
    run: () =>
      withProject(
        "ct-keep",
        { "features.images": "false", "features.profiles": "true", "limits.instances": "5", "user.note": "kept" },
        Effect.gen(function*() {
          const projects = yield* Projects.Projects
          const before = (yield* projects.get("ct-keep")).config
          yield* projects.update("ct-keep", { config: { "limits.instances": "7" } })
          expect((yield* projects.get("ct-keep")).config).toEqual({ ...before, "limits.instances": "7" })
        })
      )
  },
  {
    name: "projects: a profile made inside a new project while the default project is listed; no leak",
    run: () =>
      withProject(
        "ct-iso",
        { "features.profiles": "true", "features.images": "false" },
        Effect.gen(function*() {
          const profiles = yield* Profiles.Profiles
          const [inDefault] = yield* Effect.all([
            profiles.listNames(),
            LxdClient.withProject(profiles.create({ name: "ct-only-here" }), "ct-iso")
          ], { concurrency: 2 })
          expect(inDefault).not.toContain("ct-only-here")
          expect(yield* profiles.listNames()).not.toContain("ct-only-here")
          const inProject = yield* LxdClient.withProject(profiles.list(), "ct-iso")
          expect(inProject.map((p) => p.name).sort()).toEqual(["ct-only-here", "default"])
          yield* LxdClient.withProject(profiles.delete("ct-only-here"), "ct-iso")
        })
      )
  },
  {
    name: "certificates: trust a PEM (restricted), list, rename with the ETag, a stale one refused, remove",
    run: () =>
      Effect.gen(function*() {
        const certificates = yield* Certificates.Certificates
        const keys = makeCertificate("effect-lxd-contract")
        const fingerprint = yield* certificates.create({
          certificate: keys.cert,
          name: "ct-cert",
          restricted: true,
          projects: ["default"]
        })
        expect(fingerprint).toMatch(/^[0-9a-f]{64}$/)
        expect(yield* certificates.listNames()).toContain(fingerprint)
        const listed = (yield* certificates.list()).find((c) => c.fingerprint === fingerprint)
        expect(listed).toMatchObject({ name: "ct-cert", type: "client", restricted: true, projects: ["default"] })
        const { etag } = yield* certificates.getWithEtag(fingerprint)
        yield* certificates.update(fingerprint, { name: "ct-cert2" }, { etag })
        expect((yield* certificates.get(fingerprint)).name).toBe("ct-cert2")
        const stale = yield* Effect.flip(certificates.update(fingerprint, { name: "again" }, { etag }))
        expect(stale._tag).toBe("PreconditionFailed")
        yield* certificates.delete(fingerprint)
        expect(yield* certificates.exists(fingerprint)).toBe(false)
      })
  },
  {
    name: "warnings: the list decodes, names agree with it, an unknown UUID is NotFound",
    run: () =>
      Effect.gen(function*() {
        const warnings = yield* Warnings.Warnings
        const all = yield* warnings.list()
        expect([...(yield* warnings.listNames())].sort()).toEqual(all.map((w) => w.uuid).sort())
        for (const w of all) expect(["new", "acknowledged", "resolved"]).toContain(w.status)
        const missing = yield* Effect.flip(warnings.get("00000000-0000-4000-8000-000000000000"))
        expect(missing._tag).toBe("NotFound")
      })
  }
]
