/**
 * Exec scenarios (pylxd's, and interruption), for the contract suite.
 */
import { Exec, Operations } from "@effect-lxd/core"
import { Chunk, Effect, Ref, Stream } from "effect"
import { expect } from "vitest"
import { type Scenario, setState, withInstance } from "./scenarios.js"

const running = <A, E, R>(name: string, image: string, use: Effect.Effect<A, E, R>) =>
  withInstance(name, image, Effect.zipRight(setState(name, "start"), use))

const exec = Exec.Exec

export const execScenarios: ReadonlyArray<Scenario> = [
  {
    name: "exec: echo, exit codes, command not found, stdin, bytes and decoding",
    run: ({ image }) =>
      running(
        "ct-exec",
        image,
        Effect.gen(function*() {
          const x = yield* exec
          const echo = yield* x.runText("ct-exec", ["echo", "test"])
          expect(echo).toEqual({ exitCode: 0, error: undefined, stdout: "test\n", stderr: "" })
          const failing = yield* x.runText("ct-exec", ["sh", "-c", "exit 3"])
          expect(failing.exitCode).toBe(3)
          expect(failing.error).toBeUndefined()
          const missing = yield* x.run("ct-exec", ["definitely-not-a-command"])
          expect(missing.exitCode).toBe(127)
          expect(missing.error).toBe("Command not found")
          const cat = yield* x.runText("ct-exec", ["cat", "-"], { stdin: "hello\nworld\n" })
          expect(cat.stdout).toBe("hello\nworld\n")
          const raw = yield* x.run("ct-exec", ["printf", "\\377"])
          expect([...raw.stdout]).toEqual([0xff])
          const latin1 = yield* x.runText("ct-exec", ["printf", "qu\\351"], { encoding: "latin1" })
          expect(latin1.stdout).toBe("qué")
        })
      )
  },
  {
    name: "exec: a stdout handler receives the output while the result stays empty",
    run: ({ image }) =>
      running(
        "ct-exec-h",
        image,
        Effect.gen(function*() {
          const x = yield* exec
          const seen = yield* Ref.make(Chunk.empty<Uint8Array>())
          const result = yield* x.run("ct-exec-h", ["echo", "handled"], {
            onStdout: (chunk) => Ref.update(seen, Chunk.append(chunk))
          })
          expect(result.stdout.length).toBe(0)
          const output = yield* Exec.collect(Stream.fromChunk(yield* Ref.get(seen)))
          expect(Exec.decode(output)).toBe("handled\n")
        })
      )
  },
  {
    name: "exec: interrupting a long command leaves no exec operation running",
    run: ({ image }) =>
      running(
        "ct-exec-i",
        image,
        Effect.gen(function*() {
          const x = yield* exec
          const started = Date.now()
          const result = yield* x.run("ct-exec-i", ["sleep", "30"]).pipe(Effect.timeout("1 second"), Effect.either)
          expect(result._tag).toBe("Left")
          expect(Date.now() - started).toBeLessThan(10_000)
          const ops = yield* Effect.flatMap(Operations.Operations, (o) => o.list())
          expect(ops.filter((o) => o.description === "Executing command" && o.status_code < 200)).toEqual([])
          // and the instance still runs commands
          expect((yield* x.runText("ct-exec-i", ["echo", "after"])).stdout).toBe("after\n")
        })
      )
  },
  {
    name: "exec: a stopped instance is refused before any command runs",
    run: ({ image }) =>
      withInstance(
        "ct-exec-s",
        image,
        Effect.gen(function*() {
          const x = yield* exec
          const e = yield* Effect.flip(x.run("ct-exec-s", ["echo", "no"]))
          expect(e._tag).toBe("BadRequest")
          expect(e.message).toBe("Instance is not running")
        })
      )
  }
]
