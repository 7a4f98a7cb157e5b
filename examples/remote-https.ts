/**
 * Connect to a remote LXD over HTTPS with a client certificate and a pinned server certificate; if the server
 * does not trust this client yet, authenticate with a trust token or password.
 *
 *   LXD_URL=https://10.0.0.2:8443 LXD_CLIENT_CERT=client.crt LXD_CLIENT_KEY=client.key \
 *   LXD_SERVER_CERT=server.crt LXD_TOKEN=<from `lxc config trust add`> npx tsx examples/remote-https.ts
 */
import { Certificates, Lxd, Server } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect, Layer, Option, Redacted } from "effect"
import * as fs from "node:fs"

const pem = (name: string) =>
  Config.map(Config.string(name), (v) => v.includes("-----BEGIN") ? v : fs.readFileSync(v, "utf8"))

const Remote = NodeLxdTransport.layerHttpsConfig({
  url: Config.string("LXD_URL"),
  clientCertificate: pem("LXD_CLIENT_CERT"),
  clientKey: Config.map(pem("LXD_CLIENT_KEY"), Redacted.make),
  serverCertificate: pem("LXD_SERVER_CERT")
})

const program = Effect.gen(function*() {
  const server = yield* Server.Server
  if (!(yield* server.isTrusted)) {
    const token = yield* Config.option(Config.redacted("LXD_TOKEN"))
    const password = yield* Config.option(Config.redacted("LXD_TRUST_PASSWORD"))
    const certificates = yield* Certificates.Certificates
    if (Option.isSome(token)) yield* certificates.authenticate({ token: Redacted.value(token.value) })
    else if (Option.isSome(password)) yield* certificates.authenticate({ password: Redacted.value(password.value) })
    else return yield* Console.error("This client is not trusted: set LXD_TOKEN or LXD_TRUST_PASSWORD")
    yield* Console.log("Authenticated: the server now trusts this client certificate")
  }
  const info = yield* server.info
  yield* Console.log(
    `Connected over HTTPS (pinned certificate) to ${info.environment?.server_name} running LXD ${info.environment?.server_version}: ${info.auth}, ${info.api_extensions.length} API extensions`
  )
})

program.pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(Remote))), NodeRuntime.runMain)
