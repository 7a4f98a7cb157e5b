/**
 * Projects (`/1.0/projects`, extension `projects`): separate namespaces of instances, and (per `features.*`) of
 * images, profiles, storage volumes and networks. A collection on the shared shape, plus `state` (usage against
 * limits). Run any other service inside a project with `LxdClient.withProject(name)`.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Collection from "./internal/collection.js"
import { LxdClient } from "./LxdClient.js"
import type { LxdError } from "./LxdError.js"
import * as LxdResource from "./LxdResource.js"
import { StringMap, UsedBy } from "./LxdSchema.js"

/**
 * The writable part of a project (`PUT /1.0/projects/{name}`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const ProjectPut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: StringMap
}).annotations({ identifier: "ProjectPut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ProjectPut extends Schema.Schema.Encoded<typeof ProjectPut> {}

/**
 * A project (`GET /1.0/projects/{name}`). `used_by`: everything that lives in it.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Project = Schema.Struct({ ...ProjectPut.fields, name: Schema.String, used_by: UsedBy }).annotations({
  identifier: "Project"
})

/**
 * @since 0.2.0
 * @category models
 */
export interface Project extends Schema.Schema.Type<typeof Project> {}

/**
 * A new project (`POST /1.0/projects`). `features.*` in `config` choose what it keeps apart (LXD's defaults for
 * a new project: images, profiles and storage volumes apart, networks shared).
 *
 * @since 0.2.0
 * @category schemas
 */
export const ProjectsPost = Schema.Struct({ ...ProjectPut.fields, name: Schema.String }).annotations({
  identifier: "ProjectsPost"
})

/**
 * @since 0.2.0
 * @category models
 */
export interface ProjectsPost extends Schema.Schema.Encoded<typeof ProjectsPost> {}

/**
 * A project's usage of one resource against its limit (`-1`: no limit).
 *
 * @since 0.2.0
 * @category schemas
 */
export const ProjectStateResource = Schema.Struct({ Limit: Schema.Number, Usage: Schema.Number }).annotations({
  identifier: "ProjectStateResource"
})

/**
 * `GET /1.0/projects/{name}/state` (extension `project_usage`): usage per resource (`containers`, `cpu`, `disk`,
 * `instances`, `memory`, `networks`, `processes`, `virtual-machines`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const ProjectState = Schema.Struct({
  resources: Schema.optionalWith(Schema.Record({ key: Schema.String, value: ProjectStateResource }), {
    nullable: true,
    default: () => ({})
  })
}).annotations({ identifier: "ProjectState" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ProjectState extends Schema.Schema.Type<typeof ProjectState> {}

/**
 * The `features.*` of a project, read from its config (`features.images` → `images`, `features.storage.volumes`
 * → `storage.volumes`): `true` when the project keeps that kind of object apart.
 *
 * @since 0.2.0
 * @category models
 */
export type ProjectFeatures = Readonly<Record<string, boolean>>

/**
 * The project's features, from its config.
 *
 * @since 0.2.0
 * @category accessors
 */
export const features = (project: Pick<Project, "config">): ProjectFeatures => {
  const out: Record<string, boolean> = {}
  for (const [key, value] of Object.entries(project.config)) {
    if (key.startsWith("features.")) out[key.slice("features.".length)] = value === "true"
  }
  return out
}

/**
 * The projects collection. LXD 5.0.2's `PATCH /1.0/projects/{name}` acts as `PUT` (every key it is not sent is
 * dropped, `features.*` fall back to their defaults), so `update` reads, merges and `PUT`s with the `ETag`.
 * Rename is an operation.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "Projects",
  path: "/projects",
  kind: "project",
  item: Project,
  post: ProjectsPost,
  put: ProjectPut,
  extension: "projects",
  update: "merge",
  async: ["rename"],
  lifecycle: "project"
})

/**
 * @since 0.2.0
 * @category tags
 */
export class Projects extends Context.Tag("@effect-lxd/core/Projects")<Projects, Projects.Service>() {}

/**
 * @since 0.2.0
 */
export declare namespace Projects {
  /**
   * The collection verbs on `/1.0/projects`, and `state`. `update` keeps every key it is not given (GET → merge
   * → PUT with the ETag, see {@link spec}). LXD refuses to delete or rename `default` and to delete a project
   * that is not empty (`BadRequest`/`Forbidden`), and to change `features.*` of a project with instances.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service extends LxdResource.Collection<[], Project, ProjectsPost, ProjectPut> {
    /**
     * Usage against limits (`GET /1.0/projects/{name}/state`, extension `project_usage`). Errors: `NotFound`,
     * `InvalidArgument`, `APIExtensionNotAvailable`.
     */
    readonly state: (name: string) => Effect.Effect<ProjectState, LxdError>
  }
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<Projects.Service, never, LxdClient> = Effect.map(LxdClient, (client) => ({
  ...Collection.make(client, spec),
  state: Collection.readPart(client, spec, {
    verb: "state",
    suffix: "/state",
    schema: ProjectState,
    extension: "project_usage"
  })
}))

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<Projects, never, LxdClient> = Layer.effect(Projects, make)
