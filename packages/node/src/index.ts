/**
 * @since 0.1.0
 */

/**
 * Node transports: unix socket and HTTPS with client certificates.
 *
 * @since 0.1.0
 */
export * as NodeLxdTransport from "./NodeLxdTransport.js"
