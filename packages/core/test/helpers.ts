import { Lxd } from "@effect-lxd/core"
import { LxdMockTransport } from "@effect-lxd/testing"
import { Layer } from "effect"

/** Every core service over a scripted mock. */
export const mockLayer = (options: LxdMockTransport.Options) =>
  Lxd.layer.pipe(Layer.provideMerge(LxdMockTransport.layer(options)))

export const serverInfo = (extensions: ReadonlyArray<string> = ["etag", "certificate_token", "resources"]) => ({
  api_extensions: extensions,
  api_status: "stable",
  api_version: "1.0",
  auth: "trusted",
  public: false,
  auth_methods: ["tls"],
  config: {},
  environment: { server_version: "5.0.2", server_name: "mock", project: "default", a_field_from_the_future: 1 },
  another_field_from_the_future: { x: 1 }
})
