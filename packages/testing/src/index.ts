/**
 * A scripted mock transport and an in-memory fake LXD, for your tests
 * (`import { LxdFakeServer, LxdMockTransport } from "@effect-lxd/testing"`).
 *
 * @since 0.1.0
 */

/**
 * An in-memory fake LXD.
 *
 * @since 0.1.0
 */
export * as LxdFakeServer from "./LxdFakeServer.js"

/**
 * A scripted mock transport for tests.
 *
 * @since 0.1.0
 */
export * as LxdMockTransport from "./LxdMockTransport.js"
