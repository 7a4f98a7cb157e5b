/**
 * Watch lifecycle events with backpressure while another fiber creates and deletes containers.
 * The watcher is deliberately slow; its bounded buffer absorbs the bursts ("sliding" keeps the newest events if
 * it ever fills; the default "fail" would end the stream with EventBufferOverflow so you can re-list and resubscribe).
 */
import { Events, Instances } from "@effect-lxd/core"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Fiber, Stream } from "effect"
import { image, LocalOrFake } from "./backend.js"

const COUNT = 3

const program = Effect.gen(function*() {
  const events = yield* Events.Events
  const instances = yield* Instances.Instances
  const prefix = `watch-${Date.now().toString(36)}`

  // subscribe first, so nothing the worker does is missed
  const stream = yield* events.subscribe({ types: ["lifecycle"], bufferSize: 64, overflow: "sliding" })
  const watcher = yield* Events.lifecycle(stream).pipe(
    Stream.filter((e) => e.metadata.source.includes(prefix)),
    Stream.tap((e) => Console.log(`event: ${e.metadata.action} ${e.metadata.source}`)),
    Stream.tap(() => Effect.sleep("20 millis")), // a slow consumer
    Stream.take(COUNT * 2),
    Stream.runCount,
    Effect.fork
  )

  const worker = Effect.forEach(
    Array.from({ length: COUNT }, (_, i) => `${prefix}-${i}`),
    (name) =>
      Effect.gen(function*() {
        yield* instances.create({ name, source: { type: "image", alias: image } })
        yield* instances.delete(name)
      }),
    { concurrency: COUNT, discard: true }
  )
  yield* worker
  const seen = yield* Fiber.join(watcher).pipe(Effect.timeout("30 seconds"))
  yield* Console.log(`saw ${seen} lifecycle events for ${COUNT} containers created and deleted`)
})

program.pipe(Effect.scoped, Effect.provide(LocalOrFake), NodeRuntime.runMain)
