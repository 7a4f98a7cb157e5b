/**
 * The per-event cost of the events decode, without a socket (issue 13): 100,000 frames of the captured LXD 5.0.2
 * fixture, each decoded in turn, CPU µs per event, the best of 22 interleaved rounds (a loaded machine only adds):
 *
 *   parse  JSON.parse alone (what the bare ws baseline of bench/events.ts does per frame)
 *   ts     JSON.parse + the timestamp's epoch milliseconds (`parseUtcMillis`)
 *   tsu    JSON.parse + the timestamp as a `DateTime.Utc` (the fast path's `makeUtc`, as `DateTime` builds it)
 *   dec    `decodeOrInvalid` (JSON.parse + the hand-checked fast path), what `Events.stream` runs per frame
 *
 *   node --import tsx bench/events-decode.ts parse ts tsu dec
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as internal from "../packages/core/src/internal/events.js"
import * as FastDecode from "../packages/core/src/internal/fastDecode.js"
import { Timestamp } from "../packages/core/src/LxdSchema.js"

const fts = FastDecode.compile(Timestamp.ast)
const here = path.dirname(fileURLToPath(import.meta.url))
const frames = fs.readFileSync(path.join(here, "fixtures", "lxd-5.0.2-events.jsonl"), "utf8").split("\n")
  .filter((l) => l.trim() !== "")
const N = 100_000
const texts: Array<string> = []
for (let i = 0; i < N; i++) texts.push(Buffer.from(frames[i % frames.length]!).toString())

const modes = process.argv.length > 2 ? process.argv.slice(2) : ["parse", "ts", "tsu", "dec"]
let sink = 0
const best = new Map<string, number>()
const one = (mode: string) => {
  if (mode === "parse") { for (const t of texts) sink += (JSON.parse(t) as { type: string }).type.length }
  else if (mode === "ts") {
    for (const t of texts) sink += FastDecode.parseUtcMillis((JSON.parse(t) as { timestamp: string }).timestamp)!
  } else if (mode === "tsu") {
    for (const t of texts) {
      sink += (fts((JSON.parse(t) as { timestamp: string }).timestamp) as { epochMillis: number }).epochMillis
    }
  } else if (mode === "both") { for (const t of texts) sink += internal.decodeKnownFast(JSON.parse(t))!.type.length }
  else for (const t of texts) sink += (internal.decodeOrInvalid(t) as { type: string }).type.length
}
for (let r = 0; r < 25; r++) {
  for (const mode of modes) {
    const c0 = process.cpuUsage()
    one(mode)
    const c = process.cpuUsage(c0)
    const us = (c.user + c.system) / N
    if (r >= 3) best.set(mode, Math.min(best.get(mode) ?? Infinity, us))
  }
}
process.stdout.write(
  `${[...best].map(([m, us]) => `${m} ${us.toFixed(3)}`).join("  ")} (CPU µs per event, best round)${
    sink > 0 ? "" : " "
  }\n`
)
