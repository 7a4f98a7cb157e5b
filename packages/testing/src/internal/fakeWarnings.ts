/**
 * Warnings in the fake: the generated routes of `Warnings.spec` (no create, no rename: LXD makes warnings) plus
 * what is a warning's own, as LXD 5.0.2 has it (`lxd/warnings.go`): one store for all projects, a list of every
 * project's warnings unless `?project=` names one, in the order they were first seen; a status set only to `new`
 * or `acknowledged`; `warning-acknowledged`/`warning-reset`/`warning-deleted` events. Tests make warnings with
 * {@link warn} (`LxdFakeServer.Control`), as LXD does when it notices a problem again: the same type, project
 * and entity count up.
 *
 * @internal
 */
import * as Warnings from "@effect-lxd/core/Warnings"
import type { WarningInput } from "../LxdFakeServer.js"
import * as M from "../LxdMockTransport.js"
import { entriesOf, fakeCollection, putEntry } from "./fakeCollection.js"
import { type FakeState, now, uuid } from "./fakeCore.js"
import type { Route } from "./fakeHttp.js"

/** LXD noticing a problem: a new warning, or the same one counted again (`new` again if it was resolved). @internal */
export const warn = (state: FakeState, input: WarningInput): string => {
  const project = input.project ?? ""
  const entityUrl = input.entityUrl ?? ""
  const seen = now()
  const same = entriesOf(state, Warnings.spec).find((w) =>
    w.value.type === input.type && w.value.project === project && w.value.entity_url === entityUrl
  )
  if (same !== undefined) {
    same.value = {
      ...same.value,
      count: Number(same.value.count) + 1,
      last_seen_at: seen,
      last_message: input.message,
      status: same.value.status === "resolved" ? "new" : same.value.status
    }
    return same.name
  }
  const id = uuid(state)
  putEntry(state, Warnings.spec, {
    project: "",
    parents: [],
    name: id,
    value: {
      uuid: id,
      status: "new",
      type: input.type,
      severity: input.severity ?? "low",
      count: 1,
      first_seen_at: seen,
      last_seen_at: seen,
      last_message: input.message,
      entity_url: entityUrl,
      project,
      location: "none"
    }
  })
  return id
}

/** @internal */
export const warningRoutes = (state: FakeState): Array<Route> =>
  fakeCollection(state, Warnings.spec, {
    label: "Warning",
    global: true,
    order: "created",
    visible: (t, entry) => t.request.query.project === undefined || entry.value.project === t.request.query.project,
    vetoWrite: (_, __, next) =>
      next.status === "new" || next.status === "acknowledged"
        ? undefined
        : next.status === "resolved"
        ? M.error(403, `Status may only be set to "acknowledge" or "new"`)
        : M.error(400, `Invalid warning status "${String(next.status)}"`),
    action: (change, entry) =>
      change === "deleted"
        ? "warning-deleted"
        : change === "updated"
        ? entry.value.status === "acknowledged" ? "warning-acknowledged" : "warning-reset"
        : undefined
  })
