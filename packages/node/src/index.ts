/**
 * The Node transports (unix socket, HTTPS with a client certificate) and local file
 * transfers (`import { NodeFiles, NodeLxdTransport } from "@effect-lxd/node"`).
 *
 * @since 0.1.0
 */

/**
 * Copying files and directory trees between the local filesystem and instances.
 *
 * @since 0.1.0
 */
export * as NodeFiles from "./NodeFiles.js"

/**
 * Image files: an export written to a file or a directory (split images as two files), uploads from files.
 *
 * @since 0.2.0
 */
export * as NodeImages from "./NodeImages.js"

/**
 * lxc's client configuration: remotes in `config.yml`, the client certificate, pinned server certificates.
 *
 * @since 0.2.0
 */
export * as LxcConfig from "./LxcConfig.js"

/**
 * Adding a remote as `lxc remote add` does (fingerprint confirmed, token or password, lxc's layout).
 *
 * @since 0.2.0
 */
export * as LxcRemotes from "./LxcRemotes.js"

/**
 * Node transports: unix socket and HTTPS with client certificates.
 *
 * @since 0.1.0
 */
export * as NodeLxdTransport from "./NodeLxdTransport.js"
