/**
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
