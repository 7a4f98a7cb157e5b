/**
 * The fake's file API (`/1.0/instances/{name}/files`): an in-memory filesystem per instance.
 *
 * @internal
 */
import type * as M from "../LxdMockTransport.js"
import type { FakeState } from "./fakeCore.js"

/** @internal */
export const fileRoutes = (_state: FakeState): Array<M.Route<M.Handler>> => []
