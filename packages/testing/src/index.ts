/**
 * @since 0.1.0
 */

/**
 * A scripted mock transport for tests.
 *
 * @since 0.1.0
 */
export * as LxdMockTransport from "./LxdMockTransport.js"
