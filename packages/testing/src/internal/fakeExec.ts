/**
 * The fake's exec API (`POST /1.0/instances/{name}/exec` and its websockets).
 *
 * @internal
 */
import type * as M from "../LxdMockTransport.js"
import type { FakeState } from "./fakeCore.js"

/** @internal */
export const execRoutes = (_state: FakeState): Array<M.Route<M.Handler>> => []

/** @internal */
export const execSockets = (_state: FakeState): Array<M.Route<M.SocketHandler>> => []
