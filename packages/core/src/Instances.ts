/**
 * LXD instances (`/1.0/instances`): containers and virtual machines.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { Devices, NullableArray, OpenEnum, StringMap, Timestamp } from "./LxdSchema.js"

/**
 * An instance as `GET /1.0/instances/{name}` returns it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Instance = Schema.Struct({
  name: Schema.String,
  type: Schema.optionalWith(OpenEnum("container", "virtual-machine"), { default: () => "container" }),
  architecture: Schema.optionalWith(Schema.String, { default: () => "" }),
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  status: OpenEnum("Running", "Stopped", "Frozen", "Error", "Starting", "Stopping", "Freezing", "Ready"),
  status_code: Schema.Number,
  created_at: Timestamp,
  last_used_at: Timestamp,
  location: Schema.optionalWith(Schema.String, { default: () => "" }),
  project: Schema.optionalWith(Schema.String, { default: () => "default" }),
  ephemeral: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  stateful: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  profiles: NullableArray(Schema.String),
  config: StringMap,
  devices: Devices,
  expanded_config: StringMap,
  expanded_devices: Devices
}).annotations({ identifier: "Instance" })

/**
 * @since 0.1.0
 * @category models
 */
export interface Instance extends Schema.Schema.Type<typeof Instance> {}
